"""The localnet driven through solana-py, as any client would use it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import base58
import httpx
import pytest
import zstandard
from anchorpy import EventParser
from anchorpy.program.common import Event
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solana.rpc.types import DataSliceOpts, MemcmpOpts, TxOpts
from solana.rpc.websocket_api import connect
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    AccountNotification,
    SignatureNotification,
    SlotNotification,
)
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.sysvar import CLOCK
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import MintToParams, mint_to

from chain.localnet import Localnet, run_localnet
from chain.localnet.ledger import FINALIZE_SLOTS
from demo.servers import free_port_pair
from program.errors import error_names, program_error
from program.svm import MINT_LEN
from tests.support.localnet import MARKET_DISCRIMINATOR, create_market, raw, rpc, send

ROOT = Path(__file__).resolve().parents[2]
PROPOSAL_WINDOW = 86_400


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    # a cluster's finalization depth, not the suite's 2: these tests see a transaction still
    # confirmed only, as a validator shows it, whatever time their checks take
    async with run_localnet(free_port_pair(), finalize_slots=FINALIZE_SLOTS) as localnet:
        yield localnet


@pytest.fixture
async def client(net: Localnet) -> AsyncIterator[AsyncClient]:
    c = AsyncClient(net.url, commitment=Confirmed)
    yield c
    await c.close()


# ---- accounts, balances, cluster ----------------------------------------------------------------
async def test_accounts_balances_and_cluster_methods(net: Localnet, client: AsyncClient) -> None:
    user = net.users[0]
    assert (await client.get_balance(user.key)).value == 100 * 10**9
    token = await client.get_token_account_balance(user.token)
    assert token.value.amount == str(10**12) and token.value.decimals == 6
    assert token.value.ui_amount_string == "1000000"

    mint = await client.get_account_info(net.deployment.quote_mint)
    assert mint.context.slot > 0 and mint.value is not None and len(mint.value.data) == MINT_LEN
    assert (await client.get_account_info(Keypair().pubkey())).value is None
    many = await client.get_multiple_accounts([user.token, Keypair().pubkey(),
                                               net.deployment.config])
    assert [a is not None for a in many.value] == [True, False, True]
    # every data encoding a client may ask for decodes to the same bytes
    for encoding in ("base58", "base64", "base64+zstd"):
        value = (await rpc(net, "getAccountInfo", str(net.deployment.quote_mint),
                           {"encoding": encoding}))["value"]
        data, enc = value["data"]
        decoded = base58.b58decode(data) if enc == "base58" else base64.b64decode(data)
        if enc == "base64+zstd":
            decoded = zstandard.ZstdDecompressor().decompress(decoded)
        assert decoded == bytes(mint.value.data), encoding

    rent = (await client.get_minimum_balance_for_rent_exemption(MINT_LEN)).value
    assert rent == net.ledger.svm.minimum_balance_for_rent_exemption(MINT_LEN)

    fresh = Keypair().pubkey()
    airdrop = (await client.request_airdrop(fresh, 5 * 10**9)).value
    await client.confirm_transaction(airdrop, Confirmed, sleep_seconds=0.05)
    assert (await client.get_balance(fresh)).value == 5 * 10**9

    slot = (await client.get_slot()).value
    await asyncio.sleep(0.5)  # a slot every 400 ms
    assert (await client.get_slot()).value > slot
    height = (await client.get_block_height()).value
    assert 0 < height <= (await client.get_slot()).value  # blocks, not slots
    epoch = (await client.get_epoch_info()).value
    assert epoch.absolute_slot >= slot and epoch.slots_in_epoch == 432_000
    assert epoch.transaction_count is not None and epoch.transaction_count > 0
    assert (await client.get_genesis_hash()).value == (await client.get_genesis_hash()).value
    assert (await client.get_version()).value.solana_core
    assert await client.is_connected()
    assert await rpc(net, "getHealth") == "ok"
    async with httpx.AsyncClient() as h:
        assert (await h.get(f"{net.url}/health")).text == "ok"

    # A slot may pass between two requests: the blockhash's height lies between the two looks.
    before = (await client.get_block_height(Confirmed)).value
    latest = (await client.get_latest_blockhash(Confirmed)).value
    after = (await client.get_block_height(Confirmed)).value
    assert before + 150 <= latest.last_valid_block_height <= after + 150
    valid = await rpc(net, "isBlockhashValid", str(latest.blockhash))
    assert valid["value"] is True and valid["context"]["slot"] > 0
    assert (await rpc(net, "isBlockhashValid", str(Keypair().pubkey())))["value"] is False
    message = Message.new_with_blockhash(
        [transfer(TransferParams(from_pubkey=user.key, to_pubkey=fresh, lamports=1))],
        user.key, latest.blockhash)
    assert (await client.get_fee_for_message(message)).value == 5_000


async def test_prioritization_fees_from_compute_budget_prices(net: Localnet,
                                                               client: AsyncClient) -> None:
    user = net.users[0]
    fees = await rpc(net, "getRecentPrioritizationFees", [str(user.key)])
    assert fees and all(f["prioritizationFee"] == 0 for f in fees)
    await rpc(net, "keepernet_timeTravel", {"slots": 1})  # a slot without the genesis txs
    set_price = Instruction(Pubkey.from_string("ComputeBudget111111111111111111111111111111"),
                            bytes([3]) + (1_000).to_bytes(8, "little"), [])
    sig = await send(client, [set_price, transfer(TransferParams(
        from_pubkey=user.key, to_pubkey=Keypair().pubkey(), lamports=10**6))], user.kp)
    fees = await rpc(net, "getRecentPrioritizationFees", [str(user.key)])
    assert max(f["prioritizationFee"] for f in fees) == 1_000
    assert all({"slot", "prioritizationFee"} == set(f) for f in fees)
    tx = (await client.get_transaction(sig)).value
    assert tx is not None and tx.transaction.meta is not None
    # 5000 per signature + ceil(1000 micro-lamports * 200k default units / 1e6)
    assert tx.transaction.meta.fee == 5_000 + 200


# ---- transactions -------------------------------------------------------------------------------
async def test_program_transaction_round_trip(net: Localnet, client: AsyncClient) -> None:
    user = net.users[0]
    sig = await send(client, [create_market(net, user, 1)], user.kp)
    statuses = (await client.get_signature_statuses([sig, Signature.default()])).value
    assert statuses[0] is not None and statuses[0].err is None and statuses[1] is None
    assert statuses[0].confirmation_status == TransactionConfirmationStatus.Confirmed

    got = (await client.get_transaction(sig, max_supported_transaction_version=0)).value
    assert got is not None and got.block_time is not None and got.slot > 0
    meta = got.transaction.meta
    assert meta is not None and meta.err is None and meta.fee == 5_000
    assert meta.compute_units_consumed and meta.compute_units_consumed > 0
    logs = meta.log_messages
    assert logs is not None and logs == net.ledger.transaction(sig).logs  # type: ignore[union-attr]
    assert any(line.startswith("Program data: ") for line in logs)
    assert meta.pre_balances[0] - meta.post_balances[0] > meta.fee  # fee + market rent
    assert meta.inner_instructions  # the system program's create_account CPI
    events: list[Event] = []
    EventParser(net.program_id, net.protocol.chain.program.coder).parse_logs(logs, events.append)
    assert [e.name for e in events] == ["MarketCreated"]
    assert events[0].data.id == 1
    # as a validator, finalized unless told: the transaction is only confirmed yet
    assert await rpc(net, "getTransaction", str(sig), {"encoding": "json"}) is None
    as_json = await rpc(net, "getTransaction", str(sig),
                        {"encoding": "json", "commitment": "confirmed"})
    assert "version" not in as_json  # only given to clients that say what they support
    assert as_json["transaction"]["signatures"] == [str(sig)]
    message = as_json["transaction"]["message"]
    assert message["accountKeys"][0] == str(user.key)
    assert message["accountKeys"][message["instructions"][0]["programIdIndex"]] == str(
        net.program_id)

    as_base64 = await rpc(net, "getTransaction", str(sig),
                          {"encoding": "base64", "maxSupportedTransactionVersion": 0,
                           "commitment": "confirmed"})
    wire = base64.b64decode(as_base64["transaction"][0])
    assert VersionedTransaction.from_bytes(wire).signatures[0] == sig
    assert as_base64["version"] == "legacy" and as_base64["meta"]["status"] == {"Ok": None}
    assert await rpc(net, "getTransaction", str(Signature.default())) is None


async def test_v0_and_base58_transactions(net: Localnet, client: AsyncClient) -> None:
    user = net.users[1]
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    pay = transfer(TransferParams(from_pubkey=user.key, to_pubkey=Keypair().pubkey(),
                                  lamports=10**6))
    v0 = VersionedTransaction(MessageV0.try_compile(user.key, [pay], [], blockhash), [user.kp])
    sig = (await client.send_transaction(v0)).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
    old_client = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "getTransaction",
                                 "params": [str(sig), {"commitment": "confirmed"}]})
    assert old_client["error"]["code"] == -32015
    got = (await client.get_transaction(sig, max_supported_transaction_version=0)).value
    assert got is not None and got.transaction.version == 0
    # base58 is the default wire encoding of sendTransaction
    legacy = Transaction([user.kp], Message.new_with_blockhash([pay], user.key, blockhash),
                         blockhash)
    sent = await rpc(net, "sendTransaction", base58.b58encode(bytes(legacy)).decode())
    assert sent == str(legacy.signatures[0])


async def test_preflight_failure_simulation_and_skip_preflight(net: Localnet,
                                                              client: AsyncClient) -> None:
    user = net.users[0]
    await send(client, [create_market(net, user, 7)], user.kp)
    reject = net.client.reject_market(net.deployment.market(user.key, 7))
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    tx = Transaction([user.kp], Message.new_with_blockhash([reject], user.key, blockhash),
                     blockhash)

    simulated = (await client.simulate_transaction(tx)).value
    assert simulated.err is not None and simulated.units_consumed
    assert simulated.logs and any("failed" in line for line in simulated.logs)

    with pytest.raises(RPCException) as refused:
        await client.send_transaction(tx)
    error = refused.value.args[0]
    assert "Transaction simulation failed" in error.message
    assert error.data.logs and error.data.err is not None  # the logs, as a validator gives them

    sig = (await client.send_transaction(tx, opts=TxOpts(skip_preflight=True))).value
    # it runs when the next slot is produced
    assert (await client.get_signature_statuses([sig])).value[0] is None
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
    status = (await client.get_signature_statuses([sig])).value[0]
    assert status is not None and status.err is not None  # landed, failed, fee charged
    failed = await rpc(net, "getTransaction", str(sig), {"commitment": "confirmed"})
    code = failed["meta"]["err"]["InstructionError"][1]["Custom"]
    assert error_names()[code] == "TooEarly"
    assert failed["meta"]["status"] == {"Err": failed["meta"]["err"]}
    assert program_error(simulated.err) == "TooEarly"

    # accounts requested from a simulation come back as they would be after it
    ok = Transaction([user.kp], Message.new_with_blockhash(
        [create_market(net, user, 8)], user.key, blockhash), blockhash)
    result = await rpc(net, "simulateTransaction", base64.b64encode(bytes(ok)).decode(), {
        "encoding": "base64", "replaceRecentBlockhash": True,
        "accounts": {"encoding": "base64",
                     "addresses": [str(net.deployment.market(user.key, 8))]}})
    value = result["value"]
    assert value["err"] is None and value["replacementBlockhash"] is not None
    data = base64.b64decode(value["accounts"][0]["data"][0])
    assert data[:8] == MARKET_DISCRIMINATOR
    assert (await client.get_account_info(net.deployment.market(user.key, 8))).value is None


async def test_expired_blockhash_never_lands(net: Localnet, client: AsyncClient) -> None:
    user = net.users[0]
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    for _ in range(151):  # a blockhash lives 150 blocks: one block a slot travelled
        await rpc(net, "keepernet_timeTravel", {"slots": 1})
    assert (await rpc(net, "isBlockhashValid", str(blockhash)))["value"] is False
    tx = Transaction([user.kp], Message.new_with_blockhash([transfer(TransferParams(
        from_pubkey=user.key, to_pubkey=Keypair().pubkey(), lamports=10**6))], user.key,
        blockhash), blockhash)
    with pytest.raises(RPCException) as refused:
        await client.send_transaction(tx)
    assert refused.value.args[0].data.err is not None  # BlockhashNotFound
    sig = (await client.send_transaction(tx, opts=TxOpts(skip_preflight=True))).value
    statuses = await client.get_signature_statuses([sig], search_transaction_history=True)
    assert statuses.value[0] is None


async def test_a_blockhash_outlives_a_time_travel(net: Localnet, client: AsyncClient) -> None:
    """A blockhash lives 150 blocks, not slots: a travel of a minute (150 slots, one block)
    leaves the confirmed block's blockhash valid, as the demo's seeding needs (it sends with
    it right after travelling, and the transaction lands in a later slot)."""
    user, to = net.users[0], Keypair().pubkey()
    await rpc(net, "keepernet_timeTravel", {"slots": 150})  # a minute of 400 ms slots
    latest = (await client.get_latest_blockhash(Confirmed)).value
    tx = Transaction([user.kp], Message.new_with_blockhash([transfer(TransferParams(
        from_pubkey=user.key, to_pubkey=to, lamports=10**6))], user.key, latest.blockhash),
        latest.blockhash)
    sig = (await client.send_transaction(tx)).value
    await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05,
                                     last_valid_block_height=latest.last_valid_block_height)
    assert (await client.get_balance(to)).value == 10**6


async def test_signatures_for_address_pages_newest_first(net: Localnet,
                                                         client: AsyncClient) -> None:
    address = Keypair().pubkey()
    sigs = []
    for i in range(5):
        sig = (await client.request_airdrop(address, (i + 1) * 10**9)).value
        sigs.append(sig)
    # the history is read at confirmed: wait for the airdrops' slot to be (they land as
    # processed; only before any slot was confirmed did the first block seem so at once)
    await client.confirm_transaction(sigs[-1], Confirmed, sleep_seconds=0.05)
    newest_first = list(reversed(sigs))
    everything = (await client.get_signatures_for_address(address)).value
    assert [s.signature for s in everything] == newest_first
    assert all(s.err is None and s.block_time for s in everything)

    page1 = (await client.get_signatures_for_address(address, limit=2)).value
    page2 = (await client.get_signatures_for_address(address, before=page1[-1].signature,
                                                     limit=2)).value
    page3 = (await client.get_signatures_for_address(address, before=page2[-1].signature,
                                                     limit=2)).value
    assert [s.signature for s in page1 + page2 + page3] == newest_first
    until = (await client.get_signatures_for_address(address, until=sigs[1])).value
    assert [s.signature for s in until] == newest_first[:3]
    both = (await client.get_signatures_for_address(address, before=sigs[4],
                                                    until=sigs[0])).value
    assert [s.signature for s in both] == newest_first[1:4]


async def test_program_accounts_filters_and_slices(net: Localnet, client: AsyncClient) -> None:
    user = net.users[0]
    for market_id in (1, 2, 3):
        await send(client, [create_market(net, user, market_id)], user.kp)
    markets = {net.deployment.market(user.key, i) for i in (1, 2, 3)}

    everything = (await client.get_program_accounts(net.program_id)).value
    assert markets | {net.deployment.config} <= {a.pubkey for a in everything}
    by_discriminator = (await client.get_program_accounts(net.program_id, filters=[
        MemcmpOpts(offset=0, bytes=base58.b58encode(MARKET_DISCRIMINATOR).decode())])).value
    assert {a.pubkey for a in by_discriminator} == markets
    size = len(by_discriminator[0].account.data)
    sized = (await client.get_program_accounts(net.program_id, filters=[size])).value
    assert {a.pubkey for a in sized} == markets
    sliced = (await client.get_program_accounts(
        net.program_id, encoding="base64", data_slice=DataSliceOpts(offset=0, length=8),
        filters=[size, MemcmpOpts(offset=0, bytes=base58.b58encode(
            MARKET_DISCRIMINATOR).decode())])).value
    assert {bytes(a.account.data) for a in sliced} == {MARKET_DISCRIMINATOR}
    # base64 memcmp bytes and withContext, as newer clients send them
    result = await rpc(net, "getProgramAccounts", str(net.program_id), {
        "encoding": "base64", "withContext": True, "commitment": "confirmed", "filters": [
            {"memcmp": {"offset": 0, "bytes": base64.b64encode(MARKET_DISCRIMINATOR).decode(),
                        "encoding": "base64"}}]})
    assert result["context"]["slot"] > 0 and len(result["value"]) == 3
    assert (await client.get_program_accounts(Keypair().pubkey())).value == []


# ---- subscriptions ------------------------------------------------------------------------------
async def test_account_signature_and_slot_subscriptions(net: Localnet,
                                                        client: AsyncClient) -> None:
    user = net.users[0]
    target = Keypair().pubkey()
    async with connect(net.ws_url) as ws:
        await ws.account_subscribe(target, Confirmed, "base64")
        account_sub = (await asyncio.wait_for(ws.recv(), 5))[0].result
        await ws.account_subscribe(user.token)  # the validator's default encoding: binary
        token_sub = (await asyncio.wait_for(ws.recv(), 5))[0].result
        sig = (await client.request_airdrop(target, 2 * 10**9)).value
        await ws.signature_subscribe(sig, Confirmed)  # subscribed after it landed
        messages = []
        while len(messages) < 3:
            messages.extend(await asyncio.wait_for(ws.recv(), 5))
        notes = [m for m in messages if isinstance(m, AccountNotification)]
        assert len(notes) == 1 and notes[0].subscription == account_sub
        assert notes[0].result.value.lamports == 2 * 10**9
        confirmations = [m for m in messages if isinstance(m, SignatureNotification)]
        assert len(confirmations) == 1 and confirmations[0].result.value.err is None

        blockhash = (await client.get_latest_blockhash()).value.blockhash
        tx = Transaction([user.kp], Message.new_with_blockhash([transfer(TransferParams(
            from_pubkey=user.key, to_pubkey=target, lamports=10**9))], user.key, blockhash),
            blockhash)
        await ws.signature_subscribe(tx.signatures[0], Confirmed)  # before it is sent
        (await asyncio.wait_for(ws.recv(), 5))
        await client.send_transaction(tx)
        messages = []
        while len(messages) < 2:
            messages.extend(await asyncio.wait_for(ws.recv(), 5))
        assert {type(m) for m in messages} == {AccountNotification, SignatureNotification}
        assert next(m for m in messages if isinstance(m, AccountNotification)
                    ).result.value.lamports == 3 * 10**9

        await ws.account_unsubscribe(account_sub)
        assert (await asyncio.wait_for(ws.recv(), 5))[0].result is True

        before = net.protocol.chain.token_balance(user.token)
        await send(client, [mint_to(MintToParams(
            program_id=TOKEN_PROGRAM_ID, mint=net.deployment.quote_mint, dest=user.token,
            mint_authority=net.admin.pubkey(), amount=5))], net.admin)
        note = next(m for m in await asyncio.wait_for(ws.recv(), 5)
                    if isinstance(m, AccountNotification))
        assert note.subscription == token_sub
        assert int.from_bytes(bytes(note.result.value.data)[64:72], "little") == before + 5
        await ws.account_unsubscribe(token_sub)
        assert (await asyncio.wait_for(ws.recv(), 5))[0].result is True
        await ws.slot_subscribe()
        slot_sub = (await asyncio.wait_for(ws.recv(), 5))[0].result
        note = (await asyncio.wait_for(ws.recv(), 5))[0]
        assert isinstance(note, SlotNotification) and note.result.slot > 0
        await ws.slot_unsubscribe(slot_sub)
        # no account notification arrives after the unsubscribe
        await send(client, [transfer(TransferParams(from_pubkey=user.key, to_pubkey=target,
                                                    lamports=10**9))], user.kp)
        while True:
            for m in await asyncio.wait_for(ws.recv(), 5):
                assert not isinstance(m, AccountNotification)
            if (await client.get_balance(target)).value == 4 * 10**9:
                break


async def test_websocket_bad_requests(net: Localnet) -> None:
    import websockets

    async with websockets.connect(net.ws_url) as ws:
        await ws.send("{nope")
        assert json.loads(await ws.recv())["error"]["code"] == -32700
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "nope", "params": []}))
        assert json.loads(await ws.recv())["error"]["code"] == -32601
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "accountSubscribe",
                                  "params": ["not-a-key"]}))
        assert json.loads(await ws.recv())["error"]["code"] == -32602
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "accountUnsubscribe",
                                  "params": [12345]}))
        assert json.loads(await ws.recv())["error"]["code"] == -32602


# ---- time travel --------------------------------------------------------------------------------
async def test_time_travel_opens_a_time_gated_instruction(net: Localnet,
                                                          client: AsyncClient) -> None:
    user = net.users[0]
    await send(client, [create_market(net, user, 3)], user.kp)
    reject = net.client.reject_market(net.deployment.market(user.key, 3))
    with pytest.raises(RPCException) as too_early:
        await send(client, [reject], user.kp)
    assert "custom program error" in too_early.value.args[0].message

    clock_before = (await client.get_account_info(CLOCK)).value
    assert clock_before is not None
    before = int.from_bytes(bytes(clock_before.data)[32:40], "little", signed=True)
    slot_before = (await client.get_slot()).value
    moved = await rpc(net, "keepernet_timeTravel", {"seconds": PROPOSAL_WINDOW + 1})
    assert moved["unixTimestamp"] >= before + PROPOSAL_WINDOW + 1
    assert moved["slot"] >= slot_before + int(PROPOSAL_WINDOW / 0.4)
    clock_after = (await client.get_account_info(CLOCK)).value
    assert clock_after is not None
    after = int.from_bytes(bytes(clock_after.data)[32:40], "little", signed=True)
    assert after - before >= PROPOSAL_WINDOW + 1

    await send(client, [reject], user.kp)  # now it is late enough
    market = net.protocol.chain.fetch(net.deployment.market(user.key, 3))
    assert market is not None

    by_slots = await rpc(net, "keepernet_timeTravel", {"slots": 10})
    assert by_slots["slot"] >= moved["slot"] + 10


# ---- bad requests -------------------------------------------------------------------------------
async def test_bad_requests_get_json_rpc_errors(net: Localnet, client: AsyncClient) -> None:
    assert (await raw(net, b"{not json"))["error"]["code"] == -32700
    assert (await raw(net, b"\xff\xfe"))["error"]["code"] == -32700
    assert (await raw(net, []))["error"]["code"] == -32600
    assert (await raw(net, {"id": 1, "method": "getSlot"}))["error"]["code"] == -32600
    assert (await raw(net, "hello"))["error"]["code"] == -32600
    unknown = await raw(net, {"jsonrpc": "2.0", "id": 7, "method": "getNope", "params": []})
    assert unknown["error"]["code"] == -32601 and unknown["id"] == 7
    for method, params in [("getAccountInfo", ["not-a-key"]), ("getAccountInfo", []),
                           ("getBalance", [42]), ("getTransaction", ["xyz"]),
                           ("getAccountInfo", [str(CLOCK), {"encoding": "morse"}]),
                           ("getSignaturesForAddress", [str(CLOCK), {"limit": 5000}]),
                           ("sendTransaction", ["!!!", {"encoding": "base64"}]),
                           ("sendTransaction", [base64.b64encode(b"junk").decode(),
                                                {"encoding": "base64"}]),
                           ("getProgramAccounts", [str(CLOCK), {"filters": [{"x": 1}]}]),
                           ("keepernet_timeTravel", [{"seconds": -5}]),
                           ("getAccountInfo", {"not": "a list"})]:
        answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        assert answer["error"]["code"] == -32602, (method, params, answer)

    # a batch answers each request, errors included
    batch = await raw(net, [{"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
                            {"jsonrpc": "2.0", "id": 2, "method": "getNope"}, 5])
    assert [("result" in a, a.get("error", {}).get("code")) for a in batch] == [
        (True, None), (False, -32601), (False, -32600)]

    # a transaction with a wrong signature
    user = net.users[0]
    blockhash = (await client.get_latest_blockhash()).value.blockhash
    message = Message.new_with_blockhash([transfer(TransferParams(
        from_pubkey=user.key, to_pubkey=Keypair().pubkey(), lamports=1))], user.key, blockhash)
    forged = VersionedTransaction.populate(message, [Keypair().sign_message(bytes(message))])
    answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "sendTransaction",
                             "params": [base64.b64encode(bytes(forged)).decode(),
                                        {"encoding": "base64"}]})
    assert answer["error"]["code"] == -32003

    # still serving
    assert await rpc(net, "getHealth") == "ok"
    assert (await client.get_slot()).value > 0


async def test_a_client_of_a_stopped_localnet_fails_cleanly() -> None:
    port = free_port_pair()
    async with run_localnet(port) as localnet:
        url = localnet.url
    c = AsyncClient(url, timeout=2)
    with pytest.raises(SolanaRpcException):
        await c.get_slot()
    await c.close()


# ---- keys and CLI -------------------------------------------------------------------------------
async def test_keys_folder_is_reused_with_private_files(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    async with run_localnet(free_port_pair(), keys) as first:
        addresses = (first.program_id, first.deployment.quote_mint, first.deployment.vault,
                     [w.key for w in first.keepers + first.users], first.admin.pubkey())
    files = sorted(keys.iterdir())
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    async with run_localnet(free_port_pair(), keys) as second:
        assert addresses == (second.program_id, second.deployment.quote_mint,
                             second.deployment.vault,
                             [w.key for w in second.keepers + second.users],
                             second.admin.pubkey())
        assert len(second.keepers) == 2 and len(second.users) == 3


def test_cli_localnet_serves_until_terminated(tmp_path: Path) -> None:
    port = free_port_pair()
    cli = Path(sys.executable).parent / "keepernet"
    proc = subprocess.Popen([str(cli), "localnet", "--port", str(port), "--keys",
                             str(tmp_path / "keys")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "ready" in line and f"http://127.0.0.1:{port}" in line, line
        assert f"ws://127.0.0.1:{port + 1}" in line and str(tmp_path / "keys") in line
        answer = httpx.post(f"http://127.0.0.1:{port}", json={
            "jsonrpc": "2.0", "id": 1, "method": "getHealth"}, timeout=5).json()
        assert answer["result"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0


@pytest.mark.parametrize("args", [["nope"], ["localnet", "--port", "x"],
                                  ["localnet", "--bogus"], []])
def test_cli_bad_arguments_exit_2(args: list[str]) -> None:
    cli = Path(sys.executable).parent / "keepernet"
    done = subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage" in done.stderr


def test_cli_refuses_a_keys_folder_others_can_read(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    admin = keys / "admin.json"
    admin.write_text(json.dumps(list(bytes(Keypair()))))
    admin.chmod(0o644)
    cli = Path(sys.executable).parent / "keepernet"
    done = subprocess.run([str(cli), "localnet", "--port", str(free_port_pair()),
                           "--keys", str(keys)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert str(admin) in done.stderr and "chmod 600" in done.stderr
    assert admin.read_text()[1:20] not in done.stderr  # the secret is never echoed
