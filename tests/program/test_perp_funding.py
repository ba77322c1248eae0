"""Funding on the real SVM: the rate from the open-interest imbalance, clamped, on schedule,
missed intervals applied at once, and what longs and shorts pay and receive when they close."""

from __future__ import annotations

import pytest

from tests.program import perp_model as m
from tests.program.conftest import TxResult, World
from tests.program.perps import LONG, SHORT, Perp, open_perp

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
    (5_000_000, 2_000_000, 4),  # long-heavy: 10 * 3/7 = 4.29, longs pay
    (3_000_000, 4_000_000, -1),  # short-heavy: -10 * 1/7 = -1.43 truncates to -1, shorts pay
    (2_000_000, 2_000_000, 0),  # balanced
    (1_000_000, 0, 10),  # longs only: the cap, max_funding_bps
    (0, 1_000_000, -10),  # shorts only: the cap on the other side
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

    delta = m.funding_delta(1, rate, PRICE)
    # the index delta rounds down: toward -inf for a negative rate
    assert delta == {4: 49_382, -1: -12_346, 0: 0, 10: 123_456, -10: -123_457}[rate]
    s = perp.state()
    assert (s.cumulative_funding, s.last_funding_ts) == (delta, start + HOUR)
    e = only_event(r, "FundingUpdated")
    assert (e.perp_market, e.rate_bps, e.intervals, e.price) == (perp.market, rate, 1, PRICE)
    assert (e.cumulative_funding, e.last_funding_ts) == (delta, start + HOUR)
    assert (e.long_oi, e.short_oi) == (long_oi, short_oi)


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
    # applied: the next one is due an interval later, not now
    world.refused("TooEarly", perp.update_funding_ix())
    world.chain.set_time(start + 2 * HOUR - 1)
    world.refused("TooEarly", perp.update_funding_ix())


def test_missed_intervals_are_applied_at_once(world: World) -> None:
    perp = open_perp(world, price=PRICE)
    open_oi(perp, 5_000_000, 2_000_000)
    rate = 4
    start = perp.state().last_funding_ts
    # the keeper comes back in the last second of the fourth interval
    world.chain.set_time(start + 4 * HOUR - 1)
    r = world.ok(perp.update_funding_ix())
    e = only_event(r, "FundingUpdated")
    delta = m.funding_delta(3, rate, PRICE)
    assert delta == 148_148 != 3 * m.funding_delta(1, rate, PRICE)  # one rounding, not three
    assert (e.rate_bps, e.intervals, e.cumulative_funding) == (rate, 3, delta)
    # the schedule stays on its grid: the fourth interval is still running
    assert e.last_funding_ts == perp.state().last_funding_ts == start + 3 * HOUR
    world.refused("TooEarly", perp.update_funding_ix())
    world.chain.set_time(start + 4 * HOUR)
    e = only_event(world.ok(perp.update_funding_ix()), "FundingUpdated")
    assert (e.intervals, e.last_funding_ts) == (1, start + 4 * HOUR)
    assert e.cumulative_funding == delta + m.funding_delta(1, rate, PRICE)


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
    start = perp.state().last_funding_ts

    rate = m.funding_rate(long_size, short_size, prm.max_funding_bps)
    assert rate == (4 if long_size > short_size else -4)
    world.chain.set_time(start + HOUR)
    world.ok(perp.update_funding_ix())
    index1 = m.funding_delta(1, rate, PRICE)
    assert perp.state().cumulative_funding == index1

    # a late long starts from the index at its opening: it owes only what follows
    late = perp.trader()
    late_size = 777_777
    perp.open(late, LONG, late_size)
    assert perp.position(late).funding_snapshot == index1

    price2 = 130_000_001
    perp.set_price(price2)
    world.chain.set_time(start + 3 * HOUR + 5)
    rate2 = m.funding_rate(long_size + late_size, short_size, prm.max_funding_bps)
    e = only_event(world.ok(perp.update_funding_ix()), "FundingUpdated")
    index = index1 + m.funding_delta(2, rate2, price2)
    assert (e.rate_bps, e.intervals, e.cumulative_funding) == (rate2, 2, index)

    close_price = 127_000_003
    perp.set_price(close_price)
    for u, side, size in ((long_, LONG, long_size), (short, SHORT, short_size),
                          (late, LONG, late_size)):
        pos = m.pos_of(perp.position(u))
        c0 = world.config()
        want = m.close(pos, close_price, index, prm.taker_fee_bps, c0.perp_pool,
                       c0.insurance_balance)
        assert want is not None
        paying = (side == LONG) == (rate > 0)
        assert (want.funding > 0) == paying and want.funding != 0
        s0 = perp.state()
        e = only_event(perp.close(u), "PositionClosed")
        c = world.config()
        assert perp.position(u).collateral == want.collateral == e.collateral
        assert want.collateral == pos.collateral + want.pnl - want.funding - want.fee
        assert c.perp_pool - c0.perp_pool == want.funding - want.pnl
        assert c.protocol_fees - c0.protocol_fees == want.fee
        assert (e.side, e.size, e.entry_price, e.exit_price) == (side, size, PRICE, close_price)
        assert (e.pnl, e.funding, e.fee) == (want.pnl, want.funding, want.fee)
        oi = (s0.long_oi - size, s0.short_oi) if side == LONG else (s0.long_oi, s0.short_oi - size)
        assert (e.long_oi, e.short_oi) == oi == (perp.state().long_oi, perp.state().short_oi)
    # every funding amount above had a remainder to round: up for what a position owes, down
    # for what it receives
    assert all((size * index) % 10**6 for size in (long_size, short_size))
