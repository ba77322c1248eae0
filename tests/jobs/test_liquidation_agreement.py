"""The liquidator's off-chain health check agrees with the program's own verdict at the verdict's
boundary: random markets (margins, the profit cap through max_profit_bps, funding at random open
interest), positions, elapsed time, confidence widths and socialized losses; the price is then
moved to where the plan's verdict flips for the subject positions (a long's loss, a short's
loss, or a long's profit capped at its reserve while its maintenance margin keeps growing), and
the collateral of two identical subjects is topped up so that, by the plan, equity - maintenance
is -1 to -4 for one and 0 to 3 for the other. `is_liquidatable` and `PositionBook` judge them
(and a counterparty on the other side) from the decoded accounts; the program's `liquidate` on
LiteSVM is refused with NotLiquidatable exactly when the plan says the position is healthy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from chain.funding import Funding
from chain.prices import PERP_MAX_PRICE, Quote
from jobs.liquidation_plan import (
    LONG,
    MAX_COLLATERAL,
    SHORT,
    PositionBook,
    funding_owed,
    is_liquidatable,
    loss_share,
    mark_price,
)
from program.client import PerpMarketParams
from program.idl import spec
from tests.support.perps import Perp, open_perp
from tests.support.program_world import User, deploy_world
from tests.support.refusals import set_field

# The price is moved until the subject's equity at its opening collateral plus this margin is
# under maintenance, so that a top-up reaches every offset below from there.
HEADROOM = 8


def quote_at(price: int, conf_bps: int) -> Quote:
    return Quote(price, price * conf_bps // 10_000)


def flip(healthy: int, liquidatable: int, is_liq: Callable[[int], bool]) -> int:
    """A value next to a flip of `is_liq` between `healthy` (False there) and `liquidatable`
    (True there), on the liquidatable side."""
    while abs(healthy - liquidatable) > 1:
        mid = (healthy + liquidatable) // 2
        if is_liq(mid):
            liquidatable = mid
        else:
            healthy = mid
    return liquidatable


def verdict(p: Any, market: Any, quote: Quote, now: int, collateral: int | None = None) -> bool:
    """The plan's verdict on position `p` of `market` at `quote` and `now` (with `collateral`
    instead of its own if given)."""
    long_index, short_index = Funding.of(market).indexes(quote.price, now)
    loss_index = market.loss_index_long if p.side == LONG else market.loss_index_short
    return is_liquidatable(p.side, p.size, p.entry_price,
                           p.collateral if collateral is None else collateral,
                           p.funding_snapshot, p.reserve, quote=quote,
                           index=long_index if p.side == LONG else short_index,
                           maintenance_bps=market.maintenance_margin_bps,
                           loss=loss_share(p.size, loss_index, p.loss_snapshot))


def boundary_price(p: Any, market: Any, now: int, *, start: int, extreme: int,
                   conf_bps: int) -> int:
    """A price next to where the plan's verdict on `p` (with HEADROOM more collateral) flips,
    searched from `start` towards `extreme`: `start` itself when it is already liquidatable,
    `extreme` when the plan sees no flip on the way."""
    def is_liq(price: int) -> bool:
        return verdict(p, market, quote_at(price, conf_bps), now, p.collateral + HEADROOM)

    if is_liq(start) or not is_liq(extreme):
        return start if is_liq(start) else extreme
    return flip(start, extreme, is_liq)


def boundary_collateral(p: Any, market: Any, quote: Quote, now: int) -> int:
    """The least collateral at which the plan finds `p` healthy at `quote` (equity -
    maintenance = 0 there); `p.collateral` when it is healthy already."""
    def is_liq(c: int) -> bool:
        return verdict(p, market, quote, now, c)

    if not is_liq(p.collateral):
        return int(p.collateral)
    assert not is_liq(MAX_COLLATERAL), "no collateral makes it healthy"
    return flip(MAX_COLLATERAL, int(p.collateral), is_liq) + 1


def capped(p: Any, market: Any, quote: Quote, now: int) -> bool:
    """Whether `p`'s profit less funding exceeds its reserve at `quote`."""
    long_index, short_index = Funding.of(market).indexes(quote.price, now)
    index = long_index if p.side == LONG else short_index
    mark = mark_price(p.side, quote)
    pnl = (mark - p.entry_price if p.side == LONG else p.entry_price - mark) * p.size // 10**6
    return bool(pnl - funding_owed(p.side, p.size, index, p.funding_snapshot) > p.reserve)


def top_up(perp: Perp, owner: User, collateral: int) -> None:
    """Deposit what brings `owner`'s collateral to `collateral` (nothing if it has more)."""
    more = collateral - int(perp.position(owner).collateral)  # type: ignore[attr-defined]
    if more > 0:
        perp.w.chain.mint_to(perp.w.d.quote_mint, owner.token, more)
        perp.w.ok(perp.w.client.deposit(owner.key, perp.market, owner.token, more), owner.kp)


