"""Funding on the real SVM: the rate (ppm) from the open-interest imbalance, clamped; accrued
continuously at every position instruction; update_funding reporting once per interval; and
what longs and shorts pay and receive when they close."""

from __future__ import annotations

import pytest

from program.svm import TxResult
from tests.support import perp_model as m
from tests.support.perps import LONG, SHORT, Perp, open_perp
from tests.support.program_world import World

PRICE = 123_456_789  # not round: every division below has a remainder
HOUR = 3_600


def only_event(result: TxResult, name: str) -> object:
    assert [e.name for e in result.events] == [name]
    return result.events[0].data


def open_oi(perp: Perp, long_oi: int, short_oi: int) -> None:
    for side, size in ((LONG, long_oi), (SHORT, short_oi)):
        if size:
            perp.open(perp.trader(), side, size)


@pytest.mark.parametrize(("long_oi", "short_oi", "rate"), [
    (5_000_000, 2_000_000, 428),  # long-heavy: 1000 ppm * 3/7 = 428.6, longs pay
    (3_000_000, 4_000_000, -142),  # short-heavy: -1000 * 1/7 = -142.9 truncates to -142
    (2_000_000, 2_000_000, 0),  # balanced
    (1_000_000, 0, 1_000),  # longs only: the cap, max_funding_bps in ppm
    (0, 1_000_000, -1_000),  # shorts only: the cap on the other side
    (0, 0, 0),  # nobody open
], ids=["long-heavy", "short-heavy", "balanced", "longs-only", "shorts-only", "no-oi"])
def test_rate_follows_the_open_interest(world: World, long_oi: int, short_oi: int,
                                        rate: int) -> None:
    perp = open_perp(world, price=PRICE)
    prm = perp.params
    assert prm.funding_interval_secs == HOUR
    open_oi(perp, long_oi, short_oi)
    assert m.funding_rate(long_oi, short_oi, prm.max_funding_bps) == rate
    start = perp.state().last_funding_ts
    world.chain.set_time(start + HOUR)
    r = world.ok(perp.update_funding_ix())

    up, down = m.accrual(rate, PRICE, HOUR, HOUR)
    # the long index rounds up, the short index down: both toward the protocol
    assert up - down == (0 if rate * PRICE * 1000 % 10**6 == 0 else 1)
    s = perp.state()
    assert (s.cumulative_funding, s.cumulative_funding_short) == (up, down)
    assert (s.last_funding_ts, s.last_accrual_ts) == (start + HOUR, start + HOUR)
    e = only_event(r, "FundingUpdated")
    assert (e.perp_market, e.rate_ppm, e.intervals, e.price) == (perp.market, rate, 1, PRICE)
    assert (e.cumulative_funding, e.cumulative_funding_short, e.last_funding_ts) == (
        up, down, start + HOUR)
    assert (e.long_oi, e.short_oi) == (long_oi, short_oi)


def test_a_small_imbalance_still_pays() -> None:
    """10 % imbalance with a 5 bps cap: 0.5 bps is 50 ppm, not a truncated 0."""
    assert m.funding_rate(1_100_000, 900_000, 5) == 50
    assert m.funding_rate(1_100_000, 900_000, 10) == 100


def test_too_early_until_the_interval_ends(world: World) -> None:
    perp = open_perp(world, price=PRICE)
    open_oi(perp, 2_000_000, 1_000_000)
    start = perp.state().last_funding_ts
    assert start == world.chain.now()  # the schedule starts when the market is created
    world.chain.set_time(start + HOUR - 1)
    world.refused("TooEarly", perp.update_funding_ix())
    world.chain.set_time(start + HOUR)
    world.ok(perp.update_funding_ix())
    assert perp.state().last_funding_ts == start + HOUR
    # reported: the next report is due an interval later, not now
    world.refused("TooEarly", perp.update_funding_ix())
    world.chain.set_time(start + 2 * HOUR - 1)
    world.refused("TooEarly", perp.update_funding_ix())


