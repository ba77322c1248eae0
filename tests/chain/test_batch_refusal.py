"""JSON-RPC batches against a provider that refuses them (the Chaos proxy in front of a
localnet): under "auto" the refusal is noticed, remembered for that endpoint, logged and counted,
and the calls go as single requests; "off" never batches; "on" treats a refusal as the
endpoint's failure."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from solders.keypair import Keypair
from structlog.testing import capture_logs

from chain.client import Endpoint, RpcClient, RpcUnavailable
from chain.localnet import Localnet, run_localnet
from demo.servers import free_port_pair
from metrics.definitions import registry
from tests.support.chaos import Action, Chaos, RpcError, Status

pytestmark = pytest.mark.asyncio(loop_scope="module")
ADDRESSES = [[str(Keypair().pubkey())] for _ in range(3)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as n:
        yield n


def sample(name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def balances(proxy: Chaos, batches: str, endpoint: str) -> tuple[RpcClient, list[object]]:
    rpc = RpcClient([Endpoint(endpoint, proxy.url)], timeout_s=1.0, deadline_s=2.0,
                    batches=batches)
    return rpc, await rpc.request_batch("getBalance", ADDRESSES)


@pytest.mark.parametrize("refusal", [
    Status(413), Status(400), Status(405),
    RpcError(-32600, "batch requests are not allowed"),
    RpcError(-32601, "Method not found"),  # the batch's array taken as one bad request
], ids=["413", "400", "405", "-32600", "error-object"])
async def test_auto_falls_back_to_single_requests_and_remembers(net: Localnet,
                                                                refusal: Action) -> None:
    endpoint = f"refusing-{id(refusal)}"
    async with Chaos(net.url) as proxy:
        proxy.fail(refusal, method="batch", times=None)
        with capture_logs() as logs:
            rpc, got = await balances(proxy, "auto", endpoint)
        try:
            assert [g["value"] for g in got] == [0, 0, 0]  # type: ignore[index]
            assert proxy.count("batch") == 1 and proxy.count("getBalance") == 3
            assert [e["event"] for e in logs if e.get("endpoint") == endpoint] == [
                "endpoint refuses JSON-RPC batches: single requests from now on"]
            assert sample("keepernet_rpc_batch_refusals_total", endpoint=endpoint) == 1
            await rpc.request_batch("getBalance", ADDRESSES)  # remembered: no batch tried
            assert proxy.count("batch") == 1 and proxy.count("getBalance") == 6
            # each call counted, batched or not
            assert sample("keepernet_rpc_requests_total", endpoint=endpoint,
                          method="getBalance", outcome="ok") == 6
        finally:
            await rpc.close()


async def test_auto_batches_where_batches_are_taken(net: Localnet) -> None:
    async with Chaos(net.url) as proxy:
        rpc, got = await balances(proxy, "auto", "taking")
        await rpc.close()
        assert len(got) == 3 and proxy.count("batch") == 1 and proxy.count("getBalance") == 0
        assert sample("keepernet_rpc_requests_total", endpoint="taking", method="getBalance",
                      outcome="ok") == 3


async def test_off_never_batches(net: Localnet) -> None:
    async with Chaos(net.url) as proxy:
        rpc, got = await balances(proxy, "off", "never")
        await rpc.close()
        assert len(got) == 3 and proxy.count("batch") == 0 and proxy.count("getBalance") == 3


async def test_on_takes_a_refusal_as_the_endpoints_failure(net: Localnet) -> None:
    async with Chaos(net.url) as proxy:
        proxy.fail(Status(413), method="batch", times=None)
        rpc = RpcClient([Endpoint("insisting", proxy.url)], timeout_s=1.0, deadline_s=1.0,
                        batches="on")
        try:
            with pytest.raises(RpcUnavailable, match="HTTP 413"):
                await rpc.request_batch("getBalance", ADDRESSES)
        finally:
            await rpc.close()
        assert proxy.count("getBalance") == 0
