"""Liquidation on the real SVM: the maintenance boundary to the unit at the conservative mark,
the penalty split between liquidator and insurance, every balance exact against the model, a
second liquidation refused, bad debt paid by insurance, then the pool, then socialized, and a
liquidator always paid."""

from __future__ import annotations

import pytest

from program.client import PerpMarketParams
from program.svm import TxResult
from tests.support import perp_model as m
from tests.support.perps import LONG, PRICE, SHORT, open_perp
from tests.support.program_world import World

SIZE = 1_000_000  # one whole base unit: a price unit moves PnL by exactly one quote unit


def only_event(result: TxResult, name: str) -> object:
    assert [e.name for e in result.events] == [name]
    return result.events[0].data


def book_of(world: World, pos: m.Pos) -> m.Book:
    c = world.config()
    return m.Book(pos.collateral, c.perp_pool, c.perp_pool_reserved - pos.reserve,
                  c.insurance_balance)


@pytest.mark.parametrize("side", [LONG, SHORT], ids=["long", "short"])
def test_liquidation_boundary_to_the_unit(world: World, side: int) -> None:
    perp = open_perp(world)
    prm = perp.params
    owner, liquidator = perp.trader(20_000_000), world.user(0)
    perp.open(owner, side, SIZE)
    pos = m.pos_of(perp.position(owner))
    # alone in the market, the position pays the capped rate for an hour
    hour = prm.funding_interval_secs
    world.chain.set_time(perp.state().last_accrual_ts + hour)
    world.ok(perp.update_funding_ix())
    s = perp.state()
    index = s.cumulative_funding if side == LONG else s.cumulative_funding_short
    assert m.funding_owed(side, SIZE, index, pos.snapshot) == 100_000
    conf = 12_345  # the mark is price -/+ conf: the side closing would trade at

    def excess(price: int) -> int:
        """equity - maintenance at the mark: steps of 0 or 1 per price unit."""
        v = m.value(pos, m.mark(side, price, conf), index)
        return v.equity - m.margin(v.notional, prm.maintenance_margin_bps)

    def price_at(target: int) -> int:
        if side == LONG:  # excess grows with the price
            return m.first(lambda p: excess(p) >= target, conf + 1, PRICE)
        return m.first(lambda p: excess(p) <= target, PRICE, 2 * PRICE)

    ix = perp.liquidate_ix(liquidator, owner)
    for target in (1, 0):  # above and exactly at maintenance: strictly below is required
        price = price_at(target)
        assert not m.liquidatable(pos, price, index, prm.maintenance_margin_bps, conf)
        perp.set_price_conf(price, conf)
        world.refused("NotLiquidatable", ix, liquidator.kp, watch=[liquidator.token])

    price = price_at(-1)
    assert m.liquidatable(pos, price, index, prm.maintenance_margin_bps, conf)
    perp.set_price_conf(price, conf)
    c0 = world.config()
    v, b, paid, ins_share = m.liquidation(pos, price, conf, index, prm.liquidation_fee_bps,
                                          prm.liquidator_share_bps, book_of(world, pos),
                                          taker_fee_bps=prm.taker_fee_bps)
    assert b.bad_debt == 0 and paid > 0 and ins_share >= paid
    r = world.ok(ix, liquidator.kp)

    c = world.config()
    assert world.balance(liquidator) == paid
    assert (c.perp_pool, c.insurance_balance) == (b.pool, b.insurance)
    assert c.perp_pool - c0.perp_pool == -v.gain
    assert c.insurance_balance - c0.insurance_balance == ins_share
    assert c.protocol_fees == c0.protocol_fees
    assert c.perp_pool_reserved == 0
    a = perp.position(owner)
    assert (a.side, a.size, a.entry_price, a.funding_snapshot, a.reserve) == (0, 0, 0, 0, 0)
    assert a.collateral == b.collateral == v.equity - paid - ins_share
    s = perp.state()
    assert (s.long_oi, s.short_oi) == (0, 0)

    e = only_event(r, "PositionLiquidated")
    mark = m.mark(side, price, conf)
    assert (e.position, e.owner, e.perp_market, e.liquidator) == (
        perp.position_of(owner), owner.key, perp.market, liquidator.key)
    assert (e.side, e.size, e.entry_price, e.price) == (side, SIZE, PRICE, mark)
    assert (e.pnl, e.funding, e.equity) == (v.pnl, v.owed, v.equity)
    assert e.maintenance == m.margin(v.notional, prm.maintenance_margin_bps) == e.equity + 1
    assert (e.penalty, e.reward, e.insurance_share) == (paid + ins_share, paid, ins_share)
    assert (e.collateral, e.bad_debt, e.socialized_loss) == (b.collateral, 0, 0)

    # what is left is the owner's, free to withdraw now that the position is flat
    before = world.balance(owner)
    world.ok(world.client.withdraw(owner.key, perp.market, perp.oracle, owner.token,
                                   b.collateral), owner.kp)
    assert world.balance(owner) - before == b.collateral
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


