"""Which of a market's positions a price may put under maintenance, found in O(log n + k): the
positions sorted by the thresholds of a lower bound of their margin. Pure, no I/O.

Judging every position at each price costs time in proportion to the book (about 40 ms for
half a million), though a price moves few positions near maintenance. With s the size in
base units, M the mark (per side), I and L the side's funding and loss indexes and b the
maintenance fraction, the program's margin (jobs/liquidation_plan.is_liquidatable) is at least

    min(A, B) - 4,  A = collateral + pnl - funding owed - s (L - loss snapshot) / 1000 - s M b
                    B = collateral + reserve - s (L - loss snapshot) / 1000 - s M b

(the gain is capped at the reserve; the haircut is at most the loss share; the integer
roundings move it by under 4 units). Divided by s, each condition A > 0 and B > 0 compares a
number of the market's state with a number of the position alone:

    long:  (1 - b) M - (I + L) / 1000  >  entry - (funding snapshot + loss snapshot) / 1000
                                          - collateral / s                          (T)
    short: (1 + b) M - (I - L) / 1000  <  collateral / s + entry
                                          + (loss snapshot - funding snapshot) / 1000  (T)
    both:  M b + L / 1000  <  (collateral + reserve) / s + loss snapshot / 1000        (U)

So funding, a socialized loss and the price move every position of a side by the same
amount, and the positions that may be under maintenance are a prefix or suffix of each side's
positions sorted by T and by U (each widened by a slack far above the roundings and float64's
error): two binary searches per side. The book judges exactly those (and the positions this
index cannot speak for: changed since it was built, or with values near 64-bit limits).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Rows = npt.NDArray[np.int64]

LONG, SHORT = 1, 2  # the IDL's Side
PRICE_PRECISION = 10**6
BPS = 10_000
# margin units the integer rule may differ from the bound by, with room to spare
_ROUNDING_UNITS = 64.0
_REL_ERROR = 1e-9  # far above float64's error over these few operations
# Past these the bound's terms may wrap or clamp in the program's integers: a position beyond
# them is always judged, and a market state beyond them is judged in full.
_INDEX_LIMIT = 2**60
_OWED_LIMIT = float(2**59)
_MAX_COLLATERAL = 2**61
_NOTIONAL_LIMIT = float(2**61)


@dataclass(frozen=True)
class _Side:
    """One side's positions sorted by T and by U (the rows, in the same orders)."""

    t: npt.NDArray[np.float64]
    t_rows: Rows
    u: npt.NDArray[np.float64]
    u_rows: Rows


@dataclass(frozen=True)
class ThresholdIndex:
    """The index of a market's rows 0..`rows`-1 as they were when built (`build`)."""

    rows: int
    long: _Side
    short: _Side
    always: Rows  # rows the bound cannot speak for
    max_size: float  # of the rows indexed, in base units
    max_loss_snapshot: tuple[int, int]  # per side (long, short)

    @classmethod
    def build(cls, columns: Mapping[str, np.ndarray], max_price: int) -> ThresholdIndex:
        """The index of the positions in `columns` (the book's exact columns, one row per
        position: side, size, entry_price, collateral, funding_snapshot, reserve,
        loss_snapshot), `max_price` the program's largest price."""
        side = columns["side"]
        n = len(side)
        s = columns["size"].astype(np.float64) / PRICE_PRECISION
        entry = columns["entry_price"].astype(np.float64)
        collateral = columns["collateral"].astype(np.float64)
        snapshot = columns["funding_snapshot"].astype(np.float64)
        loss = columns["loss_snapshot"].astype(np.float64)
        reserve = columns["reserve"].astype(np.float64)
        per_size = collateral / s
        slack = _ROUNDING_UNITS / s
        long_t = entry - (snapshot + loss) / 1000 - per_size
        short_t = per_size + entry + (loss - snapshot) / 1000
        u = (collateral + reserve) / s + loss / 1000
        t_slack = slack + _REL_ERROR * (entry + (np.abs(snapshot) + loss) / 1000 + per_size)
        u_slack = slack + _REL_ERROR * u
        always = ((columns["collateral"] > _MAX_COLLATERAL)
                  | (columns["entry_price"] > max_price)
                  | (np.abs(snapshot) >= _INDEX_LIMIT)  # (as floats: |i64 min| wraps)
                  | (columns["loss_snapshot"] >= _INDEX_LIMIT)
                  | (s * np.abs(snapshot) / 1000 >= _OWED_LIMIT)
                  | (s * max_price >= _NOTIONAL_LIMIT))
        long, short = (side == LONG) & ~always, (side == SHORT) & ~always

        def sorted_side(rows_of: npt.NDArray[np.bool_], t: npt.NDArray[np.float64]) -> _Side:
            rows = np.flatnonzero(rows_of)
            t_order, u_order = np.argsort(t[rows]), np.argsort((u - u_slack)[rows])
            return _Side(t[rows][t_order], rows[t_order],
                         (u - u_slack)[rows][u_order], rows[u_order])

        def biggest(values: np.ndarray, where: npt.NDArray[np.bool_]) -> int:
            return int(values[where].max()) if where.any() else 0

        return cls(n, sorted_side(long, long_t + t_slack), sorted_side(short, short_t - t_slack),
                   np.flatnonzero(always), float(s.max()) if n else 0.0,
                   (biggest(columns["loss_snapshot"], long),
                    biggest(columns["loss_snapshot"], short)))

    def candidates(self, marks: tuple[int, int], indexes: tuple[int, int],
                   loss_indexes: tuple[int, int], bps: int) -> Rows | None:
        """The indexed rows that may be under maintenance at the (long, short) `marks` with
        the sides' funding `indexes` and `loss_indexes` (unsorted, maybe repeated; every other
        indexed row is surely not), or None when the market's state is beyond what the bound
        holds for (judge every row)."""
        for index, loss, floor in zip(indexes, loss_indexes, self.max_loss_snapshot,
                                      strict=True):
            if (abs(index) >= _INDEX_LIMIT or loss >= _INDEX_LIMIT or loss < floor
                    or self.max_size * abs(index) / 1000 >= _OWED_LIMIT):
                return None
        b = bps / BPS
        found = [self.always]
        long_mark, short_mark = (float(m) for m in marks)
        long_index, short_index = (float(i) for i in indexes)
        long_loss, short_loss = (float(x) for x in loss_indexes)
        # X per side, and its float error
        x_long = (1 - b) * long_mark - (long_index + long_loss) / 1000
        x_short = (1 + b) * short_mark - (short_index - short_loss) / 1000
        z_long = long_mark * b + long_loss / 1000
        z_short = short_mark * b + short_loss / 1000
        error = _REL_ERROR * (max(long_mark, short_mark)
                              + (max(abs(long_index), abs(short_index))
                                 + max(long_loss, short_loss)) / 1000) + _REL_ERROR
        # a long may be under when X <= its T (+ slack); a short when X >= its T (- slack);
        # either when Z >= its U (- slack)
        found.append(self.long.t_rows[np.searchsorted(self.long.t, x_long - error):])
        found.append(self.short.t_rows[:np.searchsorted(self.short.t, x_short + error,
                                                        side="right")])
        found.append(self.long.u_rows[:np.searchsorted(self.long.u, z_long + error,
                                                       side="right")])
        found.append(self.short.u_rows[:np.searchsorted(self.short.u, z_short + error,
                                                        side="right")])
        return np.concatenate(found)
