"""The Sender against a real localnet through a proxy that loses transactions and hides their
statuses: one intent lands at most once, refusals come back by IDL name, the compute budget
comes from simulation and the fee policy.

The intent is "market N is approved". The state it needs (a proposed market with votes) is
built with the localnet's users through solana-py directly, not through the proxy, so the
proxy's counts are the sender's alone; the history is read back through getSignaturesForAddress
and getTransaction, as any client would.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from anchorpy import Program
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.hash import Hash
from solders.instruction import Instruction
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction

from chain import sender as sender_module
from chain.client import Endpoint, RpcClient, anchor_program
from chain.localnet import Localnet, run_localnet
from chain.sender import (
    AlreadyDone,
    Expired,
    FeePolicy,
    Fenced,
    GaveUp,
    Intent,
    Landed,
    Refused,
    Sender,
    SendResult,
    fenced,
)
from demo.servers import free_port_pair
from tests.support.chaos import (
    Chaos,
    FirstTransaction,
    Forward,
    HiddenStatuses,
    RpcError,
    Status,
    Swallow,
    dead_url,
    signature_of,
)
from tests.support.localnet import create_market, send
from tests.support.localnet import rpc as node_rpc

COMPUTE_BUDGET = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
PROPOSED, APPROVED = 0, 1
TIMEOUT_S, DEADLINE_S, REBROADCAST_S = 0.5, 5.0, 0.3
GUARD_S = 15.0  # a send that is not over by then hangs
EXPIRE_BLOCKS = 151  # past a blockhash's 150 blocks


# ---- the intent ---------------------------------------------------------------------------------
LEAST_STAKE = 1_000_000  # the localnet's min_vote_stake
PROPOSAL_WINDOW_S = 86_400  # the localnet's proposal window


@dataclass
class MarketApproved:
    """Make market `market` Approved: approve_market while it is Proposed, nothing after."""

    rpc: RpcClient
    program: Program
    net: Localnet
    market: Pubkey
    reads: int = 0

    async def state(self) -> int:
        account = (await self.rpc.call("get_account_info", self.market)).value
        assert account is not None, "no such market"
        return int(self.program.coder.accounts.decode(bytes(account.data)).state)

    async def instructions(self) -> Sequence[Instruction] | None:
        self.reads += 1
        if await self.state() != PROPOSED:
            return None
        return [self.net.client.approve_market(self.market)]


# ---- the world ----------------------------------------------------------------------------------
@dataclass
class World:
    net: Localnet
    proxy: Chaos
    direct: AsyncClient  # straight to the localnet: setting up and reading history
    rpc: RpcClient  # through the proxy: what the sender uses
    program: Program

    def sender(self, **kwargs: Any) -> Sender:
        return Sender(self.rpc, self.net.keepers[0].kp,
                      **{"rebroadcast_s": REBROADCAST_S, **kwargs})

    async def proposed_market(self, market_id: int, likes: int) -> MarketApproved:
        """A market in Proposed with `likes` approving votes of the least stake (3 reach the
        quorum), its proposal window closed so that it can be decided."""
        net = self.net
        creator = net.users[0]
        await send(self.direct, [create_market(net, creator, market_id)], creator.kp)
        market = net.deployment.market(creator.key, market_id)
        for voter in (net.users + net.keepers)[:likes]:
            await send(self.direct, [net.client.vote_proposal(
                voter.key, market, True, stake=LEAST_STAKE, voter_token=voter.token)], voter.kp)
        await node_rpc(self.net, "keepernet_timeTravel", {"seconds": PROPOSAL_WINDOW_S + 1})
        return MarketApproved(self.rpc, self.program, net, market)

    async def transaction(self, signature: Signature) -> Any:
        got = (await self.direct.get_transaction(signature, encoding="base64")).value
        assert got is not None, f"{signature} is not in the history"
        return got

    async def approvals(self, market: Pubkey) -> list[Signature]:
        """Every approve_market of `market` in the history, landed or failed."""
        approve = bytes(self.net.client.approve_market(market).data)
        found = []
        for entry in (await self.direct.get_signatures_for_address(market)).value:
            tx = (await self.transaction(entry.signature)).transaction.transaction
            assert isinstance(tx, VersionedTransaction)
            keys = tx.message.account_keys
            if any(keys[ix.program_id_index] == self.net.program_id and bytes(ix.data) == approve
                   for ix in tx.message.instructions):
                found.append(entry.signature)
        return found

    async def travel_past_the_blockhash(self) -> None:
        for _ in range(EXPIRE_BLOCKS):  # one block a travel, however many slots
            await node_rpc(self.net, "keepernet_timeTravel", {"slots": 1})

    def sent(self, action: str | None = None) -> list[str]:
        """The signatures of the sendTransaction requests the proxy saw, in order."""
        return [signature_of(s.request) for s in self.proxy.requests("sendTransaction", action)]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with run_localnet(free_port_pair()) as net, Chaos(net.url) as proxy:
        direct = AsyncClient(net.url, commitment=Confirmed)
        rpc = RpcClient([Endpoint("proxy", proxy.url)], timeout_s=TIMEOUT_S,
                        deadline_s=DEADLINE_S)
        try:
            yield World(net, proxy, direct, rpc, anchor_program(rpc, net.program_id))
        finally:
            await rpc.close()
            await direct.close()


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout)


async def sent(sender: Sender, intent: Intent) -> SendResult:
    return await asyncio.wait_for(sender.send(intent), GUARD_S)


async def sent_with_units(sender: Sender, intent: Intent) -> SendResult:
    """Sent unsimulated, as the fast path sends a liquidation."""
    return await asyncio.wait_for(sender.send(intent, units=50_000), GUARD_S)


# ---- once ---------------------------------------------------------------------------------------
async def test_an_intent_lands_once_then_is_already_done(world: World) -> None:
    intent = await world.proposed_market(1, likes=3)
    sender = world.sender()

    landed = await sent(sender, intent)
    assert isinstance(landed, Landed)
    tx = await world.transaction(landed.signature)
    assert landed.slot == tx.slot > 0 and tx.transaction.meta.err is None
    assert await intent.state() == APPROVED
    assert world.sent() == [str(landed.signature)]

    assert await sent(sender, intent) == AlreadyDone()
    assert world.proxy.count("sendTransaction") == 1  # nothing sent the second time
    assert world.proxy.count("simulateTransaction") == 1
    assert await world.approvals(intent.market) == [landed.signature]


async def test_a_fence_that_says_no_right_before_signing_sends_nothing(world: World) -> None:
    """A holder whose lease passed on (fleet/lease.py) asks after the simulation, right before
    signing: nothing is sent, and the intent is left to whoever holds the lease now."""
    intent = await world.proposed_market(20, likes=3)
    asked: list[int] = []

    async def lease_lost() -> bool:
        asked.append(world.proxy.count("simulateTransaction"))
        return False

    with fenced(lease_lost):
        assert await sent(world.sender(), intent) == Fenced()
    assert asked == [1]  # once, after the simulation
    assert world.proxy.count("sendTransaction") == 0
    assert await intent.state() == PROPOSED

    async def lease_held() -> bool:
        return True

    with fenced(lease_held):
        assert isinstance(await sent(world.sender(), intent), Landed)


async def test_a_refusal_comes_back_by_its_idl_name_and_nothing_is_sent(world: World) -> None:
    intent = await world.proposed_market(2, likes=2)  # one vote short
    refused = await sent(world.sender(), intent)
    assert isinstance(refused, Refused) and refused.error == "ThresholdNotMet"
    assert any("failed" in line for line in refused.logs)
    assert world.proxy.count("simulateTransaction") == 1
    assert world.proxy.count("sendTransaction") == 0
    assert await world.approvals(intent.market) == []
    assert await intent.state() == PROPOSED


async def test_a_transaction_that_lands_with_an_error_is_refused(world: World) -> None:
    """The simulation passed (on a node behind, say) but the program refused the transaction
    on chain: it landed, failed, and the sender reports the refusal by its IDL name without
    sending again."""
    intent = await world.proposed_market(14, likes=2)  # one vote short

    def passed(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        answer["result"]["value"]["err"] = None
        return answer

    world.proxy.rewrite("simulateTransaction", passed)
    result = await sent(world.sender(), intent)
    assert isinstance(result, Refused) and result.error == "ThresholdNotMet"
    [signature] = await world.approvals(intent.market)
    assert world.sent() == [str(signature)]
    assert (await world.transaction(signature)).transaction.meta.err is not None
    assert intent.reads == 1
    assert await intent.state() == PROPOSED


# ---- lost, late and hidden ----------------------------------------------------------------------
async def test_a_lost_transaction_is_re_read_re_signed_and_lands_once(world: World) -> None:
    intent = await world.proposed_market(3, likes=3)
    proxy = world.proxy
    # every broadcast of the first transaction is lost; later ones go through
    first = FirstTransaction()
    proxy.fail(Swallow(), method="sendTransaction", times=None, when=first)
    task = asyncio.create_task(world.sender().send(intent))
    await until(lambda: proxy.count("sendTransaction", "swallow") >= 2)  # sent, rebroadcast
    await world.travel_past_the_blockhash()
    result = await asyncio.wait_for(task, GUARD_S)

    assert isinstance(result, Landed)
    assert first.signature is not None and str(result.signature) != first.signature
    assert set(world.sent("swallow")) == {first.signature}
    assert set(world.sent("forward")) == {str(result.signature)}
    assert intent.reads == 2  # the state was read again before signing again
    assert await world.approvals(intent.market) == [result.signature]
    lost = Signature.from_string(first.signature)
    assert (await world.direct.get_signature_statuses(
        [lost], search_transaction_history=True)).value == [None]


async def test_a_transaction_that_landed_unseen_is_not_sent_again(world: World) -> None:
    intent = await world.proposed_market(4, likes=3)
    proxy = world.proxy
    hidden = HiddenStatuses()
    proxy.rewrite("sendTransaction", hidden.hide_first_sent)
    proxy.rewrite("getSignatureStatuses", hidden)
    task = asyncio.create_task(world.sender().send(intent))
    await until(lambda: hidden.hidden >= 2)  # it landed; the sender was told nothing, twice
    await world.travel_past_the_blockhash()
    result = await asyncio.wait_for(task, GUARD_S)

    # the re-read found the market approved: nothing signed again
    assert result == AlreadyDone()
    assert intent.reads == 2
    assert set(world.sent()) == {hidden.first}
    assert world.proxy.count("simulateTransaction") == 1
    assert [str(s) for s in await world.approvals(intent.market)] == [hidden.first]


async def test_a_status_seen_at_expiry_reports_the_landing(world: World) -> None:
    """The status shows up just as the blockhash expires: the last look finds it."""
    intent = await world.proposed_market(5, likes=3)
    proxy = world.proxy
    hidden = HiddenStatuses()
    proxy.rewrite("sendTransaction", hidden.hide_first_sent)
    proxy.rewrite("getSignatureStatuses", hidden)

    def reveal_at_expiry(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        last_valid = proxy.requests("getLatestBlockhash")[-1].answer["result"]["value"][
            "lastValidBlockHeight"]
        if answer["result"] > last_valid:
            hidden.signatures.clear()
        return answer

    proxy.rewrite("getBlockHeight", reveal_at_expiry)
    task = asyncio.create_task(world.sender().send(intent))
    await until(lambda: hidden.hidden >= 2)
    await world.travel_past_the_blockhash()
    result = await asyncio.wait_for(task, GUARD_S)

    assert isinstance(result, Landed) and str(result.signature) == hidden.first
    assert result.confirmed_after_s > 0  # timed from its first broadcast, as any landing
    assert intent.reads == 1
    assert set(world.sent()) == {hidden.first}
    assert await world.approvals(intent.market) == [result.signature]


async def test_processed_is_not_landed(world: World) -> None:
    """A status still `processed` could be dropped with its fork: the sender waits for
    confirmed."""
    intent = await world.proposed_market(6, likes=3)
    processed = 0

    def only_processed(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        nonlocal processed
        status = answer["result"]["value"][0]
        if status is not None and processed < 3:
            status["confirmationStatus"] = "processed"
            processed += 1
        return answer

    world.proxy.rewrite("getSignatureStatuses", only_processed)
    result = await sent(world.sender(), intent)
    assert isinstance(result, Landed)
    assert processed == 3 and world.proxy.count("getSignatureStatuses") >= 4
    assert set(world.sent()) == {str(result.signature)}  # rebroadcasts of the same transaction
    assert await world.approvals(intent.market) == [result.signature]


async def test_a_refused_rebroadcast_does_not_hide_the_first_send(world: World) -> None:
    """A node may refuse a rebroadcast (already processed); the first send may have landed,
    so its status, not the refusal, is the result."""
    intent = await world.proposed_market(7, likes=3)
    proxy = world.proxy
    hidden = HiddenStatuses()
    proxy.rewrite("sendTransaction", hidden.hide_first_sent)

    def until_rebroadcast(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if proxy.count("sendTransaction") >= 2:
            hidden.signatures.clear()
        return hidden(request, answer)

    proxy.rewrite("getSignatureStatuses", until_rebroadcast)
    proxy.script(Forward(), RpcError(-32602, "rejected"), method="sendTransaction")
    result = await sent(world.sender(), intent)
    assert isinstance(result, Landed) and str(result.signature) == hidden.first
    assert [s.action for s in proxy.requests("sendTransaction")][:2] == ["forward", "rpc-error"]
    assert await world.approvals(intent.market) == [result.signature]


async def test_expired_when_every_blockhash_expires_unlanded(world: World) -> None:
    intent = await world.proposed_market(8, likes=3)
    proxy = world.proxy
    proxy.fail(Swallow(), method="sendTransaction", times=None)
    task = asyncio.create_task(world.sender(attempts=2).send(intent))
    travelled: set[str] = set()
    while not task.done():  # each new transaction's blockhash expires once it is sent
        fresh = set(world.sent("swallow")) - travelled
        if fresh:
            travelled |= fresh
            await world.travel_past_the_blockhash()
        await asyncio.sleep(0.02)
    result = await asyncio.wait_for(task, GUARD_S)
    assert result == Expired(2)
    assert len(travelled) == 2 and intent.reads == 2
    assert await world.approvals(intent.market) == []
    assert await intent.state() == PROPOSED


async def test_a_blockhash_the_simulating_node_does_not_know_is_replaced(world: World) -> None:
    intent = await world.proposed_market(9, likes=3)
    replaced = False

    def unknown_blockhash(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        nonlocal replaced
        if not replaced:
            answer["result"]["value"]["blockhash"] = str(Hash.new_unique())
            replaced = True
        return answer

    world.proxy.rewrite("getLatestBlockhash", unknown_blockhash)
    result = await sent(world.sender(), intent)
    assert isinstance(result, Landed)
    assert world.proxy.count("getLatestBlockhash") == 2
    assert world.proxy.count("simulateTransaction") == 2
    assert await world.approvals(intent.market) == [result.signature]


async def test_sends_at_once_share_one_blockhash(world: World) -> None:
    intents = [await world.proposed_market(market_id, likes=3) for market_id in (20, 21)]
    sender = world.sender()
    results = await asyncio.gather(*(sent(sender, intent) for intent in intents))
    assert all(isinstance(r, Landed) for r in results)
    assert world.proxy.count("getLatestBlockhash") == 1


async def test_sends_waiting_at_once_look_at_their_statuses_together(world: World) -> None:
    """A burst's transactions share each poll: one getSignatureStatuses carries every
    signature waiting when it starts, and one getBlockHeight follows it, rather than two
    requests per transaction."""
    intents = [await world.proposed_market(market_id, likes=3) for market_id in (22, 23, 24)]
    sender = world.sender()
    results = await asyncio.gather(*(sent_with_units(sender, intent) for intent in intents))
    assert all(isinstance(r, Landed) for r in results)
    looks = [r.request["params"][0] for r in world.proxy.requests("getSignatureStatuses")]
    assert {s for signatures in looks for s in signatures} == {str(r.signature)
                                                               for r in results
                                                               if isinstance(r, Landed)}
    assert max(map(len, looks)) >= 2  # those sent after the first look join the next
    assert world.proxy.count("getBlockHeight") == len(looks)


@dataclass
class Tip:
    """An intent that always wants doing: one more lamport to `to` (each send a new one)."""

    payer: Pubkey
    to: Pubkey

    async def instructions(self) -> Sequence[Instruction]:
        return [transfer(TransferParams(from_pubkey=self.payer, to_pubkey=self.to, lamports=1))]


async def test_the_same_instructions_sent_again_land_again(world: World) -> None:
    """Two sends of the same instructions under one blockhash would be one transaction (one
    signature): the node drops the second as already processed, and its status — the
    first's — read as the second landing. The second gets another blockhash and lands."""
    sender = world.sender()
    to = world.net.users[1].key
    before = (await world.direct.get_balance(to)).value
    tip = Tip(world.net.keepers[0].key, to)
    results = await asyncio.gather(*(sent(sender, tip) for _ in range(3)))
    assert all(isinstance(r, Landed) for r in results), results
    assert len({r.signature for r in results if isinstance(r, Landed)}) == 3
    assert (await world.direct.get_balance(to)).value == before + 3


