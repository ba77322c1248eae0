"""The push oracle's addresses: the PDA Pyth's own SDK derives for a shard and feed."""

from __future__ import annotations

import pytest
from solders.pubkey import Pubkey

from chain.price_update import push_feed_address

SOL_USD = bytes.fromhex("ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d")


def test_the_sol_usd_feed_is_at_its_published_address() -> None:
    # the address Pyth lists for SOL/USD's sponsored feed on Solana (shard 0)
    assert push_feed_address(SOL_USD) == Pubkey.from_string(
        "7UVimffxr9ow1uXYxsr4LHAcV58mLzhmwaeKvJ1pjLiE")


def test_shards_have_addresses_of_their_own() -> None:
    assert push_feed_address(SOL_USD, 1) != push_feed_address(SOL_USD, 0)


@pytest.mark.parametrize(("feed", "shard"), [(bytes(31), 0), (SOL_USD, 2**16), (SOL_USD, -1)])
def test_bad_feeds_and_shards_are_refused(feed: bytes, shard: int) -> None:
    with pytest.raises(ValueError):
        push_feed_address(feed, shard)
