"""The liquidator role end to end: real arq workers with their price triggers, on the
localnet, Redis and PostgreSQL. A price crash makes exactly the fragile positions liquidatable;
one instance, or two sharing the positions, liquidate each of them once, on the fast path, and
touch nothing else; an instance's death hands its share to the other. The fast path itself:
what it runs at once, what it leaves to the queue, and when."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import struct
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from arq.connections import create_pool
from arq.worker import Worker, create_worker
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from spl.token.instructions import get_associated_token_address

from chain.client import Endpoint
from chain.localnet import Localnet
from chain.localnet.seed import PositionSpec, Seeder
from chain.sender import FeePolicy, Presigned, Sender
from fleet import fast_path as fast_path_module
from fleet.context import LEASE_TTL_S, build_deps
from fleet.fast_path import FALLBACK_MARGIN_S, LANDED_FALLBACK_DEFER_S, FastPath
from fleet.membership import live_instances
from fleet.redis import redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import LiquidatorSettings, RedisSettings, Settings
from jobs.liquidation import CREATE_REWARD_TOKEN_UNITS, LIQUIDATE_UNITS
from jobs.liquidation_plan import Candidate
from jobs.registry import enqueue, job_id, queue_name
from metrics.definitions import registry
from metrics.trigger_to_send import notified_at
from store.migrate import migrate
from tests.support.perp_world import CRASHED, FRAGILE, SIZE, SOLID, Settable, perp_world
from workers import liquidator

COMPUTE_BUDGET = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
FALLBACK_S = LEASE_TTL_S + FALLBACK_MARGIN_S  # how far a fast-path fallback is put off
# 6 fragile longs, 6 solid longs, 4 fragile shorts: a fall liquidates the first 6 only
BOOK = [PositionSpec(1, SIZE, FRAGILE)] * 6 + [PositionSpec(1, SIZE, SOLID)] * 6 \
    + [PositionSpec(2, SIZE, FRAGILE)] * 4


@dataclass
class Book:
    net: Localnet
    seeder: Seeder
    price: Settable
    market: Pubkey
    fragile: list[Pubkey]
    solid: list[Pubkey]  # healthy longs, and shorts (a fall is their gain)

    def side(self, position: Pubkey) -> int:
        return int(self.net.protocol.chain.fetch(position).side)

    async def liquidated(self, timeout_s: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while any(self.side(p) != 0 for p in self.fragile):
            assert asyncio.get_running_loop().time() < deadline, "not all liquidated in time"
            await asyncio.sleep(0.05)

    async def liquidations_sent(self, position: Pubkey) -> int:
        """Transactions in the position's history beyond its opening one."""
        history = (await self.seeder.client.get_signatures_for_address(position)).value
        return len(history) - 1


@pytest_asyncio.fixture
async def book() -> AsyncIterator[Book]:
    async with perp_world(BOOK) as world:
        yield Book(world.net, world.seeder, world.price, world.market, world.positions[:6],
                   world.positions[6:])


@pytest.fixture
def settings(book: Book, redis_url: str, pg_database: str) -> Settings:
    return Settings(metrics_port=0, rpc=(Endpoint("local", book.net.url, max_rps=10_000),),
                    database_url=pg_database, program_id=book.net.program_id,
                    keypair_path=Path(book.net.keys_dir / "keeper-1.json"),
                    redis=RedisSettings(url=redis_url, retries=1),
                    fees=FeePolicy(fixed_micro_lamports=0),
                    liquidator=LiquidatorSettings(scan_interval_s=60))


@contextlib.asynccontextmanager
async def workers(settings: Settings, count: int) -> AsyncIterator[list[asyncio.Task[None]]]:
    await migrate(settings.database_url)
    made: list[Worker] = [create_worker(liquidator.worker_settings(settings),
                                        handle_signals=False) for _ in range(count)]
    tasks = [asyncio.create_task(w.async_run()) for w in made]
    try:
        redis = Redis.from_url(settings.redis.url)
        try:
            for _ in range(200):  # every instance beats, its book loaded
                if len(await live_instances(redis, "liquidator", liquidator.FLEET_TTL_S)) \
                        == count:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.5)
        finally:
            await redis.aclose()
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in made:
            await w.close()


