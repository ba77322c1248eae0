"""Scan throughput: `python -m bench.scan`.

Positions judged per second from prices already in memory, at several book sizes (10k, 100k,
1M by default; `--quick` 10k and 100k):

- real path: `PositionBook.liquidatable(quotes)` (jobs/liquidation_plan.py), what the
  liquidator's scan and price trigger call: numpy over the whole book, the exact integer rule
  for the few positions near the boundary;
- baseline: a plain Python loop calling `is_liquidatable` once per position, as common keepers
  judge their positions.

The book: two perp markets on two oracles, half the positions each; sizes of 0.1-10 base
units, entry prices around 100, collateral 9-50 % of the notional, funding snapshots around
the index, an hour of funding to accrue, a confidence of 0.05 quote, so that a fall to 92 puts
a few percent of the positions under maintenance. Both
sides judge the same book at the same prices and must find the same positions (checked: a
benchmark of a wrong answer is worth nothing). Building the book (decoding accounts into
arrays) is not timed: it happens when the book is loaded, not at every price. Each timing is
the best of `--repeats` runs.

Writes bench/results/scan.json in the shape of bench/report.py.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey

from bench.report import BenchResult, Figure, conclude
from chain.funding import Funding
from chain.prices import Quote
from jobs.liquidation_plan import LONG, SHORT, PositionBook, is_liquidatable

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
TARGET_PER_S = 1_000_000  # issue 7: positions judged per second, the real path
PRICE_E6 = 92_000_000  # a fall from about 100
ENTRY_E6 = 100_000_000
MAINTENANCE_BPS = 500
INDEX = 1_000_000


PYTH_PROGRAM = Pubkey.from_bytes(bytes(31) + b"\x01")  # any owner: the scan reads none
NOW = 1_700_003_600  # an hour after the markets last accrued: funding to accrue first
CONF_E6 = 50_000


@dataclass(frozen=True, slots=True)
class PerpMarket:
    """The fields of a decoded PerpMarket account that the judgement reads."""

    oracle: Pubkey
    cumulative_funding: int
    maintenance_margin_bps: int
    cumulative_funding_short: int = 0
    last_accrual_ts: int = NOW - 3_600
    funding_interval_secs: int = 3_600
    max_funding_bps: int = 10
    long_oi: int = 2_000_000
    short_oi: int = 1_000_000
    pyth_program: Pubkey = PYTH_PROGRAM
    max_oracle_staleness_slots: int = 25
    max_oracle_conf_bps: int = 200
    oracle_kind: int = 0
    feed_id: tuple[int, ...] = (0,) * 32
    max_price_age_secs: int = 60
    funding_remainder: int = 0
    loss_index_long: int = 0
    loss_index_short: int = 0


@dataclass(frozen=True, slots=True)
class Position:
    """The fields of a decoded Position account that the judgement reads."""

    perp_market: Pubkey
    side: int
    size: int
    entry_price: int
    collateral: int
    funding_snapshot: int
    opened_at: int
    reserve: int = 2**63
    loss_snapshot: int = 0


def _key(n: int, tag: int) -> Pubkey:
    return Pubkey.from_bytes(n.to_bytes(31, "little") + bytes([tag]))


def make_book(count: int, seed: int = 7) -> tuple[dict[Pubkey, PerpMarket],
                                                   list[tuple[Pubkey, Position]],
                                                   dict[Pubkey, Quote]]:
    """(markets by address, (address, position) pairs, prices by oracle) of `count`
    positions split over two markets (see the module's docstring)."""
    rng = random.Random(seed)
    markets = {_key(m, 1): PerpMarket(_key(m, 2), INDEX * (m + 1), MAINTENANCE_BPS,
                                      INDEX * (m + 1) - 1)
               for m in range(2)}
    addresses = list(markets)
    positions = []
    for n in range(count):
        address = addresses[n % 2]
        size = rng.randint(100_000, 10_000_000)
        entry = ENTRY_E6 + rng.randint(-5_000_000, 5_000_000)
        notional = size * entry // 1_000_000
        collateral = int(notional * rng.uniform(0.09, 0.50))
        side = LONG if n % 3 else SHORT
        index = (markets[address].cumulative_funding if side == LONG
                 else markets[address].cumulative_funding_short)
        snapshot = index - rng.randint(-500_000_000, 500_000_000)
        positions.append((_key(n, 3), Position(address, side, size, entry, collateral,
                                               snapshot, n, notional)))
    prices = {m.oracle: Quote(PRICE_E6, CONF_E6) for m in markets.values()}
    return markets, positions, prices


def naive_scan(markets: dict[Pubkey, PerpMarket], positions: Sequence[tuple[Pubkey, Position]],
               prices: dict[Pubkey, Quote]) -> list[Pubkey]:
    """The baseline: each position judged alone by the exact rule, in a Python loop (the
    market's accrual computed once per market, as any keeper would)."""
    found = []
    indexes = {a: Funding.of(m).indexes(prices[m.oracle].price, NOW)
               for a, m in markets.items() if m.oracle in prices}
    for key, p in positions:
        m = markets[p.perp_market]
        quote = prices.get(m.oracle)
        if quote is None:
            continue
        long_index, short_index = indexes[p.perp_market]
        if is_liquidatable(p.side, p.size, p.entry_price, p.collateral, p.funding_snapshot,
                           p.reserve, quote=quote,
                           index=long_index if p.side == LONG else short_index,
                           maintenance_bps=m.maintenance_margin_bps):
            found.append(key)
    return found


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """(fastest wall time in seconds, the last answer) over `repeats` runs."""
    best, answer = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        answer = run()
        best = min(best, time.perf_counter() - started)
    return best, answer


@dataclass(frozen=True)
class Scale:
    n: int
    value: float  # positions per second, real path
    baseline: float  # positions per second, naive loop
    found: int

    def to_json(self) -> dict[str, float]:
        return {"n": self.n, "value": round(self.value), "baseline": round(self.baseline),
                "found": self.found}


def measure(n: int, repeats: int) -> Scale:
    markets, positions, prices = make_book(n)
    book = PositionBook.from_accounts(markets, positions)
    quotes = {a: prices[m.oracle] for a, m in markets.items()}  # as each market takes them
    fast_s, fast = best_of(repeats, lambda: book.liquidatable(quotes, now=NOW))
    # the baseline at 1M takes seconds a run: fewer repeats do
    naive_s, naive = best_of(max(1, repeats if n <= 100_000 else 1),
                             lambda: naive_scan(markets, positions, prices))
    if sorted(c.position for c in fast) != sorted(naive):
        raise RuntimeError(f"{n:,} positions: PositionBook found {len(fast)}, the per-position "
                           f"rule {len(naive)}: not the same positions")
    return Scale(n, n / fast_s, n / naive_s, len(naive))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.scan", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", help="book sizes (default 10k 100k 1M)")
    parser.add_argument("--quick", action="store_true", help="10k and 100k only")
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing (best kept)")
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    scales = []
    for n in sizes:
        scales.append(measure(n, args.repeats))
        s = scales[-1]
        print(f"{n:>9,} positions: PositionBook {s.value:>13,.0f}/s, per-position loop "
              f"{s.baseline:>11,.0f}/s ({s.found:,} liquidatable)", flush=True)
    figures = [Figure.of(f"positions judged per second, {s.n:,} positions", s.value,
                         "positions/s", baseline=s.baseline,
                         target=TARGET_PER_S)
               for s in scales]
    result = BenchResult("scan", figures, {
        "scales": [s.to_json() for s in scales], "price_e6": PRICE_E6, "markets": 2,
        "repeats": args.repeats,
        "baseline": "Python loop calling is_liquidatable per position"})
    return conclude(result, f"PositionBook against a per-position loop; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
