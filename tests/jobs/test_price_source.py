"""The Hermes source reads Pyth's price service as Hermes answers (`/v2/updates/price/latest`),
here a small local server, with the update data that proves it; and `hermes` on a cluster that
is not local needs the pull accounts' keypairs."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from solders.keypair import Keypair

from chain.client import Endpoint
from fleet.settings import PriceSettings, Settings, SettingsError
from jobs.price_source import HermesSource, SourceUnavailable, check_price_source

FEED = bytes(range(32))
UPDATE_DATA = b"PNAU proof"


def _price(price: int, publish_time: int) -> dict[str, object]:
    return {"price": str(price), "conf": "1500", "expo": -8, "publish_time": publish_time}


async def _latest(request: web.Request) -> web.Response:
    ids = request.query.getall("ids[]")
    return web.json_response({
        "binary": {"encoding": "base64", "data": [base64.b64encode(UPDATE_DATA).decode()]},
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
    sourced = await HermesSource(hermes).latest(FEED, slot=77)
    assert sourced is not None
    update = sourced.update
    assert (update.feed_id, update.price, update.conf, update.exponent) == \
        (FEED, 15_000_000_000, 1_500, -8)
    assert (update.publish_time, update.posted_slot, update.ema_price) == \
        (1_700_000_000, 77, 14_900_000_000)
    assert sourced.update_data == UPDATE_DATA


async def test_a_hermes_that_does_not_answer_is_unavailable() -> None:
    with pytest.raises(SourceUnavailable):
        await HermesSource("http://127.0.0.1:1").latest(FEED, slot=1)


def _settings(url: str, source: str, pull_keys: Path | None = None) -> Settings:
    return Settings(rpc=(Endpoint("main", url),), database_url="postgresql://127.0.0.1/none",
                    program_id=Keypair().pubkey(),
                    prices=PriceSettings(source=source, pull_keys=pull_keys))


def test_hermes_on_a_real_cluster_needs_the_pull_keys(tmp_path: Path) -> None:
    check_price_source(_settings("http://127.0.0.1:8899", "hermes"))
    check_price_source(_settings("https://api.mainnet-beta.solana.com", "local"))
    check_price_source(_settings("https://api.mainnet-beta.solana.com", "hermes", tmp_path))
    with pytest.raises(SettingsError, match=r"KEEPERNET_PULL_KEYS .* missing: hermes posts"):
        check_price_source(_settings("https://api.mainnet-beta.solana.com", "hermes"))
