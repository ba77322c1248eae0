"""The book's threshold index (jobs/liquidation_index.py): a book judged through it finds exactly
what the exact rule finds, at any prices, funding and socialized-loss indexes, with the index
built before, between or after any changes; and it judges only the positions a price may
reach."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from chain.prices import PERP_MAX_PRICE, Quote
from jobs.liquidation_plan import (
    BPS,
    FLAT,
    LONG,
    PRICE_PRECISION,
    SHORT,
    U64_MAX,
    PositionBook,
    funding_owed,
    is_liquidatable,
    loss_share,
    mark_price,
)
from program import layouts
from tests.support.perp_world import perp_market_stub

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
MARKET = Pubkey.from_bytes(bytes([7]) * 32)
DISCRIMINATOR = layouts.discriminator("Position")


def key(n: int) -> Pubkey:
    return Pubkey.from_bytes(n.to_bytes(32, "little"))


def account(side: int, size: int, entry: int, collateral: int, snapshot: int, reserve: int,
            loss_snapshot: int) -> bytes:
    r = np.zeros(1, dtype=layouts.POSITION)
    r["discriminator"] = np.void(DISCRIMINATOR)
    r["perp_market"] = np.void(bytes(MARKET))
    r["side"], r["size"], r["entry_price"], r["collateral"] = side, size, entry, collateral
    r["funding_snapshot"], r["reserve"], r["loss_snapshot"] = snapshot, reserve, loss_snapshot
    return r.tobytes()


def boundary(side: int, size: int, entry: int, snapshot: int, reserve: int, loss: int,
             quote: Quote, index: int, bps: int) -> int:
    """The collateral from which the position is healthy at `quote` (below it, liquidatable)."""
    mark = mark_price(side, quote)
    pnl = (mark - entry if side == LONG else entry - mark) * size // PRICE_PRECISION
    gain = min(pnl - funding_owed(side, size, index, snapshot), reserve)
    haircut = min(gain, loss) if gain > 0 else 0
    return -(-(size * mark // PRICE_PRECISION) * bps // BPS) - gain + haircut


u64 = st.one_of(st.integers(0, 10**13), st.sampled_from([0, 1, 2**61, 2**63, U64_MAX]))
i64 = st.one_of(st.integers(-(10**12), 10**12), st.integers(I64_MIN, I64_MAX),
                st.sampled_from([I64_MIN, -1, 0, 1, I64_MAX]))
loss_index = st.one_of(st.integers(0, 10**12), st.sampled_from([0, 2**60, U64_MAX]))
price = st.one_of(st.integers(1, 10**12), st.just(PERP_MAX_PRICE))
quote = st.builds(Quote, price, st.one_of(st.just(0), st.integers(0, 10**7)))
position = st.tuples(
    st.sampled_from([LONG, SHORT]),
    st.one_of(st.integers(1, 10**13), st.integers(1, U64_MAX)),  # size
    st.one_of(st.integers(1, 10**12), st.integers(1, PERP_MAX_PRICE + 1)),  # entry
    st.one_of(st.integers(-40, 40), st.integers(-(10**8), 10**8), st.none()),  # collateral
    st.one_of(st.integers(-(10**9), 10**9), i64),  # funding snapshot
    st.one_of(st.just(U64_MAX), st.integers(0, 10**9), u64),  # reserve
    st.one_of(st.just(0), st.integers(0, 10**12), loss_index))  # loss snapshot


@settings(max_examples=400, deadline=None)
@given(bps=st.integers(0, 10_000), indexes=st.tuples(i64, i64),
       losses=st.tuples(loss_index, loss_index), at=quote,
       positions=st.lists(position, max_size=30), changes=st.lists(
           st.tuples(st.integers(0, 29), st.one_of(st.none(), position)), max_size=15),
       built_after=st.integers(0, 15), quotes=st.lists(quote, min_size=1, max_size=3))
def test_an_indexed_book_finds_what_the_exact_rule_finds(
        bps: int, indexes: tuple[int, int], losses: tuple[int, int], at: Quote,
        positions: list[tuple[int, int, int, int | None, int, int, int]],
        changes: list[tuple[int, tuple[int, int, int, int | None, int, int, int] | None]],
        built_after: int, quotes: list[Quote]) -> None:
    market = perp_market_stub(cumulative_funding=indexes[0], cumulative_funding_short=indexes[1],
                              loss_index_long=losses[0], loss_index_short=losses[1],
                              maintenance_margin_bps=bps)
    book = PositionBook({MARKET: market})
    held: dict[Pubkey, tuple[int, int, int, int, int, int, int]] = {}

    def put(address: Pubkey, p: tuple[int, int, int, int | None, int, int, int] | None) -> None:
        if p is None:
            book.put_position(address, account(FLAT, 0, 0, 0, 0, 0, 0))
            held.pop(address, None)
            return
        side, size, entry, offset, snapshot, reserve, loss_snapshot = p
        i = 0 if side == LONG else 1
        # near the boundary at `at` (collateral offset from it), or anything
        collateral = (min(max(boundary(side, size, entry, snapshot, reserve,
                                       loss_share(size, losses[i], loss_snapshot), at,
                                       indexes[i], bps) + offset, 0), U64_MAX)
                      if offset is not None else size % 10**9)
        row = (side, size, entry, collateral, snapshot, reserve, loss_snapshot)
        book.put_position(address, account(*row))
        held[address] = row

    for n, p in enumerate(positions):
        put(key(n), p)
    for step, (n, p) in enumerate(changes):
        if step == built_after:
            book.build_indexes()
        put(key(n), p)
    if built_after >= len(changes):
        book.build_indexes()
    for q in [at, *quotes]:
        expected = set()
        if q.price <= PERP_MAX_PRICE and q.conf <= PERP_MAX_PRICE - q.price:
            for address, (side, size, entry, collateral, snapshot, reserve, ls) in held.items():
                i = 0 if side == LONG else 1
                if is_liquidatable(side, size, entry, collateral, snapshot, reserve, quote=q,
                                   index=indexes[i], maintenance_bps=bps,
                                   loss=loss_share(size, losses[i], ls)):
                    expected.add(address)
        got = book.liquidatable({MARKET: q}, now=0)
        assert {c.position for c in got} == expected


def test_a_price_judges_only_the_positions_it_may_reach() -> None:
    """20,000 positions far from maintenance and 10 near it: a crash judges the 10 and the
    positions changed since the index was built, not the book."""
    market = perp_market_stub(maintenance_margin_bps=500)
    book = PositionBook({MARKET: market})
    entry, size = 100_000_000, 1_000_000
    for n in range(20_010):
        fragile = n < 10
        book.put_position(key(n), account(LONG if n % 2 or fragile else SHORT, size, entry,
                                          10_000_000 if fragile else 60_000_000, 0, U64_MAX, 0))
    crash = Quote(90_000_000, 0)
    m = book._markets[MARKET]
    assert m.candidate_rows(crash, (0, 0)) is None  # no index yet: every row is judged
    book.build_indexes()
    rows = m.candidate_rows(crash, (0, 0))
    assert rows is not None and sorted(rows.tolist()) == list(range(10))
    book.put_position(key(15_000), account(SHORT, size, entry, 60_000_000, 0, U64_MAX, 0))
    changed = m.row[key(15_000)]
    rows = m.candidate_rows(crash, (0, 0))
    assert rows is not None and rows.tolist() == [*range(10), changed]
    assert {c.position for c in book.liquidatable({MARKET: crash}, now=0)} == {
        key(n) for n in range(10)}
    # a market state beyond the bound's range is judged row by row
    assert m.candidate_rows(crash, (2**60, 0)) is None


def test_a_funding_credit_the_program_clamps_is_judged_in_full() -> None:
    """A long credited more funding than the program's clamp (2^61) pays with its loss share
    what the bound would count as credited: beyond the bound's range, the market is judged
    row by row."""
    size, entry, price = 10**12, 10**12, 10**11
    long_index, loss_index = -(2**59), 14 * 10**14
    market = perp_market_stub(cumulative_funding=long_index, loss_index_long=loss_index,
                              maintenance_margin_bps=5_000)
    book = PositionBook({MARKET: market})
    collateral = 10**16
    book.put_position(key(1), account(LONG, size, entry, collateral, 0, 10**19, 0))
    quote = Quote(price, 0)
    assert is_liquidatable(LONG, size, entry, collateral, 0, 10**19, quote=quote,
                           index=long_index, maintenance_bps=5_000,
                           loss=loss_share(size, loss_index, 0))
    book.build_indexes()
    assert [c.position for c in book.liquidatable({MARKET: quote}, now=0)] == [key(1)]


def test_an_index_is_built_anew_once_many_rows_changed_and_keeps_changes_made_meanwhile() -> None:
    market = perp_market_stub(maintenance_margin_bps=500)
    book = PositionBook({MARKET: market})
    entry, size, healthy, fragile = 100_000_000, 1_000_000, 60_000_000, 10_000_000
    for n in range(2_000):
        book.put_position(key(n), account(LONG, size, entry, healthy, 0, U64_MAX, 0))
    book.build_indexes()
    assert book.index_builds() == []  # current
    for n in range(1_100):  # past the 1,024 rows a market's index may trail by
        book.put_position(key(n), account(LONG, size, entry, healthy + 1, 0, U64_MAX, 0))
    (build,) = book.index_builds()
    build.run()
    # changed while the build ran on a copy: still judged once it is installed
    book.put_position(key(1_500), account(LONG, size, entry, fragile, 0, U64_MAX, 0))
    build.install()
    m = book._markets[MARKET]
    crash = Quote(90_000_000, 0)
    rows = m.candidate_rows(crash, (0, 0))
    assert rows is not None and rows.tolist() == [m.row[key(1_500)]]
    assert [c.position for c in book.liquidatable({MARKET: crash}, now=0)] == [key(1_500)]
    # a build overtaken by a later one is not installed over it
    for n in range(1_100):
        book.put_position(key(n), account(LONG, size, entry, healthy + 2, 0, U64_MAX, 0))
    (first,) = book.index_builds()
    (second,) = book.index_builds()
    first.run()
    second.run()
    first.install()
    assert m.build_under_way is second
    second.install()
    assert m.index is second.index and m.build_under_way is None
