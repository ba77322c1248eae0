"""Redis killed and restarted mid-run, with its append-only file (`appendfsync everysec`, as
deploy/ configures it): the jobs queued before the crash are still queued after it, the
running workers reconnect by themselves (the same processes), and every job runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from arq.connections import ArqRedis, create_pool
from arq.jobs import Job

from fleet.redis import redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import RedisSettings
from jobs.registry import enqueue
from store.migrate import migrate
from tests.support.chain_world import World, world
from tests.support.keepers import Fleet, keeper_env, keypair_file
from tests.support.markets import proposal

MARKETS = 6
DEFER_S = 6.0  # the jobs wait in the queue across the crash
AOF_FLUSHED_S = 1.5  # appendfsync everysec: what is a second old is on disk


@pytest_asyncio.fixture
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


async def test_queued_jobs_survive_a_redis_crash_and_the_workers_reconnect(
        w: World, redis_url: str, pg_database: str, redis_instance: Any,
        tmp_path: Path) -> None:
    await migrate(pg_database)
    keypair = keypair_file(w.net.keepers[0].kp, tmp_path)
    # proposals with no votes yet: no tally is due, so the reconciler enqueues nothing of its
    # own and every job here is one this test queued
    markets = [await proposal(w, 40 + i, likes=0) for i in range(MARKETS)]
    env = keeper_env(rpc_urls=f"local={w.net.url} max_rps=10000", database_url=pg_database,
                     redis_url=redis_url, program_id=w.net.program_id, keypair=keypair,
                     REDIS_RETRIES="30", REDIS_RETRY_DELAY_S="0.1", REDIS_SOCKET_TIMEOUT_S="2")
    fleet = Fleet()
    queue: ArqRedis = await create_pool(redis_settings(RedisSettings(url=redis_url)),
                                        job_serializer=job_serializer,
                                        job_deserializer=job_deserializer)
    try:
        workers = [await fleet.start("governance", env) for _ in range(2)]
        jobs: list[Job] = []
        for market in markets:
            job = await enqueue(queue, "tally_votes", str(market), defer_s=DEFER_S)
            assert job is not None
            jobs.append(job)
        await asyncio.sleep(AOF_FLUSHED_S)

        await asyncio.to_thread(redis_instance.restart, crash=True)  # SIGKILL, then start

        for job in jobs:  # replayed from the append-only file
            assert await queue.exists(f"arq:job:{job.job_id}"), f"{job.job_id} lost"
        results = [await job.result(timeout=60, poll_delay=0.2) for job in jobs]
        assert results == ["not_needed"] * MARKETS  # each ran (nothing to tally yet)
        assert all(p.returncode is None for p in workers), "a worker died with Redis"
        assert fleet.running() == workers  # the same processes: none was restarted
    finally:
        await fleet.stop_all()
        await queue.aclose()
