"""The localnet's hosted provider profile: each limit answered as a provider answers it, the
server up after each, the operator's key served without limits, and the keepers' RpcClient
coping with each (429 honored, batches falling back to single requests, the cap's error
handed to the caller)."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
import websockets
from solana.rpc.core import RPCException
from solders.keypair import Keypair

from chain.client import Endpoint, RpcClient
from chain.localnet import HostedProfile, Localnet, run_localnet
from demo.servers import free_port_pair
from metrics.definitions import registry
from workers.cli import _localnet_profile, parser

pytestmark = pytest.mark.asyncio(loop_scope="module")
RPS = 5  # a bucket of five requests, refilled at five a second
CAP = 3
SUBSCRIPTIONS = 2
OWNER = Keypair().pubkey()  # a program owning CAP + 1 accounts, first bytes 0, 0, 0, 1
OPERATOR = "the-operator"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def net() -> AsyncIterator[Localnet]:
    profile = HostedProfile(rps=RPS, gpa_cap=CAP, subscriptions_per_connection=SUBSCRIPTIONS,
                            operator_key=OPERATOR)
    async with run_localnet(free_port_pair(), profile=profile) as n:
        async with aiohttp.ClientSession() as http:
            await post(http, n.operator_url, {"jsonrpc": "2.0", "id": 1,
                                              "method": "keepernet_setAccounts", "params": [[
                [str(Keypair().pubkey()), base64.b64encode(bytes([i // CAP, 0, 0])).decode(),
                 str(OWNER)] for i in range(CAP + 1)]]})
        yield n


def url(net: Localnet, client: str) -> str:
    """The localnet's URL as the customer `client` (its own rate-limit bucket)."""
    return f"{net.url}/?api-key={client}"


async def post(http: aiohttp.ClientSession, to: str, body: Any) -> tuple[int, Any, str | None]:
    async with http.post(to, data=orjson.dumps(body),
                         headers={"Content-Type": "application/json"}) as response:
        return response.status, await response.json(), response.headers.get("Retry-After")


def slot_request(request_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "getSlot"}


