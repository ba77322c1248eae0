"""`tally_votes(market)` and `finalize_market(market)`: a prediction market's keeper steps.

Each run reads the market, the Config and the chain's clock in one request, plans with
`jobs.governance_plan`, and sends through the Sender an intent that re-reads and re-plans
before every signing; the program's own guards (InvalidState, TooEarly, ThresholdNotMet)
come back as `already_done` / `not_needed` (see `jobs.outcome.REFUSAL_OUTCOMES`).
"""

from __future__ import annotations

import structlog
from solders.pubkey import Pubkey

from jobs.deps import JobDeps, Step, quote_token_account, read_account, run_planned
from jobs.governance_plan import (
    Action,
    MarketState,
    finalize_step,
    overturned,
    tally_step,
)
from jobs.outcome import Outcome

log = structlog.get_logger(__name__)


async def tally_votes(ctx: JobDeps, market: Pubkey) -> Outcome:
    """Approve the proposal `market` when its votes reach approval, reject it once its window
    closed without; `not_needed` while the window is open, `already_done` once decided."""

    async def planner() -> Step:
        now, m, config = await read_account(ctx, market, "Market")
        step = tally_step(m, config, now)
        if step == Action.APPROVE:
            return [ctx.client.approve_market(market)]
        if step == Action.REJECT:
            return [ctx.client.reject_market(market)]
        assert isinstance(step, Outcome), step
        return step

    outcome = await run_planned(ctx, planner)
    log.info("tally_votes", market=str(market), outcome=str(outcome))
    return outcome


async def finalize_market(ctx: JobDeps, market: Pubkey) -> Outcome:
    """Finalize `market` once its dispute window (Resolving) or dispute vote (Disputed) is
    over; `not_needed` before, `already_done` once Finalized."""

    async def planner() -> Step:
        now, m, config = await read_account(ctx, market, "Market")
        step = finalize_step(m, config, now)
        if step != Action.FINALIZE:
            assert isinstance(step, Outcome), step
            return step
        # the bond goes back to a disputer who was right: their quote token account receives
        # it; otherwise the account is not read and the vault stands in
        refund = (m.state == MarketState.DISPUTED and m.bond_held > 0
                  and overturned(m, config))
        dest = (await quote_token_account(ctx, m.disputer, config.quote_mint) if refund
                else None)
        return [ctx.client.finalize_market(market, dest or ctx.client.d.vault)]

    outcome = await run_planned(ctx, planner)
    log.info("finalize_market", market=str(market), outcome=str(outcome))
    return outcome

