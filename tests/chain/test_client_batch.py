"""`RpcClient.request_batch`: one JSON-RPC batch request, answers back in order, errors mapped
as `RpcClient.request` maps them, each call counted by the rate limit; against a scripted HTTP
endpoint."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from solana.rpc.core import RPCException

from chain.client import Endpoint, RpcClient, RpcUnavailable
from demo.servers import free_port

Answer = Callable[[list[dict[str, Any]]], Any]


class Node:
    """An HTTP endpoint answering each batch with `answer(requests)`; `bodies` seen."""

    def __init__(self) -> None:
        self.answer: Answer = lambda requests: [
            {"jsonrpc": "2.0", "id": r["id"], "result": {"slot": r["params"][0]}}
            for r in reversed(requests)]  # any order: matched by id
        self.bodies: list[Any] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.bodies.append(body)
        return web.json_response(self.answer(body))


@contextlib.asynccontextmanager
async def serving(max_rps: float, deadline_s: float) -> AsyncIterator[tuple[Node, RpcClient]]:
    """A scripted node on a free port, and an RpcClient of it alone."""
    node = Node()
    app = web.Application()
    app.router.add_post("/", node.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rpc = RpcClient([Endpoint("scripted", f"http://127.0.0.1:{port}", max_rps=max_rps)],
                    timeout_s=1.0, deadline_s=deadline_s)
    try:
        yield node, rpc
    finally:
        await rpc.close()
        await runner.cleanup()


@pytest_asyncio.fixture
async def node() -> AsyncIterator[tuple[Node, RpcClient]]:
    async with serving(max_rps=1000, deadline_s=1.0) as got:
        yield got


async def test_one_request_for_all_and_answers_in_order(node: tuple[Node, RpcClient]) -> None:
    scripted, rpc = node
    got = await rpc.request_batch("getTransaction",
                                  [[n, {"encoding": "base64"}] for n in range(5)])
    assert got == [{"slot": n} for n in range(5)]
    assert len(scripted.bodies) == 1 and len(scripted.bodies[0]) == 5
    assert {r["method"] for r in scripted.bodies[0]} == {"getTransaction"}
    assert await rpc.request_batch("getTransaction", []) == [] and len(scripted.bodies) == 1


async def test_a_missing_transaction_is_a_null_result(node: tuple[Node, RpcClient]) -> None:
    scripted, rpc = node
    scripted.answer = lambda requests: [{"jsonrpc": "2.0", "id": r["id"], "result": None}
                                        for r in requests]
    assert await rpc.request_batch("getTransaction", [["a", {}], ["b", {}]]) == [None, None]


async def test_an_error_answer_raises_as_request_does(node: tuple[Node, RpcClient]) -> None:
    scripted, rpc = node
    scripted.answer = lambda requests: [
        {"jsonrpc": "2.0", "id": r["id"], **({"error": {"code": -32602, "message": "bad"}}
                                             if r["id"] == 1 else {"result": {}})}
        for r in requests]
    with pytest.raises(RPCException):
        await rpc.request_batch("getTransaction", [["a", {}], ["b", {}]])


@pytest.mark.parametrize("answer", [
    lambda requests: {"jsonrpc": "2.0", "id": 0, "result": {}},  # not a batch's answer
    lambda requests: [{"jsonrpc": "2.0", "id": 0, "result": {}}],  # one answer missing
    lambda requests: [{"jsonrpc": "2.0", "id": r["id"]} for r in requests],  # no result
])
async def test_an_answer_that_is_not_the_batchs_is_the_endpoints_failure(
        node: tuple[Node, RpcClient], answer: Answer) -> None:
    scripted, rpc = node
    scripted.answer = answer
    with pytest.raises(RpcUnavailable, match="unreadable answer"):
        await rpc.request_batch("getTransaction", [["a", {}], ["b", {}]])


async def test_each_call_of_a_batch_takes_a_turn_of_the_rate_limit() -> None:
    async with serving(max_rps=20, deadline_s=5.0) as (_, rpc):
        started = time.monotonic()
        await rpc.request_batch("getTransaction", [[n] for n in range(10)])  # half a second
        await rpc.request_batch("getTransaction", [[n] for n in range(10)])
        assert time.monotonic() - started >= 0.45  # the second waited for the first's turns