# ---- no endpoint --------------------------------------------------------------------------------
async def test_gives_up_when_no_endpoint_answers(world: World) -> None:
    intent = await world.proposed_market(10, likes=3)
    rpc = RpcClient([Endpoint("dead", dead_url())], timeout_s=TIMEOUT_S, deadline_s=1.0)
    try:
        intent.rpc = rpc
        sender = Sender(rpc, world.net.keepers[0].kp, rebroadcast_s=REBROADCAST_S)
        result = await sent(sender, intent)
    finally:
        await rpc.close()
    assert isinstance(result, GaveUp) and result.in_flight is None
    assert "dead: connection failed (ConnectError)" in result.reason


async def test_gives_up_naming_the_transaction_in_flight(world: World) -> None:
    intent = await world.proposed_market(11, likes=3)
    proxy = world.proxy
    rpc = RpcClient([Endpoint("proxy", proxy.url)], timeout_s=TIMEOUT_S, deadline_s=1.0)
    try:
        # the transaction goes out, then the endpoint stops answering
        proxy.fail(Status(500), method="getSignatureStatuses", times=None)
        result = await sent(Sender(rpc, world.net.keepers[0].kp,
                                   rebroadcast_s=REBROADCAST_S), intent)
    finally:
        await rpc.close()
    assert isinstance(result, GaveUp) and "HTTP 500" in result.reason
    assert result.in_flight is not None and world.sent() == [str(result.in_flight)]
    # it did land: whoever retries must re-read before sending again
    assert await world.approvals(intent.market) == [result.in_flight]


