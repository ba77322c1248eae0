"""Which positions the program would liquidate at given quotes and time: pure, no I/O.

`is_liquidatable` is the program's rule (`ix_liquidate`, `math/perp.h`) in exact integers:
the market's funding accrued to `now` at the open interest in force (ppm rate, the long index
rounding up and the short index down), the position valued at the price closing it would
trade at (a long sells at price - conf, a short buys at price + conf), its profit capped at its
pool reserve, equity below the maintenance margin of the notional at that price. Where the
program refuses for a bound (a price beyond PERP_MAX_PRICE, collateral beyond
PERP_MAX_COLLATERAL) the position is not liquidatable. `PositionBook` judges a whole book at
once: numpy arrays per market, a float64 pass with a margin far wider than float64's error
and the integer roundings, and the exact rule for the few positions the float pass cannot
decide (near the boundary, or values large enough to come near 64-bit limits). So its answer is
exactly the exact rule's, at numpy's speed.

`owner_of` shards positions over keeper instances by rendezvous hashing: each instance
liquidates its own share, and when one dies only its share moves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from solders.pubkey import Pubkey

from chain.funding import Funding, FundingFields, wrap_i64
from chain.prices import PERP_MAX_PRICE, OracleLimitFields, OracleLimits, Quote
from program import layouts

FLAT, LONG, SHORT = 0, 1, 2  # the IDL's Side
PRICE_PRECISION = 10**6
FUNDING_PRECISION = 10**9  # size (10^6) x funding index scale (10^3)
BPS = 10_000
U64_MAX = 2**64 - 1
MAX_COLLATERAL = 2**61
CLAMP = 2**61

# Below this every intermediate of the rule stays under 2^62 in magnitude, so the float pass
# may decide; above it (or with a wrapped funding difference) the exact rule does.
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


class BookMarket(FundingFields, OracleLimitFields, Protocol):
    """The fields of a PerpMarket account that judging its positions reads (a decoded
    program.accounts.PerpMarket has them)."""

    @property
    def oracle(self) -> Pubkey: ...
    @property
    def pyth_program(self) -> Pubkey: ...
    @property
    def maintenance_margin_bps(self) -> int: ...
    @property
    def loss_index_long(self) -> int: ...
    @property
    def loss_index_short(self) -> int: ...


class BookPosition(Protocol):
    """The fields of a Position account that the book holds."""

    @property
    def perp_market(self) -> Pubkey: ...
    @property
    def side(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def entry_price(self) -> int: ...
    @property
    def collateral(self) -> int: ...
    @property
    def reserve(self) -> int: ...
    @property
    def funding_snapshot(self) -> int: ...
    @property
    def loss_snapshot(self) -> int: ...
    @property
    def opened_at(self) -> int: ...


@dataclass(frozen=True)
class OracleRule:
    """How `perp_quote` reads a perp market's oracle: the oracle, the program that must own
    it and the limits the market copied at creation (markets sharing an oracle may differ)."""

    oracle: Pubkey
    pyth_program: Pubkey
    limits: OracleLimits

    @classmethod
    def of(cls, market: BookMarket) -> OracleRule:
        """From a PerpMarket account."""
        return cls(market.oracle, market.pyth_program, OracleLimits.from_market(market))


def mark_price(side: int, quote: Quote) -> int:
    """Where closing trades: a long sells at price - conf (not below 0), a short buys at
    price + conf."""
    if side == LONG:
        return max(quote.price - quote.conf, 0)
    return quote.price + quote.conf


def funding_owed(side: int, size: int, index: int, snapshot: int) -> int:
    """`perp_funding_owed`: rounded up, the wrapped difference, clamped to +-2^61."""
    delta = wrap_i64(index - snapshot if side == LONG else snapshot - index)
    return max(-CLAMP, min(CLAMP, -(-delta * size // FUNDING_PRECISION)))


def loss_share(size: int, loss_index: int, loss_snapshot: int) -> int:
    """`perp_loss_share`: what of the other side's socialized bad debt a position's profit
    pays since it opened, size * (index - snapshot) / 10^9 rounded up (U64_MAX past it)."""
    share = -(-size * ((loss_index - loss_snapshot) % 2**64) // FUNDING_PRECISION)
    return min(share, U64_MAX)


def is_liquidatable(side: int, size: int, entry_price: int, collateral: int,
                    funding_snapshot: int, reserve: int, *, quote: Quote, index: int,
                    maintenance_bps: int, loss: int = 0) -> bool:
    """Whether `ix_liquidate` would liquidate this position at `quote` with the side's funding
    `index` (accrued to now) and its profit first paying `loss` (its `loss_share`): equity
    (collateral + min(pnl - funding owed, reserve), less min(that gain, loss) when positive)
    at the mark below the maintenance margin. Flat positions, and any the program refuses for
    a bound, are not."""
    if side == FLAT or quote.price > PERP_MAX_PRICE or quote.conf > PERP_MAX_PRICE - quote.price:
        return False
    mark = mark_price(side, quote)
    if entry_price > PERP_MAX_PRICE or collateral > MAX_COLLATERAL:
        return False
    diff = mark - entry_price if side == LONG else entry_price - mark
    pnl = diff * size // PRICE_PRECISION
    gain = min(pnl - funding_owed(side, size, index, funding_snapshot), reserve)
    haircut = min(gain, loss) if gain > 0 else 0
    notional = size * mark // PRICE_PRECISION
    if notional > U64_MAX:
        return False
    maintenance = -(-notional * maintenance_bps // BPS)
    return collateral + gain - haircut < maintenance


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

    def __init__(self, market: BookMarket, keys: list[Pubkey], records: np.ndarray) -> None:
        """`market` a PerpMarket account; `records` its positions' accounts as
        program.layouts.POSITION records, in the order of `keys`."""
        self.rule = OracleRule.of(market)
        self.oracle: Pubkey = market.oracle
        self.funding = Funding.of(market)
        self.bps = int(market.maintenance_margin_bps)
        self.keys = keys
        self.opened_at = records["opened_at"].tolist()
        self.side = records["side"].astype(np.uint8)
        self.size = records["size"].astype(np.uint64)
        self.entry = records["entry_price"].astype(np.uint64)
        self.collateral = records["collateral"].astype(np.uint64)
        self.snapshot = records["funding_snapshot"].astype(np.int64)
        self.reserve = records["reserve"].astype(np.uint64)
        self.loss_snapshot = records["loss_snapshot"].astype(np.uint64)
        self.loss_index = (int(market.loss_index_long), int(market.loss_index_short))
        self.long = self.side == LONG
        self.sign = np.where(self.long, 1.0, -1.0)
        self.size_f = self.size.astype(np.float64)
        self.entry_f = self.entry.astype(np.float64)
        self.collateral_f = self.collateral.astype(np.float64)
        self.snapshot_f = self.snapshot.astype(np.float64)
        self.reserve_f = self.reserve.astype(np.float64)
        # the loss index only rises, so index - snapshot is never negative
        self.loss_f = self.size_f * (
            np.where(self.long, float(self.loss_index[0]), float(self.loss_index[1]))
            - self.loss_snapshot.astype(np.float64)) / FUNDING_PRECISION

    def exact(self, i: int, quote: Quote, indexes: tuple[int, int]) -> bool:
        side = int(self.side[i])
        return is_liquidatable(side, int(self.size[i]), int(self.entry[i]),
                               int(self.collateral[i]), int(self.snapshot[i]),
                               int(self.reserve[i]), quote=quote,
                               index=indexes[0] if side == LONG else indexes[1],
                               maintenance_bps=self.bps,
                               loss=loss_share(int(self.size[i]),
                                               self.loss_index[0 if side == LONG else 1],
                                               int(self.loss_snapshot[i])))

    def judge(self, quote: Quote, indexes: tuple[int, int]) -> tuple[Bools, Bools]:
        """(surely liquidatable, to confirm exactly) per position at `quote`."""
        bps = self.bps / BPS
        mark = np.where(self.long, float(mark_price(LONG, quote)),
                        float(mark_price(SHORT, quote)))
        index = np.where(self.long, float(indexes[0]), float(indexes[1]))
        size = self.size_f / PRICE_PRECISION
        pnl = self.sign * size * (mark - self.entry_f)
        # a long owes the index's rise, a short its fall (index units are 10^-3 quote)
        owed = self.sign * size * (index - self.snapshot_f) / 1000.0
        gain = np.minimum(pnl - owed, self.reserve_f)
        haircut = np.where(gain > 0, np.minimum(gain, self.loss_f), 0.0)
        margin = self.collateral_f + gain - haircut - size * mark * bps
        magnitude = (self.collateral_f + self.reserve_f + self.loss_f
                     + size * (mark + self.entry_f) * (1.0 + bps)
                     + size * (np.abs(index) + np.abs(self.snapshot_f)) / 1000.0
                     + self.entry_f + mark + np.abs(index) + np.abs(self.snapshot_f))
        unsafe = ((magnitude > _SAFE_MAGNITUDE) | (self.collateral_f > MAX_COLLATERAL)
                  | (self.entry_f > PERP_MAX_PRICE))
        tolerance = _ROUND_UNITS + _REL_ERROR * magnitude
        sure = (margin < -tolerance) & ~unsafe
        return sure, unsafe | (np.abs(margin) <= tolerance)


class PositionBook:
    """The open positions of some perp markets, judged all at once against prices."""

    def __init__(self, markets: dict[Pubkey, _Market]) -> None:
        self._markets = markets
        self._shards: dict[tuple[tuple[str, ...], str], dict[Pubkey, Bools]] = {}

    @classmethod
    def from_accounts(cls, markets: Mapping[Pubkey, BookMarket],
                      positions: Sequence[tuple[Pubkey, BookPosition]]) -> PositionBook:
        """From PerpMarket accounts by address and (address, Position)
        pairs; flat positions and those of a market not given are left out."""
        records = np.zeros(len(positions), dtype=layouts.POSITION)
        for field in ("size", "entry_price", "collateral", "reserve", "funding_snapshot",
                      "loss_snapshot", "opened_at", "side"):
            records[field] = [getattr(p, field) for _, p in positions]
        records["perp_market"] = [np.void(bytes(p.perp_market)) for _, p in positions]
        return cls.from_records(markets, [k for k, _ in positions], records)

    @classmethod
    def from_records(cls, markets: Mapping[Pubkey, BookMarket], keys: Sequence[Pubkey],
                     records: np.ndarray) -> PositionBook:
        """From PerpMarket accounts by address and the positions' accounts
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

    @property
    def rules(self) -> dict[Pubkey, OracleRule]:
        """How the program reads each market's oracle (perp market → its rule)."""
        return {address: m.rule for address, m in self._markets.items()}

    def __len__(self) -> int:
        return sum(len(m.keys) for m in self._markets.values())

    def priced(self, quotes: Mapping[Pubkey, Quote]) -> int:
        """How many of the book's positions `quotes` has a quote for (those `liquidatable`
        judges)."""
        return sum(len(m.keys) for a, m in self._markets.items() if a in quotes)

    def _shard(self, instances: Sequence[str], me: str) -> dict[Pubkey, Bools]:
        key = (tuple(instances), me)
        if key not in self._shards:
            self._shards[key] = {
                address: np.array([owner_of(k, instances) == me for k in m.keys], dtype=bool)
                for address, m in self._markets.items()}
        return self._shards[key]

    def liquidatable(self, quotes: Mapping[Pubkey, Quote], *, now: int,
                     instances: Sequence[str] | None = None,
                     me: str | None = None) -> list[Candidate]:
        """The positions the program would liquidate at `quotes` (by perp market, each its
        oracle's quote as the program takes it for that market; markets without one are
        skipped) with funding accrued to `now` (the chain's unix time); with `instances` and
        `me`, only those `owner_of` gives to `me`."""
        if (instances is None) != (me is None):
            raise ValueError("give both instances and me, or neither")
        shard = None if instances is None or me is None else self._shard(instances, me)
        found: list[Candidate] = []
        for address, m in self._markets.items():
            quote = quotes.get(address)
            if quote is None or quote.price > PERP_MAX_PRICE or (
                    quote.conf > PERP_MAX_PRICE - quote.price):  # the program refuses it
                continue
            indexes = m.funding.indexes(quote.price, now)
            sure, unsure = m.judge(quote, indexes)
            if shard is not None:
                sure &= shard[address]
                unsure &= shard[address]
            confirmed = [i for i in np.flatnonzero(unsure).tolist()
                         if m.exact(i, quote, indexes)]
            keys, opened_at = m.keys, m.opened_at
            found.extend(Candidate(keys[i], address, opened_at[i])
                         for i in sorted(np.flatnonzero(sure).tolist() + confirmed))
        return found
