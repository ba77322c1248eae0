"""RpcClient against a node that says it is unhealthy (-32005) without the error's `data`:
solders panics parsing that answer, and the client must treat it as the endpoint's failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chain.client import Endpoint, RpcClient, RpcUnavailable
from chain.localnet import Localnet, run_localnet
from demo.servers import free_port_pair
from tests.support.chaos import Chaos, RpcError

NODE_UNHEALTHY = -32005
GUARD_S = 10.0


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair(), slot_seconds=0.05) as localnet:
        yield localnet


async def test_an_unhealthy_answer_without_data_fails_over(net: Localnet) -> None:
    async with Chaos(net.url) as a, Chaos(net.url) as b:
        a.fail(RpcError(NODE_UNHEALTHY, "Node is unhealthy"))
        rpc = RpcClient([Endpoint("a", a.url), Endpoint("b", b.url)], timeout_s=0.5,
                        deadline_s=5.0)
        try:
            slot = await asyncio.wait_for(rpc.call("get_slot"), GUARD_S)
        finally:
            await rpc.close()
        assert slot.value > 0
        assert a.count() == 1 and b.count("getSlot", "forward") == 1


async def test_an_unhealthy_only_endpoint_makes_the_call_unavailable(net: Localnet) -> None:
    async with Chaos(net.url) as a:
        a.fail(RpcError(NODE_UNHEALTHY, "Node is unhealthy"), times=None)
        rpc = RpcClient([Endpoint("a", a.url)], timeout_s=0.5, deadline_s=1.0)
        try:
            with pytest.raises(RpcUnavailable) as unavailable:
                await asyncio.wait_for(rpc.call("get_slot"), GUARD_S)
        finally:
            await rpc.close()
        assert "unreadable answer" in str(unavailable.value)
