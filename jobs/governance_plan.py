"""What a governance keeper should do with a prediction market, apart from I/O.

The same arithmetic as the program (`program/src/math/votes.h`,
`program/src/instructions/governance.c` and `resolution.c`), on the chain's unix time and the
rules each market copied at its creation (a later config change never reaches it):

- **approve** a market in Proposed once its proposal window has closed (`now ≥
  proposal_ends_at`) if its stake reached the quorum and approval: total = likes + dislikes ≥
  proposal_quorum (and > 0) and likes·10⁴ ≥ proposal_approval_bps·total
  (`approve_market`: TooEarly before the window closes, ThresholdNotMet without approval);
- **reject** it at the same moment otherwise (`reject_market`: TooEarly, ApprovalReached);
- **reject** a market in Approved its creator never activated, once its trading would have
  ended (`now ≥ trading_ends_at`): `reject_market` cancels it and keeps its creation bond as
  protocol fees (TooEarly before);
- **finalize** a market in Resolving at or after `resolution_proposed_at +
  dispute_window_secs`, or in Disputed at or after `dispute_ends_at` (`finalize_market`);
- **wait** while one of those is not possible yet (`due_at` says until when);
- **none** in the states no keeper acts on (Active: its creator, or anyone after the creator's
  window, proposes the outcome; Finalized, Cancelled: over).

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
    """The fields of a decoded Market the plan reads (anchorpy's decoded account has them):
    its times, tallies (stake sums) and the rules it was created under."""

    @property
    def state(self) -> int: ...
    @property
    def proposal_ends_at(self) -> int: ...
    @property
    def trading_ends_at(self) -> int: ...
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
    @property
    def collateral(self) -> int: ...
    @property
    def proposal_quorum(self) -> int: ...
    @property
    def proposal_approval_bps(self) -> int: ...
    @property
    def dispute_window_secs(self) -> int: ...
    @property
    def dispute_overturn_bps(self) -> int: ...
    @property
    def dispute_quorum_bps(self) -> int: ...
    @property
    def min_dispute_quorum(self) -> int: ...


def share_reached(part: int, total: int, bps: int) -> bool:
    """part / total ≥ bps / 10⁴, in integers: part·10⁴ ≥ bps·total."""
    return part * BPS_DENOMINATOR >= total * bps


def proposal_approved(likes: int, dislikes: int, quorum: int, approval_bps: int) -> bool:
    """The total stake reached `quorum` (and is not 0) and likes reached approval_bps of it."""
    total = likes + dislikes
    if total == 0 or total < quorum:
        return False
    return share_reached(likes, total, approval_bps)


def dispute_quorum(collateral: int, quorum_bps: int, min_quorum: int) -> int:
    """The dispute stake an overturn needs: max(min_quorum, ⌈collateral·quorum_bps/10⁴⌉)."""
    return max(min_quorum, -(-collateral * quorum_bps // BPS_DENOMINATOR))


def dispute_overturned(agree: int, disagree: int, quorum: int, overturn_bps: int) -> bool:
    """The total dispute stake reached `quorum` (and is not 0) and disagree reached
    overturn_bps of it; otherwise the proposed outcome stands."""
    total = agree + disagree
    if total == 0 or total < quorum:
        return False
    return share_reached(disagree, total, overturn_bps)


def approved(market: MarketView) -> bool:
    """Whether the market's proposal stake approves it (asked once its window closed)."""
    return proposal_approved(market.likes, market.dislikes, market.proposal_quorum,
                             market.proposal_approval_bps)


def overturned(market: MarketView) -> bool:
    """Whether finalizing a Disputed market overturns its proposed outcome."""
    quorum = dispute_quorum(market.collateral, market.dispute_quorum_bps,
                            market.min_dispute_quorum)
    return dispute_overturned(market.agree, market.disagree, quorum,
                              market.dispute_overturn_bps)


def dispute_deadline(market: MarketView) -> int:
    """When a market in Resolving can no longer be disputed (and can be finalized)."""
    return market.resolution_proposed_at + market.dispute_window_secs


def due_at(market: MarketView) -> int | None:
    """The unix time from which the market's next keeper action is possible (already past when
    it is possible now); None when no keeper action will ever be (Active, Finalized,
    Cancelled). A proposal is decided only once its window has closed; an Approved market
    that was never activated is rejected once its trading would have ended."""
    state = market.state
    if state == MarketState.PROPOSED:
        return market.proposal_ends_at
    if state == MarketState.APPROVED:
        return market.trading_ends_at
    if state == MarketState.RESOLVING:
        return dispute_deadline(market)
    if state == MarketState.DISPUTED:
        return market.dispute_ends_at
    return None


def plan(market: MarketView, now: int) -> Action:
    """What a keeper should do with `market` at chain time `now` (see the module docstring)."""
    due = due_at(market)
    if due is None:
        return Action.NONE
    if now < due:
        return Action.WAIT
    if market.state == MarketState.PROPOSED:
        return Action.APPROVE if approved(market) else Action.REJECT
    if market.state == MarketState.APPROVED:
        return Action.REJECT
    return Action.FINALIZE


def tally_step(market: MarketView, now: int) -> Action | Outcome:
    """`tally_votes`: APPROVE or REJECT to send once the proposal window closed, REJECT for an
    Approved market never activated once its trading end has passed; `not_needed` while the
    proposal window is open; `already_done` once the vote is decided and nothing is due
    (Approved before its trading end, or any later state)."""
    action = plan(market, now)
    if market.state == MarketState.PROPOSED:
        return Outcome.NOT_NEEDED if action == Action.WAIT else action
    if market.state == MarketState.APPROVED and action == Action.REJECT:
        return action
    return Outcome.ALREADY_DONE


def finalize_step(market: MarketView, now: int) -> Action | Outcome:
    """`finalize_market`: FINALIZE to send; `already_done` when it is Finalized;
    `not_needed` before its window closes, or in a state finalizing does not apply to yet
    (Proposed, Approved, Active) or ever (Cancelled)."""
    if market.state == MarketState.FINALIZED:
        return Outcome.ALREADY_DONE
    action = plan(market, now)
    return Action.FINALIZE if action == Action.FINALIZE else Outcome.NOT_NEEDED
