"""index_events against the real localnet and a real PostgreSQL: exactly the chain's events,
once, whatever happens to the runs.

One localnet for the module (its activity built once: markets proposed, voted, approved and
rejected, trades, a failed transaction, a perp market with positions, funding and a
liquidation); each test indexes it into a fresh database. The expected events are re-derived
from the chain independently of jobs/indexing.py: every signature of the program, its
transaction through solana-py's typed client, decoded by the program's own anchorpy coder.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed, Finalized
from solana.rpc.types import TxOpts
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction

import jobs.indexer
from chain.client import Endpoint, RpcClient
from chain.localnet import Localnet, run_localnet
from chain.publisher import Feed, Publisher
from chain.scenarios import Crash
from demo.servers import free_port_pair
from jobs.indexer import index_events
from jobs.outcome import Outcome
from store.events import Cursor, CursorMoved, EventRow, read_cursor, write_batch
from tests.support.history import Expected, assert_exactly_the_chain, by_key, chain_events
from tests.support.localnet import raw, send
from tests.support.perp_world import funded_perp_market

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROPOSAL_WINDOW = 86_400
STAKE = 1_000_000  # the localnet's least vote stake
FUNDING_INTERVAL = 3_600
PRICE = 100_000_000
LONG, SHORT = 1, 2
YES, NO = 1, 0


class Chain:
    def __init__(self, net: Localnet, client: AsyncClient, publisher: Publisher,
                 oracle: Pubkey) -> None:
        self.net, self.client, self.publisher, self.oracle = net, client, publisher, oracle

    async def travel(self, seconds: int) -> None:
        await raw(self.net, {"jsonrpc": "2.0", "id": 1, "method": "keepernet_timeTravel",
                             "params": [{"seconds": seconds}]})

    async def trade(self, market_id: int = 1) -> None:
        user = self.net.users[2]
        market = self.net.deployment.market(self.net.users[0].key, market_id)
        sig = await send(self.client, [self.net.client.buy(user.key, market, user.token, YES,
                                                           5_000_000)], user.kp)
        await self.finalized(sig)

    async def finalized(self, sig: Signature) -> None:
        """Wait for `sig` to be finalized, the commitment the indexer reads at."""
        await self.client.confirm_transaction(sig, Finalized, sleep_seconds=0.05)

    async def fail(self) -> Signature:
        """A transaction that lands and fails (approving a market twice)."""
        net = self.net
        blockhash = (await self.client.get_latest_blockhash()).value.blockhash
        user = net.users[0]
        tx = Transaction([user.kp], Message.new_with_blockhash(
            [net.client.approve_market(net.deployment.market(user.key, 1))], user.key,
            blockhash),
            blockhash)
        sig = (await self.client.send_transaction(tx, opts=TxOpts(skip_preflight=True))).value
        # it runs when the next slot is produced; the indexer reads it once finalized
        await self.finalized(sig)
        status = (await self.client.get_signature_statuses([sig])).value[0]
        assert status is not None and status.err is not None
        return sig


async def build_activity(chain: Chain) -> None:
    net, client, c, d = chain.net, chain.client, chain.net.client, chain.net.deployment
    creator, admin = net.users[0], net.admin
    voters = [*net.keepers, *net.users]
    ends = int(time.time()) + 10**8  # within the program's ten years, past any time travel
    for market_id in (1, 2):
        await send(client, [c.create_market(creator.key, market_id, f"Question {market_id}?",
                                            ends, creator_token=creator.token)], creator.kp)
    m1, m2 = d.market(creator.key, 1), d.market(creator.key, 2)
    for v in voters:
        await send(client, [c.vote_proposal(v.key, m1, True, stake=STAKE,
                                            voter_token=v.token)], v.kp)
    for v in voters[:3]:
        await send(client, [c.vote_proposal(v.key, m2, False, stake=STAKE,
                                            voter_token=v.token)], v.kp)
    await chain.travel(PROPOSAL_WINDOW + 1)
    # two events in one transaction
    await send(client, [c.approve_market(m1), c.reject_market(m2)], admin)
    await chain.fail()
    await send(client, [c.activate_market(creator.key, m1, creator.token, 1_000_000_000)],
               creator.kp)
    t1, t2 = net.users[1], net.users[2]
    await send(client, [c.buy(t1.key, m1, t1.token, YES, 250_000_000)], t1.kp)
    await send(client, [c.buy(t2.key, m1, t2.token, NO, 100_000_000),
                        c.buy(t2.key, m1, t2.token, YES, 7_000_000)], t2.kp)
    await send(client, [c.sell(t1.key, m1, t1.token, YES, 50_000_000)], t1.kp)

    # a perp market: positions, a funding interval, a crash and a liquidation
    await chain.publisher.publish(0)
    perp = d.perp_market(1)
    await funded_perp_market(net, 1, chain.oracle)
    long_, short = net.users[1], net.users[2]
    await send(client, [c.deposit(long_.key, perp, long_.token, 20_000_000),
                        c.deposit(short.key, perp, short.token, 500_000_000)], long_.kp,
               short.kp)
    # a price fresh for each open (at most max_open_staleness_slots old)
    await chain.publisher.publish(0)
    await send(client, [c.open_position(long_.key, perp, chain.oracle, LONG, 1_000_000,
                                        2**64 - 1)], long_.kp)
    await chain.publisher.publish(0)
    await send(client, [c.open_position(short.key, perp, chain.oracle, SHORT, 500_000, 0)],
               short.kp)
    await chain.travel(FUNDING_INTERVAL + 1)
    await chain.publisher.publish(0)
    await send(client, [c.update_funding(perp, chain.oracle)], net.keepers[0].kp)
    await chain.publisher.publish(10)  # the bottom of the crash: the long is underwater
    keeper = net.keepers[1]
    last = await send(client, [c.liquidate(keeper.key, perp, d.position(perp, long_.key),
                                           chain.oracle, keeper.token)], keeper.kp)
    await chain.finalized(last)  # and with it, slot by slot, everything before


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chain() -> AsyncIterator[Chain]:
    async with run_localnet(free_port_pair()) as net:
        client = AsyncClient(net.url, commitment=Confirmed)
        oracle = Keypair().pubkey()
        publisher = Publisher(net.url, [Feed(oracle, Crash(PRICE, drop_pct=17, over_s=10))])
        try:
            c = Chain(net, client, publisher, oracle)
            await build_activity(c)
            yield c
        finally:
            await publisher.close()
            await client.close()


@pytest_asyncio.fixture(loop_scope="module")
async def rpc(chain: Chain) -> AsyncIterator[RpcClient]:
    client = RpcClient([Endpoint("local", chain.net.url, max_rps=10_000)])
    yield client
    await client.close()


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[Any]]:
    async with pool.acquire() as conn:
        return {t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")]
                for t in ("events", "trades", "votes", "funding_updates", "liquidations")}


# ---- tests -------------------------------------------------------------------------------------
async def test_the_activity_covers_every_projection(chain: Chain) -> None:
    names = Counter(e[0] for e in await chain_events(chain))
    assert names["MarketCreated"] == 2 and names["ProposalVoted"] == 8
    assert names["MarketApproved"] == names["MarketRejected"] == 1
    assert names["Traded"] >= 4 and names["FundingUpdated"] == 1
    assert names["PositionOpened"] == 2 and names["PositionLiquidated"] == 1


async def test_indexes_exactly_the_chains_events_with_projections(
        chain: Chain, rpc: RpcClient, pool: asyncpg.Pool) -> None:
    assert await index_events(rpc, pool, chain.net.program_id, batch_size=7) == Outcome.SUCCESS
    expected = await assert_exactly_the_chain(chain, pool)
    failed = await chain.fail()  # a failed transaction is no event and moves nothing
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events WHERE signature = $1",
                                   str(failed)) == 0
        trades = await conn.fetch("SELECT * FROM trades ORDER BY signature, event_index")
        votes = await conn.fetch("SELECT * FROM votes ORDER BY signature, event_index")
        funding = await conn.fetch("SELECT * FROM funding_updates")
        liquidations = await conn.fetch("SELECT * FROM liquidations")

    def events(*names: str) -> Expected:
        return by_key([e for e in expected if e[0] in names])

    assert [(r["signature"], r["event_index"], r["market"], r["trader"], r["outcome"],
             r["is_buy"], int(r["amount"]), int(r["shares"]), int(r["fee"])) for r in trades] == [
        (s, i, d["market"], d["trader"], d["outcome"], d["is_buy"], d["amount"], d["shares"],
         d["fee"]) for _, s, i, d in events("Traded")]
    assert [(r["signature"], r["event_index"], r["market"], r["voter"], r["kind"], r["choice"],
             r["stake"]) for r in votes] == [
        (s, i, d["market"], d["voter"], 0 if n == "ProposalVoted" else 1,
         d["approve"] if n == "ProposalVoted" else d["agree"], d["stake"])
        for n, s, i, d in events("ProposalVoted", "DisputeVoted")]
    assert {r["stake"] for r in votes} == {STAKE}
    assert [(r["perp_market"], r["rate_ppm"], r["intervals"], r["price"],
             r["cumulative_funding"]) for r in funding] == [
        (d["perp_market"], d["rate_ppm"], d["intervals"], Decimal(d["price"]),
         Decimal(d["cumulative_funding"])) for _, _, _, d in events("FundingUpdated")]
    assert [(r["position"], r["owner"], r["liquidator"], r["price"], r["equity"], r["reward"],
             r["bad_debt"]) for r in liquidations] == [
        (d["position"], d["owner"], d["liquidator"], d["price"], d["equity"], d["reward"],
         d["bad_debt"]) for _, _, _, d in events("PositionLiquidated")]
    # slots agree with the events'
    async with pool.acquire() as conn:
        assert await conn.fetchval(
            "SELECT count(*) FROM trades t JOIN events e USING (signature, event_index) "
            "WHERE t.slot <> e.slot OR e.name <> 'Traded'") == 0


async def test_run_twice_changes_nothing_then_picks_up_new_activity(
        chain: Chain, rpc: RpcClient, pool: asyncpg.Pool) -> None:
    program_id = chain.net.program_id
    assert await index_events(rpc, pool, program_id) == Outcome.SUCCESS
    first = await snapshot(pool)
    assert await index_events(rpc, pool, program_id) == Outcome.NOT_NEEDED
    assert await snapshot(pool) == first
    await chain.trade()
    await chain.fail()
    assert await index_events(rpc, pool, program_id, page_limit=2) == Outcome.SUCCESS
    await assert_exactly_the_chain(chain, pool)
    after = await snapshot(pool)
    assert len(after["trades"]) == len(first["trades"]) + 1
    assert await index_events(rpc, pool, program_id, page_limit=2) == Outcome.NOT_NEEDED


async def test_two_concurrent_runs_end_in_the_same_state(
        chain: Chain, rpc: RpcClient, pool: asyncpg.Pool, pg_database: str) -> None:
    program_id = chain.net.program_id
    other_pool = await asyncpg.create_pool(pg_database, min_size=1, max_size=5)
    try:
        outcomes = await asyncio.gather(
            index_events(rpc, pool, program_id, batch_size=3),
            index_events(rpc, other_pool, program_id, batch_size=3))
    finally:
        await other_pool.close()
    assert sorted(outcomes) in (sorted([Outcome.SUCCESS, Outcome.ALREADY_DONE]),
                                sorted([Outcome.SUCCESS, Outcome.NOT_NEEDED]))
    await assert_exactly_the_chain(chain, pool)


async def test_restarted_in_the_middle_of_a_backfill(
        chain: Chain, rpc: RpcClient, pool: asyncpg.Pool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The run is cancelled right after its first batch commits (as a worker's job timeout or
    shutdown would): that batch alone is kept; the next run ends with exactly the chain's
    events."""
    program_id = chain.net.program_id
    real_write = jobs.indexer.write_batch
    committed: list[tuple[list[EventRow], Cursor]] = []

    async def write_then_die(conn: Any, events: Any, cursor: Cursor, **kw: Any) -> None:
        await real_write(conn, events, cursor, **kw)
        committed.append((list(events), cursor))
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)

    monkeypatch.setattr(jobs.indexer, "write_batch", write_then_die)
    with pytest.raises(asyncio.CancelledError):
        await index_events(rpc, pool, program_id, batch_size=4, page_limit=3)
    monkeypatch.undo()

    assert len(committed) == 1
    batch_events, batch_cursor = committed[0]
    async with pool.acquire() as conn:
        assert await read_cursor(conn) == batch_cursor
        assert await conn.fetchval("SELECT count(*) FROM events") == len(batch_events)
        # the lock went with the cancelled run
        assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") \
            == 0
    expected = await chain_events(chain)
    oldest_four = list(dict.fromkeys(e[1] for e in expected))[:4]
    assert {e.signature for e in batch_events} <= set(oldest_four)

    assert await index_events(rpc, pool, program_id, batch_size=4, page_limit=3) \
        == Outcome.SUCCESS
    await assert_exactly_the_chain(chain, pool)
    assert await index_events(rpc, pool, program_id) == Outcome.NOT_NEEDED


