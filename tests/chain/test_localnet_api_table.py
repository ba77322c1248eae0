"""The README's table of the validator's API lists exactly Agave's methods and subscriptions and
says what the localnet answers: the methods marked answered are exactly its dispatch's (less
its own keepernet_ ones), every method marked not answered gets -32601, as does every method
Agave 2.0 removed, and each subscription answers as marked."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from chain.localnet import Localnet, run_localnet
from chain.localnet.rpc import METHOD_NOT_FOUND, Rpc
from demo.servers import free_port_pair
from tests.support.localnet import raw

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(\w+)` \| (yes|no) \|")
OWN_PREFIX = "keepernet_"
# Agave's JSON-RPC methods, from the #[rpc(meta, name = ...)] attributes of rpc/src/rpc.rs
# (anza-xyz/agave master, commit 00018991225c173e9e8acffe0ae03eec1568b69e), by trait
AGAVE_METHODS = {
    # Minimal
    "getBalance", "getEpochInfo", "getGenesisHash", "getHealth", "getIdentity", "getSlot",
    "getBlockHeight", "getHighestSnapshotSlot", "getTransactionCount", "getVersion",
    "getVoteAccounts", "getLeaderSchedule",
    # BankData
    "getMinimumBalanceForRentExemption", "getInflationGovernor", "getInflationRate",
    "getEpochSchedule", "getSlotLeader", "getSlotLeaders", "getBlockProduction",
    # AccountsData
    "getAccountInfo", "getMultipleAccounts", "getBlockCommitment", "getTokenAccountBalance",
    "getTokenSupply",
    # AccountsScan
    "getProgramAccounts", "getLargestAccounts", "getSupply", "getTokenLargestAccounts",
    "getTokenAccountsByOwner", "getTokenAccountsByDelegate",
    # Full
    "getInflationReward", "getClusterNodes", "getRecentPerformanceSamples",
    "getSignatureStatuses", "getMaxRetransmitSlot", "getMaxShredInsertSlot", "requestAirdrop",
    "sendTransaction", "simulateTransaction", "minimumLedgerSlot", "getBlock", "getBlockTime",
    "getBlocks", "getBlocksWithLimit", "getTransaction", "getSignaturesForAddress",
    "getFirstAvailableBlock", "getLatestBlockhash", "isBlockhashValid", "getFeeForMessage",
    "getStakeMinimumDelegation", "getRecentPrioritizationFees",
}
# rpc/src/rpc_pubsub.rs (commit 3bcb85eeb48313ef6ca23449c1122b20e40b2912), RpcSolPubSubInternal
AGAVE_SUBSCRIPTIONS = {
    "accountSubscribe", "programSubscribe", "logsSubscribe", "signatureSubscribe",
    "slotSubscribe", "slotsUpdatesSubscribe", "blockSubscribe", "voteSubscribe",
    "rootSubscribe",
}
# the deprecated traits' methods, removed in Agave 2.0
REMOVED_IN_2_0 = (
    "getConfirmedBlock", "getConfirmedBlocks", "getConfirmedBlocksWithLimit",
    "getConfirmedSignaturesForAddress2", "getConfirmedTransaction", "getRecentBlockhash",
    "getFees", "getFeeCalculatorForBlockhash", "getFeeRateGovernor", "getSnapshotSlot",
    "getStakeActivation",
)
# a well-formed first parameter for each subscription, so that only the method decides
SUBSCRIBE_PARAMS: dict[str, list[Any]] = {
    "accountSubscribe": ["11111111111111111111111111111111"],
    "programSubscribe": ["11111111111111111111111111111111"],
    "logsSubscribe": ["all"],
    "signatureSubscribe": ["1" * 64],
    "blockSubscribe": ["all"],
}


def table() -> dict[str, bool]:
    """Each method or subscription of the README's table: answered or not."""
    section = README.read_text().split("### The validator's API", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(2) == "yes"
            for m in map(ROW.match, section.splitlines()) if m}
    assert len(rows) > 50, "the README's method table is missing"
    return rows


def methods() -> dict[str, bool]:
    return {name: ok for name, ok in table().items() if not name.endswith("Subscribe")}


def subscriptions() -> dict[str, bool]:
    return {name: ok for name, ok in table().items() if name.endswith("Subscribe")}


def test_the_table_lists_exactly_agave_s_methods_and_subscriptions() -> None:
    assert set(methods()) == AGAVE_METHODS
    assert set(subscriptions()) == AGAVE_SUBSCRIPTIONS


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


async def test_the_table_lists_exactly_the_methods_the_dispatch_answers(net: Localnet) -> None:
    dispatch = set(Rpc(net.ledger, net.genesis.faucet).methods)
    answered = {name for name, ok in methods().items() if ok}
    assert answered == {m for m in dispatch if not m.startswith(OWN_PREFIX)}
    for name in (*(name for name, ok in methods().items() if not ok), *REMOVED_IN_2_0):
        answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": name, "params": []})
        assert answer["error"]["code"] == METHOD_NOT_FOUND, (name, answer)


async def test_each_subscription_answers_as_the_table_says(net: Localnet) -> None:
    async with websockets.connect(net.ws_url) as ws:
        for n, (name, answered) in enumerate(subscriptions().items()):
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": name,
                                      "params": SUBSCRIBE_PARAMS.get(name, [])}))
            async with asyncio.timeout(10):
                while (answer := json.loads(await ws.recv())).get("id") != n:
                    pass  # a notification of an earlier subscription
            if answered:
                assert isinstance(answer.get("result"), int), (name, answer)
            else:
                assert answer["error"]["code"] == METHOD_NOT_FOUND, (name, answer)
