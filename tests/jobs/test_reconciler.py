"""The reconciler on the localnet, a real Redis and PostgreSQL: it enqueues exactly the work due
on chain under the deterministic ids, nothing twice, finds it again after the queue is wiped,
and enqueues a run lost from Redis again, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import pytest
import pytest_asyncio
from arq.connections import ArqRedis, create_pool

from chain.client import Endpoint
from fleet.context import WorkerDeps
from fleet.redis import redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import RedisSettings, Settings
from fleet.store_link import StoreLink
from jobs.due import DueJob
from jobs.governance_plan import MarketState
from jobs.reconciler import reconcile
from jobs.registry import job_id, queue_name
from store import job_runs
from store.migrate import migrate
from tests.support.chain_world import World, world
from tests.support.due_world import due_world
from tests.support.markets import proposal
from workers import funding, governance

pytestmark = pytest.mark.asyncio(loop_scope="module")

LOST_AFTER_S = 40.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@pytest_asyncio.fixture(loop_scope="module")
async def deps(w: World, redis_url: str, pg_database: str) -> AsyncIterator[WorkerDeps]:
    await migrate(pg_database)
    settings = Settings(metrics_port=0, rpc=(Endpoint("local", w.net.url, max_rps=10_000),),
                        database_url=pg_database, program_id=w.net.program_id,
                        redis=RedisSettings(url=redis_url))
    pool = await asyncpg.create_pool(pg_database, min_size=1, max_size=2)
    # the world's keeper: its RpcClient and Sender belong to the world, which closes them
    yield WorkerDeps("governance", settings, w.rpcs[0], chain_deps=w.keepers[0],
                     store=StoreLink.connected(pool))
    await pool.close()


@pytest_asyncio.fixture(loop_scope="module")
async def redis(deps: WorkerDeps) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(deps.settings), job_serializer=job_serializer,
                             job_deserializer=job_deserializer)
    yield pool
    await pool.aclose()


async def queued(redis: ArqRedis, role: str) -> set[str]:
    return {m.decode() for m in await redis.zrange(queue_name(role), 0, -1)}


def ids(due: set[DueJob]) -> set[str]:
    return {job_id(d.job, d.target, d.stage) for d in due}


async def test_the_due_work_is_enqueued_once_and_found_again(
        w: World, deps: WorkerDeps, redis: ArqRedis) -> None:
    got = await due_world(w, 1)
    summary = await reconcile(redis, deps, "governance", LOST_AFTER_S)
    assert summary == {"due": 3, "enqueued": 3, "lost": 0, "requeued": 0}
    assert await queued(redis, "governance") == ids(got.governance) == {
        f"tally_votes:{got.approvable}", f"tally_votes:{got.closed}",
        f"finalize_market:{got.resolving}:{MarketState.RESOLVING:d}"}
    job = await redis.get(f"arq:job:tally_votes:{got.closed}")
    assert job is not None and job_deserializer(job)["a"] == [str(got.closed)]
    assert (await reconcile(redis, deps, "funding", LOST_AFTER_S))["enqueued"] == 1
    assert await queued(redis, "funding") == {f"update_funding:{got.perp}:{got.last_funding_ts}"}

    # again: all of it is queued already
    assert await reconcile(redis, deps, "governance", LOST_AFTER_S) == \
        {"due": 3, "enqueued": 0, "lost": 0, "requeued": 0}
    assert (await reconcile(redis, deps, "funding", LOST_AFTER_S))["enqueued"] == 0

    # the queue lost (FLUSHDB, a Redis without its data): the chain still says what is due
    await redis.flushdb()
    assert (await reconcile(redis, deps, "governance", LOST_AFTER_S))["enqueued"] == 3
    assert (await reconcile(redis, deps, "funding", LOST_AFTER_S))["enqueued"] == 1
    assert await queued(redis, "governance") == ids(got.governance)
    assert await queued(redis, "funding") == ids(got.funding)


async def test_a_lost_run_is_enqueued_again_once(w: World, deps: WorkerDeps,
                                                 redis: ArqRedis) -> None:
    market = await proposal(w, 50, likes=1)  # nothing due on it: only the lost run says so
    await reconcile(redis, deps, "governance", LOST_AFTER_S)  # what is due from the chain
    lost_id = f"finalize_market:{market}:{MarketState.DISPUTED:d}"

    async def lost(job_id_: str, job: str, seconds: float) -> None:
        await job_runs.started(deps.pool, uuid4(), job_id_, 1, "governance", job,
                               [str(market)])
        await deps.pool.execute("UPDATE job_runs SET started_at = now() - make_interval("
                                "secs => $2) WHERE job_id = $1", job_id_, seconds)

    await lost(lost_id, "finalize_market", 600)
    await lost(f"tally_votes:{market}", "tally_votes", 5)  # may still be running
    await lost("tally_votes:by-hand", "tally_votes", 600)  # an id job_ids does not make
    before = await queued(redis, "governance")

    first = await reconcile(redis, deps, "governance", LOST_AFTER_S)
    assert (first["lost"], first["requeued"]) == (2, 1)
    assert await queued(redis, "governance") - before == {lost_id}
    job = await redis.get(f"arq:job:{lost_id}")
    assert job is not None and job_deserializer(job)["a"] == [str(market)]

    second = await reconcile(redis, deps, "governance", LOST_AFTER_S)
    assert (second["lost"], second["requeued"]) == (1, 0)  # it is in Redis again


async def test_the_roles_run_the_reconciler_on_a_cron(deps: WorkerDeps) -> None:
    names = set()
    for role in (governance, funding):
        ws = role.worker_settings(deps.settings)
        (cron,) = ws.cron_jobs
        assert cron.unique and cron.run_at_startup
        assert ws.keep_result == 300
        names.add(cron.name)
    # one cron id per role and tick: a shared name would let one role's tick swallow the other's
    assert names == {"cron:reconcile:governance", "cron:reconcile:funding"}
