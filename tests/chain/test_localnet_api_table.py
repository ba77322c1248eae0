"""The README's table of the validator's API says what the localnet answers: the methods marked
answered are exactly its dispatch's (less its own keepernet_ ones), every method marked not
answered gets -32601, and each subscription answers as marked."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from chain.localnet import Localnet, run_localnet
from chain.localnet.rpc import METHOD_NOT_FOUND, Rpc
from demo.servers import free_port_pair
from tests.support.localnet import raw

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(\w+)` \| (yes|no) \|")
OWN_PREFIX = "keepernet_"
# a well-formed first parameter for each subscription, so that only the method decides
SUBSCRIBE_PARAMS: dict[str, list[Any]] = {
    "accountSubscribe": ["11111111111111111111111111111111"],
    "programSubscribe": ["11111111111111111111111111111111"],
    "logsSubscribe": ["all"],
    "signatureSubscribe": ["1" * 64],
}


def table() -> dict[str, bool]:
    """Each method or subscription of the README's table: answered or not."""
    section = README.read_text().split("### The validator's API", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(2) == "yes"
            for m in map(ROW.match, section.splitlines()) if m}
    assert len(rows) > 50, "the README's method table is missing"
    return rows


def methods() -> dict[str, bool]:
    return {name: ok for name, ok in table().items() if not name.endswith("Subscribe")}


def subscriptions() -> dict[str, bool]:
    return {name: ok for name, ok in table().items() if name.endswith("Subscribe")}


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


async def test_the_table_lists_exactly_the_methods_the_dispatch_answers(net: Localnet) -> None:
    dispatch = set(Rpc(net.ledger, net.genesis.faucet).methods)
    answered = {name for name, ok in methods().items() if ok}
    assert answered == {m for m in dispatch if not m.startswith(OWN_PREFIX)}
    for name in (name for name, ok in methods().items() if not ok):
        answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": name, "params": []})
        assert answer["error"]["code"] == METHOD_NOT_FOUND, (name, answer)


async def test_each_subscription_answers_as_the_table_says(net: Localnet) -> None:
    async with websockets.connect(net.ws_url) as ws:
        for n, (name, answered) in enumerate(subscriptions().items()):
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": name,
                                      "params": SUBSCRIBE_PARAMS.get(name, [])}))
            async with asyncio.timeout(10):
                while (answer := json.loads(await ws.recv())).get("id") != n:
                    pass  # a notification of an earlier subscription
            if answered:
                assert isinstance(answer.get("result"), int), (name, answer)
            else:
                assert answer["error"]["code"] == METHOD_NOT_FOUND, (name, answer)