async def test_a_batch_that_fails_midway_keeps_nothing(
        chain: Chain, rpc: RpcClient, pool: asyncpg.Pool) -> None:
    """A writer that lost the cursor race (or dies inside its transaction) leaves no row."""
    assert await index_events(rpc, pool, chain.net.program_id, batch_size=5) == Outcome.SUCCESS
    before = await snapshot(pool)
    async with pool.acquire() as conn:
        cursor = await read_cursor(conn)
        assert cursor is not None
        row = EventRow("x" * 88, 0, cursor.slot + 1, None, "Traded", {
            "market": "m", "trader": "t", "outcome": 1, "is_buy": True, "amount": 2**64 - 1,
            "shares": 1, "fee": 0, "yes_reserve": 0, "no_reserve": 0})
        with pytest.raises(CursorMoved):
            await write_batch(conn, [row], Cursor("x" * 88, cursor.slot + 1),
                              previous="not-the-cursor")
        with pytest.raises(CursorMoved):
            await write_batch(conn, [row], Cursor("x" * 88, cursor.slot + 1), previous=None)
        assert await read_cursor(conn) == cursor
    assert await snapshot(pool) == before
    # and with the right previous cursor, a u64 beyond bigint lands exactly
    async with pool.acquire() as conn:
        await write_batch(conn, [row], Cursor("x" * 88, cursor.slot + 1),
                          previous=cursor.signature)
        assert await conn.fetchval("SELECT amount FROM trades WHERE signature = $1",
                                   "x" * 88) == 2**64 - 1
        assert await conn.fetchval("SELECT (data->>'amount')::numeric FROM events "
                                   "WHERE signature = $1", "x" * 88) == 2**64 - 1


async def test_an_unreachable_rpc_is_a_retry_and_writes_nothing(
        chain: Chain, pool: asyncpg.Pool) -> None:
    dead = RpcClient([Endpoint("dead", f"http://127.0.0.1:{free_port_pair()}")], timeout_s=0.2,
                     deadline_s=0.5)
    try:
        assert await index_events(dead, pool, chain.net.program_id) == Outcome.RETRY
    finally:
        await dead.close()
    assert all(not rows for rows in (await snapshot(pool)).values())
    async with pool.acquire() as conn:
        assert await read_cursor(conn) is None
        assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") \
            == 0


async def test_a_held_lock_means_another_run_is_at_it(
        chain: Chain, rpc: RpcClient, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as holder:
        assert await holder.fetchval("SELECT pg_try_advisory_lock($1)", jobs.indexer.LOCK_KEY)
        assert await index_events(rpc, pool, chain.net.program_id) == Outcome.ALREADY_DONE
        await holder.execute("SELECT pg_advisory_unlock($1)", jobs.indexer.LOCK_KEY)
    assert await index_events(rpc, pool, chain.net.program_id) == Outcome.SUCCESS
