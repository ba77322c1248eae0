"""The program's Market, PerpMarket and Position accounts, projected into the `markets`,
`perp_markets` and `positions` tables by their address.

`write_snapshot(conn, snapshot)` upserts every account read into its table in ONE transaction,
each row stamped with the slot it was read at; a row is replaced only by one read at the same
slot or a later one, so a snapshot that was slow to arrive never turns a table back in time.
Fields are mapped as the event projections map theirs (store/events.py): public keys as base58
text, u64 amounts as numeric, unix seconds as timestamptz (0, which the program writes for a
moment that has not come, as NULL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from program.accounts import Market, PerpMarket, Position, ProgramAccount

if TYPE_CHECKING:
    from store.events import Conn


@dataclass(frozen=True)
class KindSnapshot:
    """Every account of one kind (`Market`, `PerpMarket` or `Position`), decoded, by address,
    read at `slot`."""

    kind: str
    slot: int
    accounts: Sequence[tuple[str, ProgramAccount]]


def _time(unix_s: int) -> datetime | None:
    return None if unix_s == 0 else datetime.fromtimestamp(unix_s, UTC)


def _market(address: str, m: Market, slot: int) -> tuple[Any, ...]:
    return (address, m.id, str(m.creator), m.state, m.question, m.likes, m.dislikes,
            m.yes_reserve, m.no_reserve, m.collateral, m.proposed_outcome, m.final_outcome,
            _time(m.trading_ends_at), _time(m.proposal_ends_at), _time(m.dispute_ends_at), slot)


def _perp_market(address: str, p: PerpMarket, slot: int) -> tuple[Any, ...]:
    return (address, p.id, str(p.oracle), p.long_oi, p.short_oi, p.cumulative_funding,
            _time(p.last_funding_ts), slot)


def _position(address: str, p: Position, slot: int) -> tuple[Any, ...]:
    return (address, str(p.perp_market), str(p.owner), p.side, p.size, p.entry_price,
            p.collateral, slot)


def _upsert(table: str, columns: Sequence[str]) -> str:
    """An insert of one row keyed by address that replaces the stored row unless it is newer."""
    values = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != "address")
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) "
            f"ON CONFLICT (address) DO UPDATE SET {updates} "
            f"WHERE {table}.updated_slot <= EXCLUDED.updated_slot")


# account kind -> (upsert statement, row of its arguments)
PROJECTIONS: dict[str, tuple[str, Callable[[str, Any, int], tuple[Any, ...]]]] = {
    "Market": (_upsert("markets", (
        "address", "id", "creator", "state", "question", "likes", "dislikes", "yes_reserve",
        "no_reserve", "collateral", "proposed_outcome", "final_outcome", "trading_ends_at",
        "proposal_ends_at", "dispute_ends_at", "updated_slot")), _market),
    "PerpMarket": (_upsert("perp_markets", (
        "address", "id", "oracle", "long_oi", "short_oi", "cumulative_funding",
        "last_funding_ts", "updated_slot")), _perp_market),
    "Position": (_upsert("positions", (
        "address", "perp_market", "owner", "side", "size", "entry_price", "collateral",
        "updated_slot")), _position),
}


async def write_snapshot(conn: Conn, snapshot: Sequence[KindSnapshot]) -> None:
    """Upsert every account of `snapshot` into its table, in one transaction, never over a row
    read at a later slot; ValueError for a kind no table holds."""
    unknown = sorted({s.kind for s in snapshot} - set(PROJECTIONS))
    if unknown:
        raise ValueError(f"no table for accounts of kind {', '.join(unknown)}")
    async with conn.transaction():
        for kind in snapshot:
            sql, row = PROJECTIONS[kind.kind]
            # in address order: two snapshots at once then lock rows in the same order, and
            # never deadlock
            rows = [row(address, account, kind.slot)
                    for address, account in sorted(kind.accounts, key=lambda a: a[0])]
            if rows:
                await conn.executemany(sql, rows)
