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
exactly the exact rule's, at numpy's speed. Once a market's threshold index is built
(jobs/liquidation_index.py, `build_indexes` or `index_builds`), a price judges only the positions
it may reach and those changed since the index was built, not the whole market.

`owner_of` shards positions over keeper instances by rendezvous hashing (weights vectorized
over a whole book, `PositionBook.assign` working a share out off a price's path): each instance
liquidates its own share, and when one dies only its share moves.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from solders.pubkey import Pubkey

from chain.funding import Funding, FundingFields, wrap_i64
from chain.prices import PERP_MAX_PRICE, OracleLimitFields, OracleLimits, Quote
from jobs.liquidation_index import Rows, ThresholdIndex
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
_POSITION_DISCRIMINATOR = layouts.discriminator("Position")


@dataclass(frozen=True)
class Candidate:
    """A position to liquidate, its market and that market's oracle; `opened_at` is the stage
    of its job id (a reopened position is a new job)."""

    position: Pubkey
    perp_market: Pubkey
    opened_at: int
    oracle: Pubkey


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


_U64 = npt.NDArray[np.uint64]
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix(z: _U64) -> _U64:
    """splitmix64's finalizer, elementwise: a bijection of 64-bit words whose every output bit
    depends on every input bit (numpy's uint64 arithmetic wraps, as it must here)."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def key_hashes(keys: Sequence[Pubkey]) -> _U64:
    """Each position's address folded into one 64-bit word, what its rendezvous weights start
    from (vectorized: a whole book's in milliseconds)."""
    words = np.frombuffer(b"".join(bytes(k) for k in keys), dtype="<u8").reshape(-1, 4)
    h = np.zeros(len(keys), np.uint64)
    for column in range(4):
        h = _mix(h ^ words[:, column])
    return h


def _seed(instance: str) -> np.uint64:
    return np.uint64(int.from_bytes(
        hashlib.blake2b(instance.encode(), digest_size=8).digest(), "little"))


def weights(instance: str, hashes: _U64) -> _U64:
    """`instance`'s rendezvous weight for each position of `hashes` (`key_hashes`)."""
    return _mix(hashes ^ _seed(instance))


def owned(me: str, weights_by_instance: Mapping[str, _U64]) -> Bools:
    """Which positions go to `me` among the instances of `weights_by_instance` (each one's
    `weights` over the same positions, `me`'s among them): those where `me` has the highest
    weight, the greater name winning a tie."""
    mine = weights_by_instance[me]
    wins = np.ones(len(mine), dtype=bool)
    for other, theirs in weights_by_instance.items():
        if other != me:
            wins &= (mine > theirs) | ((mine == theirs) & (me > other))
    return wins


def owner_of(position: Pubkey, instances: Sequence[str]) -> str:
    """The instance that liquidates `position`: the highest weight of (instance, position), so
    removing an instance moves only the positions it owned."""
    if not instances:
        raise ValueError("no instances to shard over")
    h = key_hashes([position])
    return max(instances, key=lambda i: (int(weights(i, h)[0]), i))


# the integer columns a book keeps per position (the Position fields the rule reads), and
# the float64 copies its fast pass reads
_EXACT = {"side": np.uint8, "size": np.uint64, "entry_price": np.uint64,
          "collateral": np.uint64, "funding_snapshot": np.int64, "reserve": np.uint64,
          "loss_snapshot": np.uint64, "opened_at": np.int64}
_FLOAT = ("size", "entry_price", "collateral", "funding_snapshot", "reserve", "loss_snapshot")
_FIRST_CAPACITY = 16


def _grown(values: np.ndarray, capacity: int, used: int) -> np.ndarray:
    """A zeroed array of `capacity` rows with the first `used` of `values`."""
    new = np.zeros(capacity, values.dtype)
    new[:used] = values[:used]
    return new

# a market's index is built anew once more of its rows than this changed since (those are
# judged at every price meanwhile)
_INDEX_STALE_ROWS, _INDEX_STALE_SHARE = 1024, 1 / 64


# what a market's last verdict rested on, per perp market (`PositionBook.liquidatable`)
Judged = dict[Pubkey, tuple[object, ...]]
# every change of any market's positions or account takes the next number: a book loaded
# anew never repeats an old one's
_VERSIONS = itertools.count()


class _Market:
    """One perp market's open positions as columns: exact values for the integer rule and
    float64 copies for the fast pass. Rows 0..n-1 hold the positions; a position is changed
    in place, added at the end (the columns doubling when full) and removed by moving the
    last row into its place, so each change costs O(1) amortized."""

    def __init__(self, market: BookMarket) -> None:
        self.set_market(market)
        self.keys: list[Pubkey] = []
        self.row: dict[Pubkey, int] = {}
        self.exact_columns = {name: np.zeros(0, dtype) for name, dtype in _EXACT.items()}
        self.float_columns = {name: np.zeros(0, np.float64) for name in _FLOAT}
        self.hashes: _U64 = np.zeros(0, np.uint64)  # key_hashes of the rows
        # whose share each row is, for the last (instances, me) asked (None: not yet asked),
        # from each of those instances' weights, kept per row as the rows change so that a
        # new member costs one vectorized pass and a row added only its own
        self.shard_of: tuple[tuple[str, ...], str] | None = None
        self.weights: dict[str, _U64] = {}
        self.mine = np.zeros(0, dtype=bool)
        # which rows a price may put under maintenance (jobs/liquidation_index.py), and the
        # rows changed since it was built (and since a build under way began)
        self.index: ThresholdIndex | None = None
        self.changed = np.zeros(0, dtype=bool)
        self.changed_since_build: np.ndarray | None = None
        self.build_under_way: IndexBuild | None = None

    def set_market(self, market: BookMarket) -> None:
        """The market's account as now (its funding and loss indexes move on)."""
        self.version = next(_VERSIONS)
        self.rule = OracleRule.of(market)
        self.oracle: Pubkey = market.oracle
        self.funding = Funding.of(market)
        self.bps = int(market.maintenance_margin_bps)
        self.loss_index = (int(market.loss_index_long), int(market.loss_index_short))

    def __len__(self) -> int:
        return len(self.keys)

    def column(self, name: str) -> np.ndarray:
        """The exact column `name` over the rows in use (a view)."""
        return self.exact_columns[name][:len(self.keys)]

    def floats(self, name: str) -> Floats:
        """The float64 copy of column `name` over the rows in use (a view)."""
        return self.float_columns[name][:len(self.keys)]

    def _reserve(self, n: int) -> None:
        capacity = len(self.exact_columns["side"])
        if n <= capacity:
            return
        capacity = max(n, 2 * capacity, _FIRST_CAPACITY)
        for columns in (self.exact_columns, self.float_columns):
            for name, old in columns.items():
                columns[name] = _grown(old, capacity, len(self.keys))
        self.hashes = _grown(self.hashes, capacity, len(self.keys))
        self.weights = {i: _grown(w, capacity, len(self.keys)) for i, w in self.weights.items()}
        self.mine = _grown(self.mine, capacity, len(self.keys))
        self.changed = _grown(self.changed, capacity, len(self.keys))
        if self.changed_since_build is not None:
            self.changed_since_build = _grown(self.changed_since_build, capacity,
                                              len(self.keys))

    def _touch(self, start: int, end: int) -> None:
        self.changed[start:end] = True
        if self.changed_since_build is not None:
            self.changed_since_build[start:end] = True

    def extend(self, keys: Sequence[Pubkey], records: np.ndarray) -> None:
        """Add positions not in the book yet (POSITION records in the order of `keys`)."""
        self.version = next(_VERSIONS)
        start, end = len(self.keys), len(self.keys) + len(keys)
        self._reserve(end)
        for name in _EXACT:
            self.exact_columns[name][start:end] = records[name]
        for name in _FLOAT:
            self.float_columns[name][start:end] = records[name]
        self.keys.extend(keys)
        self.row.update(zip(keys, range(start, end), strict=True))
        self._touch(start, end)
        self.hashes[start:end] = key_hashes(keys)
        if self.shard_of is not None:
            for instance, w in self.weights.items():
                w[start:end] = weights(instance, self.hashes[start:end])
            self._own(self.shard_of[1], start, end)

    def put(self, key: Pubkey, record: np.void) -> None:
        """Add the position at `key`, or change it in place."""
        self.version = next(_VERSIONS)
        i = self.row.get(key)
        if i is None:
            self.extend([key], np.array([record], dtype=record.dtype))
            return
        for name in _EXACT:
            self.exact_columns[name][i] = record[name]
        for name in _FLOAT:
            self.float_columns[name][i] = record[name]
        self._touch(i, i + 1)

    def remove(self, key: Pubkey) -> None:
        """Drop the position at `key` (if held): the last row moves into its place."""
        i = self.row.pop(key, None)
        if i is None:
            return
        self.version = next(_VERSIONS)
        last = len(self.keys) - 1
        if i != last:
            moved = self.keys[last]
            self.keys[i] = moved
            self.row[moved] = i
            for values in (*self.exact_columns.values(), *self.float_columns.values(),
                           *self.weights.values(), self.hashes, self.mine):
                values[i] = values[last]
            self._touch(i, i + 1)
        self.keys.pop()

    def shard(self, instances: tuple[str, ...], me: str) -> Bools:
        """Which rows `owner_of` gives to `me` among `instances` (recomputed only when they
        changed, and then only a joining instance's weights)."""
        if self.shard_of != (instances, me):
            n, kept = len(self.keys), {}
            for instance in instances:
                w = self.weights.get(instance)
                if w is None:
                    w = np.zeros(len(self.hashes), np.uint64)
                    w[:n] = weights(instance, self.hashes[:n])
                kept[instance] = w
            self.weights, self.shard_of = kept, (instances, me)
            self._own(me, 0, n)
        return self.mine[:len(self.keys)]

    def _own(self, me: str, start: int, end: int) -> None:
        """Set whether rows start..end-1 are `me`'s share, from the weights kept."""
        if me in self.weights:
            self.mine[start:end] = owned(me, {i: w[start:end] for i, w in self.weights.items()})
        else:  # not a member (yet): nothing is its share
            self.mine[start:end] = False

    def index_build(self) -> IndexBuild | None:
        """A new index of the rows as now, when there is none or too many rows changed since
        it was built; None when the index is current enough."""
        n = len(self.keys)
        if self.index is not None and int(np.count_nonzero(self.changed[:n])) <= max(
                _INDEX_STALE_ROWS, int(n * _INDEX_STALE_SHARE)):
            return None
        # the rows changed from here on are those the new index will not know
        self.changed_since_build = np.zeros(len(self.changed), dtype=bool)
        build = self.build_under_way = IndexBuild(
            self, {name: self.column(name).copy() for name in _INDEXED})
        return build

    def install(self, build: IndexBuild, index: ThresholdIndex) -> None:
        """Use `index`, built by `build` from the rows as they were when it began (unless a
        later build began since)."""
        if self.build_under_way is build and self.changed_since_build is not None:
            self.index, self.changed = index, self.changed_since_build
            self.changed_since_build = self.build_under_way = None

    def candidate_rows(self, quote: Quote, indexes: tuple[int, int]) -> Rows | None:
        """The rows that may be under maintenance at `quote` with funding `indexes`, sorted:
        those the index finds and those changed since it was built; None to judge them
        all."""
        if self.index is None:
            return None
        found = self.index.candidates((mark_price(LONG, quote), mark_price(SHORT, quote)),
                                      indexes, self.loss_index, self.bps)
        if found is None:
            return None
        n = len(self.keys)
        return np.union1d(found[found < n], np.flatnonzero(self.changed[:n]))

    def exact(self, i: int, quote: Quote, indexes: tuple[int, int]) -> bool:
        side = int(self.column("side")[i])
        size = int(self.column("size")[i])
        return is_liquidatable(side, size, int(self.column("entry_price")[i]),
                               int(self.column("collateral")[i]),
                               int(self.column("funding_snapshot")[i]),
                               int(self.column("reserve")[i]), quote=quote,
                               index=indexes[0] if side == LONG else indexes[1],
                               maintenance_bps=self.bps,
                               loss=loss_share(size, self.loss_index[0 if side == LONG else 1],
                                               int(self.column("loss_snapshot")[i])))

    def judge(self, quote: Quote, indexes: tuple[int, int],
              rows: Rows | None = None) -> tuple[Bools, Bools]:
        """(surely liquidatable, to confirm exactly) per position at `quote` (of `rows`, in
        their order, or of every row)."""
        def floats(name: str) -> Floats:
            values = self.floats(name)
            return values if rows is None else values[rows]

        bps = self.bps / BPS
        long = (self.column("side") if rows is None else self.column("side")[rows]) == LONG
        sign = np.where(long, 1.0, -1.0)
        entry, collateral = floats("entry_price"), floats("collateral")
        snapshot, reserve = floats("funding_snapshot"), floats("reserve")
        mark = np.where(long, float(mark_price(LONG, quote)), float(mark_price(SHORT, quote)))
        index = np.where(long, float(indexes[0]), float(indexes[1]))
        size = floats("size") / PRICE_PRECISION
        # the loss index only rises, so index - snapshot is never negative on chain (a
        # snapshot above it wraps in the program: the exact rule judges that)
        loss_snapshot = self.column("loss_snapshot")
        loss_snapshot = loss_snapshot if rows is None else loss_snapshot[rows]
        wrapped = np.where(long, loss_snapshot > np.uint64(self.loss_index[0]),
                           loss_snapshot > np.uint64(self.loss_index[1]))
        loss = floats("size") * (
            np.where(long, float(self.loss_index[0]), float(self.loss_index[1]))
            - floats("loss_snapshot")) / FUNDING_PRECISION
        pnl = sign * size * (mark - entry)
        # a long owes the index's rise, a short its fall (index units are 10^-3 quote)
        owed = sign * size * (index - snapshot) / 1000.0
        gain = np.minimum(pnl - owed, reserve)
        haircut = np.where(gain > 0, np.minimum(gain, loss), 0.0)
        margin = collateral + gain - haircut - size * mark * bps
        magnitude = (collateral + reserve + loss
                     + size * (mark + entry) * (1.0 + bps)
                     + size * (np.abs(index) + np.abs(snapshot)) / 1000.0
                     + entry + mark + np.abs(index) + np.abs(snapshot))
        unsafe = ((magnitude > _SAFE_MAGNITUDE) | (collateral > MAX_COLLATERAL)
                  | (entry > PERP_MAX_PRICE) | wrapped)
        tolerance = _ROUND_UNITS + _REL_ERROR * magnitude
        sure = (margin < -tolerance) & ~unsafe
        return sure, unsafe | (np.abs(margin) <= tolerance)


_INDEXED = ("side", "size", "entry_price", "collateral", "funding_snapshot", "reserve",
            "loss_snapshot")


@dataclass
class IndexBuild:
    """A market's index being built anew from a copy of its rows: `run()` anywhere (a worker
    thread: numpy sorts without the interpreter lock), then `install()` where the book is
    changed (rows changed between the two are judged at every price until the next)."""

    market: _Market
    columns: dict[str, np.ndarray]
    index: ThresholdIndex | None = None

    def run(self) -> None:
        self.index = ThresholdIndex.build(self.columns, PERP_MAX_PRICE)

    def install(self) -> None:
        if self.index is not None:
            self.market.install(self, self.index)


class PositionBook:
    """The open positions of some perp markets, judged all at once against prices, and kept
    current one account at a time (`put_position`, `remove_position`, `put_market`)."""

    def __init__(self, markets: Mapping[Pubkey, BookMarket] | None = None) -> None:
        """An empty book of `markets` (PerpMarket accounts by address)."""
        self._markets = {address: _Market(m) for address, m in (markets or {}).items()}
        # open positions of a market not in the book yet, added when it is (a position's
        # notification may come before its new market's)
        self._orphans: dict[Pubkey, np.void] = {}

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
        book = cls(markets)
        open_ = (records["side"] != FLAT) & (records["size"] != 0)
        owners = records["perp_market"]
        for address, market in book._markets.items():
            mine = np.flatnonzero(open_ & (owners == np.void(bytes(address))))
            if len(mine):
                market.extend([keys[i] for i in mine.tolist()], records[mine])
        return book

    @property
    def oracles(self) -> frozenset[Pubkey]:
        """The oracles of the markets in the book with open positions."""
        return frozenset(m.oracle for m in self._markets.values() if len(m))

    @property
    def rules(self) -> dict[Pubkey, OracleRule]:
        """How the program reads each market's oracle (perp market with open positions → its
        rule)."""
        return {address: m.rule for address, m in self._markets.items() if len(m)}

    @property
    def markets(self) -> frozenset[Pubkey]:
        """The perp markets the book knows, with open positions or not."""
        return frozenset(self._markets)

    def __len__(self) -> int:
        return sum(len(m) for m in self._markets.values())

    def __contains__(self, position: object) -> bool:
        return any(position in m.row for m in self._markets.values())

    def put_market(self, address: Pubkey, market: BookMarket) -> None:
        """A perp market's account as now: a new market joins the book (with the positions
        already told of it), a known one's funding and loss indexes move on."""
        known = self._markets.get(address)
        if known is not None:
            known.set_market(market)
            return
        added = self._markets[address] = _Market(market)
        owned = np.void(bytes(address))
        for key in [k for k, r in self._orphans.items() if r["perp_market"] == owned]:
            added.put(key, self._orphans.pop(key))

    def put_position(self, address: Pubkey, data: bytes) -> None:
        """A Position account's data as now: held while open, dropped once flat, closed or
        not a position (in O(1) amortized: the columns change in place)."""
        if len(data) != layouts.POSITION.itemsize or data[:8] != _POSITION_DISCRIMINATOR:
            self.remove_position(address)
            return
        record = layouts.positions(data)[0]
        if record["side"] == FLAT or record["size"] == 0:
            self.remove_position(address)
            return
        market = self._markets.get(Pubkey(bytes(record["perp_market"])))
        if market is None:
            self._orphans[address] = record.copy()
        else:
            market.put(address, record)

    def remove_position(self, address: Pubkey) -> None:
        """Drop a position (flat, or its account gone), if held."""
        self._orphans.pop(address, None)
        for market in self._markets.values():
            market.remove(address)

    def assign(self, instances: Sequence[str], me: str) -> None:
        """Work out now which positions `owner_of` gives to `me` among `instances`, so that
        `liquidatable` with the same finds it done (vectorized, and only for what changed:
        call it when the fleet's members change, off a price's path)."""
        for m in self._markets.values():
            m.shard(tuple(instances), me)

    def index_builds(self) -> list[IndexBuild]:
        """The markets' indexes to build anew (missing, or too many rows changed since), each
        from a copy of its rows taken now."""
        return [b for b in (m.index_build() for m in self._markets.values()) if b is not None]

    def build_indexes(self) -> None:
        """Build every index that needs it, here."""
        for build in self.index_builds():
            build.run()
            build.install()

    def priced(self, quotes: Mapping[Pubkey, Quote]) -> int:
        """How many of the book's positions `quotes` has a quote for (those `liquidatable`
        judges)."""
        return sum(len(m) for a, m in self._markets.items() if a in quotes)

    def liquidatable(self, quotes: Mapping[Pubkey, Quote], *, now: int,
                     instances: Sequence[str] | None = None,
                     me: str | None = None, judged: Judged | None = None) -> list[Candidate]:
        """The positions the program would liquidate at `quotes` (by perp market, each its
        oracle's quote as the program takes it for that market; markets without one are
        skipped) with funding accrued to `now` (the chain's unix time); with `instances` and
        `me`, only those `owner_of` gives to `me`. With `judged`, a market whose positions,
        quote, funding indexes and share are all as when it was last judged with it is
        skipped (its verdict would be the same: at half a million positions a judging takes
        tens of milliseconds, and an oracle rewrites an unchanged price several times a
        second), and `judged` keeps what each verdict rests on."""
        if (instances is None) != (me is None):
            raise ValueError("give both instances and me, or neither")
        found: list[Candidate] = []
        for address, m in self._markets.items():
            quote = quotes.get(address)
            if not len(m) or quote is None or quote.price > PERP_MAX_PRICE or (
                    quote.conf > PERP_MAX_PRICE - quote.price):  # the program refuses it
                continue
            indexes = m.funding.indexes(quote.price, now)
            if judged is not None:
                basis = (m.version, quote, indexes,
                         None if instances is None else tuple(instances), me)
                if judged.get(address) == basis:
                    continue
                judged[address] = basis
            rows = m.candidate_rows(quote, indexes)
            sure, unsure = m.judge(quote, indexes, rows)
            if instances is not None and me is not None:
                mine = m.shard(tuple(instances), me)
                sure &= mine if rows is None else mine[rows]
                unsure &= mine if rows is None else mine[rows]
            if rows is None:
                sure_rows, unsure_rows = np.flatnonzero(sure), np.flatnonzero(unsure)
            else:
                sure_rows, unsure_rows = rows[sure], rows[unsure]
            confirmed = [i for i in unsure_rows.tolist() if m.exact(i, quote, indexes)]
            keys, opened_at = m.keys, m.column("opened_at")
            found.extend(Candidate(keys[i], address, int(opened_at[i]), m.rule.oracle)
                         for i in sorted(sure_rows.tolist() + confirmed))
        return found
