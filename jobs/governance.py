"""`tally_votes(market)` and `finalize_market(market)`: a prediction market's keeper steps.

Each run reads the market, the Config and the chain's clock in one request, plans with
`jobs.governance_plan`, and sends through the Sender an intent that re-reads and re-plans
before every signing; the program's own guards (InvalidState, TooEarly, ThresholdNotMet)
come back as `already_done` / `not_needed` (see `jobs.errors.REFUSAL_OUTCOMES`).
"""

from __future__ import annotations

import structlog
from solders.pubkey import Pubkey

from jobs.deps import JobDeps, Step, read_account, run_planned
from jobs.governance_plan import Action, finalize_step, tally_step
from jobs.outcome import Outcome
from jobs.registry import FINALIZE_MARKET, TALLY_VOTES
from program.accounts import Market

log = structlog.get_logger(__name__)


async def tally_votes(ctx: JobDeps, market: Pubkey) -> Outcome:
    """Once the proposal window of `market` has closed, approve it when its stake reached the
    quorum and approval, reject it otherwise; reject an approved market its creator never
    activated once its trading end has passed (its creation bond goes to protocol fees);
    `not_needed` while the window is open, `already_done` once decided and nothing is due."""

    async def planner() -> Step:
        now, m, _ = await read_account(ctx, market, Market)
        step = tally_step(m, now)
        if step == Action.APPROVE:
            return [ctx.client.approve_market(market)]
        if step == Action.REJECT:
            return [ctx.client.reject_market(market)]
        assert isinstance(step, Outcome), step
        return step

    outcome = await run_planned(ctx, TALLY_VOTES, planner)
    log.info(TALLY_VOTES.name, market=str(market), outcome=str(outcome))
    return outcome


async def finalize_market(ctx: JobDeps, market: Pubkey) -> Outcome:
    """Finalize `market` once its dispute window (Resolving) or dispute vote (Disputed) is
    over; `not_needed` before, `already_done` once Finalized."""

    async def planner() -> Step:
        now, m, _ = await read_account(ctx, market, Market)
        step = finalize_step(m, now)
        if step != Action.FINALIZE:
            assert isinstance(step, Outcome), step
            return step
        # finalizing touches no token account: the bonds are credited and claimed by their
        # winners, so nobody's frozen or closed account can hold a market up
        return [ctx.client.finalize_market(market)]

    outcome = await run_planned(ctx, FINALIZE_MARKET, planner)
    log.info(FINALIZE_MARKET.name, market=str(market), outcome=str(outcome))
    return outcome

