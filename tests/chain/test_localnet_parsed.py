"""Transactions in the jsonParsed encoding and token balances in their meta, as a validator
gives them: checked against Agave's field names and parsed by solders as a client parses."""

from __future__ import annotations

import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.compute_budget import set_compute_unit_limit
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.rpc.responses import GetTransactionResp
from solders.system_program import ID as SYSTEM_PROGRAM
from solders.system_program import TransferParams, transfer
from solders.transaction_status import ParsedInstruction, UiPartiallyDecodedInstruction
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.token.constants import ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    TransferCheckedParams,
    create_associated_token_account,
    get_associated_token_address,
    transfer_checked,
)

from chain.localnet import Localnet, run_localnet
from chain.localnet.instruction_parsers import parse_instruction
from demo.servers import free_port_pair
from tests.support.localnet import create_market, rpc, send


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


@pytest.fixture
async def client(net: Localnet) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(net.url, commitment=Confirmed)
    yield c
    await c.close()


def _parsed(signature: Any, net: Localnet) -> Any:
    return rpc(net, "getTransaction", str(signature),
               {"commitment": "confirmed", "encoding": "jsonParsed",
                "maxSupportedTransactionVersion": 0})


async def test_well_known_instructions_are_parsed_and_the_rest_partially_decoded(
        net: Localnet, client: AsyncClient) -> None:
    user, friend = net.users[0], Keypair().pubkey()
    mint = net.deployment.quote_mint
    ata = get_associated_token_address(friend, mint)
    sig = await send(client, [
        set_compute_unit_limit(300_000),
        transfer(TransferParams(from_pubkey=user.key, to_pubkey=friend, lamports=10**9)),
        Instruction(MEMO_PROGRAM_ID, "gm 🦖".encode(), [AccountMeta(user.key, True, False)]),
        create_associated_token_account(user.key, friend, mint),
        transfer_checked(TransferCheckedParams(
            program_id=TOKEN_PROGRAM_ID, source=user.token, mint=mint, dest=ata,
            owner=user.key, amount=1_500_000, decimals=6)),
    ], user.kp)
    got = await _parsed(sig, net)
    message = got["transaction"]["message"]
    assert "header" not in message and "addressTableLookups" not in message
    keys = message["accountKeys"]
    assert keys[0] == {"pubkey": str(user.key), "writable": True, "signer": True,
                       "source": "transaction"}
    by_key = {k["pubkey"]: k for k in keys}
    assert by_key[str(TOKEN_PROGRAM_ID)]["writable"] is False
    assert by_key[str(friend)] == {"pubkey": str(friend), "writable": True, "signer": False,
                                   "source": "transaction"}

    budget, pay, memo, create, move = message["instructions"]
    # Agave has no compute-budget parser: partially decoded
    assert set(budget) == {"programId", "accounts", "data", "stackHeight"}
    assert budget["accounts"] == [] and budget["stackHeight"] is None
    assert pay == {"program": "system", "programId": str(SYSTEM_PROGRAM), "stackHeight": None,
                   "parsed": {"type": "transfer", "info": {
                       "source": str(user.key), "destination": str(friend),
                       "lamports": 10**9}}}
    assert memo["program"] == "spl-memo" and memo["parsed"] == "gm 🦖"
    assert create["program"] == "spl-associated-token-account"
    assert create["parsed"] == {"type": "create", "info": {
        "source": str(user.key), "account": str(ata), "wallet": str(friend),
        "mint": str(mint), "systemProgram": str(SYSTEM_PROGRAM),
        "tokenProgram": str(TOKEN_PROGRAM_ID)}}
    assert move["program"] == "spl-token" and move["parsed"] == {
        "type": "transferChecked", "info": {
            "source": str(user.token), "mint": str(mint), "destination": str(ata),
            "authority": str(user.key),
            "tokenAmount": {"amount": "1500000", "decimals": 6, "uiAmount": 1.5,
                            "uiAmountString": "1.5"}}}

    meta = got["meta"]
    assert "loadedAddresses" not in meta
    # the associated token program's inner instructions, parsed, with their stack height
    inner = {ix["index"]: ix["instructions"] for ix in meta["innerInstructions"]}
    inner_types = [ix.get("parsed", {}).get("type") for ix in inner[3]]
    assert "initializeAccount3" in inner_types and "createAccount" in inner_types
    assert {ix["stackHeight"] for ix in inner[3]} == {2}

    # token balances: the sender's before and after, the new account's only after
    index = {k["pubkey"]: i for i, k in enumerate(keys)}
    pre = {b["accountIndex"]: b for b in meta["preTokenBalances"]}
    post = {b["accountIndex"]: b for b in meta["postTokenBalances"]}
    assert set(pre) == {index[str(user.token)]}
    assert set(post) == {index[str(user.token)], index[str(ata)]}
    assert post[index[str(ata)]] == {
        "accountIndex": index[str(ata)], "mint": str(mint), "owner": str(friend),
        "programId": str(TOKEN_PROGRAM_ID),
        "uiTokenAmount": {"amount": "1500000", "decimals": 6, "uiAmount": 1.5,
                          "uiAmountString": "1.5"}}
    assert pre[index[str(user.token)]]["uiTokenAmount"]["amount"] == str(10**12)
    assert post[index[str(user.token)]]["uiTokenAmount"]["uiAmountString"] == "999998.5"

    # solders parses it as a client does, instructions typed as parsed or partially decoded
    resp = await client.get_transaction(sig, encoding="jsonParsed",
                                        max_supported_transaction_version=0)
    assert resp.value is not None
    parsed_message = resp.value.transaction.transaction.message  # type: ignore[union-attr]
    kinds = [type(ix) for ix in parsed_message.instructions]
    assert kinds == [UiPartiallyDecodedInstruction, *[ParsedInstruction] * 4]
    token_meta = resp.value.transaction.meta
    assert token_meta is not None and token_meta.post_token_balances is not None
    assert len(token_meta.post_token_balances) == 2
    # and the json encoding has the same balances, with (empty) loaded addresses
    plain = await rpc(net, "getTransaction", str(sig),
                      {"commitment": "confirmed", "encoding": "json"})
    assert plain["meta"]["postTokenBalances"] == meta["postTokenBalances"]
    assert plain["meta"]["loadedAddresses"] == {"writable": [], "readonly": []}
    assert GetTransactionResp.from_json(
        json.dumps({"jsonrpc": "2.0", "id": 1, "result": plain})).value is not None


