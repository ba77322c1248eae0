"""Liquidation on the real SVM: the maintenance boundary to the unit, the reward and every
balance exact against the model, a second liquidation refused, bad debt paid by insurance."""

from __future__ import annotations

import pytest

from tests.program import perp_model as m
from tests.program.conftest import TxResult, World
from tests.program.perps import LONG, PRICE, SHORT, Perp, open_perp

SIZE = 1_000_000  # one whole base unit: a price unit moves PnL by exactly one quote unit


def only_event(result: TxResult, name: str) -> object:
    assert [e.name for e in result.events] == [name]
    return result.events[0].data


def fund_once(world: World, perp: Perp) -> None:
    """One funding interval at the current OI and price."""
    world.chain.set_time(perp.state().last_funding_ts + perp.params.funding_interval_secs)
    world.ok(perp.update_funding_ix())


@pytest.mark.parametrize("side", [LONG, SHORT], ids=["long", "short"])
def test_liquidation_boundary_to_the_unit(world: World, side: int) -> None:
    perp = open_perp(world)
    prm = perp.params
    owner, liquidator = perp.trader(20_000_000), world.user(0)
    perp.open(owner, side, SIZE)
    # alone in the market, the position pays the capped rate for one interval
    fund_once(world, perp)
    index = perp.state().cumulative_funding
    assert index == (1 if side == LONG else -1) * m.funding_delta(1, prm.max_funding_bps, PRICE)
    pos = m.pos_of(perp.position(owner))
    assert pos == m.Pos(side, SIZE, PRICE,
                        20_000_000 - m.fee(m.notional(SIZE, PRICE), prm.taker_fee_bps))
    assert m.funding_owed(side, SIZE, index, 0) == 100_000

    def excess(price: int) -> int:
        """equity - maintenance: steps of 0 or 1 per price unit."""
        return (m.position_equity(pos, price, index)
                - m.maintenance(pos, price, prm.maintenance_margin_bps))

    def price_at(target: int) -> int:
        if side == LONG:  # excess grows with the price
            return m.first(lambda p: excess(p) >= target, 1, PRICE)
        return m.first(lambda p: excess(p) <= target, PRICE, 2 * PRICE)

    ix = perp.liquidate_ix(liquidator, owner)
    for target in (1, 0):  # above and exactly at maintenance: strictly below is required
        price = price_at(target)
        assert excess(price) == target
        assert not m.liquidatable(pos, price, index, prm.maintenance_margin_bps)
        perp.set_price(price)
        world.refused("NotLiquidatable", ix, liquidator.kp, watch=[liquidator.token])

    price = price_at(-1)
    assert excess(price) == -1 and m.liquidatable(pos, price, index, prm.maintenance_margin_bps)
    perp.set_price(price)
    c0 = world.config()
    want = m.liquidate(pos, price, index, prm.liquidation_fee_bps, c0.perp_pool,
                       c0.insurance_balance)
    assert want is not None and want.bad_debt == 0
    # the reward is the full fee here: the equity left covers it
    assert want.fee == m.notional(SIZE, price) * prm.liquidation_fee_bps // m.BPS > 0
    r = world.ok(ix, liquidator.kp)

    c = world.config()
    assert world.balance(liquidator) == want.fee
    assert (c.perp_pool, c.insurance_balance) == (want.pool, want.insurance)
    assert c.perp_pool - c0.perp_pool == -(want.pnl - want.funding)
    assert c.protocol_fees == c0.protocol_fees
    a = perp.position(owner)
    assert (a.side, a.size, a.entry_price, a.funding_snapshot) == (0, 0, 0, 0)
    assert a.collateral == want.collateral == want.equity - want.fee
    s = perp.state()
    assert (s.long_oi, s.short_oi) == (0, 0)

    e = only_event(r, "PositionLiquidated")
    assert (e.position, e.owner, e.perp_market, e.liquidator) == (
        perp.position_of(owner), owner.key, perp.market, liquidator.key)
    assert (e.side, e.size, e.entry_price, e.price) == (side, SIZE, PRICE, price)
    assert (e.pnl, e.funding, e.equity) == (want.pnl, want.funding, want.equity)
    assert e.maintenance == m.maintenance(pos, price, prm.maintenance_margin_bps) == e.equity + 1
    assert (e.reward, e.collateral, e.bad_debt) == (want.fee, want.collateral, 0)
    assert (e.long_oi, e.short_oi) == (0, 0)

    # what is left is the owner's, free to withdraw now that the position is flat
    before = world.balance(owner)
    world.ok(world.client.withdraw(owner.key, perp.market, perp.oracle, owner.token,
                                   want.collateral), owner.kp)
    assert world.balance(owner) - before == want.collateral
    assert perp.position(owner).collateral == 0


