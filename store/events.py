"""Raw events, their projections and the indexer's cursor, written together.

`write_batch(conn, events, cursor)` stores one batch in ONE transaction: the events (keyed by
signature and event index, a replay is a no-op), the rows projected from them (trades from
Traded, votes from ProposalVoted and DisputeVoted, funding updates from FundingUpdated,
liquidations from PositionLiquidated — keyed the same way) and the cursor `events`. Either
all of it is there or none of it, so the cursor never points past a missing event.

With `previous=` the cursor moves only from that signature (None: from no cursor at all), a
compare-and-set: a writer that lost a race (its lock lost with its connection, say) gets
`CursorMoved` and nothing of its batch is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import orjson

from jobs.errors import Retryable

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # a connection of its own or one from a pool
    Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy

CURSOR_NAME = "events"


@dataclass(frozen=True)
class Cursor:
    """The newest transaction whose events are stored: everything before it is too."""

    signature: str
    slot: int


@dataclass(frozen=True)
class EventRow:
    """One decoded event: `data` is JSON-safe (see jobs/indexing.py)."""

    signature: str
    event_index: int
    slot: int
    block_time: datetime | None
    name: str
    data: dict[str, Any]


class CursorMoved(Retryable):
    """The cursor was not where the writer expected it: another writer moved it."""


class _Unchecked(Enum):
    ANY = "any"


ANY_PREVIOUS = _Unchecked.ANY

VOTE_PROPOSAL, VOTE_DISPUTE = 0, 1  # votes.kind, as program/client.py's vote kinds

_INSERT_EVENTS = """
INSERT INTO events (signature, event_index, slot, block_time, name, data)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::timestamptz[], $5::text[],
                     $6::jsonb[])
ON CONFLICT (signature, event_index) DO NOTHING"""

_INSERT_TRADE = """
INSERT INTO trades (signature, event_index, market, trader, outcome, is_buy, amount, shares, fee,
                    slot)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (signature, event_index) DO NOTHING"""

_INSERT_VOTE = """
INSERT INTO votes (signature, event_index, market, voter, kind, choice, stake, slot)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (signature, event_index) DO NOTHING"""

_INSERT_FUNDING = """
INSERT INTO funding_updates (signature, event_index, perp_market, rate_ppm, intervals, price,
                             cumulative_funding, slot)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (signature, event_index) DO NOTHING"""

_INSERT_LIQUIDATION = """
INSERT INTO liquidations (signature, event_index, position, owner, perp_market, liquidator,
                          price, equity, reward, bad_debt, slot)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (signature, event_index) DO NOTHING"""


def _trade(e: EventRow) -> tuple[Any, ...]:
    d = e.data
    return (e.signature, e.event_index, d["market"], d["trader"], d["outcome"], d["is_buy"],
            d["amount"], d["shares"], d["fee"], e.slot)


def _proposal_vote(e: EventRow) -> tuple[Any, ...]:
    d = e.data
    return (e.signature, e.event_index, d["market"], d["voter"], VOTE_PROPOSAL, d["approve"],
            d["stake"], e.slot)


def _dispute_vote(e: EventRow) -> tuple[Any, ...]:
    d = e.data
    return (e.signature, e.event_index, d["market"], d["voter"], VOTE_DISPUTE, d["agree"],
            d["stake"], e.slot)


def _funding(e: EventRow) -> tuple[Any, ...]:
    d = e.data
    return (e.signature, e.event_index, d["perp_market"], d["rate_ppm"], d["intervals"],
            d["price"], d["cumulative_funding"], e.slot)


def _liquidation(e: EventRow) -> tuple[Any, ...]:
    d = e.data
    return (e.signature, e.event_index, d["position"], d["owner"], d["perp_market"],
            d["liquidator"], d["price"], d["equity"], d["reward"], d["bad_debt"], e.slot)


# event name -> (insert statement, row of its arguments)
PROJECTIONS: dict[str, tuple[str, Callable[[EventRow], tuple[Any, ...]]]] = {
    "Traded": (_INSERT_TRADE, _trade),
    "ProposalVoted": (_INSERT_VOTE, _proposal_vote),
    "DisputeVoted": (_INSERT_VOTE, _dispute_vote),
    "FundingUpdated": (_INSERT_FUNDING, _funding),
    "PositionLiquidated": (_INSERT_LIQUIDATION, _liquidation),
}


def _json(data: dict[str, Any]) -> str:
    """`data` as JSON text for a jsonb column; orjson unless it refuses (an integer beyond
    64 bits), the standard encoder then: jsonb keeps the same value either way."""
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


async def write_batch(conn: Conn, events: Sequence[EventRow], cursor: Cursor, *,
                      previous: str | _Unchecked | None = ANY_PREVIOUS) -> None:
    """Store `events`, their projections and `cursor` in one transaction (see the module
    docstring); with `previous`, raise CursorMoved (keeping nothing) unless the cursor is
    there."""
    async with conn.transaction():
        if previous is ANY_PREVIOUS:
            await conn.execute(
                "INSERT INTO cursors (name, signature, slot, updated_at) "
                "VALUES ($1, $2, $3, now()) ON CONFLICT (name) DO UPDATE SET "
                "signature = excluded.signature, slot = excluded.slot, updated_at = now()",
                CURSOR_NAME, cursor.signature, cursor.slot)
        elif previous is None:
            status = await conn.execute(
                "INSERT INTO cursors (name, signature, slot, updated_at) "
                "VALUES ($1, $2, $3, now()) ON CONFLICT (name) DO NOTHING",
                CURSOR_NAME, cursor.signature, cursor.slot)
            if status != "INSERT 0 1":
                raise CursorMoved("a cursor appeared while this batch was being fetched")
        else:
            status = await conn.execute(
                "UPDATE cursors SET signature = $2, slot = $3, updated_at = now() "
                "WHERE name = $1 AND signature = $4",
                CURSOR_NAME, cursor.signature, cursor.slot, previous)
            if status != "UPDATE 1":
                raise CursorMoved(f"the cursor is no longer at {previous}")
        if events:
            # one statement over arrays rather than a statement per row: the same rows, the
            # same conflict rule, a fraction of the server's work per event
            await conn.execute(_INSERT_EVENTS, [e.signature for e in events],
                               [e.event_index for e in events], [e.slot for e in events],
                               [e.block_time for e in events], [e.name for e in events],
                               [_json(e.data) for e in events])
        for name, (sql, row) in PROJECTIONS.items():
            rows = [row(e) for e in events if e.name == name]
            if rows:
                await conn.executemany(sql, rows)


async def read_cursor(conn: Conn) -> Cursor | None:
    """The indexer's cursor, or None before its first batch."""
    row = await conn.fetchrow("SELECT signature, slot FROM cursors WHERE name = $1", CURSOR_NAME)
    return None if row is None else Cursor(row["signature"], row["slot"])


async def event_counts(conn: Conn) -> dict[str, int]:
    """How many events of each name are stored."""
    rows = await conn.fetch("SELECT name, count(*) AS n FROM events GROUP BY name")
    return {r["name"]: int(r["n"]) for r in rows}


async def read_events(conn: Conn) -> list[EventRow]:
    """Every stored event, by slot, signature and event index (within a slot that is not the
    chain's order)."""
    rows = await conn.fetch(
        "SELECT signature, event_index, slot, block_time, name, data::text AS data FROM events "
        "ORDER BY slot, signature, event_index")
    return [EventRow(r["signature"], r["event_index"], r["slot"], r["block_time"], r["name"],
                     json.loads(r["data"])) for r in rows]