@pytest.mark.parametrize("instances", [1, 2])
async def test_a_crash_liquidates_each_fragile_position_once(book: Book, settings: Settings,
                                                             instances: int) -> None:
    landed = sample("keepernet_transactions_total", instruction="liquidate", outcome="landed")
    reactions = sample("keepernet_liquidation_reaction_seconds_count")
    shares = sample("keepernet_trigger_to_send_seconds_count")
    async with workers(settings, instances):
        book.price.price = CRASHED
        await book.liquidated(timeout_s=15)
        await asyncio.sleep(1)  # anything sent twice would land meanwhile
    for position in book.fragile:
        assert await book.liquidations_sent(position) == 1
    # what the operators see (the instances share this process' registry)
    assert sample("keepernet_transactions_total", instruction="liquidate",
                  outcome="landed") == landed + len(book.fragile)
    assert sample("keepernet_liquidation_reaction_seconds_count") == reactions + len(book.fragile)
    # the keeper's own share, price notification to send, of each liquidation's one send
    assert sample("keepernet_trigger_to_send_seconds_count") == shares + len(book.fragile)
    for position in book.solid:
        assert book.side(position) != 0
        assert await book.liquidations_sent(position) == 0
    assert await scans_that_found_work(settings) == 0  # the price trigger found them
    # each by its fast path's try 0; its fallback, put off past the burst once try 0 landed,
    # found the position flat if it has run since
    outcomes = await try_outcomes(settings)
    assert {p for (p, n), o in outcomes.items() if n == 0 and o == "success"} == \
        set(book.fragile)
    assert {o for (_, n), o in outcomes.items() if n > 0} <= {"already_done"}


