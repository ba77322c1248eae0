"""A worker's health probes against a real Redis: what the queue collector exports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from arq.connections import ArqRedis, create_pool

from chain.client import Endpoint, RpcClient
from fleet.observer import Observer
from fleet.redis import redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import RedisSettings
from jobs.registry import enqueue
from metrics.definitions import registry
from metrics.health import HealthPolicy
from tests.support.chaos import dead_url


@pytest_asyncio.fixture
async def queue(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(RedisSettings(url=redis_url)),
                             job_serializer=job_serializer, job_deserializer=job_deserializer)
    yield pool
    await pool.aclose()


async def test_the_queue_depth_counts_due_jobs_not_deferred_ones(queue: ArqRedis) -> None:
    assert await enqueue(queue, "liquidate_position", "due", stage=1) is not None
    assert await enqueue(queue, "liquidate_position", "deferred", stage=1,
                         defer_s=60) is not None  # a fast path's fallback, say
    rpc = RpcClient([Endpoint("dead", dead_url())], timeout_s=0.5, deadline_s=1)
    try:
        observer = Observer("liquidator", HealthPolicy(success_within_s=60), rpc=rpc,
                            redis=queue, store=None, wallet=None)
        health = await observer.probe()
    finally:
        await rpc.close()
    assert health.checks["redis"] is None and health.checks["chain"]  # the node is away
    assert registry.get_sample_value("keepernet_queue_jobs", {"role": "liquidator"}) == 1
