"""The Redis lease on a job's target, on a real Redis: one holder at a time, released only by
its own token, freed by expiry; and the job wrapper's use of it, two runs of one job on one
target at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from arq.connections import ArqRedis, create_pool
from solders.pubkey import Pubkey

from chain.client import Endpoint, RpcClient
from fleet.context import DEPS_KEY, WorkerDeps, job_function
from fleet.lease import acquire, hold, lease, lease_key, release
from fleet.redis import redis_settings
from fleet.settings import RedisSettings, Settings
from jobs.outcome import Outcome
from jobs.registry import TALLY_VOTES

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings(redis_url: str) -> Settings:
    # no chain and no database: the jobs below touch neither
    return Settings(metrics_port=0, rpc=(Endpoint("unused", "http://127.0.0.1:9"),),
                    database_url="postgresql://unused@127.0.0.1/unused",
                    program_id=Pubkey.default(), redis=RedisSettings(url=redis_url))


@pytest_asyncio.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(settings))
    yield pool
    await pool.aclose()


async def test_one_holder_at_a_time(redis: ArqRedis) -> None:
    async with lease(redis, "tally_votes", "M1", 10) as first:
        async with lease(redis, "tally_votes", "M1", 10) as second:
            assert first and not second
        # the loser's exit released nothing
        assert await redis.exists(lease_key("tally_votes", "M1"))
        # another target, another job: their own leases
        async with lease(redis, "tally_votes", "M2", 10) as other_target, \
                lease(redis, "finalize_market", "M1", 10) as other_job:
            assert other_target and other_job
    assert not await redis.exists(lease_key("tally_votes", "M1"))
    async with lease(redis, "tally_votes", "M1", 10) as again:
        assert again


async def test_a_foreign_token_releases_nothing(redis: ArqRedis) -> None:
    key = lease_key("update_funding", "P")
    assert await acquire(redis, key, "mine", 10)
    assert not await release(redis, key, "theirs")
    assert await redis.get(key) == b"mine"
    assert not await acquire(redis, key, "theirs", 10)
    assert await release(redis, key, "mine")
    assert not await redis.exists(key)


async def test_expiry_frees_a_lease_its_holder_never_released(redis: ArqRedis) -> None:
    key = lease_key("update_funding", "P")
    assert await acquire(redis, key, "dead holder", 0.2)
    assert not await acquire(redis, key, "next", 10)
    await asyncio.sleep(0.3)
    assert await acquire(redis, key, "next", 10)
    # the dead holder, back, cannot free what is now another's
    assert not await release(redis, key, "dead holder")
    assert await redis.get(key) == b"next"


async def test_a_lease_lasts_the_ttl_asked(redis: ArqRedis) -> None:
    """The TTL is what frees a lease whose holder died: it must be what was asked, in
    milliseconds, however the lease was taken."""
    async with lease(redis, "liquidate_position", "P", 30) as held:
        assert held
        assert 29_000 < await redis.pttl(lease_key("liquidate_position", "P")) <= 30_000
    assert await acquire(redis, "keepernet:test:acquired", "a", 12.5)
    assert 11_500 < await redis.pttl("keepernet:test:acquired") <= 12_500
    assert await hold(redis, "keepernet:test:held", "a", 20)  # a free standing lease, taken
    assert 19_000 < await redis.pttl("keepernet:test:held") <= 20_000


async def test_a_standing_lease_is_kept_by_its_holder_and_taken_over_once_it_lapses(
        redis: ArqRedis) -> None:
    key = "keepernet:test:collector"
    assert await hold(redis, key, "a", 2)
    assert not await hold(redis, key, "b", 2)
    await asyncio.sleep(1)
    assert await hold(redis, key, "a", 2)  # renewed: its TTL starts again
    assert await redis.pttl(key) > 1500
    assert not await hold(redis, key, "b", 2)
    await redis.pexpire(key, 1)  # as if "a" stopped renewing and its TTL ran out
    await asyncio.sleep(0.05)
    assert await hold(redis, key, "b", 2)
    assert await redis.get(key) == b"b"


async def test_two_runs_of_a_job_on_one_target_at_once(settings: Settings,
                                                       redis: ArqRedis) -> None:
    started = asyncio.Event()
    proceed = asyncio.Event()
    ran: list[object] = []

    async def run(_deps: WorkerDeps, target: object) -> Outcome:
        ran.append(target)
        started.set()
        await proceed.wait()
        return Outcome.SUCCESS

    fn = job_function(replace(TALLY_VOTES, tries=1), run, settings)
    deps = WorkerDeps("governance", settings, RpcClient(list(settings.rpc)))

    def ctx(job_id: str) -> dict[Any, Any]:
        return {"redis": redis, DEPS_KEY: deps, "job_id": job_id, "job_try": 1}

    try:
        holder = asyncio.create_task(fn.coroutine(ctx("tally_votes:M"), "M"))
        await started.wait()
        # the same job on the same target while the first runs, under another id (a second
        # enqueue by hand) or the same one (arq running one job twice): nothing runs
        assert await fn.coroutine(ctx("tally_votes:M:by-hand"), "M") == "already_done"
        assert await fn.coroutine(ctx("tally_votes:M"), "M") == "already_done"
        proceed.set()
        assert await holder == "success"
        assert ran == ["M"]
        # its lease released, the next run runs
        assert await fn.coroutine(ctx("tally_votes:M"), "M") == "success"
        assert ran == ["M", "M"]
    finally:
        await deps.close()
