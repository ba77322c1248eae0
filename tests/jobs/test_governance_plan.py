"""The governance plan against the program's rules, to the vote and to the second."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from jobs.errors import REFUSAL_OUTCOMES, refusal_outcome
from jobs.governance_plan import (
    Action,
    MarketState,
    dispute_overturned,
    dispute_quorum,
    due_at,
    finalize_step,
    overturned,
    plan,
    proposal_approved,
    tally_step,
)
from jobs.outcome import Outcome
from program.errors import error_names
from program.local import LocalProtocol, Wallet

T0 = 1_800_000_000
WINDOW = 86_400
DISPUTE_WINDOW = 172_800
QUORUM = 3_000_000


@dataclass(frozen=True)
class Market:
    state: int = MarketState.PROPOSED
    proposal_ends_at: int = T0 + WINDOW
    trading_ends_at: int = T0 + 2 * WINDOW
    likes: int = 0
    dislikes: int = 0
    resolution_proposed_at: int = 0
    dispute_ends_at: int = 0
    agree: int = 0
    disagree: int = 0
    collateral: int = 0
    proposal_quorum: int = QUORUM
    proposal_approval_bps: int = 7_000
    dispute_window_secs: int = DISPUTE_WINDOW
    dispute_overturn_bps: int = 6_000
    dispute_quorum_bps: int = 100
    min_dispute_quorum: int = 10_000_000


@pytest.mark.parametrize(("likes", "dislikes", "ok"), [
    (0, 0, False),  # no stake
    (QUORUM - 1, 0, False),  # below the quorum
    (QUORUM, 0, True),  # the quorum, all for
    (7 * QUORUM, 3 * QUORUM, True),  # exactly 70 %
    (6 * QUORUM, 3 * QUORUM, False),  # 66.7 %
    (69 * QUORUM, 30 * QUORUM, False),  # 69.7 %
    (70 * QUORUM, 30 * QUORUM, True),
    (10**18, 0, True),  # the program's tally bound: u128 there, Python here
])
def test_proposal_threshold_to_the_unit(likes: int, dislikes: int, ok: bool) -> None:
    assert proposal_approved(likes, dislikes, QUORUM, 7_000) is ok


def test_zero_quorum_still_needs_stake() -> None:
    assert not proposal_approved(0, 0, 0, 0)
    assert proposal_approved(0, 1, 0, 0)


@pytest.mark.parametrize(("agree", "disagree", "ok"), [
    (0, 0, False), (0, 10, True), (4, 6, True),  # 60 % exactly
    (4, 5, False), (41, 59, False), (40, 60, True), (10, 0, False), (0, 9, False),  # quorum
])
def test_dispute_overturn_to_the_unit(agree: int, disagree: int, ok: bool) -> None:
    assert dispute_overturned(agree, disagree, 10, 6_000) is bool(ok)


def test_dispute_quorum_grows_with_collateral_rounded_up() -> None:
    assert dispute_quorum(0, 100, 10) == 10
    assert dispute_quorum(100_001, 100, 10) == 1_001  # ceil(1000.01)
    assert dispute_quorum(10**18, 10_000, 10) == 10**18


def test_proposed_is_decided_only_once_the_window_closes() -> None:
    m = Market(likes=QUORUM)
    for now in (T0, T0 + WINDOW - 1):
        assert plan(m, now) == Action.WAIT
        assert tally_step(m, now) == Outcome.NOT_NEEDED
    for now in (T0 + WINDOW, T0 + 10 * WINDOW):
        assert plan(m, now) == Action.APPROVE
        assert tally_step(m, now) == Action.APPROVE
    assert due_at(m) == T0 + WINDOW


def test_proposed_rejects_from_the_window_end_to_the_second() -> None:
    m = Market(likes=2 * QUORUM, dislikes=QUORUM)
    assert plan(m, T0 + WINDOW - 1) == Action.WAIT
    assert tally_step(m, T0 + WINDOW - 1) == Outcome.NOT_NEEDED
    assert plan(m, T0 + WINDOW) == Action.REJECT
    assert tally_step(m, T0 + WINDOW) == Action.REJECT
    assert due_at(m) == T0 + WINDOW
    # no votes at all: rejected too
    assert plan(Market(), T0 + WINDOW) == Action.REJECT


def test_resolving_finalizes_after_the_markets_own_dispute_window() -> None:
    m = Market(state=MarketState.RESOLVING, resolution_proposed_at=T0,
               dispute_window_secs=600)
    end = T0 + 600
    assert due_at(m) == end
    assert plan(m, end - 1) == Action.WAIT
    assert finalize_step(m, end - 1) == Outcome.NOT_NEEDED
    assert plan(m, end) == Action.FINALIZE
    assert finalize_step(m, end) == Action.FINALIZE
    assert tally_step(m, end) == Outcome.ALREADY_DONE


def test_disputed_finalizes_at_dispute_ends_at() -> None:
    m = Market(state=MarketState.DISPUTED, resolution_proposed_at=T0,
               dispute_ends_at=T0 + 1000, agree=1, disagree=5)
    assert due_at(m) == T0 + 1000
    assert finalize_step(m, T0 + 999) == Outcome.NOT_NEEDED
    assert finalize_step(m, T0 + 1000) == Action.FINALIZE


def test_approved_but_never_activated_is_rejected_at_its_trading_end() -> None:
    m = Market(state=MarketState.APPROVED, likes=10 * QUORUM)
    end = T0 + 2 * WINDOW
    assert due_at(m) == end
    for now in (T0 + WINDOW, end - 1):
        assert plan(m, now) == Action.WAIT
        assert tally_step(m, now) == Outcome.ALREADY_DONE  # the vote is decided
        assert finalize_step(m, now) == Outcome.NOT_NEEDED
    for now in (end, end + 10**9):
        assert plan(m, now) == Action.REJECT
        assert tally_step(m, now) == Action.REJECT
        assert finalize_step(m, now) == Outcome.NOT_NEEDED


@pytest.mark.parametrize("state", [MarketState.ACTIVE, MarketState.FINALIZED,
                                   MarketState.CANCELLED])
def test_states_no_keeper_acts_on(state: MarketState) -> None:
    m = replace(Market(likes=10 * QUORUM), state=state)
    assert plan(m, T0 + 10**9) == Action.NONE
    assert due_at(m) is None
    assert tally_step(m, T0) == Outcome.ALREADY_DONE
    expected = Outcome.ALREADY_DONE if state == MarketState.FINALIZED else Outcome.NOT_NEEDED
    assert finalize_step(m, T0 + 10**9) == expected


def test_finalize_of_a_proposal_is_not_needed() -> None:
    assert finalize_step(Market(likes=QUORUM), T0 + WINDOW) == Outcome.NOT_NEEDED


def test_refusals_map_once() -> None:
    assert refusal_outcome("InvalidState") == Outcome.ALREADY_DONE
    assert refusal_outcome("TooEarly") == Outcome.NOT_NEEDED
    assert refusal_outcome("ThresholdNotMet") == Outcome.NOT_NEEDED
    assert refusal_outcome("Unauthorized") == Outcome.FAILED
    assert refusal_outcome("custom program error: 0x1") == Outcome.FAILED
    assert refusal_outcome("StaleOracle") == Outcome.RETRY
    assert refusal_outcome("PositionFlat") == Outcome.ALREADY_DONE
    # every harmless refusal is a program error the IDL names
    assert set(REFUSAL_OUTCOMES) <= set(error_names().values())


# ---- the plan against the program on LiteSVM --------------------------------------------------
@cache
def protocol() -> LocalProtocol:
    """One deployment for every example: each example makes its own markets."""
    return LocalProtocol.deploy()


def configure(p: LocalProtocol, **changes: int) -> None:
    """New markets run under these rules (the council of one changes them)."""
    p.reconfigure(replace(p.params, **changes))


def voted(p: LocalProtocol, market: Pubkey, stakes: list[tuple[bool, int]], *,
          dispute: bool) -> None:
    for choice, stake in stakes:
        voter = p.user(stake)
        build = p.client.vote_dispute if dispute else p.client.vote_proposal
        result = p.chain.send([build(voter.key, market, choice, stake=stake,
                                     voter_token=voter.token)], [voter.kp])
        assert result.ok, result.error


def new_market(p: LocalProtocol, creator: Wallet, market_id: int) -> Pubkey:
    market = p.d.market(creator.key, market_id)
    result = p.chain.send([p.client.create_market(creator.key, market_id, "?",
                                                  p.chain.now() + 30 * 86_400,
                                                  creator_token=creator.token)], [creator.kp])
    assert result.ok, result.error
    return market


STAKES = st.lists(st.tuples(st.booleans(), st.integers(1_000_000, 20_000_000)), max_size=5)


@settings(max_examples=25, deadline=None)
@given(stakes=STAKES, approval_bps=st.integers(5_001, 10_000),
       quorum=st.integers(1, 40_000_000), market_id=st.integers(0, 2**64 - 1))
def test_tally_plan_agrees_with_the_program(stakes: list[tuple[bool, int]], approval_bps: int,
                                            quorum: int, market_id: int) -> None:
    """Random stakes and rules: before the window closes the plan waits and the program
    refuses both verdicts (TooEarly); after, the program accepts exactly the plan's verdict."""
    p = protocol()
    configure(p, proposal_approval_bps=approval_bps, proposal_quorum=quorum)
    market = new_market(p, p.user(), market_id)
    voted(p, market, stakes, dispute=False)
    m = p.chain.fetch(market)
    calls = {Action.APPROVE: p.client.approve_market(market),
             Action.REJECT: p.client.reject_market(market)}
    assert plan(m, p.chain.now()) == Action.WAIT
    for ix in calls.values():
        assert p.chain.send([ix]).error == "TooEarly"
    p.chain.set_time(m.proposal_ends_at)
    verdict = plan(m, p.chain.now())
    other = Action.REJECT if verdict == Action.APPROVE else Action.APPROVE
    expected = "ThresholdNotMet" if other == Action.APPROVE else "ApprovalReached"
    assert p.chain.send([calls[other]]).error == expected
    assert p.chain.send([calls[verdict]]).ok


