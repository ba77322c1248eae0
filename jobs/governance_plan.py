"""What a governance keeper should do with a prediction market, apart from I/O.

The same arithmetic as the program (`program/src/math/votes.h`,
`program/src/instructions/governance.c` and `resolution.c`), on the chain's unix time:

- **approve** a market in Proposed whose votes reach the threshold — at any time, the window
  need not have closed (`approve_market` does not look at the clock);
- **reject** a market in Proposed at or after `proposal_ends_at` whose votes do not
  (`reject_market`: TooEarly before, ApprovalReached when they do);
- **finalize** a market in Resolving at or after `resolution_proposed_at +
  dispute_window_secs`, or in Disputed at or after `dispute_ends_at` (`finalize_market`);
- **wait** while one of those is not possible yet (`due_at` says until when);
- **none** in the states no keeper acts on (Approved, Active: their creator moves them on;
  Finalized, Cancelled: over).

`tally_step` and `finalize_step` are what the two jobs make of a plan: the action to send,
or the outcome to report without sending (`not_needed` while it is too early or when the
market cannot get there, `already_done` when the job's stage is over).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Protocol

from jobs.outcome import Outcome

BPS_DENOMINATOR = 10_000


class MarketState(IntEnum):
    PROPOSED = 0
    APPROVED = 1
    ACTIVE = 2
    RESOLVING = 3
    DISPUTED = 4
    FINALIZED = 5
    CANCELLED = 6


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    FINALIZE = "finalize"
    WAIT = "wait"
    NONE = "none"


class MarketView(Protocol):
    """The fields of a decoded Market the plan reads (anchorpy's decoded account has them)."""

    @property
    def state(self) -> int: ...
    @property
    def created_at(self) -> int: ...
    @property
    def proposal_ends_at(self) -> int: ...
    @property
    def likes(self) -> int: ...
    @property
    def dislikes(self) -> int: ...
    @property
    def resolution_proposed_at(self) -> int: ...
    @property
    def dispute_ends_at(self) -> int: ...
    @property
    def agree(self) -> int: ...
    @property
    def disagree(self) -> int: ...


class ConfigView(Protocol):
    """The fields of the decoded Config the plan reads."""

    @property
    def proposal_min_votes(self) -> int: ...
    @property
    def proposal_approval_bps(self) -> int: ...
    @property
    def dispute_window_secs(self) -> int: ...
    @property
    def dispute_overturn_bps(self) -> int: ...


def proposal_approved(likes: int, dislikes: int, min_votes: int, approval_bps: int) -> bool:
    """likes / (likes + dislikes) ≥ approval_bps / 10⁴ with at least `min_votes` votes (and
    at least one), in integers: likes·10⁴ ≥ approval_bps·(likes + dislikes)."""
    total = likes + dislikes
    if total < min_votes or total == 0:
        return False
    return likes * BPS_DENOMINATOR >= total * approval_bps


def dispute_overturned(agree: int, disagree: int, overturn_bps: int) -> bool:
    """disagree / (agree + disagree) ≥ overturn_bps / 10⁴, with at least one vote."""
    total = agree + disagree
    if total == 0:
        return False
    return disagree * BPS_DENOMINATOR >= total * overturn_bps


def approved(market: MarketView, config: ConfigView) -> bool:
    return proposal_approved(market.likes, market.dislikes, config.proposal_min_votes,
                             config.proposal_approval_bps)


def overturned(market: MarketView, config: ConfigView) -> bool:
    """Whether finalizing a Disputed market overturns its proposed outcome."""
    return dispute_overturned(market.agree, market.disagree, config.dispute_overturn_bps)


def dispute_deadline(market: MarketView, config: ConfigView) -> int:
    """When a market in Resolving can no longer be disputed (and can be finalized)."""
    return market.resolution_proposed_at + config.dispute_window_secs


def due_at(market: MarketView, config: ConfigView) -> int | None:
    """The unix time from which the market's next keeper action is possible (already past when
    it is possible now); None when no keeper action will ever be (Approved, Active, Finalized,
    Cancelled). A market in Proposed that reached approval can be approved from its creation."""
    state = market.state
    if state == MarketState.PROPOSED:
        return market.created_at if approved(market, config) else market.proposal_ends_at
    if state == MarketState.RESOLVING:
        return dispute_deadline(market, config)
    if state == MarketState.DISPUTED:
        return market.dispute_ends_at
    return None


def plan(market: MarketView, config: ConfigView, now: int) -> Action:
    """What a keeper should do with `market` at chain time `now` (see the module docstring)."""
    state = market.state
    if state == MarketState.PROPOSED:
        if approved(market, config):
            return Action.APPROVE
        return Action.REJECT if now >= market.proposal_ends_at else Action.WAIT
    if state in (MarketState.RESOLVING, MarketState.DISPUTED):
        due = due_at(market, config)
        assert due is not None
        return Action.FINALIZE if now >= due else Action.WAIT
    return Action.NONE


def tally_step(market: MarketView, config: ConfigView, now: int) -> Action | Outcome:
    """`tally_votes`: APPROVE or REJECT to send; `not_needed` while the proposal window is
    open without approval; `already_done` once the market left Proposed."""
    if market.state != MarketState.PROPOSED:
        return Outcome.ALREADY_DONE
    action = plan(market, config, now)
    return Outcome.NOT_NEEDED if action == Action.WAIT else action


def finalize_step(market: MarketView, config: ConfigView, now: int) -> Action | Outcome:
    """`finalize_market`: FINALIZE to send; `already_done` when it is Finalized;
    `not_needed` before its window closes, or in a state finalizing does not apply to yet
    (Proposed, Approved, Active) or ever (Cancelled)."""
    if market.state == MarketState.FINALIZED:
        return Outcome.ALREADY_DONE
    action = plan(market, config, now)
    return Action.FINALIZE if action == Action.FINALIZE else Outcome.NOT_NEEDED
