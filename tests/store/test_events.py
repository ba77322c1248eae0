"""store.events on a real PostgreSQL: a batch written again is a no-op, whether it is the same
batch (a replay after a crash, two writers racing) or one that overlaps what is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from store.events import Cursor, EventRow, event_counts, read_cursor, read_events, write_batch
from store.migrate import migrate

pytestmark = pytest.mark.asyncio

TABLES = ("events", "trades", "votes", "funding_updates", "liquidations")
AT = datetime(2030, 1, 1, tzinfo=UTC)


@pytest_asyncio.fixture
async def pool(pg_database: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(pg_database)
    got = await asyncpg.create_pool(pg_database, min_size=1, max_size=2)
    yield got
    await got.close()


def event(signature: str, index: int, name: str, slot: int = 100, **data: Any) -> EventRow:
    return EventRow(signature, index, slot, AT, name, data)


# one event of each projection, and one without a projection, over two transactions
BATCH = [
    event("a" * 88, 0, "Traded", market="m", trader="t", outcome=1, is_buy=True, amount=5,
          shares=7, fee=1, yes_reserve=0, no_reserve=0),
    event("a" * 88, 1, "ProposalVoted", market="m", voter="v", approve=True, stake=3),
    event("a" * 88, 2, "DisputeVoted", market="m", voter="w", agree=False, stake=4),
    event("b" * 88, 0, "FundingUpdated", perp_market="p", rate_ppm=-12, intervals=2,
          price=100_000_000, cumulative_funding=-24),
    event("b" * 88, 1, "PositionLiquidated", position="q", owner="o", perp_market="p",
          liquidator="k", price=80_000_000, equity=-5, reward=2, bad_debt=5),
    event("b" * 88, 2, "MarketApproved", market="m"),
]
LATER = event("c" * 88, 0, "Traded", 101, market="m", trader="u", outcome=0, is_buy=False,
              amount=9, shares=9, fee=0, yes_reserve=0, no_reserve=0)


async def stored(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the event tables, in key order."""
    async with pool.acquire() as conn:
        return {t: [tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")]
                for t in TABLES}


async def test_the_same_batch_written_twice_is_stored_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await write_batch(conn, BATCH, Cursor("b" * 88, 100))
    once = await stored(pool)
    assert {t: len(rows) for t, rows in once.items()} == {
        "events": 6, "trades": 1, "votes": 2, "funding_updates": 1, "liquidations": 1}
    async with pool.acquire() as conn:
        await write_batch(conn, BATCH, Cursor("b" * 88, 100))
        assert await read_cursor(conn) == Cursor("b" * 88, 100)
    assert await stored(pool) == once


async def test_an_overlapping_batch_adds_only_what_is_new(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await write_batch(conn, BATCH[:4], Cursor("b" * 88, 100))
        await write_batch(conn, [*BATCH[2:], LATER], Cursor("c" * 88, 101),
                          previous="b" * 88)
        assert await read_cursor(conn) == Cursor("c" * 88, 101)
        assert await event_counts(conn) == {"Traded": 2, "ProposalVoted": 1,
                                            "DisputeVoted": 1, "FundingUpdated": 1,
                                            "PositionLiquidated": 1, "MarketApproved": 1}
        assert await read_events(conn) == [*BATCH, LATER]
