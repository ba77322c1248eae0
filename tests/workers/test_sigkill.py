"""A worker killed with SIGKILL in the middle of a job: arq reruns the job on another worker
once the dead one's in-progress key expires, and the world ends as if it had run once — the
same final state, and no second transaction sent (counted in the chain's history).

The workers are real `keepernet worker` processes with short job timeouts, so that arq's
rerun (after the largest timeout + 10 s) comes within the test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from arq.connections import ArqRedis, create_pool
from arq.jobs import Job, JobStatus

from chain.client import Endpoint, RpcClient
from chain.localnet.seed import PositionSpec
from demo.report import chain_events
from fleet.redis import redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import RedisSettings
from jobs.governance_plan import MarketState
from jobs.registry import enqueue
from program.accounts import Position
from program.client import PerpMarketParams
from store.migrate import migrate
from tests.support.chain_world import World, world
from tests.support.chaos import Chaos, Stall
from tests.support.keepers import Fleet, keeper_env
from tests.support.markets import DISPUTE_WINDOW, proposal, resolving, state
from tests.support.perp_world import CRASHED, FRAGILE, SIZE, perp_market_on

pytestmark = pytest.mark.asyncio(loop_scope="module")

TIMEOUT_S = 2  # every job's: arq reruns a dead worker's job 12 s after it started
RERUN_WITHIN_S = 40


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@pytest_asyncio.fixture(loop_scope="module")
async def queue(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(RedisSettings(url=redis_url)),
                             job_serializer=job_serializer, job_deserializer=job_deserializer)
    yield pool
    await pool.aclose()


def env_for(w: World, redis_url: str, dsn: str, key: str) -> dict[str, str]:
    return keeper_env(rpc_urls=f"local={w.net.url} max_rps=5000", database_url=dsn,
                      redis_url=redis_url, program_id=w.net.program_id,
                      keypair=Path(w.net.keys_dir) / f"{key}.json", SCAN_INTERVAL_S="60",
                      **{f"TIMEOUT_{job.upper()}_S": str(TIMEOUT_S)
                         for job in ("index_events", "snapshot_accounts", "scan_positions",
                                     "liquidate_position", "update_funding", "tally_votes",
                                     "finalize_market", "apply_config", "reconcile")})


async def kill_mid_job(queue: ArqRedis, job: Job, role: str, env: dict[str, str], *,
                       sending_through: str | None = None) -> None:
    """Start a worker, SIGKILL it in the middle of `job`, then start another and wait for the
    job's result. A job that sends a transaction (`sending_through`: the node's URL) is killed
    while its send is held by a proxy, so that it cannot have finished first; any other, as
    soon as it has taken the job."""
    fleet = Fleet()
    try:
        async with Chaos(sending_through or "http://127.0.0.1:1") as chaos:
            first_env = env
            if sending_through is not None:
                chaos.fail(Stall(), method="sendTransaction", times=None)
                first_env = {**env, "KEEPERNET_RPC_URLS": f"local={chaos.url} max_rps=5000"}
            first = await fleet.start(role, first_env)
            try:
                for _ in range(3000):
                    if (chaos.count("sendTransaction") if sending_through is not None
                            else await queue.exists(f"arq:in-progress:{job.job_id}")):
                        break
                    await asyncio.sleep(0.01)
                else:
                    raise AssertionError("the first worker never got into the job")
            finally:
                await fleet.kill(first)  # no shutdown, no result, its in-progress key left
        assert await job.status() != JobStatus.complete
        await fleet.start(role, env)
        await rerun(job)
    finally:
        await fleet.stop_all()


async def rerun(job: Job) -> None:
    """Wait for `job` to be run again, to the end: its result when the job keeps one (an error
    raised), its leaving the queue when it keeps none (liquidate_position)."""
    deadline = asyncio.get_running_loop().time() + RERUN_WITHIN_S
    while (status := await job.status()) not in (JobStatus.complete, JobStatus.not_found):
        assert asyncio.get_running_loop().time() < deadline, "the job was not rerun in time"
        await asyncio.sleep(0.2)
    if status == JobStatus.complete:
        await job.result(timeout=RERUN_WITHIN_S, poll_delay=0.2)


async def test_tally_votes_after_a_sigkill(w: World, queue: ArqRedis, redis_url: str,
                                           pg_database: str) -> None:
    await migrate(pg_database)
    market = await proposal(w, 1, likes=3, closed=True)
    job = await enqueue(queue, "tally_votes", str(market))
    assert job is not None
    await kill_mid_job(queue, job, "governance", env_for(w, redis_url, pg_database, "keeper-1"),
                       sending_through=w.net.url)
    assert await state(w, market) == MarketState.APPROVED
    ok, failed = await w.calls(market, w.net.client.approve_market(market))
    assert (ok, failed) == (1, 0)  # one transaction, whichever worker sent it


async def test_finalize_market_after_a_sigkill(w: World, queue: ArqRedis, redis_url: str,
                                               pg_database: str) -> None:
    await migrate(pg_database)
    market = await resolving(w, 2)
    await w.travel(DISPUTE_WINDOW)
    job = await enqueue(queue, "finalize_market", str(market), stage=MarketState.RESOLVING)
    assert job is not None
    await kill_mid_job(queue, job, "governance", env_for(w, redis_url, pg_database, "keeper-2"),
                       sending_through=w.net.url)
    assert await state(w, market) == MarketState.FINALIZED
    assert await w.calls(market, w.net.client.finalize_market(market)) == (1, 0)


async def test_update_funding_after_a_sigkill(w: World, queue: ArqRedis, redis_url: str,
                                              pg_database: str) -> None:
    await migrate(pg_database)
    async with perp_market_on(w.net, market_id=6, pool=10**12,
                              params=PerpMarketParams(funding_interval_secs=60)) as perp:
        market = perp.market
        last = w.net.protocol.chain.fetch(market).last_funding_ts
        await w.travel(61)
        await asyncio.sleep(0.5)  # a price at the new slot
        job = await enqueue(queue, "update_funding", str(market), stage=last)
        assert job is not None
        await kill_mid_job(queue, job, "funding", env_for(w, redis_url, pg_database, "keeper-2"),
                           sending_through=w.net.url)
        assert w.net.protocol.chain.fetch(market).last_funding_ts > last
        assert await w.calls(market, w.net.client.update_funding(market, perp.oracle)) == (1, 0)


async def test_liquidate_position_after_a_sigkill(w: World, queue: ArqRedis, redis_url: str,
                                                  pg_database: str) -> None:
    await migrate(pg_database)
    async with perp_market_on(w.net, [PositionSpec(1, SIZE, FRAGILE)], market_id=5,
                              pool=10**12) as perp:
        (position,) = perp.positions
        opened_at = w.net.protocol.chain.fetch(position).opened_at
        perp.price.price = CRASHED
        await asyncio.sleep(0.5)
        job = await enqueue(queue, "liquidate_position", str(position), stage=opened_at)
        assert job is not None
        await kill_mid_job(queue, job, "liquidator",
                           env_for(w, redis_url, pg_database, "keeper-1"),
                           sending_through=w.net.url)
        assert w.net.protocol.chain.fetch(position).side == 0
        history = (await perp.seeder.client.get_signatures_for_address(position)).value
        assert len(history) == 2  # opened, then liquidated by one transaction


async def test_index_events_and_snapshot_after_a_sigkill(w: World, queue: ArqRedis,
                                                         redis_url: str,
                                                         pg_database: str) -> None:
    """The indexer killed mid-backfill: the rerun (and the crons after it) store exactly the
    chain's events, each once, and the snapshot tables exactly its accounts."""
    await migrate(pg_database)
    env = env_for(w, redis_url, pg_database, "keeper-1")
    env["KEEPERNET_TIMEOUT_INDEX_EVENTS_S"] = "10"  # a whole backfill fits in one run
    job = await enqueue(queue, "index_events")
    assert job is not None
    await kill_mid_job(queue, job, "indexer", env)
    job = await enqueue(queue, "snapshot_accounts")
    assert job is not None
    await kill_mid_job(queue, job, "indexer", env)
    rpc = RpcClient([Endpoint("local", w.net.url, max_rps=10_000)])
    conn = await asyncpg.connect(pg_database)
    try:
        on_chain = await chain_events(rpc, w.net.program_id)
        rows = await conn.fetch("SELECT signature, event_index, name FROM events")
        stored = [(r["signature"], r["event_index"], r["name"]) for r in rows]
        assert len(stored) == len(set(stored))  # no event twice
        assert set(stored) == on_chain  # nothing sends meanwhile: no gap either
        positions = await rpc.program_accounts(w.keepers[0].program, Position)
        stored_positions = await conn.fetchval("SELECT count(*) FROM positions")
        assert stored_positions == len(positions)
    finally:
        await conn.close()
        await rpc.close()
