"""Address lookup tables through the localnet's RPC: created and extended with sendTransaction,
then used by a v0 transaction whose meta gives the loaded addresses, as on a validator."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.address_lookup_table_account import (
    ID as LOOKUP_TABLE_PROGRAM,
)
from solders.address_lookup_table_account import (
    AddressLookupTable,
    AddressLookupTableAccount,
    derive_lookup_table_address,
)
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import TransferCheckedParams, transfer_checked

from chain.localnet import Localnet, run_localnet
from demo.servers import free_port_pair
from tests.support.localnet import rpc, send


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


@pytest.fixture
async def client(net: Localnet) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(net.url, commitment=Confirmed)
    yield c
    await c.close()


def _table_accounts(table: Pubkey, authority: Pubkey) -> list[AccountMeta]:
    return [AccountMeta(table, False, True), AccountMeta(authority, True, False),
            AccountMeta(authority, True, True), AccountMeta(SYSTEM_PROGRAM, False, False)]


def create_table(authority: Pubkey, recent_slot: int) -> tuple[Instruction, Pubkey]:
    """The lookup table program's CreateLookupTable (bincode: tag, recent slot, bump)."""
    table, bump = derive_lookup_table_address(authority, recent_slot)
    data = struct.pack("<IQB", 0, recent_slot, bump)
    return Instruction(LOOKUP_TABLE_PROGRAM, data, _table_accounts(table, authority)), table


def extend_table(table: Pubkey, authority: Pubkey, addresses: list[Pubkey]) -> Instruction:
    data = struct.pack("<IQ", 2, len(addresses)) + b"".join(bytes(a) for a in addresses)
    return Instruction(LOOKUP_TABLE_PROGRAM, data, _table_accounts(table, authority))


async def test_a_v0_transaction_loads_accounts_from_a_lookup_table(
        net: Localnet, client: AsyncClient) -> None:
    user, other = net.users[0], net.users[1]
    # a client creates the table for the slot getSlot gives, as web3.js does
    slot = (await client.get_slot()).value
    create, table = create_table(user.key, slot)
    created = await send(client, [create], user.kp)
    friends = [Keypair().pubkey() for _ in range(3)]
    mint = net.deployment.quote_mint
    extended = await send(client, [extend_table(table, user.key, [*friends, other.token,
                                                                    mint])], user.kp)
    stored = (await client.get_account_info(table)).value
    assert stored is not None and stored.owner == LOOKUP_TABLE_PROGRAM
    addresses = list(AddressLookupTable.deserialize(bytes(stored.data)).addresses)
    assert addresses == [*friends, other.token, mint]
    # addresses extended in a slot can be used from the next one
    await rpc(net, "keepernet_timeTravel", {"slots": 1})

    lookup = AddressLookupTableAccount(table, addresses)
    ixs = [*(transfer(TransferParams(from_pubkey=user.key, to_pubkey=f, lamports=10**9))
             for f in friends),
           transfer_checked(TransferCheckedParams(
               program_id=TOKEN_PROGRAM_ID, source=user.token, mint=mint, dest=other.token,
               owner=user.key, amount=25, decimals=6))]
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = VersionedTransaction(MessageV0.try_compile(user.key, ixs, [lookup], blockhash),
                              [user.kp])
    assert tx.message.address_table_lookups, "the compiler used the table"
    sig = (await client.send_transaction(tx)).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
    assert [(await client.get_balance(f)).value for f in friends] == [10**9] * 3

    got = await rpc(net, "getTransaction", str(sig),
                    {"commitment": "confirmed", "maxSupportedTransactionVersion": 0})
    assert got["version"] == 0
    loaded = got["meta"]["loadedAddresses"]
    assert set(loaded["writable"]) == {str(f) for f in [*friends, other.token]}
    assert loaded["readonly"] == [str(mint)]  # a program cannot be loaded: the mint is
    static = got["transaction"]["message"]["accountKeys"]
    all_keys = static + loaded["writable"] + loaded["readonly"]
    assert len(got["meta"]["preBalances"]) == len(all_keys)
    # token balances index the loaded accounts too
    post = {all_keys[b["accountIndex"]]: b for b in got["meta"]["postTokenBalances"]}
    assert set(post) == {str(user.token), str(other.token)}
    assert post[str(other.token)]["uiTokenAmount"]["amount"] == str(10**12 + 25)

    # solana-py's typed answer; jsonParsed marks where each account came from
    typed = await client.get_transaction(sig, max_supported_transaction_version=0)
    assert typed.value is not None and typed.value.transaction.meta is not None
    assert typed.value.transaction.meta.loaded_addresses is not None
    parsed = await rpc(net, "getTransaction", str(sig),
                       {"commitment": "confirmed", "encoding": "jsonParsed",
                        "maxSupportedTransactionVersion": 0})
    sources = [k["source"] for k in parsed["transaction"]["message"]["accountKeys"]]
    assert sources == ["transaction"] * len(static) + ["lookupTable"] * 5
    by_key = {k["pubkey"]: k for k in parsed["transaction"]["message"]["accountKeys"]}
    assert by_key[str(friends[0])]["writable"] and not by_key[str(mint)]["writable"]
    token_ix = parsed["transaction"]["message"]["instructions"][-1]
    assert token_ix["parsed"]["info"]["destination"] == str(other.token)

    # the table's own instructions, parsed
    create_parsed = await rpc(net, "getTransaction", str(created),
                              {"commitment": "confirmed", "encoding": "jsonParsed"})
    assert create_parsed["transaction"]["message"]["instructions"][0]["parsed"] == {
        "type": "createLookupTable", "info": {
            "lookupTableAccount": str(table), "lookupTableAuthority": str(user.key),
            "payerAccount": str(user.key), "systemProgram": str(SYSTEM_PROGRAM),
            "recentSlot": slot, "bumpSeed": derive_lookup_table_address(user.key, slot)[1]}}
    extend_parsed = await rpc(net, "getTransaction", str(extended),
                              {"commitment": "confirmed", "encoding": "jsonParsed"})
    info = extend_parsed["transaction"]["message"]["instructions"][0]["parsed"]["info"]
    assert info["newAddresses"] == [str(a) for a in addresses]
