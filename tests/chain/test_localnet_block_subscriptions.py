"""blockSubscribe (as a validator started with --rpc-pubsub-enable-block-subscription answers
it), slotsUpdatesSubscribe and the pubsub's getVersion, each notification parsed by solders'
websocket parser as a client would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Processed
from solana.rpc.types import TxOpts
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    BlockNotification,
    SlotUpdateCompleted,
    SlotUpdateCreatedBank,
    SlotUpdateFrozen,
    SlotUpdateNotification,
    SlotUpdateOptimisticConfirmation,
    SlotUpdateRoot,
    parse_websocket_message,
)
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from chain.localnet import Localnet, run_localnet
from chain.localnet.rpc import INVALID_PARAMS, SOLANA_CORE_VERSION
from demo.servers import free_port_pair

SLOT_S = 0.05
FINALIZE = 2


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair(), slot_seconds=SLOT_S,
                            finalize_slots=FINALIZE) as localnet:
        yield localnet


async def _transfer(net: Localnet, to: Pubkey) -> Signature:
    user = net.users[0]
    async with AsyncClient(net.url) as client:
        blockhash = (await client.get_latest_blockhash(Processed)).value.blockhash
        ix = transfer(TransferParams(from_pubkey=user.key, to_pubkey=to, lamports=10**6))
        tx = Transaction([user.kp], Message.new_with_blockhash([ix], user.key, blockhash),
                         blockhash)
        return (await client.send_transaction(tx, opts=TxOpts(skip_confirmation=True))).value


async def _request(ws: Any, method: str, *params: Any) -> dict[str, Any]:
    """The answer to one request (notifications arriving meanwhile are dropped)."""
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": 7, "method": method,
                              "params": list(params)}))
    async with asyncio.timeout(10):
        while (answer := json.loads(await ws.recv())).get("id") != 7:
            pass
    return dict(answer)


async def _notifications(ws: Any, until: Any) -> list[Any]:
    """Notifications parsed by solders until `until(parsed so far)` holds, within ten
    seconds."""
    seen: list[Any] = []
    async with asyncio.timeout(10):
        while not until(seen):
            seen.extend(parse_websocket_message(await ws.recv()))
    return seen


async def test_block_subscriptions_tell_each_block_at_their_commitment(net: Localnet) -> None:
    receiver = Keypair().pubkey()
    async with websockets.connect(net.ws_url) as every, websockets.connect(net.ws_url) as mine:
        every_id = (await _request(every, "blockSubscribe", "all",
                                   {"commitment": "confirmed", "encoding": "json",
                                    "maxSupportedTransactionVersion": 0}))["result"]
        mine_id = (await _request(mine, "blockSubscribe",
                                  {"mentionsAccountOrProgram": str(receiver)},
                                  {"transactionDetails": "signatures"}))["result"]
        sig = await _transfer(net, receiver)

        def has_sig(seen: list[Any]) -> bool:
            return any(n.result.value.block is not None
                       and any(t.transaction.signatures == [sig]
                               for t in n.result.value.block.transactions or [])
                       for n in seen)

        blocks = await _notifications(every, has_sig)
        assert all(isinstance(n, BlockNotification) and n.subscription == every_id
                   for n in blocks)
        slots = [n.result.value.slot for n in blocks]
        assert slots == sorted(slots) and len(set(slots)) == len(slots)  # each block once
        landed = blocks[-1].result.value
        assert net.ledger.commitment_of(landed.slot) != "processed"
        assert landed.err is None and landed.block.rewards is None  # showRewards is off
        assert blocks[-1].result.context.slot == landed.slot

        # the mentions subscription (finalized by default) is told of that block alone
        told = (await _notifications(mine, lambda seen: bool(seen)))[0]
        assert told.subscription == mine_id and told.result.value.slot == landed.slot
        assert told.result.value.block.signatures == [sig]
        assert net.ledger.commitment_of(landed.slot) == "finalized"


async def test_block_subscriptions_refuse_what_a_validator_refuses(net: Localnet) -> None:
    async with websockets.connect(net.ws_url) as ws:
        for params in (["all", {"commitment": "processed"}],
                       [{"mentionsAccountOrProgram": "not a key"}], ["everything"],
                       ["all", {"encoding": "hex"}]):
            answer = await _request(ws, "blockSubscribe", *params)
            assert answer["error"]["code"] == INVALID_PARAMS, (params, answer)


async def test_slots_updates_follow_each_slot_to_its_root(net: Localnet) -> None:
    sig = None
    async with websockets.connect(net.ws_url) as ws:
        sub_id = (await _request(ws, "slotsUpdatesSubscribe"))["result"]
        sig = await _transfer(net, Keypair().pubkey())

        def rooted_with_tx(seen: list[Any]) -> bool:
            record = net.ledger.transaction(sig)
            return record is not None and any(
                isinstance(n.result, SlotUpdateRoot) and n.result.slot == record.slot
                for n in seen)

        updates = await _notifications(ws, rooted_with_tx)
    assert all(isinstance(n, SlotUpdateNotification) and n.subscription == sub_id
               for n in updates)
    record = net.ledger.transaction(sig)
    assert record is not None
    of_slot = [n.result for n in updates if n.result.slot == record.slot]
    assert [type(u) for u in of_slot] == [SlotUpdateCreatedBank, SlotUpdateCompleted,
                                          SlotUpdateFrozen, SlotUpdateOptimisticConfirmation,
                                          SlotUpdateRoot]
    created, frozen = of_slot[0], of_slot[2]
    assert created.parent < created.slot
    assert frozen.stats.num_successful_transactions >= 1
    assert frozen.stats.num_failed_transactions == 0
    assert all(u.timestamp > 1_600_000_000_000 for u in of_slot)  # wall milliseconds


async def test_the_pubsub_answers_get_version_and_refuses_votes(net: Localnet) -> None:
    async with websockets.connect(net.ws_url) as ws:
        version = await _request(ws, "getVersion")
        assert version["result"]["solana-core"] == SOLANA_CORE_VERSION
        refused = await _request(ws, "voteSubscribe")
        assert refused["error"] == {"code": -32601, "message": "Method not found"}
