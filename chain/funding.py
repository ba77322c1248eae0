"""A perp market's continuous funding accrual (`perp_accrue` in program/src/instructions/
perp_common.c, `perp_funding_rate_ppm` and `perp_accrual` in program/src/math/perp.h) in exact
integers: pure, no I/O. The liquidator values positions with it, the localnet's seeder writes
positions as if opened at an accrued market."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class FundingFields(Protocol):
    """The fields of a PerpMarket account that its funding accrual reads."""

    @property
    def cumulative_funding(self) -> int: ...
    @property
    def cumulative_funding_short(self) -> int: ...
    @property
    def last_accrual_ts(self) -> int: ...
    @property
    def funding_interval_secs(self) -> int: ...
    @property
    def max_funding_bps(self) -> int: ...
    @property
    def long_oi(self) -> int: ...
    @property
    def short_oi(self) -> int: ...
    @property
    def funding_remainder(self) -> int: ...


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
    funding_remainder: int = 0  # the exact index's fraction, in units of 1/(interval * 10^6)

    @classmethod
    def of(cls, market: FundingFields) -> Funding:
        """From a PerpMarket account (or anything with its fields)."""
        return cls(int(market.cumulative_funding), int(market.cumulative_funding_short),
                   int(market.last_accrual_ts), int(market.funding_interval_secs),
                   int(market.max_funding_bps), int(market.long_oi), int(market.short_oi),
                   int(market.funding_remainder))

    def indexes(self, price: int, now: int) -> tuple[int, int]:
        """The (long, short) funding indexes once accrued to `now` at `price`."""
        return accrued_indexes(self, price, now)


def accrued_indexes(f: Funding, price: int, now: int) -> tuple[int, int]:
    """The (long, short) funding indexes `perp_accrue` leaves at `now`."""
    long_index, short_index, _ = accrue(f, price, now)
    return long_index, short_index


def accrue(f: Funding, price: int, now: int) -> tuple[int, int, int]:
    """`perp_accrue`: the exact index moves by rate * price * elapsed * 10^3 / (interval *
    10^6), its fraction carried in funding_remainder (so how often a market accrues changes
    nothing); the short index is its floor, the long index its ceiling, both wrapping as i64.
    Returns (long index, short index, remainder)."""
    unchanged = f.cumulative_funding, f.cumulative_funding_short, f.funding_remainder
    elapsed = now - f.last_accrual_ts
    rate = funding_rate_ppm(f.long_oi, f.short_oi, f.max_funding_bps)
    if elapsed <= 0 or rate == 0:
        return unchanged
    num = rate * price * min(elapsed, MAX_ELAPSED_SECS) * 1000
    down, after = divmod(f.funding_remainder + num, f.funding_interval_secs * PPM)
    up = down + (after > 0) - (f.funding_remainder > 0)
    return (wrap_i64(f.cumulative_funding + up), wrap_i64(f.cumulative_funding_short + down),
            after)
