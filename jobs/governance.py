"""`tally_votes(market)` and `finalize_market(market)`: a prediction market's keeper steps.

Each run reads the market, the Config and the chain's clock in one request, plans with
`jobs.governance_plan`, and sends through the Sender an intent that re-reads and re-plans
before every signing; the program's own guards (InvalidState, TooEarly, ThresholdNotMet)
come back as `already_done` / `not_needed` (see `jobs.outcome.REFUSAL_OUTCOMES`).
"""

from __future__ import annotations

import structlog
from solana.rpc.types import MemcmpOpts
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_PROGRAM_ID

from jobs.deps import JobDeps, MissingAccount, Step, read_account, run_planned
from jobs.governance_plan import (
    Action,
    MarketState,
    finalize_step,
    overturned,
    tally_step,
)
from jobs.outcome import Outcome

TOKEN_ACCOUNT_SIZE = 165  # an SPL token account: mint at 0, owner at 32

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
        dest = await disputer_token(ctx, m.disputer, config.quote_mint) if refund else None
        return [ctx.client.finalize_market(market, dest or ctx.client.d.vault)]

    outcome = await run_planned(ctx, planner)
    log.info("finalize_market", market=str(market), outcome=str(outcome))
    return outcome


async def disputer_token(ctx: JobDeps, disputer: Pubkey, quote_mint: Pubkey) -> Pubkey:
    """A quote token account of `disputer` (the lowest address of those it owns, so that every
    keeper picks the same)."""
    resp = await ctx.rpc.call(
        "get_program_accounts", TOKEN_PROGRAM_ID, encoding="base64",
        filters=[TOKEN_ACCOUNT_SIZE, MemcmpOpts(offset=0, bytes=str(quote_mint)),
                 MemcmpOpts(offset=32, bytes=str(disputer))])
    found: list[Pubkey] = sorted(a.pubkey for a in resp.value)
    if not found:
        raise MissingAccount(f"the disputer {disputer} has no quote token account to take "
                             f"back the bond")
    return found[0]
