"""Fixtures the job tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from store.migrate import migrate


@pytest_asyncio.fixture(loop_scope="module")
async def pool(pg_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A connection pool on this test's own database, migrated; on the module's loop, as the
    job tests that share a localnet run."""
    await migrate(pg_database)
    p = await asyncpg.create_pool(pg_database, min_size=1, max_size=10)
    yield p
    await p.close()
