"""Random perp trading on the real SVM: price paths, opens within and beyond what collateral
allows, closes, deposits, withdrawals, funding after random waits, and liquidation attempts.

Each Hypothesis run creates a fresh perp market (random risk settings) in a world deployed once
for the test, with three traders. Every call's outcome is predicted from the decoded accounts
with the Python model (tests/program/perp_model.py): success, or the refusal the random input
deserves; any other error fails. A liquidation goes through exactly when the position's equity
was below maintenance, and is refused as NotLiquidatable exactly when it was not. After every
step the vault holds what the protocol owes.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from typing import Any

from hypothesis import note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from solders.instruction import Instruction
from solders.keypair import Keypair

from program.client import PerpMarketParams
from program.svm import TxResult
from tests.program import perp_model as m
from tests.program.conftest import World
from tests.program.perps import LONG, SHORT, Perp, open_perp
from tests.program.refusals import spec_of

TRADERS = 3
FLAT = 0
PRICE_MIN, PRICE_MAX = 10_000, 10**12  # 0.01 to a million quote per base unit
MAX_MOVE_BPS = 1_500
U64_MAX = 2**64 - 1
# the refusals random input legitimately meets; NotLiquidatable is judged on its own
LEGITIMATE = {"InsufficientCollateral", "PositionOpen", "PositionFlat", "TooEarly", "ZeroAmount",
              "InsufficientLiquidity", "NotLiquidatable"}

TRADER = st.integers(0, TRADERS - 1)
COLLATERAL = st.one_of(st.sampled_from([1, 10**6]), st.integers(10**6, 10**10))
# a part of the largest amount allowed, in bps (beyond 10^4: too much), or now and then that
# amount to the unit
PART = st.integers(0, 14_000).map(
    lambda bps: bps if bps <= 13_000 else "max" if bps <= 13_500 else "max+1")


@st.composite
def perp_params(draw: st.DrawFn) -> PerpMarketParams:
    """Risk settings the program accepts, with the taker fee within maintenance (as any sane
    market has it: a position that cannot pay its closing fee is then liquidatable)."""
    initial = draw(st.integers(100, 2_500))
    maintenance = draw(st.integers(1, initial - 1))
    return PerpMarketParams(
        initial_margin_bps=initial, maintenance_margin_bps=maintenance,
        liquidation_fee_bps=draw(st.integers(0, maintenance)),
        taker_fee_bps=draw(st.integers(0, min(maintenance, 100))),
        funding_interval_secs=draw(st.sampled_from([60, 3_600])),
        max_funding_bps=draw(st.integers(0, 100)))


def amount_of(part: int | str, largest: int) -> int:
    if part == "max":
        return largest
    if part == "max+1":
        return largest + 1
    assert isinstance(part, int)
    return largest * part // 10_000


class PerpTrading(RuleBasedStateMachine):
    """One perp market, its traders, and the model's prediction of every call."""

    def __init__(self, world: World, ids: Iterator[int], seen: Counter[str]):
        super().__init__()
        self.world = world
        self.ids = ids
        self.seen = seen
        self.perp: Perp | None = None

    @initialize(params=perp_params(), price=st.integers(10**6, 10**9),
                collateral=st.lists(COLLATERAL, min_size=TRADERS, max_size=TRADERS))
    def open_market(self, params: PerpMarketParams, price: int, collateral: list[int]) -> None:
        w = self.world
        self.perp = open_perp(w, params, perp_market_id=next(self.ids), price=price)
        self.params = params
        self.price = price
        self.traders = [self.perp.trader(c) for c in collateral]
        for t in self.traders:  # enough to deposit more
            w.chain.mint_to(w.d.quote_mint, t.token, 10**10)
        self.liquidator = w.user(0)

    # ---- reading the chain --------------------------------------------------------------------
    @property
    def p(self) -> Perp:
        assert self.perp is not None
        return self.perp

    def position(self, who: int) -> Any:
        return self.p.position(self.traders[who])

    def open_positions(self) -> list[int]:
        return [i for i in range(TRADERS) if self.position(i).side != FLAT]

    def anyone_open(self) -> bool:
        """Closes and liquidations are tried on open positions (refusals when flat are
        test_perp_refusals.py's)."""
        return self.perp is not None and bool(self.open_positions())

    def someone_open(self, pick: int) -> int:
        open_ = self.open_positions()
        return open_[pick % len(open_)]

    def expect(self, error: str | None, ix: Instruction, *signers: Keypair,
               watch: tuple[Any, ...] = ()) -> TxResult:
        """Send `ix`: it must succeed when `error` is None, else be refused with `error` and
        change nothing."""
        assert error is None or error in LEGITIMATE, error
        self.seen[f"{spec_of(ix).name}:{error or 'ok'}"] += 1
        if error is None:
            return self.world.ok(ix, *signers)
        return self.world.refused(error, ix, *signers, watch=list(watch))

    # ---- the oracle and the clock -------------------------------------------------------------
    @rule(move_bps=st.integers(-MAX_MOVE_BPS, MAX_MOVE_BPS))
    def move_price(self, move_bps: int) -> None:
        self.price = min(PRICE_MAX, max(PRICE_MIN, self.price * (10_000 + move_bps) // 10_000))
        self.p.set_price(self.price)

    @rule(wait=st.one_of(st.sampled_from([-1, 0]), st.integers(0, 3)), extra=st.integers(0, 59))
    def update_funding(self, wait: int, extra: int) -> None:
        """Wait whole intervals (-1: one second short of the next) plus up to a minute."""
        w, market = self.world, self.p.state()
        interval = market.funding_interval_secs
        due = market.last_funding_ts + interval
        w.chain.set_time(max(w.chain.now(), due - 1 if wait < 0 else due + wait * interval + extra))
        now = w.chain.now()
        if now < due:
            self.expect("TooEarly", self.p.update_funding_ix())
            return
        intervals = (now - market.last_funding_ts) // interval
        rate = m.funding_rate(market.long_oi, market.short_oi, market.max_funding_bps)
        self.expect(None, self.p.update_funding_ix())
        after = self.p.state()
        assert after.cumulative_funding == market.cumulative_funding + m.funding_delta(
            intervals, rate, self.price)
        assert after.last_funding_ts == market.last_funding_ts + intervals * interval

    # ---- collateral ---------------------------------------------------------------------------
    @rule(who=TRADER, part=PART)
    def deposit(self, who: int, part: int | str) -> None:
        w, t = self.world, self.traders[who]
        amount = min(amount_of(part, w.balance(t)), w.balance(t))
        before = self.position(who).collateral
        self.expect("ZeroAmount" if amount == 0 else None,
                    w.client.deposit(t.key, self.p.market, t.token, amount), t.kp,
                    watch=(t.token,))
        assert self.position(who).collateral == before + amount

    def free_collateral(self, pos: Any) -> int:
        """The most a position may withdraw at the current price."""
        if pos.side == FLAT:
            return pos.collateral
        p, market = m.pos_of(pos), self.p.state()
        required = m.margin(m.notional(p.size, self.price), self.params.initial_margin_bps)
        room = m.position_equity(p, self.price, market.cumulative_funding) - required
        return max(0, min(pos.collateral, room))

    @rule(who=TRADER, part=PART)
    def withdraw(self, who: int, part: int | str) -> None:
        w, t = self.world, self.traders[who]
        pos = self.position(who)
        free = self.free_collateral(pos)
        amount = amount_of(part, free) if part in ("max", "max+1") else amount_of(
            part, pos.collateral)
        error = ("ZeroAmount" if amount == 0 else
                 "InsufficientCollateral" if amount > free else None)
        self.expect(error, w.client.withdraw(t.key, self.p.market, self.p.oracle, t.token,
                                             amount), t.kp, watch=(t.token,))

    # ---- trading ------------------------------------------------------------------------------
    def largest_open(self, collateral: int) -> int:
        """The largest size `collateral` can open at the current price (0 if none)."""
        prm = self.params

        def too_big(size: int) -> bool:
            n = m.notional(size, self.price)
            fee = m.fee(n, prm.taker_fee_bps)
            return collateral < fee or collateral - fee < m.margin(n, prm.initial_margin_bps)

        # a size whose notional is two units beyond what initial margin alone allows
        hi = (collateral * m.BPS // prm.initial_margin_bps + 2) * 10**6 // self.price + 2
        return m.first(too_big, 1, hi) - 1

    @rule(who=TRADER, side=st.sampled_from([LONG, SHORT]), part=PART)
    def open(self, who: int, side: int, part: int | str) -> None:
        w, t = self.world, self.traders[who]
        pos = self.position(who)
        largest = self.largest_open(pos.collateral)
        size = amount_of(part, largest)
        error = ("ZeroAmount" if size == 0 else "PositionOpen" if pos.side != FLAT else
                 "ZeroAmount" if m.notional(size, self.price) == 0 else
                 "InsufficientCollateral" if size > largest else None)
        acceptable = U64_MAX if side == LONG else 0
        self.expect(error, w.client.open_position(t.key, self.p.market, self.p.oracle, side,
                                                  size, acceptable), t.kp)

    @precondition(anyone_open)
    @rule(pick=TRADER)
    def close(self, pick: int) -> None:
        who = self.someone_open(pick)
        w, t = self.world, self.traders[who]
        pos, config, market = self.position(who), w.config(), self.p.state()
        ix = w.client.close_position(t.key, self.p.market, self.p.oracle,
                                     0 if pos.side == LONG else U64_MAX)
        p, index = m.pos_of(pos), market.cumulative_funding
        fee = m.fee(m.notional(p.size, self.price), self.params.taker_fee_bps)
        c = m.close(p, self.price, index, self.params.taker_fee_bps, config.perp_pool,
                    config.insurance_balance)
        # as the program checks: the owner must cover the fee, then the pool the profit
        error = ("InsufficientCollateral" if m.position_equity(p, self.price, index) < fee else
                 "InsufficientLiquidity" if c is None else None)
        self.expect(error, ix, t.kp)
        if error is None:
            assert c is not None
            assert self.position(who).collateral == c.collateral
            assert w.config().perp_pool == c.pool

    @precondition(anyone_open)
    @rule(pick=TRADER)
    def liquidate(self, pick: int) -> None:
        self.try_liquidation(self.someone_open(pick))

    def excess(self, who: int, price: int) -> int:
        """equity - maintenance of the position at `price`: liquidatable below 0."""
        p, index = m.pos_of(self.position(who)), self.p.state().cumulative_funding
        return (m.position_equity(p, price, index)
                - m.maintenance(p, price, self.params.maintenance_margin_bps))

    @precondition(anyone_open)
    @rule(pick=TRADER, offset=st.sampled_from([-1, 0, 1]))
    def liquidate_at_the_edge(self, pick: int, offset: int) -> None:
        """Move the price to where the position's excess over maintenance changes sign (a
        long is liquidatable below it, a short from it on), give or take a unit, and try."""
        who = self.someone_open(pick)
        if self.position(who).side == LONG:
            safe = lambda price: self.excess(who, price) >= 0  # noqa: E731
        else:
            safe = lambda price: self.excess(who, price) < 0  # noqa: E731
        if safe(PRICE_MAX):
            self.price = min(PRICE_MAX, max(1, m.first(safe, 1, PRICE_MAX) + offset))
            self.p.set_price(self.price)
        self.try_liquidation(who)

    def try_liquidation(self, who: int) -> None:
        w, owner, liquidator = self.world, self.traders[who], self.liquidator
        pos, config, market = self.position(who), w.config(), self.p.state()
        ix = self.p.liquidate_ix(liquidator, owner)
        # the position's equity just before, from the decoded accounts: PnL rounded down,
        # funding owed rounded up
        p, index = m.pos_of(pos), market.cumulative_funding
        equity = m.position_equity(p, self.price, index)
        maintenance = m.maintenance(p, self.price, self.params.maintenance_margin_bps)
        c = m.liquidate(p, self.price, index, self.params.liquidation_fee_bps, config.perp_pool,
                        config.insurance_balance)
        note(f"liquidate {who}: equity {equity}, maintenance {maintenance}")
        # goes through exactly when equity < maintenance (w.ok insists on success); refused
        # as NotLiquidatable exactly when not (w.refused insists on that error)
        error = ("NotLiquidatable" if equity >= maintenance else
                 "InsufficientLiquidity" if c is None else None)
        reward_before = w.balance(liquidator)
        result = self.expect(error, ix, liquidator.kp, watch=(liquidator.token,))
        if error is None:
            assert c is not None and equity < maintenance
            e = result.events[0].data
            assert (e.equity, e.maintenance) == (equity, maintenance)
            assert (e.reward, e.collateral, e.bad_debt) == (c.fee, c.collateral, c.bad_debt)
            assert w.balance(liquidator) - reward_before == c.fee
            assert self.position(who).collateral == c.collateral
            assert (w.config().perp_pool, w.config().insurance_balance) == (c.pool,
                                                                            c.insurance)

    # ---- after every step ---------------------------------------------------------------------
    @invariant()
    def vault_holds_what_is_owed(self) -> None:
        self.world.check_invariant()

    def teardown(self) -> None:
        """Close everything at its entry price and withdraw it all, so that the market's
        positions leave the world and later runs' checks stay cheap. Works from the chain's
        state, best effort: a failed run must keep its own error."""
        w, perp = self.world, self.perp
        if perp is None:
            return
        for t in self.traders:
            pos = perp.position(t)
            if pos.side != FLAT:
                perp.set_price(pos.entry_price)
                close = w.client.close_position(t.key, perp.market, perp.oracle,
                                                0 if pos.side == LONG else U64_MAX)
                result = w.send(close, t.kp)
                if result.error == "InsufficientLiquidity":
                    w.chain.mint_to(w.d.quote_mint, perp.admin_token, 10**15)
                    w.send(w.client.fund_pool(w.admin.pubkey(), perp.admin_token, 10**15),
                           w.admin)
                    w.send(close, t.kp)
                elif result.error == "InsufficientCollateral":
                    w.send(perp.liquidate_ix(self.liquidator, t), self.liquidator.kp)
                pos = perp.position(t)
            if pos.side == FLAT and pos.collateral:
                w.send(w.client.withdraw(t.key, perp.market, perp.oracle, t.token,
                                         pos.collateral), t.kp)
            if perp.position(t).collateral == 0:
                w.positions.remove(perp.position_of(t))
        w.perp_markets.remove(perp.market)


def test_random_perp_trading_keeps_the_vault_whole_and_liquidates_exactly(world: World) -> None:
    ids = itertools.count(1)
    seen: Counter[str] = Counter()
    run_state_machine_as_test(
        lambda: PerpTrading(world, ids, seen),
        settings=settings(max_examples=100, stateful_step_count=50, deadline=None))
    # the run met the outcomes it is about, liquidations both ways first
    for outcome in ("liquidate:ok", "liquidate:NotLiquidatable", "open_position:ok",
                    "open_position:InsufficientCollateral", "close_position:ok",
                    "withdraw:ok", "withdraw:InsufficientCollateral", "update_funding:ok",
                    "update_funding:TooEarly"):
        assert seen[outcome], (outcome, sorted(seen.items()))
