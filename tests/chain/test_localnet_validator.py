"""The localnet as a validator: commitment progressing by slots, transactions run when their
slot is produced, blocks and cluster methods in shapes solders parses, and the slot-driven
subscriptions (logs, program, root, signature) over the WebSocket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Finalized, Processed
from solana.rpc.types import TxOpts
from solders.keypair import Keypair
from solders.message import Message
from solders.rpc.responses import (
    GetBlockResp,
    GetClusterNodesResp,
    GetEpochScheduleResp,
    GetSupplyResp,
    GetVoteAccountsResp,
)
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction
from solders.transaction_status import TransactionConfirmationStatus

from chain.localnet import Localnet, run_localnet
from demo.servers import free_port_pair
from tests.support.localnet import raw, rpc

SLOT_S = 0.05
FINALIZE = 4


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair(), slot_seconds=SLOT_S,
                            finalize_slots=FINALIZE) as localnet:
        yield localnet


async def _transfer(net: Localnet, client: AsyncClient) -> Any:
    user = net.users[0]
    blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
    ix = transfer(TransferParams(from_pubkey=user.key, to_pubkey=Keypair().pubkey(),
                                 lamports=10**6))
    tx = Transaction([user.kp], Message.new_with_blockhash([ix], user.key, blockhash), blockhash)
    return (await client.send_transaction(tx, opts=TxOpts(skip_confirmation=True))).value


async def test_a_transaction_runs_in_the_next_slot_and_its_commitment_progresses(
        net: Localnet) -> None:
    async with AsyncClient(net.url) as client:
        sig = await _transfer(net, client)
        assert net.ledger.is_pending(sig)  # answered before it ran
        seen: list[tuple[Any, Any]] = []
        for _ in range(200):
            status = (await client.get_signature_statuses([sig])).value[0]
            if status is not None:
                seen.append((status.confirmation_status, status.confirmations))
                if status.confirmation_status == TransactionConfirmationStatus.Finalized:
                    break
            await asyncio.sleep(SLOT_S / 5)
        kinds = [s for s, _ in seen]
        assert TransactionConfirmationStatus.Confirmed in kinds
        assert seen[-1] == (TransactionConfirmationStatus.Finalized, None)
        assert all(c is not None and c < FINALIZE for s, c in seen[:-1])
        processed = (await client.get_slot(Processed)).value
        confirmed = (await client.get_slot(Confirmed)).value
        finalized = (await client.get_slot(Finalized)).value
        assert finalized < confirmed <= processed


async def test_reads_at_a_commitment_see_that_slot(net: Localnet) -> None:
    async with AsyncClient(net.url) as client:
        user = net.users[0].key
        before = net.ledger.balance(user)
        sig = await _transfer(net, client)
        await client.confirm_transaction(sig, Processed, sleep_seconds=0.01)
        assert (await client.get_balance(user, Processed)).value < before
        # not finalized yet: the finalized state is the old one
        status = (await client.get_signature_statuses([sig])).value[0]
        if status is not None and status.confirmations is not None:
            assert (await client.get_balance(user, Finalized)).value == before


async def test_blocks_and_cluster_methods_in_validator_shapes(net: Localnet) -> None:
    async with AsyncClient(net.url) as client:
        sig = await _transfer(net, client)
        await client.confirm_transaction(sig, Confirmed, sleep_seconds=0.01)
        slot = (await client.get_signature_statuses([sig])).value[0].slot  # type: ignore[union-attr]
        block = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "getBlock", "params": [
            slot, {"commitment": "confirmed", "maxSupportedTransactionVersion": 0}]})
        parsed = GetBlockResp.from_json(json.dumps(block)).value
        assert parsed is not None
        assert [t.transaction.signatures[0] for t in parsed.transactions or []] == [sig]
        sigs = await rpc(net, "getBlock", slot, {"commitment": "confirmed",
                                                 "transactionDetails": "signatures",
                                                 "rewards": False})
        assert sigs["signatures"] == [str(sig)] and "rewards" not in sigs
        blocks = await rpc(net, "getBlocks", slot - 1, slot, {"commitment": "confirmed"})
        assert slot in blocks
        assert await rpc(net, "getBlocksWithLimit", slot, 1,
                         {"commitment": "confirmed"}) == [slot]
        assert isinstance(await rpc(net, "getBlockTime", slot), int)
        for method, parser in (("getClusterNodes", GetClusterNodesResp),
                               ("getEpochSchedule", GetEpochScheduleResp),
                               ("getSupply", GetSupplyResp),
                               ("getVoteAccounts", GetVoteAccountsResp)):
            answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": method})
            assert not isinstance(parser.from_json(json.dumps(answer)), int), method
        for method in ("getIdentity", "getTransactionCount", "getSlotLeader",
                       "getFirstAvailableBlock", "minimumLedgerSlot", "getInflationGovernor",
                       "getInflationRate", "getMaxRetransmitSlot", "getMaxShredInsertSlot",
                       "getStakeMinimumDelegation", "getRecentPerformanceSamples",
                       "getLargestAccounts", "getBlockProduction"):
            await rpc(net, method)
        assert await rpc(net, "getBlockCommitment", slot)
        unknown = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "getNothing"})
        assert unknown["error"]["code"] == -32601
        assert await rpc(net, "getHealth") == "ok"  # still up


_SEEN: list[dict[str, Any]] = []  # notifications read while waiting for another kind


async def _subscribe(ws: Any, method: str, *params: Any) -> int:
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                              "params": list(params)}))
    while "id" not in (answer := json.loads(await asyncio.wait_for(ws.recv(), 10))):
        _SEEN.append(answer)  # a notification of an earlier subscription
    assert "result" in answer, answer
    return int(answer["result"])


async def _next(ws: Any, method: str) -> dict[str, Any]:
    """The first notification of `method` not taken yet, within ten seconds."""
    async with asyncio.timeout(10):
        while True:
            for message in _SEEN:
                if message.get("method") == method:
                    _SEEN.remove(message)
                    return dict(message["params"])
            _SEEN.append(json.loads(await ws.recv()))


async def test_logs_signature_root_and_program_subscriptions(net: Localnet) -> None:
    user = net.users[0].key
    async with AsyncClient(net.url) as client, websockets.connect(net.ws_url) as ws:
        logs_id = await _subscribe(ws, "logsSubscribe", {"mentions": [str(user)]},
                                   {"commitment": "confirmed"})
        root_id = await _subscribe(ws, "rootSubscribe")
        program_id = await _subscribe(ws, "programSubscribe",
                                      "11111111111111111111111111111111",
                                      {"encoding": "base64", "commitment": "processed"})
        sig = await _transfer(net, client)
        sig_id = await _subscribe(ws, "signatureSubscribe", str(sig),
                                  {"commitment": "finalized",
                                   "enableReceivedNotification": True})
        received = await _next(ws, "signatureNotification")
        assert received == {"subscription": sig_id, "result": {
            "context": received["result"]["context"], "value": "receivedSignature"}}
        logs = await _next(ws, "logsNotification")
        assert logs["subscription"] == logs_id
        assert logs["result"]["value"]["signature"] == str(sig)
        assert logs["result"]["value"]["err"] is None and logs["result"]["value"]["logs"]
        assert net.ledger.commitment_of(logs["result"]["context"]["slot"]) != "processed"
        program = await _next(ws, "programNotification")
        assert program["subscription"] == program_id
        assert program["result"]["value"]["account"]["data"][1] == "base64"
        landed = await _next(ws, "signatureNotification")
        assert landed["subscription"] == sig_id and landed["result"]["value"] == {"err": None}
        assert net.ledger.commitment_of(landed["result"]["context"]["slot"]) == "finalized"
        root = await _next(ws, "rootNotification")
        assert root["subscription"] == root_id and isinstance(root["result"], int)
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "logsUnsubscribe",
                                  "params": [logs_id]}))
        while (answer := json.loads(await asyncio.wait_for(ws.recv(), 10))).get("id") != 2:
            pass
        assert answer["result"] is True


async def test_account_subscriptions_are_notified_when_the_change_reaches_their_commitment(
        net: Localnet) -> None:
    user = net.users[0].key
    async with AsyncClient(net.url) as client, websockets.connect(net.ws_url) as ws:
        ids = {await _subscribe(ws, "accountSubscribe", str(user),
                                {"encoding": "base64", "commitment": level}): level
               for level in ("processed", "confirmed", "finalized")}
        sig = await _transfer(net, client)
        seen: list[tuple[str, int, str | None]] = []  # (level, context slot, status then)
        async with asyncio.timeout(10):
            while len(seen) < 3:
                message = json.loads(await ws.recv())
                assert message["method"] == "accountNotification", message
                status = (await client.get_signature_statuses([sig])).value[0]
                seen.append((ids[message["params"]["subscription"]],
                             message["params"]["result"]["context"]["slot"],
                             None if status is None else str(status.confirmation_status)))
        landed = net.ledger.transaction(sig)
        assert landed is not None
        # each level told once, in order, in the context of its own level's slot, and not
        # before the transaction reached that level
        assert [level for level, _, _ in seen] == ["processed", "confirmed", "finalized"]
        processed, confirmed, finalized = (slot for _, slot, _ in seen)
        assert processed == landed.slot <= confirmed <= finalized
        assert seen[1][2] in (str(TransactionConfirmationStatus.Confirmed),
                              str(TransactionConfirmationStatus.Finalized))
        assert seen[2][2] == str(TransactionConfirmationStatus.Finalized)


async def test_program_subscriptions_are_notified_when_the_change_reaches_their_commitment(
        net: Localnet) -> None:
    user = net.users[0].key
    system = "11111111111111111111111111111111"
    async with AsyncClient(net.url) as client, websockets.connect(net.ws_url) as ws:
        ids = {await _subscribe(ws, "programSubscribe", system,
                                {"encoding": "base64", "commitment": level}): level
               for level in ("processed", "confirmed", "finalized")}
        sig = await _transfer(net, client)
        seen: dict[str, tuple[int, str | None]] = {}  # level: (context slot, status then)
        async with asyncio.timeout(10):
            while len(seen) < 3:
                message = json.loads(await ws.recv())
                assert message["method"] == "programNotification", message
                result = message["params"]["result"]
                level = ids[message["params"]["subscription"]]
                if result["value"]["pubkey"] != str(user) or level in seen:
                    continue
                status = (await client.get_signature_statuses([sig])).value[0]
                seen[level] = (result["context"]["slot"],
                               None if status is None else str(status.confirmation_status))
        landed = net.ledger.transaction(sig)
        assert landed is not None
        assert list(seen) == ["processed", "confirmed", "finalized"]
        assert seen["processed"][0] == landed.slot <= seen["confirmed"][0] \
            <= seen["finalized"][0]
        assert seen["confirmed"][1] in (str(TransactionConfirmationStatus.Confirmed),
                                        str(TransactionConfirmationStatus.Finalized))
        assert seen["finalized"][1] == str(TransactionConfirmationStatus.Finalized)
        assert net.ledger.commitment_of(seen["finalized"][0]) == "finalized"


async def test_before_any_root_finalized_is_the_genesis_block(net: Localnet) -> None:
    # a validator's finalized view is its genesis slot until a newer one is rooted: here the
    # bootstrap's last slot, which must then be finalized in every answer
    del net  # a localnet whose first root is far off instead
    async with run_localnet(free_port_pair(), slot_seconds=SLOT_S,
                            finalize_slots=10_000) as young, AsyncClient(young.url) as client:
        # the bootstrap's last slot and transaction (it may span a few slots)
        genesis = max(b.slot for b in young.ledger.blocks
                      if young.ledger.transactions_in(b.slot))
        bootstrap_tx = young.ledger.transactions_in(genesis)[-1].signature
        sig = await _transfer(young, client)
        while (record := young.ledger.transaction(sig)) is None \
                or young.ledger.commitment_of(record.slot) == "processed":
            await asyncio.sleep(SLOT_S)
        assert (await client.get_slot(Finalized)).value == genesis
        assert (await client.get_slot(Confirmed)).value > genesis
        statuses = (await client.get_signature_statuses([bootstrap_tx, sig])).value
        assert statuses[0] is not None and statuses[1] is not None
        assert (statuses[0].confirmation_status, statuses[0].confirmations) == \
            (TransactionConfirmationStatus.Finalized, None)
        assert statuses[1].confirmation_status != TransactionConfirmationStatus.Finalized
        commitment = await rpc(young, "getBlockCommitment", genesis)
        assert commitment["commitment"] is None  # rooted
