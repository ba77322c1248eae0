"""The liquidation rule and the position book, against the independent perp model."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from jobs.liquidation_plan import (
    FLAT,
    I64_MAX,
    I64_MIN,
    LONG,
    SHORT,
    U64_MAX,
    Candidate,
    PositionBook,
    is_liquidatable,
    owner_of,
)
from tests.program import perp_model as model

u64 = st.one_of(st.integers(0, 10**13), st.integers(0, U64_MAX),
                st.sampled_from([0, 1, I64_MAX, I64_MAX + 1, U64_MAX]))
i64 = st.one_of(st.integers(-(10**12), 10**12), st.integers(I64_MIN, I64_MAX),
                st.sampled_from([I64_MIN, -1, 0, 1, I64_MAX]))
bps = st.integers(0, 2**16 - 1)
side = st.sampled_from([LONG, SHORT])


def fits_i64(*values: int) -> bool:
    return all(I64_MIN <= v <= I64_MAX for v in values)


def model_overflows(p: model.Pos, price: int, index: int, maintenance_bps: int) -> bool:
    """Whether the program's checked arithmetic would overflow on this position."""
    if p.entry > I64_MAX or price > I64_MAX or p.collateral > I64_MAX:
        return True
    delta = index - p.snapshot
    pnl = model.pnl(p.side, p.size, p.entry, price)
    owed = model.funding_owed(p.side, p.size, index, p.snapshot)
    notional = model.notional(p.size, price)
    return (not fits_i64(delta, -delta, pnl, owed, pnl - owed, p.collateral + pnl - owed)
            or notional > U64_MAX or model.margin(notional, maintenance_bps) > U64_MAX)


@settings(max_examples=2000)
@given(side, u64, u64, u64, i64, u64, i64, bps)
def test_the_rule_is_the_models_and_overflow_is_not_liquidatable(
        s: int, size: int, entry: int, collateral: int, snapshot: int, price: int, index: int,
        maintenance_bps: int) -> None:
    p = model.Pos(s, size, entry, collateral, snapshot)
    got = is_liquidatable(s, size, entry, collateral, snapshot, price, index, maintenance_bps)
    if model_overflows(p, price, index, maintenance_bps):
        assert not got
    else:
        assert got == model.liquidatable(p, price, index, maintenance_bps)


@given(side, st.integers(1, 10**12), st.integers(1, 10**12), st.integers(1, 10**12),
       st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12), bps)
def test_the_boundary_is_strictly_below_maintenance(
        s: int, size: int, entry: int, price: int, snapshot: int, index: int,
        maintenance_bps: int) -> None:
    probe = model.Pos(s, size, entry, 0, snapshot)
    # the collateral at which equity equals maintenance exactly
    at = model.maintenance(probe, price, maintenance_bps) - model.position_equity(
        probe, price, index)
    if at >= 1:
        assert is_liquidatable(s, size, entry, at - 1, snapshot, price, index, maintenance_bps)
    if at >= 0:
        assert not is_liquidatable(s, size, entry, at, snapshot, price, index, maintenance_bps)


def test_a_flat_position_is_never_liquidatable() -> None:
    assert not is_liquidatable(FLAT, 10**6, 10**8, 0, 0, 1, 0, 500)
    assert is_liquidatable(LONG, 10**6, 10**8, 0, 0, 1, 0, 500)


def key(n: int) -> Pubkey:
    return Pubkey.from_bytes(n.to_bytes(32, "little"))


def market(oracle: Pubkey, index: int, maintenance_bps: int) -> SimpleNamespace:
    return SimpleNamespace(oracle=oracle, cumulative_funding=index,
                           maintenance_margin_bps=maintenance_bps)


def position(perp_market: Pubkey, s: int, size: int, entry: int, collateral: int,
             snapshot: int, opened_at: int = 0) -> SimpleNamespace:
    return SimpleNamespace(perp_market=perp_market, side=s, size=size, entry_price=entry,
                           collateral=collateral, funding_snapshot=snapshot, opened_at=opened_at)


# positions whose collateral sits near the boundary (within a few units or further off),
# realistic ones and huge ones that only the exact rule may judge
near = st.tuples(st.sampled_from([FLAT, LONG, SHORT, LONG, SHORT]),
                 st.one_of(st.integers(1, 10**13), u64), st.one_of(st.integers(1, 10**12), u64),
                 st.one_of(st.integers(-40, 40), st.integers(-(10**7), 10**7)),
                 st.one_of(st.integers(-(10**9), 10**9), i64))


@settings(max_examples=300, deadline=None)
@given(n_markets=st.integers(1, 4),
       markets=st.lists(st.tuples(st.integers(0, 2), st.one_of(st.integers(-(10**9), 10**9), i64),
                                  bps), min_size=4, max_size=4),
       rows=st.lists(st.tuples(st.integers(0, 3), near), max_size=40),
       prices=st.lists(st.one_of(st.none(), st.integers(1, 10**12), u64), min_size=3,
                       max_size=3))
def test_the_book_is_the_exact_rule(n_markets: int, markets: list[tuple[int, int, int]],
                                    rows: list[tuple[int, tuple[int, int, int, int, int]]],
                                    prices: list[int | None]) -> None:
    # markets may share an oracle; oracles without a price leave their markets out
    ms = {key(1000 + i): market(key(2000 + o), index, b)
          for i, (o, index, b) in enumerate(markets[:n_markets])}
    oracle_prices = {key(2000 + o): p for o, p in enumerate(prices) if p is not None}
    positions = []
    for n, (m, (s, size, entry, offset, snapshot)) in enumerate(rows):
        address = key(1000 + m)  # a market not in the book when m >= n_markets
        mk = ms.get(address, market(key(0), 0, 0))
        price = oracle_prices.get(mk.oracle, entry)
        probe = model.Pos(s if s != FLAT else LONG, size, entry, 0, snapshot)
        at = (model.maintenance(probe, price, mk.maintenance_margin_bps)
              - model.position_equity(probe, price, mk.cumulative_funding))
        collateral = min(max(at + offset, 0), U64_MAX)
        positions.append((key(n), position(address, s, size, entry, collateral, snapshot, n)))
    book = PositionBook.from_accounts(ms, positions)
    expected = [Candidate(k, p.perp_market, p.opened_at) for k, p in positions
                if p.perp_market in ms and ms[p.perp_market].oracle in oracle_prices
                and is_liquidatable(p.side, p.size, p.entry_price, p.collateral,
                                    p.funding_snapshot, oracle_prices[ms[p.perp_market].oracle],
                                    ms[p.perp_market].cumulative_funding,
                                    ms[p.perp_market].maintenance_margin_bps)]
    got = book.liquidatable(oracle_prices)
    assert sorted(got, key=str) == sorted(expected, key=str)
    assert len(book) == sum(p.side != FLAT and p.perp_market in ms for _, p in positions)
    assert book.oracles == {m.oracle for m in ms.values()
                            if any(p.perp_market in ms and ms[p.perp_market] is m
                                   and p.side != FLAT for _, p in positions)}
    # shards over instances partition the set exactly
    instances = ["a", "b", "c"]
    shards = [book.liquidatable(oracle_prices, instances=instances, me=i) for i in instances]
    assert sorted((c for s in shards for c in s), key=str) == sorted(got, key=str)
    for i, shard in zip(instances, shards, strict=True):
        assert all(owner_of(c.position, instances) == i for c in shard)


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
    assert book.liquidatable({}) == [] and len(book) == 0
    try:
        book.liquidatable({}, me="a")
    except ValueError:
        return
    raise AssertionError("me without instances was taken")
