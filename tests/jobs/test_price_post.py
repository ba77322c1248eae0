"""`post_price` on the localnet, as the funding role runs it: a pull PriceUpdateV2 gone old is
written from the local publisher's update through the localnet's direct write (the poster
`jobs.price_poster` picks for a local endpoint), and a fresh one is left alone."""

from __future__ import annotations

from solders.keypair import Keypair

from chain.client import Endpoint
from chain.price_update import PriceUpdate, push_feed_address
from chain.publisher import Feed, Publisher
from fleet.settings import Settings
from jobs.outcome import Outcome
from jobs.price_post import post_price
from jobs.price_poster import DirectWrite, price_poster
from jobs.price_source import LocalSource
from program.client import OracleKind, PerpMarketParams
from tests.support.chain_world import world
from tests.support.perp_world import Settable
from tests.support.perps import PRICE

FEED = bytes(range(7, 39))
LATER_S = 3_600  # past any market's price age limit


async def test_an_old_pull_account_is_written_from_the_local_publisher() -> None:
    async with world() as w:
        pull = Keypair().pubkey()
        publisher = Publisher(w.net.url, [Feed(pull, Settable(PRICE), feed_id=FEED),
                                          Feed(push_feed_address(FEED), Settable(PRICE),
                                               feed_id=FEED)])
        keeper = w.keepers[0]
        settings = Settings(rpc=(Endpoint("local", w.net.url),), database_url="postgresql://x/y",
                            program_id=w.net.program_id)
        try:
            await publisher.publish(0)
            await w.send([w.net.client.create_perp_market(
                w.net.admin.pubkey(), 1, pull, PerpMarketParams(),
                oracle_kind=OracleKind.PRICE_UPDATE_V2, feed_id=FEED)], w.net.admin)
            market = w.net.client.d.perp_market(1)
            async with price_poster(settings, keeper.sender, keeper.rpc) as poster:
                assert isinstance(poster, DirectWrite)
                source = LocalSource(keeper.rpc)
                assert await post_price(keeper, market, source, poster) == Outcome.NOT_NEEDED
                await w.travel(LATER_S)
                # the publisher's next update, at the push address only
                publisher.feeds = publisher.feeds[1:]
                await publisher.publish(0)
                assert await post_price(keeper, market, source, poster) == Outcome.SUCCESS
        finally:
            await publisher.close()
        _clock, (pulled, pushed) = await keeper.raw_snapshot(pull, push_feed_address(FEED))
        assert pulled is not None and pushed is not None
        assert PriceUpdate.decode(bytes(pulled.data)).publish_time == \
            PriceUpdate.decode(bytes(pushed.data)).publish_time >= await w.now() - 60