def sample(name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_a_batch_is_refused_with_an_error_object(net: Localnet) -> None:
    async with aiohttp.ClientSession() as http:
        status, answer, _ = await post(http, url(net, "batcher"), [slot_request(1),
                                                                   slot_request(2)])
        assert status == 200 and answer["error"]["code"] == -32600
        assert "Batch requests" in answer["error"]["message"]
        status, answer, _ = await post(http, url(net, "batcher"), slot_request())
        assert status == 200 and answer["result"] >= 0  # still serving
        # the operator's batches are answered
        status, answer, _ = await post(http, net.operator_url, [slot_request(1),
                                                                slot_request(2)])
        assert status == 200 and len(answer) == 2


async def test_the_client_falls_back_to_single_requests(net: Localnet) -> None:
    rpc = RpcClient([Endpoint("hosted-batches", url(net, "batch-client"))], deadline_s=3.0)
    try:
        got = await rpc.request_batch("getBalance", [[str(Keypair().pubkey())]] * 3)
    finally:
        await rpc.close()
    assert [g["value"] for g in got] == [0, 0, 0]
    assert sample("keepernet_rpc_batch_refusals_total", endpoint="hosted-batches") == 1
    assert sample("keepernet_rpc_requests_total", endpoint="hosted-batches", method="getBalance",
                  outcome="ok") == 3


def program_accounts(*filters: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 7, "method": "getProgramAccounts",
            "params": [str(OWNER), {"encoding": "base64", "filters": list(filters)}]}


async def test_get_program_accounts_above_the_cap_is_refused(net: Localnet) -> None:
    async with aiohttp.ClientSession() as http:
        status, answer, _ = await post(http, url(net, "scanner"), program_accounts())
        assert status == 200 and answer["id"] == 7 and answer["error"] == {
            "code": -32600, "message": f"Too many accounts requested ({CAP + 1} pubkeys), "
            "Please use getProgramAccountsV2 with pagination to handle large datasets."}
        # a partition under the cap is answered: the first byte 0 holds CAP of them
        status, answer, _ = await post(http, url(net, "scanner"), program_accounts(
            {"memcmp": {"offset": 0, "bytes": "1", "encoding": "base58"}}))
        assert status == 200 and len(answer["result"]) == CAP
        status, answer, _ = await post(http, net.operator_url, program_accounts())
        assert len(answer["result"]) == CAP + 1


async def test_the_client_hands_the_caps_error_to_its_caller(net: Localnet) -> None:
    rpc = RpcClient([Endpoint("hosted-gpa", url(net, "gpa-client"))], deadline_s=3.0)
    try:
        with pytest.raises(RPCException, match="Too many accounts requested"):
            await rpc.request("getProgramAccounts", program_accounts()["params"])
    finally:
        await rpc.close()
    # the node answered: not the endpoint's failure
    assert sample("keepernet_rpc_requests_total", endpoint="hosted-gpa",
                  method="getProgramAccounts", outcome="rpc_error") == 1


async def test_above_the_rate_a_429_says_when_to_come_back(net: Localnet) -> None:
    async with aiohttp.ClientSession() as http:
        answers = [await post(http, url(net, "hasty"), slot_request()) for _ in range(RPS + 1)]
        assert [status for status, _, _ in answers] == [200] * RPS + [429]
        _, body, retry_after = answers[-1]
        assert retry_after == "1" and body["error"]["code"] == 429
        # another client's bucket is its own, and the operator has none
        assert (await post(http, url(net, "patient"), slot_request()))[0] == 200
        for _ in range(RPS + 1):
            assert (await post(http, net.operator_url, slot_request()))[0] == 200


async def test_the_client_honors_retry_after_and_counts_the_429(net: Localnet) -> None:
    # the client's own limit well above the provider's: the provider's 429 paces it
    rpc = RpcClient([Endpoint("hosted-rate", url(net, "rate-client"), max_rps=1000)],
                    deadline_s=5.0)
    try:
        started = time.monotonic()
        for _ in range(RPS + 2):
            await rpc.call("get_slot")
        elapsed = time.monotonic() - started
    finally:
        await rpc.close()
    assert sample("keepernet_rpc_rate_limited_total", endpoint="hosted-rate") == 1
    assert sample("keepernet_rpc_requests_total", endpoint="hosted-rate", method="get_slot",
                  outcome="ok") == RPS + 2
    assert elapsed >= 1.0  # it rested as long as Retry-After asked before asking again


async def subscribe(ws: Any, request_id: int) -> dict[str, Any]:
    await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": request_id,
                                "method": "slotSubscribe"}).decode())
    while True:
        answer: dict[str, Any] = orjson.loads(await ws.recv())
        if answer.get("id") == request_id:
            return answer


async def test_subscriptions_beyond_the_limit_on_a_connection_are_refused(
        net: Localnet) -> None:
    async with websockets.connect(net.ws_url) as ws:
        ids = [(await subscribe(ws, n))["result"] for n in (1, 2)]
        refused = await subscribe(ws, 3)
        assert refused["error"]["code"] == -32600
        assert "Too many subscriptions" in refused["error"]["message"]
        await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": 4, "method": "slotUnsubscribe",
                                    "params": [ids[0]]}).decode())
        assert "result" in await subscribe(ws, 5)  # a place freed
        async with websockets.connect(net.ws_url) as other:  # the limit is per connection
            assert "result" in await subscribe(other, 1)
    async with websockets.connect(f"{net.ws_url}/?api-key={OPERATOR}") as ws:
        for n in range(1, SUBSCRIPTIONS + 2):
            assert "result" in await subscribe(ws, n)


async def test_the_command_line_sets_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPERNET_LOCALNET_PROFILE", "hosted")
    monkeypatch.setenv("KEEPERNET_LOCALNET_GPA_CAP", "500")
    args = parser().parse_args(["localnet", "--rps", "7", "--subscriptions-per-connection", "3"])
    profile = _localnet_profile(args)
    assert profile is not None and (profile.rps, profile.gpa_cap,
                                    profile.subscriptions_per_connection) == (7, 500, 3)
    monkeypatch.delenv("KEEPERNET_LOCALNET_PROFILE")
    assert _localnet_profile(parser().parse_args(["localnet"])) is None
    with pytest.raises(ValueError, match="need --profile hosted"):
        _localnet_profile(parser().parse_args(["localnet", "--rps", "7"]))