@settings(max_examples=60, deadline=None)
@given(data=st.data(),
       maintenance=st.integers(50, 900), initial_above=st.integers(1, 1_000),
       max_profit_bps=st.one_of(st.integers(1, 100), st.integers(1, 10_000)),
       max_funding_bps=st.one_of(st.just(0), st.integers(0, 10_000)),
       subject_side=st.sampled_from([LONG, SHORT]), in_profit=st.booleans(),
       size=st.integers(10_000, 10**8), other_size=st.integers(0, 10**8),
       price=st.integers(10**6, 10**9), move_bps=st.integers(-3_000, 3_000),
       conf_bps=st.one_of(st.just(0), st.just(200), st.integers(0, 200)),
       elapsed=st.integers(0, 10 * 86_400),
       loss_delta=st.one_of(st.just(0), st.integers(1, 10**9), st.integers(1, 10**14)),
       below=st.integers(1, 4), above=st.integers(0, 3))
def test_the_plan_says_liquidatable_iff_the_program_liquidates(
        data: st.DataObject, maintenance: int, initial_above: int,
        max_profit_bps: int, max_funding_bps: int, subject_side: int, in_profit: bool,
        size: int, other_size: int, price: int, move_bps: int, conf_bps: int, elapsed: int,
        loss_delta: int, below: int, above: int) -> None:
    w = deploy_world()  # of its own: an example replays the same, so Hypothesis can shrink
    try:
        params = PerpMarketParams(initial_margin_bps=min(maintenance + initial_above, 10_000),
                                  maintenance_margin_bps=maintenance,
                                  liquidation_fee_bps=min(50, maintenance), taker_fee_bps=10,
                                  funding_interval_secs=3_600, max_funding_bps=max_funding_bps,
                                  max_profit_bps=max_profit_bps)
        perp = open_perp(w, params, price=price)
        notional = size * price // 10**6
        # just above the initial margin and the taker fee: a small move reaches maintenance
        opening = (-(-notional * params.initial_margin_bps // 10_000) + -(-notional * 10 // 10_000)
                   + data.draw(st.integers(0, notional // 100), label="extra collateral"))
        subjects = [perp.trader(opening), perp.trader(opening)]
        for owner in subjects:
            perp.open(owner, subject_side, size)
        owners = [(o, subject_side) for o in subjects]
        other_side = SHORT if subject_side == LONG else LONG
        if other_size:
            other_notional = other_size * price // 10**6
            counterparty = perp.trader(other_notional // 5 + 2 + data.draw(
                st.integers(0, other_notional), label="counterparty's extra collateral"))
            perp.open(counterparty, other_side, other_size)
            owners.append((counterparty, other_side))
        w.chain.set_time(w.chain.now() + elapsed)
        now = w.chain.now()
        # the other side's bad debt socialized onto the subjects' side since they opened: a
        # profit first pays its share of it (the loss index written as a liquidation leaves it)
        side_index = "loss_index_long" if subject_side == LONG else "loss_index_short"
        set_field(w, perp.market, spec.PERP_MARKET, side_index,
                  getattr(perp.state(), side_index) + loss_delta)

        # the price where the plan's verdict on the subjects flips: a long loses as the price
        # falls, a short as it rises; a long in profit has it capped at its reserve while its
        # maintenance margin grows with the price
        market, subject = perp.state(), perp.position(subjects[0])
        highest = PERP_MAX_PRICE * 10_000 // (10_000 + conf_bps)
        rises = subject_side == SHORT or in_profit
        start = max(1, min(highest, price * (10_000 + move_bps) // 10_000))
        moved = boundary_price(subject, market, now, start=start, extreme=highest if rises else 1,
                               conf_bps=conf_bps)
        quote = quote_at(moved, conf_bps)
        edge = boundary_collateral(subject, market, quote, now)
        top_up(perp, subjects[0], edge - below)
        top_up(perp, subjects[1], edge + above)
        perp.set_price_conf(quote.price, quote.conf)
        event(f"subject {'long' if subject_side == LONG else 'short'}"
              f"{' in profit' if in_profit and subject_side == LONG else ''}")
        event(f"profit capped: {capped(subject, market, quote, now)}")
        accrued = Funding.of(market).indexes(quote.price, now)
        event(f"funding accrued: {accrued[0] != market.cumulative_funding}")
        event(f"confidence: {'none' if quote.conf == 0 else 'some'}")
        event(f"socialized loss: {loss_delta > 0}")

        keys = [perp.position_of(o) for o, _ in owners]
        positions = [perp.position(o) for o, _ in owners]
        book = PositionBook.from_accounts({perp.market: market}, list(zip(keys, positions,
                                                                          strict=True)))
        by_book = {c.position for c in book.liquidatable({perp.market: quote}, now=now)}
        keeper = w.user(0)
        verdicts = []
        for (owner, _), key, p in zip(owners, keys, positions, strict=True):
            plan = verdict(p, market, quote, now)
            verdicts.append(plan)
            assert (key in by_book) == plan
            result = w.send(perp.liquidate_ix(keeper, owner), keeper.kp)
            assert result.ok == plan, (plan, result.error)
            if not plan:
                assert result.error == "NotLiquidatable"
            w.check_invariant()
        # not vacuous: one subject on each side of the plan's boundary, a few units from it
        assert verdicts[:2] == [True, False], (verdicts, edge)
    finally:
        # a failing example's traceback keeps its frame: free the SVM while Hypothesis shrinks
        w.chain.svm = None