def test_approved_expiry_agrees_with_the_program() -> None:
    """An approved market its creator never activates: the program refuses reject_market
    (TooEarly) until trading_ends_at, when the plan says reject, and accepts it from then."""
    p = protocol()
    configure(p, proposal_quorum=1, proposal_approval_bps=10_000)
    market = new_market(p, p.user(), 7)
    voted(p, market, [(True, p.params.min_vote_stake)], dispute=False)
    c, chain = p.client, p.chain
    chain.set_time(chain.fetch(market).proposal_ends_at)
    assert chain.send([c.approve_market(market)]).ok
    m = chain.fetch(market)
    chain.set_time(m.trading_ends_at - 1)
    assert tally_step(m, chain.now()) == Outcome.ALREADY_DONE
    assert chain.send([c.reject_market(market)]).error == "TooEarly"
    chain.set_time(m.trading_ends_at)
    assert tally_step(m, chain.now()) == Action.REJECT
    assert chain.send([c.reject_market(market)]).ok
    assert chain.fetch(market).state == MarketState.CANCELLED


@settings(max_examples=10, deadline=None)
@given(stakes=STAKES, overturn_bps=st.integers(5_001, 10_000),
       min_quorum=st.integers(1, 40_000_000), market_id=st.integers(0, 2**64 - 1))