def test_second_liquidation_is_refused_and_changes_nothing(world: World) -> None:
    perp = open_perp(world)
    owner, liquidator, late = perp.trader(20_000_000), world.user(0), world.user(0)
    perp.open(owner, LONG, SIZE)
    perp.set_price(PRICE * 8 // 10)
    world.ok(perp.liquidate_ix(liquidator, owner), liquidator.kp)
    for who in (liquidator, late):
        world.refused("PositionFlat", perp.liquidate_ix(who, owner), who.kp,
                      watch=[liquidator.token, late.token])
    # a position that never opened is not liquidatable either
    idle = perp.trader(5_000_000)
    world.refused("PositionFlat", perp.liquidate_ix(liquidator, idle), liquidator.kp,
                  watch=[liquidator.token])


def test_reward_is_capped_by_the_equity_left(world: World) -> None:
    perp = open_perp(world)
    prm = perp.params
    owner, liquidator = perp.trader(20_000_000), world.user(0)
    perp.open(owner, LONG, SIZE)
    pos = m.pos_of(perp.position(owner))

    def full(price: int) -> int:
        return m.notional(SIZE, price) * prm.liquidation_fee_bps // m.BPS

    # the equity one unit short of the full reward
    price = m.first(lambda p: m.position_equity(pos, p, 0) >= full(p) - 1, 1, PRICE)
    equity = m.position_equity(pos, price, 0)
    assert 0 < equity == full(price) - 1
    perp.set_price(price)
    c0 = world.config()
    want = m.liquidate(pos, price, 0, prm.liquidation_fee_bps, c0.perp_pool,
                       c0.insurance_balance)
    assert want is not None and (want.fee, want.collateral, want.bad_debt) == (equity, 0, 0)
    e = only_event(world.ok(perp.liquidate_ix(liquidator, owner), liquidator.kp),
                   "PositionLiquidated")
    assert (e.equity, e.reward, e.collateral, e.bad_debt) == (equity, equity, 0, 0)
    assert world.balance(liquidator) == equity
    assert perp.position(owner).collateral == 0
    c = world.config()
    assert (c.perp_pool, c.insurance_balance) == (want.pool, c0.insurance_balance)


def test_bad_debt_is_paid_by_insurance(world: World) -> None:
    perp = open_perp(world)
    prm = perp.params
    owner, liquidator = perp.trader(20_000_000), world.user(0)
    perp.open(owner, LONG, SIZE)
    pos = m.pos_of(perp.position(owner))
    price = 70_000_000  # -30 quote on a position holding 19.9
    perp.set_price(price)
    c0 = world.config()
    want = m.liquidate(pos, price, 0, prm.liquidation_fee_bps, c0.perp_pool,
                       c0.insurance_balance)
    assert want is not None
    assert want.equity == pos.collateral - 30_000_000 < 0
    assert want.bad_debt == 30_000_000 - pos.collateral
    r = world.ok(perp.liquidate_ix(liquidator, owner), liquidator.kp)

    c = world.config()
    assert world.balance(liquidator) == 0
    assert c.insurance_balance == c0.insurance_balance - want.bad_debt
    # the pool receives the whole loss: the collateral and the insurance's share
    assert c.perp_pool == c0.perp_pool + 30_000_000 == want.pool
    assert perp.position(owner).collateral == 0
    e = only_event(r, "PositionLiquidated")
    assert (e.reward, e.collateral, e.bad_debt) == (0, 0, want.bad_debt)
    assert (e.pnl, e.funding, e.equity) == (-30_000_000, 0, want.equity)


def test_bad_debt_beyond_insurance_empties_it(world: World) -> None:
    perp = open_perp(world)
    prm = perp.params
    size = 100 * SIZE
    owner, liquidator = perp.trader(2_000_000_000), world.user(0)
    perp.open(owner, SHORT, size)
    pos = m.pos_of(perp.position(owner))
    price = 20 * PRICE  # the short loses 1,900 quote a unit on 100 units
    perp.set_price(price)
    c0 = world.config()
    want = m.liquidate(pos, price, 0, prm.liquidation_fee_bps, c0.perp_pool,
                       c0.insurance_balance)
    assert want is not None and want.bad_debt > c0.insurance_balance > 0
    world.ok(perp.liquidate_ix(liquidator, owner), liquidator.kp)  # the invariant holds

    c = world.config()
    assert c.insurance_balance == 0 == want.insurance
    assert c.perp_pool == c0.perp_pool + pos.collateral + c0.insurance_balance == want.pool
    assert world.balance(liquidator) == 0
    assert perp.position(owner).collateral == 0
