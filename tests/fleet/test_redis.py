"""The workers' Redis connection keeps every cancellation: arq stops a worker by cancelling
its main task, mostly while it is inside a Redis command (CPython's 3.11 `wait_for`, which
redis-py bounds writes with, dropped about one in six of these here)."""

from __future__ import annotations

import asyncio

from arq.connections import create_pool

from fleet.redis import apply_socket_options, redis_settings
from fleet.settings import RedisSettings
from patches.redis_cancellable_write import CancellableConnection


async def test_a_command_loop_stops_at_every_cancellation(redis_url: str) -> None:
    settings = RedisSettings(url=redis_url)
    pool = await create_pool(redis_settings(settings))
    await apply_socket_options(pool, settings)

    async def forever() -> None:
        while True:
            await pool.ping()

    kept_running = 0
    try:
        for steps in range(200):  # cancel at each point of a command's loop iterations
            task = asyncio.create_task(forever())
            for _ in range(steps % 40):
                await asyncio.sleep(0)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=1)
            if not done:
                kept_running += 1
                task.cancel()
                await asyncio.wait([task], timeout=1)
            else:
                assert task.cancelled()
    finally:
        await pool.aclose()
    assert kept_running == 0, f"{kept_running} of 200 cancellations were dropped"


async def test_a_workers_pool_opens_cancellable_connections_that_serve(redis_url: str) -> None:
    settings = RedisSettings(url=redis_url, socket_timeout_s=0.2)
    pool = await create_pool(redis_settings(settings))
    await apply_socket_options(pool, settings)
    try:
        assert pool.connection_pool.connection_class is CancellableConnection
        blocked = await pool.blpop(["keepernet:test:never"], timeout=0.05)  # type: ignore[arg-type]
        assert blocked is None
        assert await pool.ping()
    finally:
        await pool.aclose()
