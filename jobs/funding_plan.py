"""When a perp market's funding is due, apart from I/O — the program's arithmetic
(`program/src/instructions/keeper.c`, `update_funding`):

due when now ≥ last_funding_ts + funding_interval_secs (else TooEarly); it then applies
n = ⌊(now - last_funding_ts) / interval⌋ intervals and moves last_funding_ts by n·interval,
so the schedule stays on its grid and the next update is due one interval after that.
"""

from __future__ import annotations

from typing import Protocol


class PerpMarketView(Protocol):
    """The fields of a decoded PerpMarket the plan reads."""

    @property
    def funding_interval_secs(self) -> int: ...
    @property
    def last_funding_ts(self) -> int: ...


def due_at(perp: PerpMarketView) -> int:
    """The unix time from which update_funding is accepted."""
    return perp.last_funding_ts + perp.funding_interval_secs


def is_due(perp: PerpMarketView, now: int) -> bool:
    """Whether update_funding at chain time `now` would be accepted (as far as time goes)."""
    return now >= due_at(perp)


def intervals_due(perp: PerpMarketView, now: int) -> int:
    """How many intervals an update at `now` applies (0 when it is not due)."""
    if not is_due(perp, now):
        return 0
    return (now - perp.last_funding_ts) // perp.funding_interval_secs


def next_due_at(perp: PerpMarketView, now: int) -> int:
    """When the update after one made at `now` will be due: `due_at` while it is not due yet,
    else the first interval boundary after the grid point the update moves to."""
    n = intervals_due(perp, now)
    return perp.last_funding_ts + (n + 1) * perp.funding_interval_secs