def sample(name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def job_runs_of(settings: Settings, job: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return list(await conn.fetch("SELECT * FROM job_runs WHERE job = $1", job))
    finally:
        await conn.close()


async def scans_that_found_work(settings: Settings) -> int:
    """cron scan_positions runs that enqueued liquidations (from job_runs)."""
    runs = await job_runs_of(settings, "scan_positions")
    assert runs, "the cron scan at start-up is recorded"
    return sum(r["outcome"] == "success" for r in runs)


async def test_a_position_found_healthy_is_liquidated_when_the_price_falls_later(
        book: Book, settings: Settings) -> None:
    position = book.fragile[0]
    async with workers(settings, 1):
        queue = await create_pool(redis_settings(settings), job_serializer=job_serializer,
                                  job_deserializer=job_deserializer)
        try:  # asked too early (an operator, a scan on a stale price): healthy, nothing sent
            assert await enqueue(queue, "liquidate_position", str(position),
                                 stage=candidate(book, position).opened_at) is not None
            for _ in range(100):
                if await try_outcomes(settings) == {(position, 1): "not_needed"}:
                    break
                await asyncio.sleep(0.1)
            assert await try_outcomes(settings) == {(position, 1): "not_needed"}
        finally:
            await queue.aclose()
        book.price.price = CRASHED  # the same piece of work (same id) is due now
        await book.liquidated(timeout_s=15)
    assert await book.liquidations_sent(position) == 1


async def test_a_dead_instances_share_is_taken_over(book: Book, settings: Settings) -> None:
    async with workers(settings, 2) as tasks:
        tasks[0].cancel()  # one instance stops beating (its worker is gone)
        with contextlib.suppress(asyncio.CancelledError):
            await tasks[0]
        await asyncio.sleep(liquidator.FLEET_TTL_S + 2 * liquidator.BEAT_S)
        book.price.price = CRASHED
        await book.liquidated(timeout_s=15)
    for position in book.fragile:
        assert await book.liquidations_sent(position) == 1
    assert await scans_that_found_work(settings) == 0


async def try_outcomes(settings: Settings) -> dict[tuple[Pubkey, int], str | None]:
    """(position, try) → outcome of every liquidate_position try in job_runs."""
    rows = await job_runs_of(settings, "liquidate_position")
    return {(Pubkey.from_string(json.loads(r["detail"])["args"][0]), r["try"]): r["outcome"]
            for r in rows}


def fallback_id(book: Book, position: Pubkey) -> str:
    opened_at = int(book.net.protocol.chain.fetch(position).opened_at)
    return job_id("liquidate_position", str(position), opened_at)


async def due_in_s(redis: Redis, id_: str) -> float:
    """How long until the queued job `id_` is due (negative: overdue); inf when not queued."""
    score = await redis.zscore(queue_name("liquidator"), id_)
    return math.inf if score is None else score / 1000 - time.time()


@contextlib.asynccontextmanager
async def fast_path(settings: Settings, max_running: int = 10) -> AsyncIterator[FastPath]:
    """A liquidator's fast path on real servers, without its worker: nothing runs the queue."""
    await migrate(settings.database_url)
    deps = await build_deps(settings, "liquidator", signs=True, database=True)
    deps.queue = await create_pool(redis_settings(settings), job_serializer=job_serializer,
                                   job_deserializer=job_deserializer)
    try:
        yield FastPath(deps, liquidator.LIQUIDATE, max_running)
    finally:
        await deps.queue.aclose()
        await deps.close()


def candidate(book: Book, position: Pubkey) -> Candidate:
    return Candidate(position, book.market,
                     int(book.net.protocol.chain.fetch(position).opened_at),
                     book.net.protocol.chain.fetch(book.market).oracle)


async def test_the_fast_path_liquidates_at_once_and_leaves_its_fallback_deferred(
        book: Book, settings: Settings) -> None:
    book.price.price = CRASHED
    await asyncio.sleep(0.5)  # the crashed price published
    async with fast_path(settings) as fast:
        position = book.fragile[0]
        assert await fast.liquidate([candidate(book, position)]) == 1
        await fast.drain()
        assert book.side(position) == 0
        assert await try_outcomes(settings) == {(position, 0): "success"}
        # landed: the fallback stays queued (its id keeps others from queueing the same
        # work) but is put off past the burst, beyond where the lease's renewals kept it
        assert FALLBACK_S < await due_in_s(fast.deps.redis, fallback_id(book, position)) <= \
            LANDED_FALLBACK_DEFER_S


async def unit_limit_of_last_transaction(book: Book, address: Pubkey) -> int:
    """The compute-unit limit the newest transaction touching `address` set."""
    newest = (await book.seeder.client.get_signatures_for_address(address)).value[0]
    got = (await book.seeder.client.get_transaction(newest.signature, "base64")).value
    assert got is not None
    message = got.transaction.transaction.message
    [limit] = [struct.unpack_from("<I", bytes(ix.data), 1)[0] for ix in message.instructions
               if message.account_keys[ix.program_id_index] == COMPUTE_BUDGET
               and bytes(ix.data)[:1] == b"\x02"]
    return int(limit)


async def test_the_fast_path_sends_from_the_verdict_and_makes_the_reward_account(
        book: Book, settings: Settings, tmp_path: Path) -> None:
    """Try 0 signs from the trigger's verdict, unsimulated, with liquidate's measured budget
    (plus the reward token account's creation for a keeper who has none yet), and those
    budgets hold: the liquidations land and pay the new keeper's associated account."""
    keeper = Keypair()
    key_path = tmp_path / "keeper.json"
    key_path.write_text(json.dumps(list(bytes(keeper))))
    key_path.chmod(0o600)
    await book.seeder.send([transfer(TransferParams(
        from_pubkey=book.seeder.admin.pubkey(), to_pubkey=keeper.pubkey(),
        lamports=10**9))], book.seeder.admin)
    reward = get_associated_token_address(keeper.pubkey(), book.seeder.d.quote_mint)
    book.price.price = CRASHED
    await asyncio.sleep(0.5)  # the crashed price published
    async with fast_path(replace(settings, keypair_path=key_path)) as fast:
        for position, units in zip(book.fragile[:2], [
                LIQUIDATE_UNITS + CREATE_REWARD_TOKEN_UNITS, LIQUIDATE_UNITS], strict=True):
            assert await fast.liquidate([candidate(book, position)], True) == 1
            await fast.drain()
            assert book.side(position) == 0
            assert await unit_limit_of_last_transaction(book, position) == units
    assert (await book.seeder.client.get_token_account_balance(reward)).value.amount != "0"


async def test_what_the_fast_path_does_not_land_goes_to_the_queue_now(
        book: Book, settings: Settings) -> None:
    async with fast_path(settings) as fast:
        healthy = book.solid[0]  # a candidate the try finds healthy: not_needed
        assert await fast.liquidate([candidate(book, healthy)]) == 1
        await fast.drain()
        assert await try_outcomes(settings) == {(healthy, 0): "not_needed"}
        assert await due_in_s(fast.deps.redis, fallback_id(book, healthy)) <= 0
        assert book.side(healthy) != 0


async def test_a_candidate_queued_already_is_left_to_its_job(book: Book,
                                                             settings: Settings) -> None:
    book.price.price = CRASHED
    await asyncio.sleep(0.5)
    async with fast_path(settings) as fast:
        position = book.fragile[0]
        found = candidate(book, position)
        assert await enqueue(fast.deps.redis, "liquidate_position", str(position),
                             stage=found.opened_at) is not None  # by another instance, say
        assert await fast.liquidate([found]) == 0
        await fast.drain()
        assert await try_outcomes(settings) == {}
        assert book.side(position) != 0  # its job, which nothing runs here, is the queue's


async def test_candidates_beyond_max_running_are_queued_due_now(book: Book,
                                                                settings: Settings) -> None:
    book.price.price = CRASHED
    await asyncio.sleep(0.5)
    async with fast_path(settings, max_running=2) as fast:
        found = [candidate(book, p) for p in book.fragile[:5]]
        assert await fast.liquidate(found) == 5
        await fast.drain()
        assert await try_outcomes(settings) == {(c.position, 0): "success" for c in found[:2]}
        due = [await due_in_s(fast.deps.redis, fallback_id(book, c.position)) for c in found]
        assert all(FALLBACK_S < d <= LANDED_FALLBACK_DEFER_S for d in due[:2]), due  # landed
        assert all(d <= 0 for d in due[2:]), due
        assert [book.side(c.position) for c in found[2:]] == [1, 1, 1]


async def test_a_try_0_that_cannot_start_in_time_hands_over_to_the_queue(
        book: Book, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_path_module, "LATE_START_S", -1.0)  # every start is late
    book.price.price = CRASHED
    await asyncio.sleep(0.5)
    async with fast_path(settings) as fast:
        position = book.fragile[0]
        assert await fast.liquidate([candidate(book, position)]) == 1
        await fast.drain()
        assert await try_outcomes(settings) == {}  # no try 0: its lease could outlive the wait
        assert await due_in_s(fast.deps.redis, fallback_id(book, position)) <= 0
        assert book.side(position) != 0


async def test_an_enqueue_that_fails_starts_no_try(
        book: Book, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The burst's fallbacks are queued in one script, all or none: when Redis does not answer
    it, no try starts (one could start with no fallback behind it), and the cron scan finds
    the positions again."""
    book.price.price = CRASHED
    await asyncio.sleep(0.5)

    async def lost(*args: Any, **kwargs: Any) -> list[bool]:
        raise RedisConnectionError("connection lost")  # as Redis would, mid-burst

    monkeypatch.setattr(fast_path_module, "enqueue_each", lost)
    async with fast_path(settings) as fast:
        found = [candidate(book, p) for p in book.fragile[:3]]
        assert await fast.liquidate(found, True) == 0
        await fast.drain()
        assert await try_outcomes(settings) == {}
        assert [book.side(c.position) for c in found] == [1, 1, 1]


async def test_a_fresh_burst_is_handed_to_the_node_before_any_try_bookkeeping(
        book: Book, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A burst found at a price just notified: its fallbacks queued and its leases taken in
    two round trips, then every transaction signed and handed to the node (in one request)
    before any try's own steps (its fallback put off as its lease is renewed, its job_runs
    row), which one at a time came first; the keeper's share observed once per
    transaction."""
    events: list[str] = []
    hand_over, put_off = Sender._hand_over_all, FastPath._put_off

    async def handing(sender: Sender, presigned: Sequence[Presigned]) -> None:
        events.extend(["handed"] * len(presigned))
        await hand_over(sender, presigned)

    async def putting_off(fast: FastPath, id_: str) -> None:
        events.append("put off")
        await put_off(fast, id_)

    monkeypatch.setattr(Sender, "_hand_over_all", handing)
    monkeypatch.setattr(FastPath, "_put_off", putting_off)
    book.price.price = CRASHED
    await asyncio.sleep(0.5)
    async with fast_path(settings) as fast:
        sender = fast.deps.chain.sender
        fresh = asyncio.create_task(sender.keep_fresh([fast.deps.chain.client.d.config]))
        try:
            found = [candidate(book, p) for p in book.fragile[:4]]
            # the blockhash and the fee at hand, as the liquidator keeps them
            deadline = time.monotonic() + 10
            while sender.presign([], 1) is None:
                assert time.monotonic() < deadline, "no blockhash and fee at hand"
                await asyncio.sleep(0.05)
            observed = sample("keepernet_trigger_to_send_seconds_count")
            with notified_at(time.monotonic()):
                assert await fast.liquidate(found, True) == 4
            await fast.drain()
        finally:
            fresh.cancel()
            await asyncio.gather(fresh, return_exceptions=True)
        assert await try_outcomes(settings) == {(c.position, 0): "success" for c in found}
    assert [book.side(c.position) for c in found] == [0, 0, 0, 0]
    assert events[:4] == ["handed"] * 4 and events.count("put off") >= 4
    assert sample("keepernet_trigger_to_send_seconds_count") == observed + 4
