"""An independent model of the perps' arithmetic in Python integers, from DESIGN.md's formulas,
to check the program's figures to the unit.

Rounding as DESIGN and `math/perp.h`'s comments state it: requirements and what a trader owes
round up, what a trader earns rounds down, the funding rate truncates toward zero and the index
delta rounds down (toward -inf). Python's `//` floors, so `ceil(a / b)` is `-(-a // b)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PRICE_PRECISION = 10**6
BPS = 10_000
LONG, SHORT = 1, 2


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def notional(size: int, price: int) -> int:
    """size * price / 10^6, rounded down."""
    return size * price // PRICE_PRECISION


def margin(notional_: int, bps: int) -> int:
    """A margin requirement (initial or maintenance), rounded up."""
    return ceil_div(notional_ * bps, BPS)


def fee(notional_: int, bps: int) -> int:
    """The taker fee, rounded up."""
    return ceil_div(notional_ * bps, BPS)


def pnl(side: int, size: int, entry: int, price: int) -> int:
    """Unrealized PnL at `price`, rounded down (toward -inf)."""
    diff = price - entry if side == LONG else entry - price
    return diff * size // PRICE_PRECISION


def funding_owed(side: int, size: int, index: int, snapshot: int) -> int:
    """Funding a position owes (negative: receives): longs pay the index's rise, shorts
    receive it; rounded up (toward +inf)."""
    delta = index - snapshot
    if side == SHORT:
        delta = -delta
    return ceil_div(delta * size, PRICE_PRECISION)


def equity(collateral: int, pnl_: int, owed: int) -> int:
    return collateral + pnl_ - owed


def funding_rate(long_oi: int, short_oi: int, max_bps: int) -> int:
    """max_bps * (long - short) / (long + short), truncated toward zero; 0 without OI."""
    total = long_oi + short_oi
    if total == 0:
        return 0
    magnitude = abs(long_oi - short_oi) * max_bps // total
    return magnitude if long_oi >= short_oi else -magnitude


def funding_delta(intervals: int, rate_bps: int, price: int) -> int:
    """How far the index moves: intervals * rate * price / 10^4, rounded down (toward -inf)."""
    return intervals * rate_bps * price // BPS


@dataclass(frozen=True)
class Settlement:
    collateral: int
    pool: int
    insurance: int
    bad_debt: int


def settle(collateral: int, pool: int, insurance: int, gain: int) -> Settlement | None:
    """Realize `gain` against the pool; a loss beyond the collateral is bad debt the insurance
    covers while it can. None when the pool cannot pay a profit."""
    if gain >= 0:
        if gain > pool:
            return None
        return Settlement(collateral + gain, pool - gain, insurance, 0)
    loss = -gain
    if loss <= collateral:
        return Settlement(collateral - loss, pool + loss, insurance, 0)
    bad_debt = loss - collateral
    covered = min(bad_debt, insurance)
    return Settlement(0, pool + collateral + covered, insurance - covered, bad_debt)


def liquidation_reward(notional_: int, fee_bps: int, remaining: int) -> int:
    """notional * fee / 10^4 rounded down, capped by what is left after settlement."""
    return min(notional_ * fee_bps // BPS, remaining)


@dataclass(frozen=True)
class Pos:
    """What the model needs of a position."""

    side: int
    size: int
    entry: int
    collateral: int
    snapshot: int = 0


def position_equity(p: Pos, price: int, index: int) -> int:
    return equity(p.collateral, pnl(p.side, p.size, p.entry, price),
                  funding_owed(p.side, p.size, index, p.snapshot))


@dataclass(frozen=True)
class Close:
    """The outcome of closing a position (by its owner or a liquidator)."""

    pnl: int
    funding: int
    equity: int
    fee: int  # the taker fee on a close; the liquidator's reward on a liquidation
    collateral: int  # what stays with the owner
    pool: int
    insurance: int
    bad_debt: int


def close(p: Pos, price: int, index: int, taker_fee_bps: int, pool: int,
          insurance: int) -> Close | None:
    """close_position at `price`; None when the pool cannot pay the profit. The caller checks
    equity against the fee (the program refuses a close below it)."""
    pnl_ = pnl(p.side, p.size, p.entry, price)
    owed = funding_owed(p.side, p.size, index, p.snapshot)
    s = settle(p.collateral, pool, insurance, pnl_ - owed)
    if s is None:
        return None
    f = fee(notional(p.size, price), taker_fee_bps)
    return Close(pnl_, owed, equity(p.collateral, pnl_, owed), f, s.collateral - f, s.pool,
                 s.insurance, s.bad_debt)


def maintenance(p: Pos, price: int, maintenance_bps: int) -> int:
    return margin(notional(p.size, price), maintenance_bps)


def liquidatable(p: Pos, price: int, index: int, maintenance_bps: int) -> bool:
    """Strictly below maintenance margin."""
    return position_equity(p, price, index) < maintenance(p, price, maintenance_bps)


def liquidate(p: Pos, price: int, index: int, liquidation_fee_bps: int, pool: int,
              insurance: int) -> Close | None:
    """liquidate at `price` (the caller checks `liquidatable`): settlement, then the reward out
    of what is left."""
    pnl_ = pnl(p.side, p.size, p.entry, price)
    owed = funding_owed(p.side, p.size, index, p.snapshot)
    s = settle(p.collateral, pool, insurance, pnl_ - owed)
    if s is None:
        return None
    reward = liquidation_reward(notional(p.size, price), liquidation_fee_bps, s.collateral)
    return Close(pnl_, owed, equity(p.collateral, pnl_, owed), reward, s.collateral - reward,
                 s.pool, s.insurance, s.bad_debt)


def pos_of(a: Any) -> Pos:
    """The model's view of a decoded Position account."""
    return Pos(a.side, a.size, a.entry_price, a.collateral, a.funding_snapshot)


def first(pred: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest integer in [lo, hi] where the monotone predicate `pred` (False, then True)
    holds."""
    assert pred(hi), "no solution in range"
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo
