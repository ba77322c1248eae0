"""A perp market's continuous funding accrual (`perp_accrue` in program/src/instructions/
perp_common.c, `perp_funding_rate_ppm` and `perp_accrual` in program/src/math/perp.h) in exact
integers: pure, no I/O. The liquidator values positions with it, the localnet's seeder writes
positions as if opened at an accrued market."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PPM = 10**6
MAX_ELAPSED_SECS = 2**40  # one accrual's elapsed time is capped there


def wrap_i64(x: int) -> int:
    """`x` wrapped to a signed 64-bit integer (the indexes wrap; only differences count)."""
    x %= 2**64
    return x - 2**64 if x >= 2**63 else x


def funding_rate_ppm(long_oi: int, short_oi: int, max_bps: int) -> int:
    """max_bps * 100 * (long - short) / (long + short), truncated toward zero."""
    total = long_oi + short_oi
    if total == 0:
        return 0
    magnitude = abs(long_oi - short_oi) * max_bps * 100 // total
    return magnitude if long_oi >= short_oi else -magnitude


@dataclass(frozen=True)
class Funding:
    """What a market's funding accrual needs (PerpMarket fields)."""

    cumulative_funding: int
    cumulative_funding_short: int
    last_accrual_ts: int
    funding_interval_secs: int
    max_funding_bps: int
    long_oi: int
    short_oi: int

    @classmethod
    def of(cls, market: Any) -> Funding:
        """From an anchorpy-decoded PerpMarket (or anything with its fields)."""
        return cls(int(market.cumulative_funding), int(market.cumulative_funding_short),
                   int(market.last_accrual_ts), int(market.funding_interval_secs),
                   int(market.max_funding_bps), int(market.long_oi), int(market.short_oi))

    def indexes(self, price: int, now: int) -> tuple[int, int]:
        """The (long, short) funding indexes once accrued to `now` at `price`."""
        return accrued_indexes(self, price, now)


def accrued_indexes(f: Funding, price: int, now: int) -> tuple[int, int]:
    """`perp_accrue`: the long index moves by rate * price * elapsed * 10^3 / (interval *
    10^6) rounded up, the short index rounded down, both wrapping as i64."""
    elapsed = now - f.last_accrual_ts
    if elapsed <= 0:
        return f.cumulative_funding, f.cumulative_funding_short
    rate = funding_rate_ppm(f.long_oi, f.short_oi, f.max_funding_bps)
    num = rate * price * min(elapsed, MAX_ELAPSED_SECS) * 1000
    den = f.funding_interval_secs * PPM
    return (wrap_i64(f.cumulative_funding - (-num // den)),
            wrap_i64(f.cumulative_funding_short + num // den))
