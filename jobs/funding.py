"""`update_funding(perp_market)`: apply the funding intervals that ended since the last update.

Reads the perp market, the Config and the chain's clock in one request, plans with
`jobs.funding_plan`, and sends through the Sender an intent that re-reads and re-plans before
every signing, so an update that landed late is never followed by a second one (which the
program would refuse anyway: TooEarly → `not_needed`). Refused for a stale pull oracle, it
queues the oracle's post (`jobs.price_request`).
"""

from __future__ import annotations

import structlog
from solders.pubkey import Pubkey

from chain.prices import OracleLimits
from jobs.deps import JobDeps, Step, read_account, run_planned
from jobs.funding_plan import is_due
from jobs.outcome import Outcome
from jobs.price_request import STALE, request_posts
from jobs.registry import UPDATE_FUNDING
from program.accounts import PerpMarket

log = structlog.get_logger(__name__)


async def update_funding(ctx: JobDeps, perp_market: Pubkey) -> Outcome:
    """Update `perp_market`'s funding when an interval has passed since the last update;
    `not_needed` before."""

    read: PerpMarket | None = None  # the market as last planned from

    async def planner() -> Step:
        nonlocal read
        now, perp, _config = await read_account(ctx, perp_market, PerpMarket)
        read = perp
        if not is_due(perp, now):
            return Outcome.NOT_NEEDED
        return [ctx.client.update_funding(perp_market, perp.oracle)]

    async def refused(error: str) -> None:
        if error in STALE and read is not None:
            await request_posts(ctx, [(perp_market, read.oracle,
                                       OracleLimits.from_market(read))])

    outcome = await run_planned(ctx, UPDATE_FUNDING, planner, refused)
    log.info(UPDATE_FUNDING.name, perp_market=str(perp_market), outcome=str(outcome))
    return outcome
