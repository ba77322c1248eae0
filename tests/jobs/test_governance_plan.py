"""The governance plan against the program's rules, to the vote and to the second."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from jobs.governance_plan import (
    Action,
    MarketState,
    dispute_overturned,
    due_at,
    finalize_step,
    plan,
    proposal_approved,
    tally_step,
)
from jobs.outcome import REFUSAL_OUTCOMES, Outcome, refusal_outcome
from program.errors import error_names

T0 = 1_800_000_000
WINDOW = 86_400
DISPUTE_WINDOW = 172_800


@dataclass(frozen=True)
class Config:
    proposal_min_votes: int = 3
    proposal_approval_bps: int = 7_000
    dispute_window_secs: int = DISPUTE_WINDOW
    dispute_overturn_bps: int = 6_000


@dataclass(frozen=True)
class Market:
    state: int = MarketState.PROPOSED
    created_at: int = T0
    proposal_ends_at: int = T0 + WINDOW
    likes: int = 0
    dislikes: int = 0
    resolution_proposed_at: int = 0
    dispute_ends_at: int = 0
    agree: int = 0
    disagree: int = 0


CONFIG = Config()


@pytest.mark.parametrize(("likes", "dislikes", "ok"), [
    (0, 0, False),  # no votes
    (2, 0, False),  # below the minimum of 3
    (3, 0, True),  # the minimum, all for
    (7, 3, True),  # exactly 70 %
    (6, 3, False),  # 66.7 %
    (69, 30, False),  # 69.7 %
    (70, 30, True),
    (2**64 - 1, 0, True),  # no overflow in Python, none in the program's u128 either
])
def test_proposal_threshold_to_the_vote(likes: int, dislikes: int, ok: bool) -> None:
    assert proposal_approved(likes, dislikes, 3, 7_000) is ok


def test_min_votes_zero_still_needs_a_vote() -> None:
    assert not proposal_approved(0, 0, 0, 0)
    assert proposal_approved(0, 1, 0, 0)


@pytest.mark.parametrize(("agree", "disagree", "ok"), [
    (0, 0, False), (0, 1, True), (2, 3, True),  # 60 % exactly
    (3, 4, False), (41, 59, False), (40, 60, True), (1, 0, False),
])
def test_dispute_overturn_to_the_vote(agree: int, disagree: int, ok: bool) -> None:
    assert dispute_overturned(agree, disagree, 6_000) is bool(ok)


def test_proposed_approves_any_time_the_threshold_is_met() -> None:
    m = Market(likes=3)
    for now in (T0, T0 + WINDOW - 1, T0 + WINDOW, T0 + 10 * WINDOW):
        assert plan(m, CONFIG, now) == Action.APPROVE
        assert tally_step(m, CONFIG, now) == Action.APPROVE
    assert due_at(m, CONFIG) == T0


def test_proposed_rejects_from_the_window_end_to_the_second() -> None:
    m = Market(likes=2, dislikes=1)
    assert plan(m, CONFIG, T0 + WINDOW - 1) == Action.WAIT
    assert tally_step(m, CONFIG, T0 + WINDOW - 1) == Outcome.NOT_NEEDED
    assert plan(m, CONFIG, T0 + WINDOW) == Action.REJECT
    assert tally_step(m, CONFIG, T0 + WINDOW) == Action.REJECT
    assert due_at(m, CONFIG) == T0 + WINDOW
    # no votes at all: rejected too
    assert plan(Market(), CONFIG, T0 + WINDOW) == Action.REJECT


def test_resolving_finalizes_after_the_dispute_window_to_the_second() -> None:
    m = Market(state=MarketState.RESOLVING, resolution_proposed_at=T0)
    end = T0 + DISPUTE_WINDOW
    assert due_at(m, CONFIG) == end
    assert plan(m, CONFIG, end - 1) == Action.WAIT
    assert finalize_step(m, CONFIG, end - 1) == Outcome.NOT_NEEDED
    assert plan(m, CONFIG, end) == Action.FINALIZE
    assert finalize_step(m, CONFIG, end) == Action.FINALIZE
    assert tally_step(m, CONFIG, end) == Outcome.ALREADY_DONE


def test_disputed_finalizes_at_dispute_ends_at() -> None:
    m = Market(state=MarketState.DISPUTED, resolution_proposed_at=T0,
               dispute_ends_at=T0 + 1000, agree=1, disagree=5)
    assert due_at(m, CONFIG) == T0 + 1000
    assert finalize_step(m, CONFIG, T0 + 999) == Outcome.NOT_NEEDED
    assert finalize_step(m, CONFIG, T0 + 1000) == Action.FINALIZE


@pytest.mark.parametrize("state", [MarketState.APPROVED, MarketState.ACTIVE,
                                   MarketState.FINALIZED, MarketState.CANCELLED])
def test_states_no_keeper_acts_on(state: MarketState) -> None:
    m = replace(Market(likes=10), state=state)
    assert plan(m, CONFIG, T0 + 10**9) == Action.NONE
    assert due_at(m, CONFIG) is None
    assert tally_step(m, CONFIG, T0) == Outcome.ALREADY_DONE
    expected = Outcome.ALREADY_DONE if state == MarketState.FINALIZED else Outcome.NOT_NEEDED
    assert finalize_step(m, CONFIG, T0 + 10**9) == expected


def test_finalize_of_a_proposal_is_not_needed() -> None:
    assert finalize_step(Market(likes=3), CONFIG, T0 + WINDOW) == Outcome.NOT_NEEDED


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