# ---- the compute budget -------------------------------------------------------------------------
def budget_of(tx: VersionedTransaction) -> tuple[int | None, int | None, list[Pubkey]]:
    """(unit limit, unit price, programs of the other instructions) of a transaction."""
    keys = tx.message.account_keys
    limit = price = None
    others = []
    for ix in tx.message.instructions:
        program, data = keys[ix.program_id_index], bytes(ix.data)
        if program != COMPUTE_BUDGET:
            others.append(program)
        elif data[0] == 2:
            limit = int.from_bytes(data[1:5], "little")
        elif data[0] == 3:
            price = int.from_bytes(data[1:9], "little")
    return limit, price, others


def simulated_units(proxy: Chaos) -> int:
    return int(proxy.requests("simulateTransaction")[-1].answer["result"]["value"][
        "unitsConsumed"])


async def landed_budget(world: World, result: SendResult) -> tuple[int, int | None, int, int]:
    """(limit, price, units used, fee) of the landed transaction, read from the history."""
    assert isinstance(result, Landed)
    got = await world.transaction(result.signature)
    tx = got.transaction.transaction
    limit, price, others = budget_of(tx)
    assert others == [world.net.program_id]  # the budget, then the intent's instruction
    assert limit is not None
    meta = got.transaction.meta
    return limit, price, meta.compute_units_consumed, meta.fee


