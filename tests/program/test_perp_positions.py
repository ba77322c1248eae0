"""Collateral and positions on the real SVM: market creation, deposits, withdrawals that keep
initial margin, opening at the margin boundary, slippage, PnL on close, and the closes the
program must refuse; every amount exact against the model."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from chain.pyth import price_account
from program.client import PerpMarketParams
from program.local import PYTH_PROGRAM
from program.svm import TxResult
from tests.support import perp_model as m
from tests.support.perps import LONG, POOL, PRICE, SHORT, Perp, open_perp
from tests.support.program_world import User, World

U64_MAX = 2**64 - 1


def only_event(result: TxResult, name: str) -> object:
    assert [e.name for e in result.events] == [name]
    return result.events[0].data


def opened(perp: Perp, collateral: int, side: int, size: int) -> tuple[User, m.Pos]:
    u = perp.trader(collateral)
    perp.open(u, side, size)
    return u, m.pos_of(perp.position(u))


def withdraw(world: World, perp: Perp, u: User, amount: int) -> object:
    return world.client.withdraw(u.key, perp.market, perp.oracle, u.token, amount)


# ---- the market and collateral ------------------------------------------------------------------
def test_create_perp_market(world: World) -> None:
    params = PerpMarketParams(initial_margin_bps=2_000, maintenance_margin_bps=1_200,
                              liquidation_fee_bps=300, taker_fee_bps=7,
                              funding_interval_secs=1_800, max_funding_bps=25)
    oracle = Keypair().pubkey()
    slot = world.chain.svm.get_clock().slot
    world.chain.set_account(oracle, price_account(PRICE, conf_bps=0, slot=slot).encode(),
                            PYTH_PROGRAM)
    market = world.d.perp_market(7)
    r = world.ok(world.client.create_perp_market(world.admin.pubkey(), 7, oracle, params),
                 world.admin)
    e = only_event(r, "PerpMarketCreated")
    assert (e.perp_market, e.id, e.oracle) == (market, 7, oracle)
    fields = tuple(params.to_idl())
    assert tuple(getattr(e, f) for f in fields) == tuple(params.to_idl().values())
    s = world.chain.fetch(market)
    assert (s.id, s.oracle) == (7, oracle)
    assert tuple(getattr(s, f) for f in fields) == tuple(params.to_idl().values())
    assert (s.long_oi, s.short_oi, s.cumulative_funding) == (0, 0, 0)
    assert s.last_funding_ts == world.chain.now()


def test_deposit_creates_the_position_then_adds(world: World) -> None:
    perp = open_perp(world)
    u = world.user(10**9)
    position = perp.position_of(u)
    world.positions.append(position)
    assert world.chain.fetch(position) is None
    for amount, total in ((300_000_000, 300_000_000), (123_456, 300_123_456)):
        r = world.ok(world.client.deposit(u.key, perp.market, u.token, amount), u.kp)
        e = only_event(r, "Deposited")
        assert (e.position, e.owner, e.perp_market) == (position, u.key, perp.market)
        assert (e.amount, e.collateral) == (amount, total)
        p = perp.position(u)
        assert (p.collateral, p.side, p.size, p.owner, p.perp_market) == (
            total, 0, 0, u.key, perp.market)
    assert world.balance(u) == 10**9 - 300_123_456


def test_withdraw_keeps_initial_margin_while_open(world: World) -> None:
    perp = open_perp(world)
    prm = perp.params
    size = 1_500_000
    u, pos = opened(perp, 30_000_000, LONG, size)
    # a loss, and a funding debt, both rounding against the trader
    world.chain.set_time(perp.state().last_funding_ts + prm.funding_interval_secs)
    world.ok(perp.update_funding_ix())
    index = perp.state().cumulative_funding
    price = 98_765_433
    perp.set_price(price)

    required = m.margin(m.notional(size, price), prm.initial_margin_bps)
    eq = m.position_equity(pos, price, index)
    assert m.pnl(LONG, size, PRICE, price) == -1_851_851  # -1,851,850.5 rounded down
    most = eq - required
    assert 0 < most < pos.collateral

    world.refused("InsufficientCollateral", withdraw(world, perp, u, most + 1), u.kp,
                  watch=[u.token])
    before = world.balance(u)
    e = only_event(world.ok(withdraw(world, perp, u, most), u.kp), "Withdrawn")
    assert (e.position, e.owner, e.perp_market) == (perp.position_of(u), u.key, perp.market)
    assert (e.amount, e.collateral) == (most, pos.collateral - most)
    assert world.balance(u) - before == most
    assert m.position_equity(m.pos_of(perp.position(u)), price, index) == required
    world.refused("InsufficientCollateral", withdraw(world, perp, u, 1), u.kp, watch=[u.token])

    # flat, everything left can go, and not a unit more
    perp.close(u)
    left = perp.position(u).collateral
    world.refused("InsufficientCollateral", withdraw(world, perp, u, left + 1), u.kp,
                  watch=[u.token])
    before = world.balance(u)
    e = only_event(world.ok(withdraw(world, perp, u, left), u.kp), "Withdrawn")
    assert (e.amount, e.collateral) == (left, 0)
    assert world.balance(u) - before == left
    assert perp.position(u).collateral == 0


# ---- opening ------------------------------------------------------------------------------------
@pytest.mark.parametrize("side", [LONG, SHORT], ids=["long", "short"])
def test_open_at_the_margin_boundary(world: World, side: int) -> None:
    perp = open_perp(world)
    prm = perp.params
    price, size = 100_000_001, 1_234_567
    perp.set_price(price)
    notional = m.notional(size, price)
    fee = m.fee(notional, prm.taker_fee_bps)
    required = m.margin(notional, prm.initial_margin_bps)
    assert (notional, fee, required) == (123_456_701, 123_457, 12_345_671)

    u = perp.trader(fee + required - 1)
    ix = world.client.open_position(u.key, perp.market, perp.oracle, side, size, price)
    world.refused("InsufficientCollateral", ix, u.kp)
    world.ok(world.client.deposit(u.key, perp.market, u.token, 1), u.kp)
    c0 = world.config()
    r = world.ok(ix, u.kp)

    p = perp.position(u)
    assert (p.side, p.size, p.entry_price, p.collateral) == (side, size, price, required)
    assert (p.funding_snapshot, p.opened_at) == (0, world.chain.now())
    assert world.config().protocol_fees - c0.protocol_fees == fee
    assert world.config().perp_pool == c0.perp_pool
    s = perp.state()
    assert (s.long_oi, s.short_oi) == ((size, 0) if side == LONG else (0, size))
    e = only_event(r, "PositionOpened")
    assert (e.position, e.owner, e.perp_market) == (perp.position_of(u), u.key, perp.market)
    assert (e.side, e.size, e.entry_price, e.collateral, e.fee) == (
        side, size, price, required, fee)
    assert (e.funding_snapshot, e.long_oi, e.short_oi) == (0, s.long_oi, s.short_oi)

    # a second trader adds to the open interest
    other = perp.trader()
    perp.open(other, side, 2_000_000)
    s = perp.state()
    assert (s.long_oi, s.short_oi) == (
        (size + 2_000_000, 0) if side == LONG else (0, size + 2_000_000))


@pytest.mark.parametrize("side", [LONG, SHORT], ids=["long", "short"])
def test_slippage_on_open_and_close(world: World, side: int) -> None:
    perp = open_perp(world)
    u = perp.trader()
    worse = 1 if side == LONG else -1  # a long buys: the price must not exceed its limit
    limit = PRICE - worse  # one unit on the wrong side of the fill
    ix = world.client.open_position(u.key, perp.market, perp.oracle, side, 1_000_000, limit)
    world.refused("SlippageExceeded", ix, u.kp)
    perp.open(u, side, 1_000_000, PRICE)

    exit_price = 104_000_000
    perp.set_price(exit_price)
    # closing sells a long (no lower than the limit) and buys back a short (no higher)
    ix = world.client.close_position(u.key, perp.market, perp.oracle, exit_price + worse)
    world.refused("SlippageExceeded", ix, u.kp)
    e = only_event(perp.close(u, exit_price), "PositionClosed")
    assert e.exit_price == exit_price


# ---- closing ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("side", "exit_price"), [
    (LONG, 107_654_321), (LONG, 93_333_337), (SHORT, 93_333_337), (SHORT, 107_654_321),
], ids=["long-profit", "long-loss", "short-profit", "short-loss"])
def test_close_realizes_pnl(world: World, side: int, exit_price: int) -> None:
    perp = open_perp(world)
    prm = perp.params
    size = 2_345_679
    u, pos = opened(perp, 50_000_000, side, size)
    perp.set_price(exit_price)
    c0 = world.config()
    book = m.Book(pos.collateral, c0.perp_pool, c0.perp_pool_reserved - pos.reserve,
                  c0.insurance_balance)
    v, b, fee = m.close(pos, exit_price, 0, 0, prm.taker_fee_bps, book)
    assert v.owed == 0 and v.pnl != 0 and v.gain == v.pnl
    assert (v.pnl > 0) == ((exit_price > PRICE) == (side == LONG))
    # size * price difference has a remainder: PnL rounds down, a loss up
    assert (size * (exit_price - PRICE)) % 10**6
    assert v.pnl == (exit_price - PRICE) * size * (1 if side == LONG else -1) // 10**6
    e = only_event(perp.close(u), "PositionClosed")

    c = world.config()
    assert perp.position(u).collateral == b.collateral == pos.collateral + v.pnl - fee
    assert c.perp_pool - c0.perp_pool == -v.pnl
    assert c.perp_pool_reserved == c0.perp_pool_reserved - pos.reserve == 0
    assert c.protocol_fees - c0.protocol_fees == fee
    assert c.insurance_balance == c0.insurance_balance
    p, s = perp.position(u), perp.state()
    assert (p.side, p.size, p.entry_price, p.funding_snapshot, p.reserve) == (0, 0, 0, 0, 0)
    assert (s.long_oi, s.short_oi) == (0, 0) == (e.long_oi, e.short_oi)
    assert (e.position, e.owner, e.perp_market) == (perp.position_of(u), u.key, perp.market)
    assert (e.side, e.size, e.entry_price, e.exit_price) == (side, size, PRICE, exit_price)
    assert (e.pnl, e.funding, e.fee, e.collateral) == (v.pnl, 0, fee, b.collateral)
    assert (e.settled, e.socialized_loss, e.reserve) == (v.pnl, 0, pos.reserve)
    want_collateral = b.collateral

    before = world.balance(u)
    world.ok(withdraw(world, perp, u, want_collateral), u.kp)
    assert world.balance(u) - before == want_collateral
    # closed: nothing left to close
    world.refused("PositionFlat", world.client.close_position(
        u.key, perp.market, perp.oracle, exit_price), u.kp)


def test_close_with_equity_below_fee_and_reward_is_refused(world: World) -> None:
    """Below the fee plus a liquidator's reward, closing is refused: the position is for
    liquidators (liquidating itself would otherwise beat closing)."""
    perp = open_perp(world)
    prm = perp.params
    size = 1_000_000
    u, pos = opened(perp, 20_000_000, LONG, size)

    def floor(price: int) -> int:
        notional = m.notional(size, price)
        return m.fee(notional, prm.taker_fee_bps) + m.reward(
            notional, prm.liquidation_fee_bps, prm.liquidator_share_bps)

    def short_of_floor(price: int) -> int:
        """equity - (the close's fee + the liquidator's reward)."""
        return m.position_equity(pos, price, 0) - floor(price)

    price = m.first(lambda p: short_of_floor(p) >= 0, 1, PRICE)
    assert short_of_floor(price) >= 0 > short_of_floor(price - 1)
    perp.set_price(price - 1)
    ix = world.client.close_position(u.key, perp.market, perp.oracle, 0)
    world.refused("InsufficientCollateral", ix, u.kp)
    # at the floor: the close goes through and leaves the reward's worth
    perp.set_price(price)
    c0 = world.config()
    e = only_event(world.ok(ix, u.kp), "PositionClosed")
    fee = m.fee(m.notional(size, price), prm.taker_fee_bps)
    left = m.position_equity(pos, price, 0) - fee
    assert (e.fee, e.collateral) == (fee, left) and perp.position(u).collateral == left
    assert world.config().protocol_fees - c0.protocol_fees == fee
    assert world.config().perp_pool - c0.perp_pool == pos.collateral - fee - left


def test_profit_is_capped_at_the_reserve(world: World) -> None:
    """The pool reserves notional * max_profit_bps at open; a close pays at most that, so the
    pool can always pay it."""
    perp = open_perp(world, PerpMarketParams(max_profit_bps=2_500))
    size = 1_000_000
    u, pos = opened(perp, 20_000_000, LONG, size)
    assert pos.reserve == m.notional(size, PRICE) * 2_500 // 10_000 == 25_000_000
    assert world.config().perp_pool_reserved == pos.reserve
    perp.set_price(2 * PRICE)  # +100 quote of PnL, four times the cap
    c0 = world.config()
    e = only_event(perp.close(u), "PositionClosed")
    fee = m.fee(m.notional(size, 2 * PRICE), perp.params.taker_fee_bps)
    assert (e.pnl, e.settled) == (100_000_000, pos.reserve)
    assert perp.position(u).collateral == pos.collateral + pos.reserve - fee
    c = world.config()
    assert c0.perp_pool - c.perp_pool == pos.reserve
    assert c.perp_pool_reserved == 0


def test_open_beyond_free_liquidity_is_refused(world: World) -> None:
    """What the pool has reserved is not free: an open whose reserve exceeds the rest is
    refused, and one that fits exactly goes through."""
    perp = open_perp(world)
    free = POOL  # max_profit_bps 10,000: the reserve is the whole notional
    whale = perp.trader(2 * 10**11)
    size = free * 10**6 // PRICE  # notional == free
    assert m.notional(size, PRICE) == free
    ix = world.client.open_position(whale.key, perp.market, perp.oracle, LONG, size + 1, U64_MAX)
    world.refused("InsufficientLiquidity", ix, whale.kp)
    perp.open(whale, LONG, size)
    assert world.config().perp_pool_reserved == world.config().perp_pool == POOL
    other = perp.trader()
    world.refused("InsufficientLiquidity", world.client.open_position(
        other.key, perp.market, perp.oracle, SHORT, 1_000_000, 0), other.kp)
    # a close is never refused for lack of pool cash: the profit was reserved
    perp.set_price(PRICE + PRICE // 2)
    perp.close(whale)
    assert world.config().perp_pool_reserved == 0


def test_dust_position_is_refused(world: World) -> None:
    """At 0.01 quote, 99 base units (6 decimals) are worth 0.99 of a quote unit: rounded to 0,
    such a position would need no margin and pay no fee."""
    perp = open_perp(world, price=10_000)
    trader = perp.trader()
    world.refused("ZeroAmount", world.client.open_position(
        trader.key, perp.market, perp.oracle, LONG, 99, 2**64 - 1), trader.kp)
    perp.open(trader, LONG, 100)
    assert perp.position(trader).size == 100
