"""A worker's link to PostgreSQL: writes held while it is away, the oldest dropped beyond the
bound (and counted), the rest written in order once it answers."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from fleet.store_link import StoreLink, StoreUnavailable


async def test_writes_held_while_away_are_written_in_order_when_it_answers() -> None:
    reachable = asyncio.Event()
    pool: Any = object()  # the writes below only pass it along

    async def connect(_: str) -> asyncpg.Pool:
        if not reachable.is_set():
            raise OSError("connection refused")
        return pool  # type: ignore[no-any-return]

    written: list[int] = []

    def write(n: int) -> Any:
        async def run(got: asyncpg.Pool) -> None:
            assert got is pool
            written.append(n)
        return run

    link = StoreLink("postgresql://nowhere", backlog_limit=3, connect=connect)
    link.start()
    try:
        with pytest.raises(StoreUnavailable):
            _ = link.pool
        for n in range(5):
            await link.record("test", write(n))
        assert (link.backlog, link.dropped, written) == (3, 2, [])
        reachable.set()
        async with asyncio.timeout(10):
            while link.backlog:
                await asyncio.sleep(0.05)
        assert written == [2, 3, 4]
        assert link.error is None and link.pool is pool
        await link.record("test", write(5))  # up and nothing held: at once
        assert written == [2, 3, 4, 5]
    finally:
        link._pool = None  # (not a real pool to close)
        await link.close()


async def test_a_job_waits_for_the_first_pool_a_little_then_is_told_it_is_away() -> None:
    """At a worker's start the pool is made in the background: a job that needs it waits for
    it (a rerun after a SIGKILL would otherwise spend its last try on `retry`), but only a
    little while the database does not answer."""
    reachable = asyncio.Event()
    pool: Any = object()

    async def connect(_: str) -> asyncpg.Pool:
        await reachable.wait()
        return pool  # type: ignore[no-any-return]

    link = StoreLink("postgresql://nowhere", connect=connect)
    link.start()
    try:
        with pytest.raises(StoreUnavailable):
            await link.ready_pool(wait_s=0.1)
        waiting = asyncio.create_task(link.ready_pool(wait_s=10))
        await asyncio.sleep(0.05)
        reachable.set()
        assert await waiting is pool
    finally:
        link._pool = None  # (not a real pool to close)
        await link.close()
