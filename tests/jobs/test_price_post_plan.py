"""post_price's decision: only pull PriceUpdateV2 accounts, once half of a limit is used, and
only with a newer update."""

from __future__ import annotations

from dataclasses import replace

from solders.keypair import Keypair

from chain.price_update import price_update, push_feed_address
from chain.prices import OracleLimits
from jobs.price_post_plan import PostStage, is_old, is_pull, should_post
from program.client import OracleKind

FEED = bytes(range(32))
LIMITS = OracleLimits(max_staleness_slots=20, max_conf_bps=100,
                      kind=OracleKind.PRICE_UPDATE_V2, feed_id=FEED, max_age_secs=60)
UPDATE = price_update(100_000_000, feed_id=FEED, publish_time=1_000, slot=500)


def test_only_a_price_update_away_from_its_push_address_is_pull() -> None:
    assert is_pull(Keypair().pubkey(), LIMITS)
    assert not is_pull(push_feed_address(FEED), LIMITS)
    assert not is_pull(Keypair().pubkey(), replace(LIMITS, kind=OracleKind.PYTH_LEGACY))


def test_an_update_is_old_at_half_of_either_limit() -> None:
    assert not is_old(UPDATE, LIMITS, slot=509, now=1_029)
    assert is_old(UPDATE, LIMITS, slot=510, now=1_029)
    assert is_old(UPDATE, LIMITS, slot=509, now=1_030)
    assert is_old(None, LIMITS, slot=0, now=0)


def test_only_a_newer_update_is_posted() -> None:
    assert should_post(None, UPDATE)
    assert not should_post(UPDATE, UPDATE)
    assert should_post(UPDATE, replace(UPDATE, publish_time=1_001))


def test_the_stage_is_the_replaced_updates_publish_time() -> None:
    assert PostStage.of(UPDATE).publish_time == 1_000
    assert PostStage.of(None).publish_time == 0