def test_penalty_beyond_the_equity_left_still_pays_the_liquidator(world: World) -> None:
    """The equity one unit short of the penalty: the penalty takes all of it, the liquidator
    gets its full share and insurance the rest."""
    perp = open_perp(world)
    prm = perp.params
    owner, liquidator = perp.trader(20_000_000), world.user(0)
    perp.open(owner, LONG, SIZE)
    pos = m.pos_of(perp.position(owner))

    def penalty(price: int) -> int:
        return m.ceil_div(m.notional(SIZE, price) * prm.liquidation_fee_bps, m.BPS)

    price = m.first(lambda p: m.position_equity(pos, p, 0) >= penalty(p) - 1, 1, PRICE)
    equity = m.position_equity(pos, price, 0)
    assert 0 < equity == penalty(price) - 1
    perp.set_price(price)
    _, b, paid, ins_share = m.liquidation(pos, price, 0, 0, prm.liquidation_fee_bps,
                                          prm.liquidator_share_bps, book_of(world, pos),
                                          taker_fee_bps=prm.taker_fee_bps)
    assert paid == penalty(price) * prm.liquidator_share_bps // m.BPS
    assert (b.collateral, ins_share) == (0, equity - paid)
    e = only_event(world.ok(perp.liquidate_ix(liquidator, owner), liquidator.kp),
                   "PositionLiquidated")
    assert (e.equity, e.reward, e.insurance_share, e.collateral) == (equity, paid, ins_share, 0)
    assert world.balance(liquidator) == paid


def test_bad_debt_is_paid_by_insurance_and_the_liquidator_too(world: World) -> None:
    perp = open_perp(world)
    prm = perp.params
    owner, liquidator = perp.trader(20_000_000), world.user(0)
    perp.open(owner, LONG, SIZE)
    pos = m.pos_of(perp.position(owner))
    price = 70_000_000  # -30 quote on a position holding 19.9
    perp.set_price(price)
    c0 = world.config()
    v, b, paid, _ = m.liquidation(pos, price, 0, 0, prm.liquidation_fee_bps,
                                  prm.liquidator_share_bps, book_of(world, pos),
                                          taker_fee_bps=prm.taker_fee_bps)
    assert v.equity == pos.collateral - 30_000_000 < 0
    assert b.bad_debt == 30_000_000 - pos.collateral
    assert paid == m.ceil_div(70_000_000 * prm.liquidation_fee_bps, m.BPS) // 2 > 0
    r = world.ok(perp.liquidate_ix(liquidator, owner), liquidator.kp)

    c = world.config()
    # a keeper never loses money liquidating bad debt: insurance pays the reward
    assert world.balance(liquidator) == paid
    assert c.insurance_balance == c0.insurance_balance - b.bad_debt - paid == b.insurance
    # the pool receives the whole loss: the collateral and the insurance's share
    assert c.perp_pool == c0.perp_pool + 30_000_000 == b.pool
    assert perp.position(owner).collateral == 0
    e = only_event(r, "PositionLiquidated")
    assert (e.reward, e.collateral, e.bad_debt, e.insurance_paid) == (
        paid, 0, b.bad_debt, b.bad_debt + paid)
    assert (e.pnl, e.funding, e.equity, e.socialized_loss) == (-30_000_000, 0, v.equity, 0)


def test_bad_debt_beyond_insurance_and_pool_is_socialized(world: World) -> None:
    """Insurance empty, the pool's free liquidity all reserved: the bad debt is charged to the
    other side's profits, pro rata, as they close."""
    perp = open_perp(world, PerpMarketParams(max_profit_bps=10_000))
    size = 100 * SIZE
    owner, winner, liquidator = perp.trader(2_000_000_000), perp.trader(10**12), world.user(0)
    perp.open(owner, SHORT, size)
    c = world.config()
    # the winner's long reserves all the pool's remaining free liquidity
    free = c.perp_pool - c.perp_pool_reserved
    long_size = free * 10**6 // PRICE
    perp.open(winner, LONG, long_size)
    c0 = world.config()
    assert c0.perp_pool - c0.perp_pool_reserved < PRICE
    pos = m.pos_of(perp.position(owner))
    price = 100 * PRICE  # the short loses 9,900 quote a unit on 100 units
    perp.set_price(price)
    _, b, paid, _ = m.liquidation(pos, price, 0, 0, perp.params.liquidation_fee_bps,
                                  perp.params.liquidator_share_bps, book_of(world, pos),
                                  taker_fee_bps=perp.params.taker_fee_bps)
    assert b.bad_debt > c0.insurance_balance > 0 and b.socialized > 0
    e = only_event(world.ok(perp.liquidate_ix(liquidator, owner), liquidator.kp),
                   "PositionLiquidated")
    assert (e.bad_debt, e.socialized_loss, e.reward) == (b.bad_debt, b.socialized, paid)
    s = perp.state()
    assert (s.loss_index_long, b.socialized) == m.loss_index_add(0, b.socialized, long_size)
    # the winning long pays its share out of its profit
    w = m.pos_of(perp.position(winner))
    share = m.loss_share(long_size, s.loss_index_long, w.loss_snapshot)
    assert share >= b.socialized  # alone on its side, it carries all of it (rounded up)
    e = only_event(perp.close(winner), "PositionClosed")
    assert e.socialized_loss == min(share, e.pnl)
