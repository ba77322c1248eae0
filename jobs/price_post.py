"""`post_price(perp_market)`: keep a perp market's pull PriceUpdateV2 fresh enough for
liquidations and funding.

Reads the perp market, then its oracle with the chain's clock, and decides with
`jobs.price_post_plan`: a market on a pull account that has used half of its limits gets the
source's latest update (`jobs.price_source`), when it is newer than the account's, posted
by `jobs.price_poster`: a direct write on the localnet, the Pyth Solana Receiver's
instructions on a real cluster.
"""

from __future__ import annotations

import structlog
from solders.pubkey import Pubkey

from chain.price_update import PriceUpdate
from chain.prices import OracleLimits
from chain.publisher import PublishError
from jobs.deps import JobDeps, read_account
from jobs.errors import maps_errors
from jobs.outcome import Outcome
from jobs.price_post_plan import is_old, is_pull, should_post
from jobs.price_poster import Poster
from jobs.price_source import PriceSource, SourceUnavailable
from jobs.registry import POST_PRICE
from program.accounts import PerpMarket

log = structlog.get_logger(__name__)


def readable(data: bytes | None) -> PriceUpdate | None:
    """The PriceUpdateV2 in `data`; None for no account or one that is not an update."""
    if data is None:
        return None
    try:
        return PriceUpdate.decode(data)
    except ValueError:
        return None


async def post_price(deps: JobDeps, perp_market: Pubkey, source: PriceSource,
                     poster: Poster) -> Outcome:
    """Post `source`'s latest update to `perp_market`'s pull oracle through `poster` when the
    account is old enough; `not_needed` for a market on another oracle, a fresh account, or a
    source with nothing newer."""
    outcome = await maps_errors(POST_PRICE)(_post)(deps, perp_market, source, poster)
    log.info(POST_PRICE.name, perp_market=str(perp_market), outcome=str(outcome))
    return outcome


async def _post(deps: JobDeps, perp_market: Pubkey, source: PriceSource,
                poster: Poster) -> Outcome:
    _now, perp, _config = await read_account(deps, perp_market, PerpMarket)
    limits = OracleLimits.from_market(perp)
    if not is_pull(perp.oracle, limits):
        return Outcome.NOT_NEEDED
    clock, (account,) = await deps.raw_snapshot(perp.oracle)
    current = readable(None if account is None else bytes(account.data))
    if not is_old(current, limits, clock.slot, clock.unix_timestamp):
        return Outcome.NOT_NEEDED
    try:
        fresher = await source.latest(limits.feed_id, clock.slot)
        if fresher is None or not should_post(current, fresher.update):
            return Outcome.NOT_NEEDED
        await poster.post(perp.oracle, fresher)
    except (SourceUnavailable, PublishError) as e:
        log.warning("price not posted", perp_market=str(perp_market), error=str(e))
        return Outcome.RETRY
    return Outcome.SUCCESS
