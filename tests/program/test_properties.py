"""Random buys and sells by several traders in one market, on the real SVM.

Each Hypothesis run opens a fresh market in a world deployed once for the test, lets three
traders trade at random, and checks every accepted trade against the Python model exactly.
After every step the pool is fully backed, both reserves stay positive, and the vault holds
what the protocol owes; at the end the market is resolved and everyone paid out.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from solders.pubkey import Pubkey

from tests.support import market_model as model
from tests.support.market_lifecycle import pay_out
from tests.support.program_world import User, World

NO, YES = 0, 1
ACTIVE = 2
TRADERS = 3
TRADER_QUOTE = 2 * 10**15

LIQUIDITY = st.one_of(st.sampled_from([1, 1_000, 10**15]), st.integers(1, 10_000),
                      st.integers(1, 10**15))
# small amounts reach the ones the fee eats whole, which the program refuses as ZeroAmount
AMOUNT = st.one_of(st.integers(0, 300), st.integers(0, TRADER_QUOTE))
OUTCOME = st.sampled_from([NO, YES])
TRADER = st.integers(0, TRADERS - 1)
PART = st.fractions(min_value=0, max_value=1, max_denominator=1_000)


class Trading(RuleBasedStateMachine):
    """One market, its traders, and the model's view of the pool and their shares."""

    def __init__(self, world: World):
        super().__init__()
        self.world = world
        self.fee_bps = world.params.trade_fee_bps
        self.market: Pubkey | None = None

    @initialize(liquidity=LIQUIDITY, resolves_to=OUTCOME)
    def open_market(self, liquidity: int, resolves_to: int) -> None:
        w = self.world
        # the creation and resolution bonds besides the liquidity
        self.creator = w.user(quote=liquidity + w.params.creation_bond
                              + w.params.resolution_bond)
        self.market = w.active(self.creator, liquidity)
        self.resolves_to = resolves_to
        self.traders = [w.user(TRADER_QUOTE) for _ in range(TRADERS)]
        self.reserves = {YES: liquidity, NO: liquidity}
        self.collateral = liquidity
        self.held = [{YES: 0, NO: 0} for _ in self.traders]
        self.has_shares = [False] * TRADERS  # a trader's Shares account exists after a buy

    # ---- trades, each checked against the model -----------------------------------------------
    def shares_account(self, t: User) -> Pubkey:
        assert self.market is not None
        return self.world.d.shares(self.market, t.key)

    def _buy(self, who: int, outcome: int, amount: int) -> int:
        """Buy with up to `amount` quote; returns the shares bought (0 when refused)."""
        w, t = self.world, self.traders[who]
        amount = min(amount, w.balance(t))
        fee = model.fee(amount, self.fee_bps)
        shares, bought, other = model.buy(self.reserves[outcome], self.reserves[1 - outcome],
                                          amount - fee)
        ix = w.client.buy(t.key, self.market, t.token, outcome, amount)
        if shares == 0:
            w.refused("ZeroAmount", ix, t.kp, watch=[t.token, self.shares_account(t)])
            return 0
        before = w.balance(t)
        e = w.ok(ix, t.kp).events[0].data
        assert (e.is_buy, e.outcome, e.shares, e.amount, e.fee) == (True, outcome, shares,
                                                                    amount, fee)
        assert before - w.balance(t) == amount
        self.reserves[outcome], self.reserves[1 - outcome] = bought, other
        assert (e.yes_reserve, e.no_reserve) == (self.reserves[YES], self.reserves[NO])
        self.collateral += amount - fee
        self.held[who][outcome] += shares
        self.has_shares[who] = True
        return shares

    def _sell(self, who: int, outcome: int, shares: int) -> int:
        """Sell `shares`; returns the quote received (0 when refused)."""
        w, t = self.world, self.traders[who]
        gross, sold, other = model.sell(self.reserves[outcome], self.reserves[1 - outcome],
                                        shares)
        fee = model.fee(gross, self.fee_bps)
        paid = gross - fee
        ix = w.client.sell(t.key, self.market, t.token, outcome, shares)
        if paid == 0:
            w.refused("ZeroAmount", ix, t.kp, watch=[t.token, self.shares_account(t)])
            return 0
        before = w.balance(t)
        e = w.ok(ix, t.kp).events[0].data
        assert (e.is_buy, e.outcome, e.shares, e.amount, e.fee) == (False, outcome, shares,
                                                                    paid, fee)
        assert w.balance(t) - before == paid
        self.reserves[outcome], self.reserves[1 - outcome] = sold, other
        assert (e.yes_reserve, e.no_reserve) == (self.reserves[YES], self.reserves[NO])
        self.collateral -= gross
        self.held[who][outcome] -= shares
        return paid

    @rule(who=TRADER, outcome=OUTCOME, amount=AMOUNT)
    def buy(self, who: int, outcome: int, amount: int) -> None:
        self._buy(who, outcome, amount)

    @rule(who=TRADER, outcome=OUTCOME, part=PART)
    def sell(self, who: int, outcome: int, part: Fraction) -> None:
        if self.has_shares[who]:
            self._sell(who, outcome, self.held[who][outcome] * part.numerator // part.denominator)

    @rule(who=TRADER, outcome=OUTCOME, amount=AMOUNT)
    def buy_then_sell_back(self, who: int, outcome: int, amount: int) -> None:
        """Selling exactly the shares just bought never returns more than was paid."""
        t = self.traders[who]
        before = self.world.balance(t)
        shares = self._buy(who, outcome, amount)
        if shares:
            paid = before - self.world.balance(t)
            returned = self._sell(who, outcome, shares)
            assert returned <= paid
            assert self.world.balance(t) <= before

    # ---- after every step ----------------------------------------------------------------------
    @invariant()
    def pool_is_backed(self) -> None:
        w = self.world
        w.check_invariant()
        m = w.market(self.market)
        accounts = [w.chain.fetch(self.shares_account(t)) for t in self.traders]
        held = [(s.yes, s.no) if s else (0, 0) for s in accounts]
        # complete sets: every YES and every NO share in existence is one quote unit
        assert m.collateral == m.yes_reserve + sum(y for y, _ in held)
        assert m.collateral == m.no_reserve + sum(n for _, n in held)
        assert 0 < Fraction(m.no_reserve, m.yes_reserve + m.no_reserve) < 1
        assert (m.yes_reserve, m.no_reserve, m.collateral) == (
            self.reserves[YES], self.reserves[NO], self.collateral)
        assert held == [(h[YES], h[NO]) for h in self.held]

    def teardown(self) -> None:
        """Resolve the market and pay everyone out, exactly: the market ends holding nothing
        and leaves the world, so later runs' invariant checks stay cheap. Works from the
        chain's state, not the model's, so that it also cleans up after a failed run."""
        w = self.world
        if self.market is None or w.market(self.market).state != ACTIVE:
            return
        w.resolving(self.creator, self.resolves_to, self.market)
        w.finalized(self.market)
        w.ok(w.client.claim_bond(self.creator.key, self.market, self.creator.token),
             self.creator.kp)
        for v in w.proposal_voters.pop(self.market):
            w.ok(w.client.claim_vote(v.key, self.market, 0, v.token), v.kp)
        holders = {str(i): t for i, t in enumerate(self.traders)}
        held = {who: {"yes": s.yes, "no": s.no} for who, t in holders.items()
                if (s := w.chain.fetch(self.shares_account(t)))}
        pay_out(w, self.creator, self.market, {who: holders[who] for who in held}, held,
                self.resolves_to)
        w.markets.remove(self.market)

def test_random_trading_keeps_the_pool_backed(world: World) -> None:
    run_state_machine_as_test(
        lambda: Trading(world),
        settings=settings(max_examples=150, stateful_step_count=25, deadline=None))
