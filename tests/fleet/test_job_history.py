"""The job wrapper's record of its tries, on a real Redis and PostgreSQL: the same job id run
again (enqueued again once done, its try number 1 again) adds a row to job_runs and keeps the
earlier one, so every landed try's outcome stays counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from arq.connections import ArqRedis, create_pool
from solders.pubkey import Pubkey

from chain.client import Endpoint, RpcClient
from fleet.context import DEPS_KEY, WorkerDeps, job_function
from fleet.redis import redis_settings
from fleet.settings import RedisSettings, Settings
from fleet.store_link import StoreLink
from jobs.outcome import Outcome
from jobs.registry import TALLY_VOTES
from store.migrate import migrate

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def deps(redis_url: str, pg_database: str) -> AsyncIterator[WorkerDeps]:
    await migrate(pg_database)
    # no chain: the job below does not touch it
    settings = Settings(metrics_port=0, rpc=(Endpoint("unused", "http://127.0.0.1:9"),),
                        database_url=pg_database, program_id=Pubkey.default(),
                        redis=RedisSettings(url=redis_url))
    pool = await asyncpg.create_pool(pg_database, min_size=1, max_size=2)
    got = WorkerDeps("governance", settings, RpcClient(list(settings.rpc)),
                     store=StoreLink.connected(pool))
    yield got
    await got.close()


@pytest_asyncio.fixture
async def redis(deps: WorkerDeps) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(deps.settings))
    yield pool
    await pool.aclose()


async def test_the_same_id_run_again_keeps_both_rows(deps: WorkerDeps, redis: ArqRedis) -> None:
    outcomes = iter([Outcome.SUCCESS, Outcome.ALREADY_DONE])

    async def run(_deps: WorkerDeps, _target: object) -> Outcome:
        return next(outcomes)

    fn = job_function(replace(TALLY_VOTES, tries=1), run, deps.settings)

    def ctx() -> dict[Any, Any]:
        return {"redis": redis, DEPS_KEY: deps, "job_id": "tally_votes:M", "job_try": 1}

    assert await fn.coroutine(ctx(), "M") == "success"
    assert await fn.coroutine(ctx(), "M") == "already_done"  # the id enqueued again
    found = await deps.pool.fetch("SELECT job_id, try, outcome FROM job_runs "
                                  "ORDER BY started_at")
    assert [tuple(r) for r in found] == [("tally_votes:M", 1, "success"),
                                         ("tally_votes:M", 1, "already_done")]
