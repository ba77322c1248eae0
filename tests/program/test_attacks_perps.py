"""Attacks on the perps, as an adversary would run them: several instructions in one
transaction, many wallets, extreme amounts and prices, the owner liquidating itself. Each test
asserts the attack is refused with its named error (World.refused: no byte changed) or gains
the attacker nothing; World.ok checks the vault invariant after every transaction."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

from program.client import PerpMarketParams
from tests.support import perp_model as m
from tests.support.perps import LONG, POOL, PRICE, SHORT, Perp, open_perp
from tests.support.program_world import User, World, deploy_world
from tests.support.refusals import swap

U64_MAX = 2**64 - 1
HOUR = 3_600
SIZE = 1_000_000


def event(result: object, name: str) -> object:
    return next(e.data for e in result.events if e.name == name)  # type: ignore[attr-defined]


def close_ix(perp: Perp, u: User, side: int) -> object:
    return perp.w.client.close_position(u.key, perp.market, perp.oracle,
                                        0 if side == LONG else U64_MAX)


def open_ix(perp: Perp, u: User, side: int, size: int) -> object:
    return perp.w.client.open_position(u.key, perp.market, perp.oracle, side, size,
                                       U64_MAX if side == LONG else 0)


def imbalance(perp: Perp, long_size: int = 5 * SIZE, short_size: int = SIZE) -> None:
    """Honest traders who make longs pay funding."""
    perp.open(perp.trader(), LONG, long_size)
    perp.open(perp.trader(), SHORT, short_size)


def test_open_crank_close_after_a_late_keeper_collects_nothing(world: World) -> None:
    """After a keeper 6 hours late, a short opens, cranks update_funding and closes in one
    transaction to collect the missed funding: it collects nothing and pays the fees."""
    perp = open_perp(world)
    imbalance(perp)
    world.chain.set_time(perp.state().last_funding_ts + 6 * HOUR)
    attacker = perp.trader()
    before = perp.position(attacker).collateral
    r = world.ok([open_ix(perp, attacker, SHORT, 4 * SIZE), perp.update_funding_ix(),
                  close_ix(perp, attacker, SHORT)], attacker.kp)
    closed = event(r, "PositionClosed")
    assert closed.funding == 0 and closed.settled == 0
    assert perp.position(attacker).collateral == before - 2 * closed.fee < before


def test_closing_and_reopening_around_a_late_update_skips_nothing(world: World) -> None:
    """A long closes and reopens around the late keeper's update, in one transaction: the
    close settles every second of funding it owed, as continuous accrual says."""
    perp = open_perp(world)
    long_ = perp.trader()
    perp.open(long_, LONG, 3 * SIZE)
    perp.open(perp.trader(), SHORT, SIZE)
    start = perp.state().last_accrual_ts
    world.chain.set_time(start + 6 * HOUR + 7)
    r = world.ok([close_ix(perp, long_, LONG), perp.update_funding_ix(),
                  open_ix(perp, long_, LONG, 3 * SIZE)], long_.kp)
    up, _ = m.accrual(m.funding_rate(3 * SIZE, SIZE, 10), PRICE, 6 * HOUR + 7, HOUR)
    assert event(r, "PositionClosed").funding == m.ceil_div(3 * SIZE * up, 10**9) > 0
    # and the reopened position starts owing from now
    assert perp.position(long_).funding_snapshot == perp.state().cumulative_funding_short


def test_a_funding_cap_above_twice_the_taker_fee_gains_nothing(world: World) -> None:
    """With max_funding 100 % per interval (far above twice the taker fee), funding is paid
    per second held: opening and closing around an interval boundary earns a second's worth,
    never an interval's."""
    perp = open_perp(world, PerpMarketParams(max_funding_bps=10_000, liquidation_fee_bps=100))
    imbalance(perp)
    boundary = perp.state().last_funding_ts + HOUR
    world.chain.set_time(boundary - 1)
    attacker = perp.trader()
    perp.open(attacker, SHORT, 4 * SIZE)
    before = perp.position(attacker).collateral
    world.chain.set_time(boundary + 1)
    r = world.ok([perp.update_funding_ix(), close_ix(perp, attacker, SHORT)], attacker.kp)
    closed = event(r, "PositionClosed")
    # two seconds at the rate the OI gives; the fees cost more
    assert -closed.funding <= 4 * SIZE * PRICE // 10**6 * 2 // HOUR
    assert perp.position(attacker).collateral < before


