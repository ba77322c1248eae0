"""When `post_price` posts: the pure decision, apart from reading the chain and the source.

A perp market on a PriceUpdateV2 reads either a push account, which Pyth's push oracle keeps
current at the feed's address (`chain.price_update.push_feed_address`, shard 0), or a pull
account, which stays as its poster left it. Only pull accounts are the keepers' to post. One
is posted once it has used half of either of its market's limits (slots since it was posted,
seconds since it was published), so that a price read for a liquidation or a funding update is
never refused as stale while the source has a fresher one; and only with an update published
after the account's (an older one would not make it fresher).
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from chain.price_update import PriceUpdate, push_feed_address
from chain.prices import OracleLimits
from program.client import OracleKind

# of each limit: posting at half leaves the other half for the post to land and be read
REFRESH_FRACTION = 0.5


def is_pull(oracle: Pubkey, limits: OracleLimits) -> bool:
    """Whether a market with these limits reads a pull account at `oracle`: a PriceUpdateV2
    that is not the push oracle's account of its feed."""
    return (limits.kind == OracleKind.PRICE_UPDATE_V2
            and oracle != push_feed_address(limits.feed_id))


def is_old(update: PriceUpdate | None, limits: OracleLimits, slot: int, now: int) -> bool:
    """Whether the pull account holding `update` (None: none readable) is old enough to post
    at `slot` and unix time `now`."""
    if update is None:
        return True
    return (slot - update.posted_slot >= limits.max_staleness_slots * REFRESH_FRACTION
            or now - update.publish_time >= limits.max_age_secs * REFRESH_FRACTION)


def should_post(current: PriceUpdate | None, fresher: PriceUpdate) -> bool:
    """Whether `fresher`, the source's latest update, replaces `current`."""
    return current is None or fresher.publish_time > current.publish_time


@dataclass(frozen=True)
class PostStage:
    """What `jobs.stages.stage_of` reads post_price's stage from: the publish time of the
    update on the pull account now (0: none), the update the job replaces."""

    publish_time: int

    @classmethod
    def of(cls, update: PriceUpdate | None) -> PostStage:
        return cls(0 if update is None else update.publish_time)
