"""patches/solana_http.py: solana-py still sends every request through its provider's
`session` and closes it with the client, and a patched client's requests go through aiohttp."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from solana.rpc.async_api import AsyncClient

from chain.transport import AiohttpTransport
from patches.solana_http import send_through_aiohttp


def slot_answer(body: bytes, slot: int) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": json.loads(body)["id"], "result": slot}


async def test_solana_py_posts_through_its_providers_session_and_closes_it() -> None:
    client = AsyncClient("http://rpc.invalid")
    assert isinstance(client._provider.session, httpx.AsyncClient)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=slot_answer(request.content, 42))

    session = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    client._provider.session = session
    assert (await client.get_slot()).value == 42
    assert [r.url for r in seen] == [httpx.URL("http://rpc.invalid")]
    await client.close()
    assert session.is_closed


@pytest.fixture
async def rpc_url() -> AsyncIterator[tuple[str, list[str]]]:
    """A JSON-RPC endpoint answering every request with slot 7; the User-Agent of each."""
    agents: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        agents.append(request.headers.get("User-Agent", ""))
        return web.json_response(slot_answer(await request.read(), 7))

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/", agents
    finally:
        await runner.cleanup()


async def test_a_patched_client_sends_through_aiohttp(rpc_url: tuple[str, list[str]]) -> None:
    url, agents = rpc_url
    client = send_through_aiohttp(AsyncClient(url), timeout_s=5)
    transport = client._provider.session._transport
    assert isinstance(transport, AiohttpTransport)
    assert (await client.get_slot()).value == 7
    assert len(agents) == 1 and "aiohttp" in agents[0]  # httpx says python-httpx
    await client.close()
    assert transport._session is not None and transport._session.closed
