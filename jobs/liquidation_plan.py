"""Which positions the program would liquidate at given prices: pure, no I/O.

`is_liquidatable` is the program's rule (`ix_liquidate`, `math/perp.h`) in exact integers,
overflow included: where the program's checked arithmetic overflows it refuses
(MathOverflow), so such a position is not liquidatable. `PositionBook` judges a whole book at
once: numpy arrays per market, a float64 pass with a margin far wider than float64's error
and the integer roundings, and the exact rule for the few positions that the float pass
cannot decide (near the boundary, or values large enough to come near 64-bit overflow). So
its answer is exactly the exact rule's, at numpy's speed.

`owner_of` shards positions over keeper instances by rendezvous hashing: each instance
liquidates its own share, and when one dies only its share moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from solders.pubkey import Pubkey

from program import layouts

FLAT, LONG, SHORT = 0, 1, 2  # the IDL's Side
PRICE_PRECISION = 10**6
BPS = 10_000
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
U64_MAX = 2**64 - 1

# Below this every intermediate of the rule stays under 2^62 in magnitude, far from i64/u64
# overflow, so the float pass may decide; above it the exact rule does.
_SAFE_MAGNITUDE = float(2**61)
# The float pass decides only when equity - maintenance is further from 0 than this: the
# integer roundings (floor pnl, ceil funding, floor notional then ceil margin: under 10
# units) plus a relative error a thousand times float64's worst case over these few ops.
_ROUND_UNITS = 16.0
_REL_ERROR = 1e-12

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Candidate:
    """A position to liquidate; `opened_at` is the stage of its job id (a reopened position
    is a new job)."""

    position: Pubkey
    perp_market: Pubkey
    opened_at: int


def _i64(v: int) -> bool:
    return I64_MIN <= v <= I64_MAX


def _mul_div(a: int, b: int, c: int, *, ceil: bool) -> int:
    """a * b / c rounded down (or up), exactly."""
    return -(-a * b // c) if ceil else a * b // c


def is_liquidatable(side: int, size: int, entry_price: int, collateral: int,
                    funding_snapshot: int, price: int, index: int, maintenance_bps: int) -> bool:
    """Whether `ix_liquidate` would liquidate this position at `price` with the market's
    funding `index`: equity (collateral + pnl - funding owed) below the maintenance margin.
    Flat positions, and any the program's checked arithmetic overflows on, are not."""
    if side == FLAT:
        return False
    if entry_price > I64_MAX or price > I64_MAX:  # perp_pnl
        return False
    diff = price - entry_price if side == LONG else entry_price - price
    pnl = _mul_div(diff, size, PRICE_PRECISION, ceil=False)
    delta = index - funding_snapshot
    if not _i64(pnl) or not _i64(delta):
        return False
    if side != LONG:  # the program negates for any side but long
        delta = -delta
        if not _i64(delta):
            return False
    owed = _mul_div(delta, size, PRICE_PRECISION, ceil=True)
    if not _i64(owed):
        return False
    gain = pnl - owed
    if not _i64(gain) or collateral > I64_MAX:
        return False
    equity = collateral + gain
    notional = size * price // PRICE_PRECISION
    if not _i64(equity) or notional > U64_MAX:
        return False
    maintenance = _mul_div(notional, maintenance_bps, BPS, ceil=True)
    if maintenance > U64_MAX:
        return False
    return equity < 0 or equity < maintenance


