"""An independent model of the perps' arithmetic in Python integers, from DESIGN.md's formulas,
to check the program's figures to the unit.

Rounding as DESIGN and `math/perp.h`'s comments state it: requirements, fees, penalties and
what a trader owes round up, what a trader earns rounds down, the funding rate (ppm) truncates
toward zero, the long index accrues rounding up and the short index rounding down. Python's
`//` floors, so `ceil(a / b)` is `-(-a // b)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
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


FUNDING_PRECISION = 10**9  # size (10^6) x index scale (10^3)
PPM = 10**6
CLAMP = 2**61
MAX_PRICE = 10**12
MAX_COLLATERAL = 2**61
MAX_OPEN_INTEREST = MAX_COLLATERAL // (MAX_PRICE // PRICE_PRECISION)


def wrap_i64(x: int) -> int:
    """x as the program's wrapping i64 index holds it."""
    x %= 2**64
    return x - 2**64 if x >= 2**63 else x


def funding_owed(side: int, size: int, index: int, snapshot: int) -> int:
    """Funding a position owes (negative: receives), rounded up (toward +inf): a long owes the
    rise of the long index, a short the fall of the short index; indexes wrap mod 2^64 and the
    result is clamped to +-2^61."""
    delta = wrap_i64(index - snapshot if side == LONG else snapshot - index)
    return max(-CLAMP, min(CLAMP, ceil_div(delta * size, FUNDING_PRECISION)))


def equity(collateral: int, pnl_: int, owed: int) -> int:
    return collateral + pnl_ - owed


def funding_rate(long_oi: int, short_oi: int, max_bps: int) -> int:
    """The rate per interval in ppm: max_bps * 100 * (long - short) / (long + short),
    truncated toward zero; 0 without OI."""
    total = long_oi + short_oi
    if total == 0:
        return 0
    magnitude = abs(long_oi - short_oi) * max_bps * 100 // total
    return magnitude if long_oi >= short_oi else -magnitude


def accrual(rate_ppm: int, price: int, elapsed: int, interval: int,
            remainder: int = 0) -> tuple[int, int]:
    """How far `elapsed` seconds move the (long, short) funding indexes: the exact index moves
    by rate * price * elapsed * 10^3 / (interval * 10^6); the short index is its floor, the
    long its ceiling, `remainder` the exact index's carried fraction above the floor."""
    up, down, _ = accrue(rate_ppm, price, elapsed, interval, remainder)
    return up, down


def accrue(rate_ppm: int, price: int, elapsed: int, interval: int,
           remainder: int) -> tuple[int, int, int]:
    """`perp_accrual`: (long delta, short delta, the new remainder)."""
    num = rate_ppm * price * min(elapsed, 2**40) * 1000
    den = interval * PPM
    total = remainder + num
    down, after = total // den, total % den
    return down + (after > 0) - (remainder > 0), down, after


def fill(price: int, conf: int, buying: bool) -> int:
    """A trade's price: buying at price + conf, selling at price - conf (not below 0)."""
    return price + conf if buying else max(price - conf, 0)


@dataclass(frozen=True)
class Pos:
    """What the model needs of a position."""

    side: int
    size: int
    entry: int
    collateral: int
    snapshot: int = 0
    reserve: int = 2**64 - 1  # the profit cap; unlimited unless given
    loss_snapshot: int = 0


@dataclass(frozen=True)
class Value:
    pnl: int
    owed: int
    gain: int  # pnl - owed, capped at the reserve when positive
    equity: int  # collateral + gain - haircut
    notional: int
    haircut: int = 0  # what of a positive gain pays the side's socialized losses


def value(p: Pos, mark: int, index: int, loss_share: int = 0) -> Value:
    """A position valued at `mark` (the price closing it would trade at), its profit first
    paying `loss_share` of the other side's socialized losses."""
    pnl_ = pnl(p.side, p.size, p.entry, mark)
    owed = funding_owed(p.side, p.size, index, p.snapshot)
    gain = min(pnl_ - owed, p.reserve)
    haircut = min(max(gain, 0), loss_share)
    return Value(pnl_, owed, gain, p.collateral + gain - haircut, notional(p.size, mark),
                 haircut)


def mark(side: int, price: int, conf: int) -> int:
    """The price closing a position of `side` trades at."""
    return fill(price, conf, side == SHORT)


def position_equity(p: Pos, price: int, index: int, conf: int = 0) -> int:
    return value(p, mark(p.side, price, conf), index).equity


@dataclass(frozen=True)
class Book:
    """Balances a settlement moves and what it reports."""

    collateral: int
    pool: int
    reserved: int  # after the position's reserve is released
    insurance: int
    bad_debt: int = 0
    insurance_paid: int = 0
    pool_paid: int = 0
    socialized: int = 0
    haircut: int = 0


