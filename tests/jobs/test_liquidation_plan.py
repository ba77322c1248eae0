"""The liquidation rule and the position book, against the independent perp model."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from chain.funding import Funding
from chain.prices import Quote
from jobs.liquidation_plan import (
    FLAT,
    LONG,
    SHORT,
    U64_MAX,
    Candidate,
    PositionBook,
    is_liquidatable,
    owner_of,
)
from tests.support import perp_model as model
from tests.support.perp_world import perp_market_stub

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
MAX_PRICE = model.MAX_PRICE
u64 = st.one_of(st.integers(0, 10**13), st.integers(0, U64_MAX),
                st.sampled_from([0, 1, I64_MAX, I64_MAX + 1, U64_MAX]))
i64 = st.one_of(st.integers(-(10**12), 10**12), st.integers(I64_MIN, I64_MAX),
                st.sampled_from([I64_MIN, -1, 0, 1, I64_MAX]))
bps = st.integers(0, 10_000)
side = st.sampled_from([LONG, SHORT])
price_st = st.one_of(st.integers(1, 10**12), st.sampled_from([MAX_PRICE, MAX_PRICE + 1]))
conf_st = st.one_of(st.just(0), st.integers(0, 10**7))


def out_of_bounds(p: model.Pos, price: int, conf: int) -> bool:
    """Where the program refuses instead of judging (a bound, InvalidOracle or MathOverflow)."""
    return (price + conf > MAX_PRICE or p.entry > MAX_PRICE
            or p.collateral > model.MAX_COLLATERAL)


@settings(max_examples=2000)
@given(side, st.integers(0, model.MAX_OPEN_INTEREST), st.integers(0, MAX_PRICE + 1), u64, i64,
       u64, price_st, conf_st, i64, bps)
def test_the_rule_is_the_models_and_a_bound_is_not_liquidatable(
        s: int, size: int, entry: int, collateral: int, snapshot: int, reserve: int,
        price: int, conf: int, index: int, maintenance_bps: int) -> None:
    p = model.Pos(s, size, entry, collateral, snapshot, reserve)
    got = is_liquidatable(s, size, entry, collateral, snapshot, reserve,
                          quote=Quote(price, conf), index=index,
                          maintenance_bps=maintenance_bps)
    if out_of_bounds(p, price, conf):
        assert not got
    else:
        assert got == model.liquidatable(p, price, index, maintenance_bps, conf)


@given(side, st.integers(1, 10**12), st.integers(1, MAX_PRICE),
       st.integers(1, MAX_PRICE - 10**6),  # price + conf within the bound
       st.integers(0, 10**6), st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12),
       bps)
def test_the_boundary_is_strictly_below_maintenance(
        s: int, size: int, entry: int, price: int, conf: int, snapshot: int, index: int,
        maintenance_bps: int) -> None:
    probe = model.Pos(s, size, entry, 0, snapshot)
    quote = Quote(price, conf)
    # the collateral at which equity equals maintenance exactly
    at = model.maintenance(probe, price, maintenance_bps, conf) - model.position_equity(
        probe, price, index, conf)
    if at >= 1:
        assert is_liquidatable(s, size, entry, at - 1, snapshot, U64_MAX, quote=quote,
                               index=index, maintenance_bps=maintenance_bps)
    if at >= 0:
        assert not is_liquidatable(s, size, entry, at, snapshot, U64_MAX, quote=quote,
                                   index=index, maintenance_bps=maintenance_bps)


def test_a_flat_position_is_never_liquidatable() -> None:
    assert not is_liquidatable(FLAT, 10**6, 10**8, 0, 0, 0, quote=Quote(1, 0), index=0,
                               maintenance_bps=500)
    assert is_liquidatable(LONG, 10**6, 10**8, 0, 0, 0, quote=Quote(1, 0), index=0,
                           maintenance_bps=500)


def test_profit_counts_only_up_to_the_reserve() -> None:
    """A long up 10 quote with 1 quote of collateral: healthy with an uncapped profit, under
    maintenance (5 % of 110) with its profit capped at a 3 quote reserve."""
    quote = Quote(110_000_000, 0)
    assert not is_liquidatable(LONG, 10**6, 10**8, 10**6, 0, 10**7, quote=quote, index=0,
                               maintenance_bps=500)
    assert is_liquidatable(LONG, 10**6, 10**8, 10**6, 0, 3 * 10**6, quote=quote, index=0,
                           maintenance_bps=500)


def key(n: int) -> Pubkey:
    return Pubkey.from_bytes(n.to_bytes(32, "little"))


def market(oracle: Pubkey, index: int, maintenance_bps: int,
           last_accrual_ts: int = 0) -> SimpleNamespace:
    return perp_market_stub(oracle=oracle, cumulative_funding=index,
                            cumulative_funding_short=index - 1, last_accrual_ts=last_accrual_ts,
                            max_funding_bps=100, long_oi=7, short_oi=3,
                            maintenance_margin_bps=maintenance_bps, pyth_program=key(9))


def position(perp_market: Pubkey, s: int, size: int, entry: int, collateral: int,
             snapshot: int, opened_at: int = 0, reserve: int = U64_MAX) -> SimpleNamespace:
    return SimpleNamespace(perp_market=perp_market, side=s, size=size, entry_price=entry,
                           collateral=collateral, funding_snapshot=snapshot, opened_at=opened_at,
                           reserve=reserve, loss_snapshot=0)


# positions whose collateral sits near the boundary (within a few units or further off),
# realistic ones and huge ones that only the exact rule may judge
near = st.tuples(st.sampled_from([FLAT, LONG, SHORT, LONG, SHORT]),
                 st.one_of(st.integers(1, 10**13), st.integers(1, model.MAX_OPEN_INTEREST)),
                 st.one_of(st.integers(1, 10**12), st.integers(1, MAX_PRICE + 1)),
                 st.one_of(st.integers(-40, 40), st.integers(-(10**7), 10**7)),
                 st.one_of(st.integers(-(10**9), 10**9), i64),
                 st.one_of(st.just(U64_MAX), st.integers(0, 10**9)))
NOW = 7_200


@settings(max_examples=300, deadline=None)
@given(n_markets=st.integers(1, 4),
       markets=st.lists(st.tuples(st.integers(0, 2), st.one_of(st.integers(-(10**9), 10**9), i64),
                                  bps), min_size=4, max_size=4),
       rows=st.lists(st.tuples(st.integers(0, 3), near), max_size=40),
       prices=st.lists(st.one_of(st.none(), st.tuples(price_st, conf_st)), min_size=3,
                       max_size=3))
def test_the_book_is_the_exact_rule(
        n_markets: int, markets: list[tuple[int, int, int]],
        rows: list[tuple[int, tuple[int, int, int, int, int, int]]],
        prices: list[tuple[int, int] | None]) -> None:
    # markets may share an oracle; oracles without a price leave their markets out
    ms = {key(1000 + i): market(key(2000 + o), index, b)
          for i, (o, index, b) in enumerate(markets[:n_markets])}
    quotes = {key(2000 + o): Quote(*p) for o, p in enumerate(prices) if p is not None}

    def index_of(mk: SimpleNamespace, s: int, price: int) -> int:
        long_index, short_index = Funding.of(mk).indexes(price, NOW)
        return long_index if s == LONG else short_index

    positions = []
    for n, (m, (s, size, entry, offset, snapshot, reserve)) in enumerate(rows):
        address = key(1000 + m)  # a market not in the book when m >= n_markets
        mk = ms.get(address, market(key(0), 0, 0))
        quote = quotes.get(mk.oracle, Quote(min(entry, MAX_PRICE), 0))
        probe = model.Pos(s if s != FLAT else LONG, size, entry, 0, snapshot, reserve)
        index = index_of(mk, s, quote.price)
        at = (model.maintenance(probe, quote.price, mk.maintenance_margin_bps, quote.conf)
              - model.position_equity(probe, quote.price, index, quote.conf))
        collateral = min(max(at + offset, 0), U64_MAX)
        positions.append((key(n), position(address, s, size, entry, collateral, snapshot, n,
                                           reserve)))
    book = PositionBook.from_accounts(ms, positions)
    expected = []
    for k, p in positions:
        mk = ms.get(p.perp_market)
        if mk is None or mk.oracle not in quotes:
            continue
        quote = quotes[mk.oracle]
        if is_liquidatable(p.side, p.size, p.entry_price, p.collateral, p.funding_snapshot,
                           p.reserve, quote=quote, index=index_of(mk, p.side, quote.price),
                           maintenance_bps=mk.maintenance_margin_bps):
            expected.append(Candidate(k, p.perp_market, p.opened_at, mk.oracle))
    by_market = {a: quotes[m.oracle] for a, m in ms.items() if m.oracle in quotes}
    got = book.liquidatable(by_market, now=NOW)
    assert sorted(got, key=str) == sorted(expected, key=str)
    assert len(book) == sum(p.side != FLAT and p.perp_market in ms for _, p in positions)
    assert book.oracles == {m.oracle for m in ms.values()
                            if any(p.perp_market in ms and ms[p.perp_market] is m
                                   and p.side != FLAT for _, p in positions)}
    # shards over instances partition the set exactly
    instances = ["a", "b", "c"]
    shards = [book.liquidatable(by_market, now=NOW, instances=instances, me=i)
              for i in instances]
    assert sorted((c for s in shards for c in s), key=str) == sorted(got, key=str)
    for i, shard in zip(instances, shards, strict=True):
        assert all(owner_of(c.position, instances) == i for c in shard)


# Positions a few units either side of maintenance where the integer roundings (pnl floored,
# funding owed ceiled, the margin ceiled over a floored notional) move the exact margin away from
# the float one, so that the float pass deciding alone would misjudge them: (side, size, entry,
# price, maintenance bps, the side's funding index, the collateral from which the position is
# healthy). Their reserves are an ordinary pool's, so that the float pass judges them.
RESERVE = 10**9
ROUNDED = [
    # pnl -2 (float -1.500001), margin 4_995_004 (float 4_995_003.38): at 4_995_005 the
    # position is under maintenance by 1 while its float margin is +0.12
    (LONG, 1_500_001, 100_000_002, 100_000_001, 333, 0, 4_995_006),
    # pnl -2 (float -1.000001), funding owed 2 (float 1.000001), margin 101 (float 100.0001):
    # at 103 and 104 it is under maintenance while its float margin is +1.0 and +2.0
    (LONG, 1_000_001, 1_000_001, 1_000_000, 1, 1_000, 105),
    # at its entry, no pnl; margin 1_499_999 over the notional 2_999_998 floored from
    # 2_999_998.5 (float 1_499_999.25): at the boundary it is healthy while its float margin
    # is -0.25
    (SHORT, 1_999_999, 1_500_000, 1_500_000, 5_000, 0, 1_499_999),
]
OFFSETS = range(-3, 4)


@pytest.mark.parametrize("indexed", [False, True])
def test_the_book_decides_exactly_where_rounding_moves_the_margin(indexed: bool) -> None:
    """The float pass leaves the positions its tolerance cannot decide to the exact rule: it
    never drops a liquidatable position nor takes a healthy one; nor does the threshold index
    (jobs/liquidation_index.py) leave one out."""
    markets, quotes, positions = {}, {}, []
    where: dict[Pubkey, tuple[int, int]] = {}  # position -> (row of ROUNDED, offset)
    expected = []
    for row, (s, size, entry, price, b, index, healthy_from) in enumerate(ROUNDED):
        address = key(1000 + row)
        markets[address] = perp_market_stub(oracle=key(2000 + row), maintenance_margin_bps=b,
                                            cumulative_funding=index,
                                            cumulative_funding_short=index)
        quotes[address] = Quote(price, 0)
        for offset in OFFSETS:
            k = key(100 * row + offset - OFFSETS.start)
            where[k] = (row, offset)
            collateral = healthy_from + offset
            positions.append((k, position(address, s, size, entry, collateral, 0,
                                          reserve=RESERVE)))
            if is_liquidatable(s, size, entry, collateral, 0, RESERVE, quote=Quote(price, 0),
                               index=index, maintenance_bps=b):
                expected.append((row, offset))
    # the table's boundaries are the exact rule's
    assert expected == [(row, offset) for row in range(len(ROUNDED)) for offset in OFFSETS
                        if offset < 0]
    book = PositionBook.from_accounts(markets, positions)
    if indexed:
        book.build_indexes()
        assert all(m.index is not None for m in book._markets.values())
    got = book.liquidatable(quotes, now=0)
    assert sorted(where[c.position] for c in got) == expected


POSITIONS = [Pubkey.from_bytes(bytes([n % 256, n // 256]) + bytes(30)) for n in range(2000)]


def test_owner_of_is_deterministic_and_balanced() -> None:
    instances = ["keeper-1", "keeper-2", "keeper-3", "keeper-4"]
    owners = [owner_of(p, instances) for p in POSITIONS]
    assert owners == [owner_of(p, list(reversed(instances))) for p in POSITIONS]
    counts = Counter(owners)
    assert set(counts) == set(instances)
    assert all(400 <= c <= 600 for c in counts.values()), counts


def test_removing_an_instance_moves_only_its_positions() -> None:
    instances = ["keeper-1", "keeper-2", "keeper-3", "keeper-4"]
    before = {p: owner_of(p, instances) for p in POSITIONS}
    after = {p: owner_of(p, instances[:2] + instances[3:]) for p in POSITIONS}
    moved = {p for p in POSITIONS if before[p] != after[p]}
    assert moved == {p for p in POSITIONS if before[p] == "keeper-3"}
    # and its share spreads over all the others
    assert set(Counter(after[p] for p in moved)) == {"keeper-1", "keeper-2", "keeper-4"}


def test_a_shard_needs_both_instances_and_me() -> None:
    book = PositionBook.from_accounts({}, [])
    assert book.liquidatable({}, now=0) == [] and len(book) == 0
    try:
        book.liquidatable({}, now=0, me="a")
    except ValueError:
        return
    raise AssertionError("me without instances was taken")