async def test_unit_limit_from_simulation_and_a_fixed_price(world: World) -> None:
    intent = await world.proposed_market(12, likes=3)
    sender = world.sender(fees=FeePolicy(fixed_micro_lamports=1_234, limit_margin=1.5))
    limit, price, used, fee = await landed_budget(world, await sent(sender, intent))
    units = simulated_units(world.proxy)
    assert units > 0 and limit == int(units * 1.5)
    assert used <= limit
    assert price == 1_234
    assert world.proxy.count("getRecentPrioritizationFees") == 0  # configured: not asked
    assert fee == 5_000 + math.ceil(1_234 * limit / 10**6)


RECENT_FEES = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900]


@pytest.mark.parametrize(("fees", "cap", "expected"), [
    (RECENT_FEES, 10_000, 700),  # the 75th percentile (nearest rank) of ten fees
    (RECENT_FEES, 450, 450),  # capped
    (None, 10_000, None),  # the localnet's own answer: no fees lately, so no price at all
])
async def test_unit_price_is_the_capped_percentile_of_recent_fees(
        world: World, fees: list[int] | None, cap: int, expected: int | None) -> None:
    intent = await world.proposed_market(13, likes=3)
    if fees is not None:
        def recent(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
            answer["result"] = [{"slot": 1000 + i, "prioritizationFee": f}
                                for i, f in enumerate(fees)]
            return answer
        world.proxy.rewrite("getRecentPrioritizationFees", recent)
    sender = world.sender(fees=FeePolicy(percentile=75, cap_micro_lamports=cap))
    limit, price, _, fee = await landed_budget(world, await sent(sender, intent))
    [asked] = world.proxy.requests("getRecentPrioritizationFees")
    assert asked.request["params"] == [[str(intent.market)]]  # the account approve writes
    assert limit == int(simulated_units(world.proxy) * FeePolicy().limit_margin)
    assert price == expected
    assert fee == 5_000 + math.ceil((price or 0) * limit / 10**6)


# ---- sent unsimulated, with known units -----------------------------------------------------
async def test_known_units_send_at_once_at_the_fee_kept_fresh(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A liquidation found at a price just notified knows its units: the first send reads
    nothing (the blockhash and the fee `keep_fresh` read beforehand) and is signed with that
    limit at that fee; the program judges it on chain all the same."""
    monkeypatch.setattr(sender_module, "BLOCKHASH_REFRESH_S", 3600.0)  # one read, here
    fees = [300] * 10

    def recent(request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        answer["result"] = [{"slot": 1000 + i, "prioritizationFee": f}
                            for i, f in enumerate(fees)]
        return answer

    world.proxy.rewrite("getRecentPrioritizationFees", recent)
    sender = world.sender()
    intent = await world.proposed_market(16, likes=3)
    keeper = asyncio.create_task(sender.keep_fresh([world.net.deployment.config]))
    try:
        await until(lambda: world.proxy.count("getRecentPrioritizationFees") == 1)
        [asked] = world.proxy.requests("getRecentPrioritizationFees")
        assert asked.request["params"] == [[str(world.net.deployment.config)]]
        landed = await asyncio.wait_for(sender.send(intent, units=50_000), GUARD_S)
        limit, price, used, _ = await landed_budget(world, landed)
        assert (limit, price) == (50_000, 300) and used <= limit
        assert {m: world.proxy.count(m) for m in (
            "simulateTransaction", "getRecentPrioritizationFees", "getLatestBlockhash")} == {
            "simulateTransaction": 0, "getRecentPrioritizationFees": 1, "getLatestBlockhash": 1}
        assert intent.reads == 1 and await intent.state() == APPROVED
    finally:
        keeper.cancel()


async def test_a_presigned_transaction_is_handed_over_at_once_and_followed_by_its_send(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """`presign` signs with what `keep_fresh` keeps at hand and nothing else (None until it
    has read), `broadcast` hands the transaction to the node before any send is asked, and
    `send(..., presigned=)` follows that very transaction to its landing; lost, the next
    attempt plans anew from the intent, reads and simulates."""
    monkeypatch.setattr(sender_module, "BLOCKHASH_REFRESH_S", 3600.0)  # one read, here
    sender = world.sender()
    intent = await world.proposed_market(19, likes=3)
    ixs = await intent.instructions()
    assert ixs is not None
    assert sender.presign(ixs, 50_000) is None  # nothing at hand yet
    keeper = asyncio.create_task(sender.keep_fresh([world.net.deployment.config]))
    try:
        await until(lambda: sender.presign([], 1) is not None)
        presigned = sender.presign(ixs, 50_000)
        assert presigned is not None and presigned.broadcast is None
        sender.broadcast([presigned])
        await until(lambda: world.proxy.count("sendTransaction") == 1)  # no send asked yet
        landed = await asyncio.wait_for(sender.send(intent, presigned=presigned), GUARD_S)
        assert isinstance(landed, Landed) and landed.signature == presigned.tx.signatures[0]
        assert world.proxy.count("simulateTransaction") == 0
        assert intent.reads == 1 and await intent.state() == APPROVED
        assert sender.presign(ixs, 50_000) is None  # the very same transaction: made before

        intent = await world.proposed_market(20, likes=3)
        ixs = await intent.instructions()
        assert ixs is not None
        lost = sender.presign(ixs, 50_000)
        assert lost is not None
        world.proxy.fail(Swallow(), method="sendTransaction", times=None,
                         when=FirstTransaction())
        sender.broadcast([lost])
        task = asyncio.create_task(sender.send(intent, presigned=lost))
        await until(lambda: world.proxy.count("sendTransaction", "swallow") >= 1)
        await world.travel_past_the_blockhash()
        landed = await asyncio.wait_for(task, GUARD_S)
        assert isinstance(landed, Landed) and landed.signature != lost.tx.signatures[0]
        assert world.proxy.count("simulateTransaction") == 1  # the second attempt's
        assert intent.reads == 2 and await intent.state() == APPROVED
    finally:
        keeper.cancel()


async def test_transactions_signed_ahead_are_handed_over_in_one_request(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst's transactions leave together in one JSON-RPC batch, and each send follows its
    own: those the node takes land; one it refuses outright comes back refused."""
    monkeypatch.setattr(sender_module, "BLOCKHASH_REFRESH_S", 3600.0)
    sender = world.sender()
    keeper = asyncio.create_task(sender.keep_fresh([world.net.deployment.config]))
    try:
        await until(lambda: sender.presign([], 1) is not None)
        intents = [await world.proposed_market(30 + i, likes=3) for i in range(3)]
        burst = []
        for intent in intents:
            ixs = await intent.instructions()
            assert ixs is not None
            signed = sender.presign(ixs, 50_000)
            assert signed is not None
            burst.append(signed)
        # one under a blockhash the node never made, which it refuses outright (a node that
        # checks as it takes a transaction; this one takes it and drops it unexecuted)
        unknown = Hash.new_unique()
        burst[2] = replace(burst[2], tx=Transaction(
            [sender.payer], Message.new_with_blockhash(burst[2].ixs, sender.payer.pubkey(),
                                                       unknown), unknown))

        def refuse_the_third(request: Any, answer: Any) -> Any:
            answer[2] = {"jsonrpc": "2.0", "id": 2, "error": {
                "code": -32002, "message": "Transaction simulation failed: Blockhash not found"}}
            return answer

        world.proxy.rewrite("batch", refuse_the_third)
        sender.broadcast(burst)
        await until(lambda: world.proxy.count("batch") == 1)
        [batch] = world.proxy.requests("batch")
        assert [call["method"] for call in batch.request] == ["sendTransaction"] * 3
        results = await asyncio.wait_for(asyncio.gather(*(
            sender.send(intent, presigned=signed)
            for intent, signed in zip(intents, burst, strict=True))), GUARD_S)
        assert [type(r) for r in results] == [Landed, Landed, Refused]
        assert "Blockhash not found" in results[2].error  # type: ignore[union-attr]
        assert [r.signature for r in results[:2]] == [  # type: ignore[union-attr]
            b.tx.signatures[0] for b in burst[:2]]
        assert world.proxy.count("sendTransaction") == 0  # nothing sent again meanwhile
        assert [await i.state() for i in intents[:2]] == [APPROVED, APPROVED]
    finally:
        keeper.cancel()


async def test_a_presigned_transaction_not_handed_over_in_time_is_never_sent(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process paused between signing ahead and handing over (its lease may have passed
    on): the transaction is dropped, and the send signs anew only if its fence still says
    so."""
    monkeypatch.setattr(sender_module, "BLOCKHASH_REFRESH_S", 3600.0)
    sender = world.sender()
    keeper = asyncio.create_task(sender.keep_fresh([world.net.deployment.config]))
    try:
        await until(lambda: sender.presign([], 1) is not None)
        for lease_held in (False, True):
            intent = await world.proposed_market(21 + lease_held, likes=3)
            ixs = await intent.instructions()
            assert ixs is not None
            paused = sender.presign(ixs, 50_000)
            assert paused is not None
            await asyncio.sleep(sender_module.PRESIGNED_SEND_WITHIN_S + 0.05)  # "paused"
            sender.broadcast([paused])
            sends = world.proxy.count("sendTransaction")

            async def fence(held: bool = lease_held) -> bool:
                return held

            with fenced(fence):
                result = await asyncio.wait_for(sender.send(intent, presigned=paused), GUARD_S)
            if lease_held:  # signed anew, under the fence
                assert isinstance(result, Landed)
                assert result.signature != paused.tx.signatures[0]
                assert await intent.state() == APPROVED
            else:
                assert isinstance(result, Fenced)
                assert world.proxy.count("sendTransaction") == sends  # nothing sent
    finally:
        keeper.cancel()


async def test_the_fee_kept_fresh_survives_a_nodes_error(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node's error on the fee read (a JSON-RPC error, not an endpoint failure) is logged
    and the read made again at the next period: the refresher goes on."""
    monkeypatch.setattr(sender_module, "BLOCKHASH_REFRESH_S", 0.05)
    world.proxy.fail(RpcError(-32603, "internal error"), method="getRecentPrioritizationFees")
    keeper = asyncio.create_task(world.sender().keep_fresh([world.net.deployment.config]))
    try:
        await until(lambda: world.proxy.count("getRecentPrioritizationFees", "forward") >= 1)
        assert world.proxy.count("getRecentPrioritizationFees", "rpc-error") == 1
        assert not keeper.done()
    finally:
        keeper.cancel()


async def test_known_units_a_refusal_lands_failed_and_a_retry_simulates(world: World) -> None:
    """Unsimulated, a transaction the program refuses lands failed (its fee paid) and comes
    back by its IDL name; a send after an expiry reads and simulates as any other."""
    intent = await world.proposed_market(17, likes=2)  # one vote short
    refused = await sent_with_units(world.sender(), intent)
    assert isinstance(refused, Refused) and refused.error == "ThresholdNotMet"
    [signature] = await world.approvals(intent.market)
    assert (await world.transaction(signature)).transaction.meta.err is not None
    assert world.proxy.count("simulateTransaction") == 0

    intent = await world.proposed_market(18, likes=3)
    first = FirstTransaction()
    world.proxy.fail(Swallow(), method="sendTransaction", times=None, when=first)
    task = asyncio.create_task(sent_with_units(world.sender(), intent))
    await until(lambda: world.proxy.count("sendTransaction", "swallow") >= 1)
    await world.travel_past_the_blockhash()
    landed = await task
    assert isinstance(landed, Landed) and str(landed.signature) != first.signature
    assert world.proxy.count("simulateTransaction") == 1  # the second attempt's
    assert intent.reads == 2