def exact_index(state: object) -> Fraction:
    """The market's exact funding index: the short index (its floor) plus the carried
    remainder."""
    s: Any = state
    return s.cumulative_funding_short + Fraction(s.funding_remainder,
                                                 s.funding_interval_secs * 10**6)


def test_funding_below_one_index_unit_is_still_paid(world: World) -> None:
    """At a tiny rate the exact index moves less than one unit between an open and a close. A
    position that opens when the index sits between two units and closes before it reaches the
    next pays at least the exact funding for the seconds it held, for every side and hold."""
    # longs pay 9 or 10 ppm per interval: the index moves about 0.27 a second at this price
    perp = open_perp(world, PerpMarketParams(max_funding_bps=1), price=10**5)
    imbalance(perp, 110 * SIZE, 90 * SIZE)
    for side, held in [(s, h) for h in (1, 2, 3) for s in (LONG, SHORT)]:
        world.chain.set_time(world.chain.now() + 7)
        attacker = perp.trader()
        perp.open(attacker, side, SIZE)
        opened = exact_index(perp.state())
        world.chain.set_time(world.chain.now() + held)
        closed = event(world.ok(close_ix(perp, attacker, side), attacker.kp), "PositionClosed")
        moved = exact_index(perp.state()) - opened
        assert 0 < moved < 1, moved  # the case this test is about
        exact = SIZE * (moved if side == LONG else -moved) / m.FUNDING_PRECISION
        assert exact <= closed.funding <= exact + 2 * Fraction(SIZE, m.FUNDING_PRECISION) + 1, (
            side, held, closed.funding, exact)


