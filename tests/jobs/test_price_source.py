"""The Hermes source reads Pyth's price service as Hermes answers (`/v2/updates/price/latest`),
here a small local server; and `hermes` is refused against a cluster that is not local."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from solders.keypair import Keypair

from chain.client import Endpoint
from fleet.settings import PriceSettings, Settings, SettingsError
from jobs.price_source import HermesSource, SourceUnavailable, check_price_source

FEED = bytes(range(32))


def _price(price: int, publish_time: int) -> dict[str, object]:
    return {"price": str(price), "conf": "1500", "expo": -8, "publish_time": publish_time}


async def _latest(request: web.Request) -> web.Response:
    ids = request.query.getall("ids[]")
    return web.json_response({
        "binary": {"encoding": "base64", "data": ["UE5BVQ=="]},
        "parsed": [{"id": feed_id, "price": _price(15_000_000_000, 1_700_000_000),
                    "ema_price": _price(14_900_000_000, 1_700_000_000)} for feed_id in ids]})


@pytest_asyncio.fixture
async def hermes() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/v2/updates/price/latest", _latest)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_the_hermes_source_reads_the_feeds_latest_update(hermes: str) -> None:
    update = await HermesSource(hermes).latest(FEED, slot=77)
    assert update is not None
    assert (update.feed_id, update.price, update.conf, update.exponent) == \
        (FEED, 15_000_000_000, 1_500, -8)
    assert (update.publish_time, update.posted_slot, update.ema_price) == \
        (1_700_000_000, 77, 14_900_000_000)


async def test_a_hermes_that_does_not_answer_is_unavailable() -> None:
    with pytest.raises(SourceUnavailable):
        await HermesSource("http://127.0.0.1:1").latest(FEED, slot=1)


def _settings(url: str, source: str) -> Settings:
    return Settings(rpc=(Endpoint("main", url),), database_url="postgresql://127.0.0.1/none",
                    program_id=Keypair().pubkey(), prices=PriceSettings(source=source))


def test_hermes_is_refused_against_a_cluster_that_is_not_local() -> None:
    check_price_source(_settings("http://127.0.0.1:8899", "hermes"))
    check_price_source(_settings("https://api.mainnet-beta.solana.com", "local"))
    with pytest.raises(SettingsError, match="hermes posts only to a localnet"):
        check_price_source(_settings("https://api.mainnet-beta.solana.com", "hermes"))