def _weight(instance: str, position: Pubkey) -> int:
    digest = hashlib.blake2b(instance.encode() + b"\0" + bytes(position), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


def owner_of(position: Pubkey, instances: Sequence[str]) -> str:
    """The instance that liquidates `position`: the highest hash of (instance, position), so
    removing an instance moves only the positions it owned."""
    if not instances:
        raise ValueError("no instances to shard over")
    return max(instances, key=lambda i: (_weight(i, position), i))


class _Market:
    """One perp market's open positions as arrays: exact values for the integer rule and
    float64 copies for the fast pass."""

    def __init__(self, market: Any, keys: list[Pubkey], records: np.ndarray) -> None:
        """`market` an anchorpy-decoded PerpMarket; `records` its positions' accounts as
        program.layouts.POSITION records, in the order of `keys`."""
        self.oracle: Pubkey = market.oracle
        self.index = int(market.cumulative_funding)
        self.bps = int(market.maintenance_margin_bps)
        self.keys = keys
        self.opened_at = records["opened_at"].tolist()
        self.side = records["side"].astype(np.uint8)
        self.size = records["size"].astype(np.uint64)
        self.entry = records["entry_price"].astype(np.uint64)
        self.collateral = records["collateral"].astype(np.uint64)
        self.snapshot = records["funding_snapshot"].astype(np.int64)
        self.sign = np.where(self.side == LONG, 1.0, -1.0)
        self.size_f = self.size.astype(np.float64)
        self.entry_f = self.entry.astype(np.float64)
        self.collateral_f = self.collateral.astype(np.float64)
        self.snapshot_f = self.snapshot.astype(np.float64)

    def exact(self, i: int, price: int) -> bool:
        return is_liquidatable(int(self.side[i]), int(self.size[i]), int(self.entry[i]),
                               int(self.collateral[i]), int(self.snapshot[i]), price,
                               self.index, self.bps)

    def judge(self, price: int) -> tuple[Bools, Bools]:
        """(surely liquidatable, to confirm exactly) per position at `price`."""
        p, index, bps = float(price), float(self.index), self.bps / BPS
        size = self.size_f / PRICE_PRECISION
        pnl = self.sign * size * (p - self.entry_f)
        owed = self.sign * size * (index - self.snapshot_f)
        maintenance = size * p * bps
        margin = self.collateral_f + pnl - owed - maintenance
        magnitude = (self.collateral_f + size * (p + self.entry_f + abs(index)
                                                 + np.abs(self.snapshot_f)) * (1.0 + bps)
                     + self.entry_f + np.abs(self.snapshot_f) + (p + abs(index)))
        unsafe = magnitude > _SAFE_MAGNITUDE
        tolerance = _ROUND_UNITS + _REL_ERROR * magnitude
        sure = (margin < -tolerance) & ~unsafe
        return sure, unsafe | (np.abs(margin) <= tolerance)


class PositionBook:
    """The open positions of some perp markets, judged all at once against prices."""

    def __init__(self, markets: dict[Pubkey, _Market]) -> None:
        self._markets = markets
        self._shards: dict[tuple[tuple[str, ...], str], dict[Pubkey, Bools]] = {}

    @classmethod
    def from_accounts(cls, markets: Mapping[Pubkey, Any],
                      positions: Sequence[tuple[Pubkey, Any]]) -> PositionBook:
        """From anchorpy-decoded PerpMarket accounts by address and (address, Position)
        pairs; flat positions and those of a market not given are left out."""
        records = np.zeros(len(positions), dtype=layouts.POSITION)
        for field in ("size", "entry_price", "collateral", "funding_snapshot", "opened_at",
                      "side"):
            records[field] = [getattr(p, field) for _, p in positions]
        records["perp_market"] = [np.void(bytes(p.perp_market)) for _, p in positions]
        return cls.from_records(markets, [k for k, _ in positions], records)

    @classmethod
    def from_records(cls, markets: Mapping[Pubkey, Any], keys: Sequence[Pubkey],
                     records: np.ndarray) -> PositionBook:
        """From anchorpy-decoded PerpMarket accounts by address and the positions' accounts
        as program.layouts.POSITION records in the order of `keys` — what a scan of
        10,000 positions decodes in milliseconds; flat positions and those of a market not
        given are left out."""
        open_ = records["side"] != FLAT
        book: dict[Pubkey, _Market] = {}
        owners = records["perp_market"]
        for address, market in markets.items():
            mine = np.flatnonzero(open_ & (owners == np.void(bytes(address))))
            if len(mine):
                book[address] = _Market(market, [keys[i] for i in mine.tolist()], records[mine])
        return cls(book)

    @property
    def oracles(self) -> frozenset[Pubkey]:
        """The oracles of the markets in the book."""
        return frozenset(m.oracle for m in self._markets.values())

    def __len__(self) -> int:
        return sum(len(m.keys) for m in self._markets.values())

    def priced(self, prices: Mapping[Pubkey, int]) -> int:
        """How many of the book's positions `prices` has a price for (those `liquidatable`
        judges)."""
        return sum(len(m.keys) for m in self._markets.values() if m.oracle in prices)

    def _shard(self, instances: Sequence[str], me: str) -> dict[Pubkey, Bools]:
        key = (tuple(instances), me)
        if key not in self._shards:
            self._shards[key] = {
                address: np.array([owner_of(k, instances) == me for k in m.keys], dtype=bool)
                for address, m in self._markets.items()}
        return self._shards[key]

    def liquidatable(self, prices: Mapping[Pubkey, int], *,
                     instances: Sequence[str] | None = None,
                     me: str | None = None) -> list[Candidate]:
        """The positions the program would liquidate at `prices` (by oracle address; markets
        whose oracle has none are skipped); with `instances` and `me`, only those
        `owner_of` gives to `me`."""
        if (instances is None) != (me is None):
            raise ValueError("give both instances and me, or neither")
        shard = None if instances is None or me is None else self._shard(instances, me)
        found: list[Candidate] = []
        for address, m in self._markets.items():
            price = prices.get(m.oracle)
            if price is None:
                continue
            sure, unsure = m.judge(price)
            if shard is not None:
                sure &= shard[address]
                unsure &= shard[address]
            confirmed = [i for i in np.flatnonzero(unsure).tolist() if m.exact(i, price)]
            keys, opened_at = m.keys, m.opened_at
            found.extend(Candidate(keys[i], address, opened_at[i])
                         for i in sorted(np.flatnonzero(sure).tolist() + confirmed))
        return found