async def test_program_instructions_are_partially_decoded_with_parsed_inner_transfers(
        net: Localnet, client: AsyncClient) -> None:
    creator = net.users[0]
    sig = await send(client, [create_market(net, creator, 7)], creator.kp)
    got = await _parsed(sig, net)
    top = got["transaction"]["message"]["instructions"][0]
    assert top["programId"] == str(net.program_id) and "parsed" not in top
    assert top["accounts"][0] == str(creator.key)
    inner = [ix for group in got["meta"]["innerInstructions"] for ix in group["instructions"]]
    programs = {ix.get("program") for ix in inner}
    assert programs & {"system", "spl-token"}, inner
    # the market's bond moves the creator's tokens: a balance change in the meta
    pre = {b["accountIndex"]: b["uiTokenAmount"]["amount"] for b in got["meta"]["preTokenBalances"]}
    post = {b["accountIndex"]: b["uiTokenAmount"]["amount"]
            for b in got["meta"]["postTokenBalances"]}
    assert pre and set(pre) <= set(post) and pre != post


def test_parsers_follow_agave_on_edge_cases() -> None:
    a, b, c, d = (str(Keypair().pubkey()) for _ in range(4))
    owner = Keypair().pubkey()
    create = struct.pack("<IQQ", 0, 5, 80) + bytes(owner)
    assert parse_instruction(SYSTEM_PROGRAM, [a, b], create) == {
        "program": "system", "parsed": {"type": "createAccount", "info": {
            "source": a, "newAccount": b, "lamports": 5, "space": 80, "owner": str(owner)}}}
    # too few accounts, unknown tags and bad memos are left partially decoded
    assert parse_instruction(SYSTEM_PROGRAM, [a], create) is None
    assert parse_instruction(SYSTEM_PROGRAM, [a, b], struct.pack("<I", 99)) is None
    assert parse_instruction(MEMO_PROGRAM_ID, [], b"\xff") is None
    assert parse_instruction(Pubkey.from_string(
        "ComputeBudget111111111111111111111111111111"), [], b"\x02\x00\x00\x01\x00") is None
    # a multisig authority lists its signers
    token_transfer = b"\x03" + struct.pack("<Q", 7)
    assert parse_instruction(TOKEN_PROGRAM_ID, [a, b, c, d], token_transfer) == {
        "program": "spl-token", "parsed": {"type": "transfer", "info": {
            "source": a, "destination": b, "amount": "7", "multisigAuthority": c,
            "signers": [d]}}}
    set_authority = bytes([6, 2, 1]) + bytes(owner)
    assert parse_instruction(TOKEN_PROGRAM_ID, [a, b], set_authority) == {
        "program": "spl-token", "parsed": {"type": "setAuthority", "info": {
            "account": a, "authorityType": "accountOwner", "newAuthority": str(owner),
            "authority": b}}}
    assert parse_instruction(ASSOCIATED_TOKEN_PROGRAM_ID, [a] * 6, b"\x01\x00") is None
