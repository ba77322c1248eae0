"""bench/requests.py's arithmetic and its reading of a worker's /metrics, without a demo."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web

from bench.requests import RATE_LIMITED, REQUESTS, ROLES, per_minute, result, scrape
from demo.servers import free_port

METRICS = """\
# HELP keepernet_rpc_requests_total RPC requests
# TYPE keepernet_rpc_requests_total counter
keepernet_rpc_requests_total{endpoint="localnet",method="getSlot",outcome="ok"} 10.0
keepernet_rpc_requests_total{endpoint="websocket",method="accountSubscribe",outcome="ok"} 2.0
keepernet_rpc_requests_total{endpoint="localnet",method="getSlot",outcome="failed"} 1.0
# HELP keepernet_rpc_rate_limited_total 429s
# TYPE keepernet_rpc_rate_limited_total counter
keepernet_rpc_rate_limited_total{endpoint="localnet"} 1.0
"""


async def metrics(request: web.Request) -> web.Response:
    return web.Response(text=METRICS)


@pytest_asyncio.fixture
async def worker() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield port
    await runner.cleanup()


@pytest.mark.asyncio
async def test_scrape_sums_every_endpoint_method_and_outcome(worker: int) -> None:
    async with ClientSession() as http:
        counts = await scrape(http, {"indexer": worker})
    assert counts == {"indexer": {REQUESTS: 13.0, RATE_LIMITED: 1.0}}


def test_per_minute_and_the_figures() -> None:
    before = {"indexer": {REQUESTS: 10.0}, "liquidator": {REQUESTS: 0.0}}
    after = {"indexer": {REQUESTS: 40.0}, "liquidator": {REQUESTS: 15.0}}
    assert per_minute(before, after, 15.0, REQUESTS) == {"indexer": 120.0, "liquidator": 60.0}
    windows = {w: {role: 1.0 for role in ROLES}
               for w in ("rest", "crash", "rest_429", "crash_429")}
    figures = result(windows, 100, 50.0).figures
    assert [f.figure for f in figures][:2] == ["indexer requests/min rest",
                                               "indexer requests/min crash"]
    assert len(figures) == 3 * len(ROLES)