def settle(b: Book, gain: int, loss_share: int) -> Book:
    """Realize `gain` (capped) against the pool; see math/perp.h perp_settle."""
    if gain >= 0:
        haircut = min(gain, loss_share)
        return replace(b, collateral=b.collateral + gain - haircut,
                       pool=b.pool - (gain - haircut), haircut=haircut)
    loss = -gain
    if loss <= b.collateral:
        return replace(b, collateral=b.collateral - loss, pool=b.pool + loss)
    bad = loss - b.collateral
    ins = min(bad, b.insurance)
    pool = b.pool + b.collateral + ins
    rest = bad - ins
    absorbed = min(rest, max(pool - b.reserved, 0))
    return replace(b, collateral=0, pool=pool, insurance=b.insurance - ins, bad_debt=bad,
                   insurance_paid=ins, pool_paid=absorbed, socialized=rest - absorbed)


def reward(notional_: int, liquidation_fee_bps: int, share_bps: int) -> int:
    """A liquidator's reward: the penalty's share, a function of the notional only."""
    return ceil_div(notional_ * liquidation_fee_bps, BPS) * share_bps // BPS


def penalize(b: Book, penalty: int, reward: int, fee_: int) -> tuple[Book, int, int]:
    """Take the liquidation penalty from what is left: insurance first gets the taker fee a
    close would pay (or all, when less was taken), the liquidator up to `reward` of the rest,
    insurance the remainder; insurance and then the pool's free liquidity make up what the
    reward was left short. Returns (book, paid, insurance_share)."""
    taken = min(penalty, b.collateral)
    paid = min(reward, taken - min(fee_, taken))
    b = replace(b, collateral=b.collateral - taken, insurance=b.insurance + taken - paid)
    ins = min(reward - paid, b.insurance)
    pool_part = min(reward - paid - ins, max(b.pool - b.reserved, 0))
    b = replace(b, insurance=b.insurance - ins, insurance_paid=b.insurance_paid + ins,
                pool=b.pool - pool_part, pool_paid=b.pool_paid + pool_part)
    return b, paid + ins + pool_part, taken - paid


def loss_share(size: int, index: int, snapshot: int) -> int:
    return min(ceil_div(size * (index - snapshot), FUNDING_PRECISION), 2**64 - 1)


MAX_LOSS_DELTA = 10**12 * 1_000  # a whole base unit's largest profit, in index units


def loss_index_add(index: int, socialized: int, oi: int) -> tuple[int, int]:
    """(the new loss index, what the side is charged); see math/perp.h."""
    delta, charged = ceil_div(socialized * FUNDING_PRECISION, oi), socialized
    if delta > MAX_LOSS_DELTA:
        delta, charged = MAX_LOSS_DELTA, oi * (MAX_LOSS_DELTA // FUNDING_PRECISION)
    if index + delta > 2**64 - 1:
        return index, 0
    return index + delta, charged


def close(p: Pos, price: int, conf: int, index: int, taker_fee_bps: int, book: Book,
          loss_index: int = 0) -> tuple[Value, Book, int]:
    """close_position (the caller checks equity >= fee, the equity after the haircut): settle
    at the mark, then the fee.
    Returns (value, book with the fee taken from the collateral, fee)."""
    share = loss_share(p.size, loss_index, p.loss_snapshot)
    v = value(p, mark(p.side, price, conf), index, share)
    f = fee(v.notional, taker_fee_bps)
    b = settle(book, v.gain, share)
    return v, replace(b, collateral=b.collateral - f), f


def maintenance(p: Pos, price: int, maintenance_bps: int, conf: int = 0) -> int:
    return margin(notional(p.size, mark(p.side, price, conf)), maintenance_bps)


def liquidatable(p: Pos, price: int, index: int, maintenance_bps: int, conf: int = 0) -> bool:
    """Strictly below maintenance margin at the conservative mark."""
    v = value(p, mark(p.side, price, conf), index)
    return v.equity < margin(v.notional, maintenance_bps)


def liquidation(p: Pos, price: int, conf: int, index: int, liquidation_fee_bps: int,
                share_bps: int, book: Book, loss_index: int = 0, *,
                taker_fee_bps: int) -> tuple[Value, Book, int, int]:
    """liquidate (the caller checks `liquidatable`): settle, then the penalty. Returns
    (value, book, paid to the liquidator, insurance share)."""
    share = loss_share(p.size, loss_index, p.loss_snapshot)
    v = value(p, mark(p.side, price, conf), index, share)
    penalty = ceil_div(v.notional * liquidation_fee_bps, BPS)
    reward = penalty * share_bps // BPS
    b = settle(book, v.gain, share)
    b, paid, ins_share = penalize(b, penalty, reward, fee(v.notional, taker_fee_bps))
    return v, b, paid, ins_share


def pos_of(a: Any) -> Pos:
    """The model's view of a decoded Position account."""
    return Pos(a.side, a.size, a.entry_price, a.collateral, a.funding_snapshot, a.reserve,
               a.loss_snapshot)


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