def test_finalize_verdict_agrees_with_the_program(stakes: list[tuple[bool, int]],
                                                  overturn_bps: int, min_quorum: int,
                                                  market_id: int) -> None:
    """Random dispute stakes and rules: the plan's `overturned` is the program's verdict."""
    p = protocol()
    configure(p, dispute_overturn_bps=overturn_bps, min_dispute_quorum=min_quorum,
              proposal_quorum=1, proposal_approval_bps=10_000)
    creator, disputer = p.user(), p.user()
    market = new_market(p, creator, market_id)
    voted(p, market, [(True, p.params.min_vote_stake)], dispute=False)
    c, chain = p.client, p.chain
    chain.set_time(chain.fetch(market).proposal_ends_at)
    assert chain.send([c.approve_market(market)]).ok
    assert chain.send([c.activate_market(creator.key, market, creator.token,
                                         100_000_000)], [creator.kp]).ok
    chain.set_time(chain.fetch(market).trading_ends_at)
    assert chain.send([c.propose_resolution(creator.key, market, 1,
                                            proposer_token=creator.token),
                       c.dispute(disputer.key, market, disputer.token)],
                      [creator.kp, disputer.kp]).ok
    voted(p, market, stakes, dispute=True)
    m = chain.fetch(market)
    chain.set_time(m.dispute_ends_at)
    assert finalize_step(m, chain.now()) == Action.FINALIZE
    assert chain.send([c.finalize_market(market)]).ok
    assert chain.fetch(market).overturned is overturned(m)