def test_a_hedged_trader_cannot_drain_the_pool(world: World) -> None:
    """A hedged pair closes and reopens its winning leg over and over as the price swings: the
    pair ends with less than it put in, the pool keeps its reserves, and the losing leg still
    closes."""
    perp = open_perp(world)
    a, b = perp.trader(10**10), perp.trader(10**10)
    put_in = perp.position(a).collateral + perp.position(b).collateral
    size = 50 * SIZE
    world.ok([open_ix(perp, a, LONG, size), open_ix(perp, b, SHORT, size)], a.kp, b.kp)
    for step in range(6):
        up = step % 2 == 0
        perp.set_price_conf(PRICE * (11 if up else 9) // 10, PRICE // 1_000)
        winner, side = (a, LONG) if up else (b, SHORT)
        world.ok([close_ix(perp, winner, side), open_ix(perp, winner, side, size)], winner.kp)
        c = world.config()
        assert c.perp_pool >= c.perp_pool_reserved
    perp.set_price(PRICE)
    world.ok(close_ix(perp, a, LONG), a.kp)
    world.ok(close_ix(perp, b, SHORT), b.kp)
    assert perp.position(a).collateral + perp.position(b).collateral < put_in
    assert world.config().perp_pool > POOL


def test_an_unhealthy_position_in_profit_is_liquidatable(world: World) -> None:
    """A long whose price PnL is positive but whose funding debt sinks it below maintenance is
    liquidated, even with the pool's free liquidity all reserved."""
    perp = open_perp(world, PerpMarketParams(max_funding_bps=10_000))
    owner = perp.trader(12_000_000)
    perp.open(owner, LONG, SIZE)
    whale = perp.trader(2 * 10**11)  # another long: the rate is the cap, 100 % an hour
    c = world.config()
    perp.open(whale, LONG, (c.perp_pool - c.perp_pool_reserved) * 10**6 // PRICE // 2)
    world.chain.set_time(perp.state().last_accrual_ts + HOUR // 10)
    perp.set_price(PRICE + 100_000)  # +0.1 quote of price PnL
    keeper = world.user(0)
    r = world.ok(perp.liquidate_ix(keeper, owner), keeper.kp)
    e = event(r, "PositionLiquidated")
    assert e.pnl > 0 and e.funding > e.pnl and e.reward > 0


def test_withdraw_counting_unrealized_profit_is_refused(world: World) -> None:
    """A long in profit tries to withdraw collateral its unrealized profit would cover: refused,
    only the collateral beyond initial margin can go."""
    perp = open_perp(world)
    owner = perp.trader(30_000_000)
    perp.open(owner, LONG, SIZE)
    perp.set_price(2 * PRICE)  # +100 quote unrealized
    pos = perp.position(owner)
    required = m.margin(m.notional(SIZE, 2 * PRICE), perp.params.initial_margin_bps)
    free = pos.collateral - required
    ix = world.client.withdraw(owner.key, perp.market, perp.oracle, owner.token, free + 1)
    world.refused("InsufficientCollateral", ix, owner.kp, watch=[owner.token])
    world.ok(world.client.withdraw(owner.key, perp.market, perp.oracle, owner.token, free),
             owner.kp)


def test_trading_a_24_slot_old_price_is_refused_for_open(world: World) -> None:
    """A price 24 slots old (within the general staleness, beyond the opening one) cannot be
    traded against the pool; closing at it still works."""
    perp = open_perp(world)
    assert world.params.max_open_staleness_slots < 24 <= world.params.max_oracle_staleness_slots
    holder, attacker = perp.trader(), perp.trader()
    perp.open(holder, LONG, SIZE)
    perp.warp_slots(24)
    world.refused("StaleOracle", open_ix(perp, attacker, LONG, SIZE), attacker.kp)
    world.ok(close_ix(perp, holder, LONG), holder.kp)


def test_open_interest_beyond_the_cap_is_refused_and_funding_goes_on(world: World) -> None:
    """Opening past max_open_interest is refused; the market's funding crank still works."""
    perp = open_perp(world, PerpMarketParams(max_open_interest=10 * SIZE))
    a, b = perp.trader(), perp.trader()
    perp.open(a, LONG, 10 * SIZE)
    world.refused("OpenInterestLimit", open_ix(perp, b, LONG, 1), b.kp)
    world.refused("OpenInterestLimit", open_ix(perp, b, SHORT, U64_MAX), b.kp)
    perp.open(b, SHORT, 10 * SIZE)
    world.chain.set_time(perp.state().last_funding_ts + HOUR)
    world.ok(perp.update_funding_ix())


def test_self_liquidation_is_never_cheaper_than_closing() -> None:
    """The same unhealthy position, closed by its owner in one world and liquidated by its
    owner in another: the owner keeps more by closing."""
    kept = []
    for liquidate in (False, True):
        w = deploy_world()
        perp = open_perp(w, PerpMarketParams(liquidator_share_bps=9_000, liquidation_fee_bps=100,
                                             taker_fee_bps=10))
        owner = perp.trader(11_000_000)
        perp.open(owner, LONG, SIZE)
        perp.set_price(PRICE - 6_500_000)  # equity 4.4 quote < maintenance 4.675
        before = w.balance(owner)
        if liquidate:
            w.ok(perp.liquidate_ix(owner, owner), owner.kp)
        else:
            w.ok(close_ix(perp, owner, LONG), owner.kp)
        kept.append(perp.position(owner).collateral + w.balance(owner) - before)
    assert kept[1] <= kept[0]


def test_a_liquidator_of_bad_debt_is_paid(world: World) -> None:
    """A position deep in bad debt still pays its liquidator: from insurance, and with
    insurance empty from the pool's free liquidity."""
    perp = open_perp(world)
    owners = [perp.trader(20_000_000) for _ in range(2)]
    for o in owners:
        perp.open(o, LONG, SIZE)
    perp.set_price(PRICE // 2)
    keeper = world.user(0)
    e = event(world.ok(perp.liquidate_ix(keeper, owners[0]), keeper.kp), "PositionLiquidated")
    assert e.bad_debt > 0 and e.reward > 0 and world.balance(keeper) == e.reward
    # insurance emptied: the pool pays the next reward
    move_insurance_to_pool(world, world.config().insurance_balance)
    e = event(world.ok(perp.liquidate_ix(keeper, owners[1]), keeper.kp), "PositionLiquidated")
    assert e.reward > 0 and e.pool_paid >= e.reward


def move_insurance_to_pool(world: World, amount: int) -> None:
    """Rewrite Config so that `amount` of insurance is pool liquidity instead (the vault's
    balance and the invariant unchanged): what withdrawing insurance and funding the pool do."""
    c = world.config()
    data = bytearray(world.chain.raw(world.d.config) or b"")
    offset = 8 + 32 * 3  # discriminator, quote_mint, vault, vault_authority
    ins = int.from_bytes(data[offset:offset + 8], "little")
    pool = int.from_bytes(data[offset + 8:offset + 16], "little")
    assert (ins, pool) == (c.insurance_balance, c.perp_pool)
    data[offset:offset + 8] = (ins - amount).to_bytes(8, "little")
    data[offset + 8:offset + 16] = (pool + amount).to_bytes(8, "little")
    world.chain.set_account(world.d.config, bytes(data), world.d.program_id)
    world.check_invariant()


def test_collateral_near_2_63_is_refused_at_deposit(world: World) -> None:
    """A deposit taking collateral past 2^61 is refused (MathOverflow), and a position holding
    2^61 still opens, closes and withdraws."""
    perp = open_perp(world)
    whale = perp.trader(0)
    world.chain.mint_to(world.d.quote_mint, whale.token, 2**63)
    ix = world.client.deposit(whale.key, perp.market, whale.token, 2**63 - 1)
    world.refused("MathOverflow", ix, whale.kp, watch=[whale.token])
    world.ok(world.client.deposit(whale.key, perp.market, whale.token, 2**61), whale.kp)
    world.refused("MathOverflow", world.client.deposit(whale.key, perp.market, whale.token, 1),
                  whale.kp, watch=[whale.token])
    perp.open(whale, SHORT, SIZE)
    perp.set_price(PRICE * 3)
    world.ok(close_ix(perp, whale, SHORT), whale.kp)
    left = perp.position(whale).collateral
    world.ok(world.client.withdraw(whale.key, perp.market, perp.oracle, whale.token, left),
             whale.kp)


def test_funding_in_ppm_pays_under_a_10_percent_imbalance(world: World) -> None:
    """55/45 open interest with a 5 bps cap: whole-bps rates would round to 0; in ppm the
    longs pay 50 ppm an hour."""
    perp = open_perp(world, PerpMarketParams(max_funding_bps=5, liquidation_fee_bps=100))
    long_ = perp.trader()
    perp.open(long_, LONG, 11 * SIZE)
    perp.open(perp.trader(), SHORT, 9 * SIZE)
    world.chain.set_time(perp.state().last_funding_ts + HOUR)
    e = event(world.ok(perp.update_funding_ix()), "FundingUpdated")
    assert e.rate_ppm == 50
    closed = event(world.ok(close_ix(perp, long_, LONG), long_.kp), "PositionClosed")
    assert closed.funding == m.ceil_div(11 * SIZE * m.accrual(50, PRICE, HOUR, HOUR)[0], 10**9)
    assert closed.funding == 55_000  # 11 units x 100 quote x 50 ppm


def test_fills_move_by_the_confidence_against_the_trader(world: World) -> None:
    """Buying at price + conf and selling at price - conf: a round trip at an unmoved price
    loses twice the confidence, so a wide confidence cannot be traded against the pool."""
    perp = open_perp(world)
    conf = 1_000_000
    perp.set_price_conf(PRICE, conf)
    for side in (LONG, SHORT):
        u = perp.trader()
        before = perp.position(u).collateral
        opened = event(world.ok(open_ix(perp, u, side, SIZE), u.kp), "PositionOpened")
        assert opened.entry_price == PRICE + (conf if side == LONG else -conf)
        closed = event(world.ok(close_ix(perp, u, side), u.kp), "PositionClosed")
        assert closed.exit_price == PRICE - (conf if side == LONG else -conf)
        assert closed.pnl == -2 * conf
        assert perp.position(u).collateral == before - opened.fee - closed.fee - 2 * conf


def test_many_wallets_gain_nothing_round_tripping(world: World) -> None:
    """Twelve wallets open and close in one transaction each, at an unmoved price: every one
    ends with less than it put in, and the pool with more."""
    perp = open_perp(world)
    wallets = [perp.trader(20_000_000) for _ in range(12)]
    pool = world.config().perp_pool
    for i, u in enumerate(wallets):
        side = LONG if i % 2 else SHORT
        before = perp.position(u).collateral
        world.ok([open_ix(perp, u, side, SIZE), close_ix(perp, u, side)], u.kp)
        assert perp.position(u).collateral < before
    assert world.config().perp_pool == pool


def test_extreme_prices_are_bounded_where_they_enter(world: World) -> None:
    """A price beyond 10^6 quote per unit is refused as InvalidOracle; at the bound the largest
    open interest is refused for liquidity, not overflow; at the lowest price dust is refused."""
    perp = open_perp(world, PerpMarketParams(max_open_interest=2**61 // 10**6))
    u = perp.trader(10**11)
    perp.set_price(10**12 + 1)
    world.refused("InvalidOracle", open_ix(perp, u, LONG, SIZE), u.kp)
    perp.set_price(10**12)
    world.refused("InsufficientCollateral", open_ix(perp, u, LONG, 2**61 // 10**6), u.kp)
    world.ok(open_ix(perp, u, LONG, 100_000), u.kp)  # 0.1 unit at a million quote
    world.ok(close_ix(perp, u, LONG), u.kp)
    perp.set_price(1)
    world.refused("ZeroAmount", open_ix(perp, u, LONG, 999_999), u.kp)


def test_a_config_change_does_not_reach_a_running_market(world: World) -> None:
    """The council changes the oracle staleness and the oracle program: the running market
    keeps the rules it was created under, a new market gets the new ones."""
    perp = open_perp(world)
    old = world.params
    world.reconfigure(replace(old, max_oracle_staleness_slots=1, max_open_staleness_slots=1))
    s = perp.state()
    assert (s.max_oracle_staleness_slots, s.max_open_staleness_slots) == (
        old.max_oracle_staleness_slots, old.max_open_staleness_slots)
    u = perp.trader()
    perp.warp_slots(5)
    world.ok(open_ix(perp, u, LONG, SIZE), u.kp)  # 5 slots old: fine by its own rules
    second = open_perp(world, perp_market_id=2)
    assert second.state().max_oracle_staleness_slots == 1


def test_nobody_but_the_council_creates_or_funds_perps(world: World) -> None:
    """A stranger cannot create a perp market, fund the pool or the insurance."""
    perp = open_perp(world)
    stranger = world.user()
    world.refused("Unauthorized", world.client.create_perp_market(
        stranger.key, 9, perp.oracle, PerpMarketParams()), stranger.kp)
    world.refused("Unauthorized", world.client.fund_pool(stranger.key, stranger.token, 1),
                  stranger.kp)


def test_closing_accounts_cannot_take_what_is_not_empty(world: World) -> None:
    """close_position_account refuses an open position, a position holding collateral and
    another owner's position; an empty one returns its rent to its owner only."""
    perp = open_perp(world)
    owner, thief = perp.trader(), perp.trader()
    perp.open(owner, LONG, SIZE)
    ix = world.client.close_position_account(owner.key, perp.market)
    world.refused("PositionOpen", ix, owner.kp)
    world.ok(close_ix(perp, owner, LONG), owner.kp)
    world.refused("InsufficientCollateral", ix, owner.kp)
    left = perp.position(owner).collateral
    world.ok(world.client.withdraw(owner.key, perp.market, perp.oracle, owner.token, left),
             owner.kp)
    stolen = swap(world.client.close_position_account(thief.key, perp.market), "position",
                  perp.position_of(owner))
    world.refused("InvalidAccount", stolen, thief.kp)
    rent = world.chain.svm.get_account(perp.position_of(owner)).lamports
    lamports = world.chain.svm.get_balance(owner.key)
    world.ok(ix, owner.kp)
    assert world.chain.svm.get_balance(owner.key) == lamports + rent  # the payer pays fees
    assert world.chain.fetch(perp.position_of(owner)) is None


def test_only_free_pool_liquidity_leaves_and_only_to_the_treasury(world: World) -> None:
    """The council cannot withdraw the pool's reserved part, nor pay anywhere but its treasury;
    a stranger cannot withdraw at all; free liquidity and insurance do leave."""
    perp = open_perp(world)
    trader = perp.trader(2 * 10**11)
    perp.open(trader, LONG, POOL * 10**6 // PRICE // 2)  # reserves half the pool
    c = world.config()
    free = c.perp_pool - c.perp_pool_reserved
    admin, treasury = world.admin, world.params.treasury
    w_pool = world.client.withdraw_pool
    world.refused("InsufficientBalance", w_pool(admin.pubkey(), treasury, free + 1), admin,
                  watch=[treasury])
    world.refused("InvalidAccount", w_pool(admin.pubkey(), perp.admin_token, 1), admin,
                  watch=[perp.admin_token])
    stranger = world.user()
    world.refused("Unauthorized", w_pool(stranger.key, treasury, 1), stranger.kp,
                  watch=[treasury])
    before = world.balance(treasury)
    world.ok(w_pool(admin.pubkey(), treasury, free), admin)
    world.ok(world.client.withdraw_insurance(admin.pubkey(), treasury, c.insurance_balance),
             admin)
    assert world.balance(treasury) - before == free + c.insurance_balance
    after = world.config()
    assert (after.perp_pool, after.insurance_balance) == (c.perp_pool_reserved, 0)
    world.refused("InsufficientBalance", world.client.withdraw_insurance(
        admin.pubkey(), treasury, 1), admin, watch=[treasury])
    # the position's profit is still paid in full from what was reserved
    perp.set_price(2 * PRICE)
    world.ok(close_ix(perp, trader, LONG), trader.kp)
    assert world.config().perp_pool == 0


def test_self_liquidation_after_a_gap_pays_no_more_than_closing() -> None:
    """A price gap leaves a long with equity between the closing fee and fee + reward: closing
    is refused (the reward would beat it), and liquidating itself pays the owner the reward
    (its equity going to insurance), never more than closing at maintenance would have."""
    w, perp, owner = gap_world(PRICE - 10_000_000)  # equity 0.4 quote, fee 0.09, reward 0.81
    w.refused("InsufficientCollateral", close_ix(perp, owner, LONG), owner.kp)
    before = w.balance(owner)
    e = event(w.ok(perp.liquidate_ix(owner, owner), owner.kp), "PositionLiquidated")
    assert 0 < e.equity < e.reward
    kept = perp.position(owner).collateral + w.balance(owner) - before
    assert kept == e.reward <= e.maintenance - m.fee(e.maintenance * 20, GAP.taker_fee_bps)


def test_aliased_and_foreign_accounts_are_refused(world: World) -> None:
    """An attacker closes another trader's position, withdraws into the vault itself, has the
    reward paid into the vault, or passes its Position as the market: each is refused."""
    perp = open_perp(world)
    victim, attacker = perp.trader(), perp.trader()
    perp.open(victim, LONG, SIZE)
    foreign = swap(close_ix(perp, attacker, LONG), "position", perp.position_of(victim))
    world.refused("InvalidAccount", foreign, attacker.kp)
    c = world.client
    into_vault = c.withdraw(attacker.key, perp.market, perp.oracle, world.d.vault, 1)
    world.refused("InvalidAccount", into_vault, attacker.kp)
    perp.set_price(PRICE // 2)
    reward_to_vault = c.liquidate(attacker.key, perp.market, perp.position_of(victim),
                                  perp.oracle, world.d.vault)
    world.refused("InvalidAccount", reward_to_vault, attacker.kp)
    as_market = swap(c.withdraw(attacker.key, perp.market, perp.oracle, attacker.token, 1),
                     "perp_market", perp.position_of(attacker))
    world.refused("WrongAccountType", as_market, attacker.kp)



def drain_free_pool_and_insurance(world: World) -> None:
    """The council takes the pool's free liquidity and the insurance: bad debt is then
    socialized."""
    c, admin, treasury = world.config(), world.admin, world.params.treasury
    if c.perp_pool > c.perp_pool_reserved:
        world.ok(world.client.withdraw_pool(admin.pubkey(), treasury,
                                            c.perp_pool - c.perp_pool_reserved), admin)
    if c.insurance_balance:
        world.ok(world.client.withdraw_insurance(admin.pubkey(), treasury,
                                                 c.insurance_balance), admin)


def test_a_haircut_profit_below_the_fee_cannot_wrap_collateral(world: World) -> None:
    """A long in profit whose collateral is below the closing fee (2 bps initial margin, the
    price tripled) has its whole profit haircut by a short's socialized bad debt: closing is
    refused (what is left cannot pay the fee) instead of wrapping collateral to ~2^64, the
    position is liquidatable, and nothing beyond what is owed can be withdrawn."""
    perp = open_perp(world, PerpMarketParams(initial_margin_bps=2, maintenance_margin_bps=1,
                                             liquidation_fee_bps=1, taker_fee_bps=1,
                                             liquidator_share_bps=0))
    long_, short = perp.trader(30_000), perp.trader(60_000)
    perp.open(long_, LONG, SIZE)
    perp.open(short, SHORT, 2 * SIZE)
    assert perp.position(long_).collateral == 20_000
    perp.set_price(3 * PRICE)  # the closing fee is now 30_000
    drain_free_pool_and_insurance(world)
    keeper = world.user(0)
    e = event(world.ok(perp.liquidate_ix(keeper, short), keeper.kp), "PositionLiquidated")
    assert e.socialized_loss > 100 * SIZE  # more than the long's whole (capped) profit
    world.refused("InsufficientCollateral", close_ix(perp, long_, LONG), long_.kp)
    e = event(world.ok(perp.liquidate_ix(keeper, long_), keeper.kp), "PositionLiquidated")
    assert e.equity == 20_000 < e.maintenance
    assert perp.position(long_).collateral == 0
    world.refused("InsufficientCollateral", world.client.withdraw(
        long_.key, perp.market, perp.oracle, long_.token, 1), long_.kp, watch=[long_.token])
    world.check_invariant()


def test_withdrawing_against_a_stale_price_is_refused(world: World) -> None:
    """A long withdraws down to initial margin against a price 24 slots old (within the
    general staleness, beyond the opening one), a better price than the market's now: refused
    as StaleOracle, like opening; with the position flat, or at a fresh price, it withdraws."""
    perp = open_perp(world)
    owner = perp.trader(30_000_000)
    perp.open(owner, LONG, SIZE)
    perp.set_price(2 * PRICE)  # stale by the time it is used
    perp.warp_slots(24)
    ix = world.client.withdraw(owner.key, perp.market, perp.oracle, owner.token, 1)
    world.refused("StaleOracle", ix, owner.kp, watch=[owner.token])
    perp.set_price(2 * PRICE)
    world.ok(ix, owner.kp)
    perp.warp_slots(24)
    world.ok(close_ix(perp, owner, LONG), owner.kp)  # closing at it still works
    world.ok(ix, owner.kp)  # flat: no price read


def test_a_dust_position_alone_on_its_side_cannot_saturate_the_loss_index(
        world: World) -> None:
    """A dust short (one base unit) is alone on its side when a long's bad debt is socialized:
    the short side is charged at most what it could ever pay (the rest is the pool's, as with
    no open interest), its loss index does not saturate, and a short opened afterwards still
    pays its share of the next socialized loss."""
    perp = open_perp(world, PerpMarketParams(max_profit_bps=100))
    dust, big_short = perp.trader(1_000), perp.trader(2 * 10**10)
    longs = [perp.trader(12 * 10**9) for _ in range(2)]
    perp.open(dust, SHORT, 1)
    for u in longs:
        perp.open(u, LONG, 1_000 * SIZE)
    drain_free_pool_and_insurance(world)
    perp.set_price(PRICE // 4)  # ~5 * 10^10 socialized onto one base unit
    keeper = world.user(0)
    e = event(world.ok(perp.liquidate_ix(keeper, longs[0]), keeper.kp), "PositionLiquidated")
    # the pool also paid the keeper's reward
    assert e.bad_debt + e.reward == e.insurance_paid + e.pool_paid + e.socialized_loss
    assert e.socialized_loss <= 10**6  # a base unit never gains more than 10^6 quote units
    assert e.pool_paid > 4 * 10**10  # the rest is the pool's
    s = perp.state()
    assert 0 < s.loss_index_short <= 10**15
    # a short opened now snapshots the index, and pays its share of the next loss
    perp.open(big_short, SHORT, 1_000 * SIZE)
    drain_free_pool_and_insurance(world)
    perp.set_price(PRICE // 8)
    e = event(world.ok(perp.liquidate_ix(keeper, longs[1]), keeper.kp), "PositionLiquidated")
    assert e.socialized_loss > 0
    assert perp.state().loss_index_short > s.loss_index_short
    closed = event(perp.close(big_short), "PositionClosed")
    assert closed.socialized_loss > 0
    world.check_invariant()


GAP = PerpMarketParams(liquidator_share_bps=9_000, liquidation_fee_bps=100, taker_fee_bps=10)
# a long of one unit at 100 quote with 10.4 quote of collateral, at prices leaving it equity
# below 0, between 0 and the closing fee (~0.09), between the fee and fee + reward (~0.9), and
# above the penalty but below maintenance
GAP_PRICES = [PRICE - 11_000_000, PRICE - 10_350_000, PRICE - 10_000_000, PRICE - 6_500_000]


def gap_world(price: int) -> tuple[World, Perp, User]:
    w = deploy_world()
    perp = open_perp(w, GAP)
    owner = perp.trader(10_500_000)
    perp.open(owner, LONG, SIZE)
    perp.set_price(price)
    return w, perp, owner


def test_a_liquidator_is_paid_the_same_reward_whatever_equity_is_left() -> None:
    """A keeper liquidating a position with equity below 0, between 0 and the fee, between
    the fee and fee + reward, or above the penalty is paid the same reward (of the notional):
    the shortfall comes from insurance, so waiting for bad debt never pays better."""
    for price in GAP_PRICES:
        w, perp, owner = gap_world(price)
        keeper = w.user(0)
        e = event(w.ok(perp.liquidate_ix(keeper, owner), keeper.kp), "PositionLiquidated")
        reward = m.ceil_div(m.notional(SIZE, price) * GAP.liquidation_fee_bps,
                            m.BPS) * GAP.liquidator_share_bps // m.BPS
        assert (e.reward, w.balance(keeper)) == (reward, reward), (price, e.equity)


def test_self_liquidation_from_a_second_wallet_never_beats_closing() -> None:
    """The owner liquidates its unhealthy position from a second wallet, at every kind of
    equity left: it ends with no more than closing at the same price gives (where closing is
    allowed), and no more than closing at the last healthy price would have."""
    mm = GAP.maintenance_margin_bps

    def equity(price: int) -> int:
        return 10_400_000 + price - PRICE

    healthy = m.first(lambda p: equity(p) >= m.margin(p, mm), 1, PRICE)
    best_close = equity(healthy) - m.fee(healthy, GAP.taker_fee_bps)
    for price in GAP_PRICES:
        w, perp, owner = gap_world(price)
        second = w.user(0)
        w.ok(perp.liquidate_ix(second, owner), second.kp)
        kept = perp.position(owner).collateral + w.balance(second)
        assert kept <= best_close, price
        w, perp, owner = gap_world(price)
        closed = w.send(close_ix(perp, owner, LONG), owner.kp)
        if closed.ok:
            assert kept <= perp.position(owner).collateral, price


def test_accruing_every_second_moves_funding_exactly_as_accruing_once() -> None:
    """At a low price and rate (under one index unit a second), a trader forces an accrual
    every second with withdraw(1) for a minute: longs pay and shorts earn exactly, to the
    unit, what a single accrual over the minute gives (no per-accrual rounding)."""
    funding = []
    for every_second in (True, False):
        w = deploy_world()
        perp = open_perp(w, PerpMarketParams(max_funding_bps=1, liquidation_fee_bps=100),
                         price=100_000)  # 0.1 quote a unit
        long_, short = perp.trader(), perp.trader()
        perp.open(long_, LONG, 2_000 * SIZE)
        perp.open(short, SHORT, 1_000 * SIZE)
        start = perp.state().last_accrual_ts
        if every_second:
            withdraw = w.client.withdraw(long_.key, perp.market, perp.oracle, long_.token, 1)
            for t in range(1, 61):
                w.chain.set_time(start + t)
                w.ok(withdraw, long_.kp)
        w.chain.set_time(start + 60)
        r = w.ok([close_ix(perp, long_, LONG), close_ix(perp, short, SHORT)], long_.kp,
                 short.kp)
        closed = [e.data for e in r.events if e.name == "PositionClosed"]
        funding.append([c.funding for c in closed])
    assert funding[0] == funding[1]
    assert funding[1][1] < 0  # the shorts earn
