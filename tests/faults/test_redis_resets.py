"""Redis connections reset at each stage of reconnecting — at connect, in redis-py's handshake
(`on_connect`), in the middle of a poll's command — and Redis away when the worker starts: the
worker (the class `keepernet worker` runs, with the workers' Redis settings) never exits, and
runs the jobs enqueued once Redis answers again. A TCP proxy in front of the real Redis
(tests/support/reset_proxy.py) does the resetting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from arq.connections import ArqRedis, create_pool
from arq.worker import Worker, func

from fleet.redis import apply_socket_options, redis_settings
from fleet.settings import RedisSettings
from patches.arq_redis_away import PatientWorker
from tests.support.reset_proxy import ResetProxy, Stage

QUEUE = "keepernet:test:resets"
OUTAGE_S = 2.0
WITHIN_S = 15.0


async def echo(_: dict[Any, Any], value: str) -> str:
    return value


def settings(url: str) -> RedisSettings:
    # few and short retries, as a restart longer than them looks to redis-py
    return RedisSettings(url=url, connect_timeout_s=0.5, socket_timeout_s=1.0, retries=2,
                         retry_delay_s=0.05)


@contextlib.asynccontextmanager
async def running_worker(url: str) -> AsyncIterator[asyncio.Task[None]]:
    """A worker on `url` polling QUEUE, running `main` as `keepernet worker` does."""
    redis = settings(url)

    async def on_startup(ctx: dict[Any, Any]) -> None:
        await apply_socket_options(ctx["redis"], redis)

    worker: Worker = PatientWorker(
        functions=[func(echo, name="echo")], queue_name=QUEUE, redis_settings=redis_settings(redis),
        on_startup=on_startup, handle_signals=False, poll_delay=0.05, max_jobs=4)
    task = asyncio.create_task(worker.main())
    try:
        yield task
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await worker.close()


async def ran(queue: ArqRedis, value: str, worker: asyncio.Task[None]) -> str:
    job = await queue.enqueue_job("echo", value, _queue_name=QUEUE)
    assert job is not None
    result: str = await job.result(timeout=WITHIN_S, poll_delay=0.05)
    assert not worker.done(), "the worker exited"
    return result


@pytest.mark.parametrize("stage", ["connect", "handshake", "poll"])
async def test_a_worker_rides_out_connections_reset_at_each_stage(
        redis_url: str, stage: Stage) -> None:
    port = int(urlsplit(redis_url).port or 6379)
    queue = await create_pool(redis_settings(RedisSettings(url=redis_url)))
    try:
        async with ResetProxy(port) as proxy, running_worker(proxy.url()) as worker:
            assert await ran(queue, "before", worker) == "before"
            proxy.reset_at(stage)
            await asyncio.sleep(OUTAGE_S)
            assert not worker.done(), f"the worker exited: {worker.exception()!r}"
            proxy.forward()
            assert await ran(queue, "after", worker) == "after"
            assert proxy.resets > 0
    finally:
        await queue.aclose()


async def test_a_worker_started_while_redis_resets_every_connection_starts_when_it_answers(
        redis_url: str) -> None:
    port = int(urlsplit(redis_url).port or 6379)
    queue = await create_pool(redis_settings(RedisSettings(url=redis_url)))
    try:
        async with ResetProxy(port) as proxy:
            proxy.reset_at("connect")
            async with running_worker(proxy.url()) as worker:
                await asyncio.sleep(OUTAGE_S)
                assert not worker.done(), f"the worker exited: {worker.exception()!r}"
                proxy.forward()
                assert await ran(queue, "started", worker) == "started"
    finally:
        await queue.aclose()