def test_a_late_keeper_changes_nothing(world: World) -> None:
    """Accrual is continuous: one update after 4 h - 1 s gives the index of the elapsed time,
    and the report stays on its grid."""
    perp = open_perp(world, price=PRICE)
    open_oi(perp, 5_000_000, 2_000_000)
    rate = 428
    start = perp.state().last_funding_ts
    world.chain.set_time(start + 4 * HOUR - 1)
    e = only_event(world.ok(perp.update_funding_ix()), "FundingUpdated")
    up, down = m.accrual(rate, PRICE, 4 * HOUR - 1, HOUR)
    assert (e.rate_ppm, e.intervals, e.cumulative_funding, e.cumulative_funding_short) == (
        rate, 3, up, down)
    assert e.last_funding_ts == perp.state().last_funding_ts == start + 3 * HOUR
    world.refused("TooEarly", perp.update_funding_ix())
    world.chain.set_time(start + 4 * HOUR)
    e = only_event(world.ok(perp.update_funding_ix()), "FundingUpdated")
    assert (e.intervals, e.last_funding_ts) == (1, start + 4 * HOUR)
    # the fraction is carried: two accruals end where one over the whole span would
    assert (e.cumulative_funding, e.cumulative_funding_short) == m.accrual(
        rate, PRICE, 4 * HOUR, HOUR)


@pytest.mark.parametrize(("long_size", "short_size"), [
    (3_333_333, 1_234_567), (1_234_567, 3_333_333),
], ids=["longs-pay", "shorts-pay"])
def test_funding_paid_and_received_on_close(world: World, long_size: int,
                                            short_size: int) -> None:
    perp = open_perp(world, price=PRICE)
    prm = perp.params
    long_, short = perp.trader(), perp.trader()
    perp.open(long_, LONG, long_size)
    perp.open(short, SHORT, short_size)
    start = perp.state().last_accrual_ts

    rate = m.funding_rate(long_size, short_size, prm.max_funding_bps)
    assert rate == (459 if long_size > short_size else -459)
    world.chain.set_time(start + HOUR)
    world.ok(perp.update_funding_ix())
    long1, short1 = m.accrual(rate, PRICE, HOUR, HOUR)
    assert (perp.state().cumulative_funding, perp.state().cumulative_funding_short) == (
        long1, short1)

    # a late long starts from the index at its opening, rounded down (the short index): it
    # owes only what follows, never less
    late = perp.trader()
    late_size = 777_777
    world.chain.set_time(start + HOUR + 17)
    perp.open(late, LONG, late_size)
    # the exact index's fraction is carried from one accrual to the next
    _, _, rem1 = m.accrue(rate, PRICE, HOUR, HOUR, 0)
    long2, short2, rem2 = m.accrue(rate, PRICE, 17, HOUR, rem1)
    assert perp.position(late).funding_snapshot == short1 + short2

    price2 = 130_000_001
    perp.set_price(price2)
    world.chain.set_time(start + 3 * HOUR + 5)
    rate2 = m.funding_rate(long_size + late_size, short_size, prm.max_funding_bps)
    e = only_event(world.ok(perp.update_funding_ix()), "FundingUpdated")
    long3, short3 = m.accrual(rate2, price2, 2 * HOUR - 12, HOUR, rem2)
    index = {LONG: long1 + long2 + long3, SHORT: short1 + short2 + short3}
    assert (e.rate_ppm, e.intervals) == (rate2, 2)
    assert (e.cumulative_funding, e.cumulative_funding_short) == (index[LONG], index[SHORT])

    close_price = 127_000_003
    perp.set_price(close_price)
    for u, side, size in ((long_, LONG, long_size), (short, SHORT, short_size),
                          (late, LONG, late_size)):
        pos = m.pos_of(perp.position(u))
        c0 = world.config()
        book = m.Book(pos.collateral, c0.perp_pool, c0.perp_pool_reserved - pos.reserve,
                      c0.insurance_balance)
        v, b, fee = m.close(pos, close_price, 0, index[side], prm.taker_fee_bps, book)
        paying = (side == LONG) == (rate > 0)
        assert (v.owed > 0) == paying and v.owed != 0
        s0 = perp.state()
        e = only_event(perp.close(u), "PositionClosed")
        c = world.config()
        assert perp.position(u).collateral == b.collateral == e.collateral
        assert b.collateral == pos.collateral + v.pnl - v.owed - fee
        assert c.perp_pool - c0.perp_pool == v.owed - v.pnl
        assert c.perp_pool_reserved == c0.perp_pool_reserved - pos.reserve
        assert c.protocol_fees - c0.protocol_fees == fee
        assert (e.side, e.size, e.entry_price, e.exit_price) == (side, size, PRICE, close_price)
        assert (e.pnl, e.funding, e.fee, e.reserve) == (v.pnl, v.owed, fee, pos.reserve)
        oi = (s0.long_oi - size, s0.short_oi) if side == LONG else (s0.long_oi, s0.short_oi - size)
        assert (e.long_oi, e.short_oi) == oi == (perp.state().long_oi, perp.state().short_oi)
