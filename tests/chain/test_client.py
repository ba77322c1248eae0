"""RpcClient against a real localnet through misbehaving proxies: failover, Retry-After,
back-off, rate limits, deadlines, node errors, and IDL-decoded program accounts.

Timing is checked by what the proxies saw (arrival times on the client's clock), never by how
long a test took; every call is guarded by `asyncio.wait_for` so that a hang fails the test.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import base58
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solana.rpc.types import MemcmpOpts
from solders.keypair import Keypair

from chain.client import Endpoint, RpcClient, RpcUnavailable, anchor_program
from chain.localnet import Localnet, run_localnet
from demo.servers import free_port_pair
from program.accounts import Config, Market, Position
from tests.support.chaos import Action, Chaos, Garbage, Reset, RpcError, Stall, Status, dead_url
from tests.support.localnet import MARKET_DISCRIMINATOR, create_market, send

TIMEOUT_S = 0.5
DEADLINE_S = 5.0
GUARD_S = DEADLINE_S + 2  # a call that is not over by then hangs


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


@pytest.fixture
async def a(net: Localnet) -> AsyncIterator[Chaos]:
    async with Chaos(net.url) as proxy:
        yield proxy


@pytest.fixture
async def b(net: Localnet) -> AsyncIterator[Chaos]:
    async with Chaos(net.url) as proxy:
        yield proxy


@asynccontextmanager
async def rpc_over(*endpoints: Endpoint, timeout_s: float = TIMEOUT_S,
                   deadline_s: float = DEADLINE_S) -> AsyncIterator[RpcClient]:
    rpc = RpcClient(endpoints, timeout_s=timeout_s, deadline_s=deadline_s)
    try:
        yield rpc
    finally:
        await rpc.close()


async def guarded(rpc: RpcClient, method: str, *args: object, **kwargs: object) -> object:
    return await asyncio.wait_for(rpc.call(method, *args, **kwargs), GUARD_S)


# ---- failover -----------------------------------------------------------------------------------
FAULTS: dict[str, Action | None] = {
    "429": Status(429, retry_after=2),
    "500": Status(500),
    "stall": Stall(),
    "reset": Reset(),
    "garbage": Garbage(),
    "json-rpc-429": RpcError(429, "Too many requests"),
    "dead": None,
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_call_completes_through_the_second_endpoint(fault: str, a: Chaos,
                                                            b: Chaos) -> None:
    action = FAULTS[fault]
    first = dead_url() if action is None else a.url
    if action is not None:
        a.fail(action)
    async with rpc_over(Endpoint("a", first), Endpoint("b", b.url)) as rpc:
        slot = await guarded(rpc, "get_slot")
    assert slot.value > 0  # type: ignore[attr-defined]
    assert a.count() == (0 if action is None else 1)
    assert b.count("getSlot", "forward") == 1


async def test_retry_after_keeps_the_endpoint_out_for_as_long_as_it_asks(a: Chaos,
                                                                        b: Chaos) -> None:
    a.fail(Status(429, retry_after=2))
    async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url)) as rpc:
        async def until_a_is_asked_again() -> None:
            while a.count() < 2:
                await rpc.call("get_slot")
                await asyncio.sleep(0.05)
        await asyncio.wait_for(until_a_is_asked_again(), 10)
    first, again = a.times()
    assert a.requests()[0].action == "status 429" and a.requests()[1].action == "forward"
    assert again - first >= 2.0  # the rest starts when the 429 arrives, after `first`
    # and it ends: wait_for above saw the endpoint asked again once the rest was over
    # meanwhile every call went to the second endpoint
    assert b.count() >= 1 and all(first < t < again for t in b.times())


async def test_retry_after_as_an_http_date(a: Chaos, b: Chaos) -> None:
    # the date names a whole second; on the monotonic clock the proxy records times with
    wall_deadline = math.floor(time.time() + 2)
    monotonic_deadline = time.monotonic() + (wall_deadline - time.time())
    a.fail(Status(503, retry_after=email.utils.formatdate(wall_deadline, usegmt=True)))
    async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url)) as rpc:
        async def until_a_is_asked_again() -> None:
            while a.count() < 2:
                await rpc.call("get_slot")
                await asyncio.sleep(0.05)
        await asyncio.wait_for(until_a_is_asked_again(), 10)
    _, again = a.times()
    assert again >= monotonic_deadline - 0.05  # not asked again before the date it gave
    assert b.count() >= 1  # meanwhile the calls went to b


async def test_back_off_doubles_after_failures_without_retry_after(a: Chaos) -> None:
    a.script(Status(500), Reset(), Status(503))
    async with rpc_over(Endpoint("a", a.url)) as rpc:
        slot = await guarded(rpc, "get_slot")
    assert slot.value > 0  # type: ignore[attr-defined]
    assert [s.action for s in a.requests()] == ["status 500", "reset", "status 503", "forward"]
    t = a.times()
    assert t[1] - t[0] >= 0.25 and t[2] - t[1] >= 0.5 and t[3] - t[2] >= 1.0


async def test_a_success_ends_the_back_off(a: Chaos, b: Chaos) -> None:
    a.fail(Status(500))
    async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url)) as rpc:
        await guarded(rpc, "get_slot")  # a fails, b answers
        await asyncio.sleep(0.3)  # a's first rest (0.25 s) is over
        await guarded(rpc, "get_slot")
        await guarded(rpc, "get_slot")
    assert [s.action for s in a.requests()] == ["status 500", "forward", "forward"]
    assert b.count() == 1


# ---- rate limits --------------------------------------------------------------------------------
@pytest.mark.parametrize("concurrent", [True, False])
async def test_rate_limit_spaces_requests_to_an_endpoint(a: Chaos, concurrent: bool) -> None:
    n, rps = 11, 20.0
    async with rpc_over(Endpoint("a", a.url, max_rps=rps)) as rpc:
        if concurrent:
            await asyncio.wait_for(asyncio.gather(*(rpc.call("get_slot") for _ in range(n))),
                                   GUARD_S)
        else:
            for _ in range(n):
                await guarded(rpc, "get_slot")
    times = sorted(a.times())
    assert len(times) == n
    # the client's turns are exactly 1/rps apart; arrivals jitter by the latency (half a turn
    # of slack: a single late arrival must not fail the test, a missing limit does)
    assert times[-1] - times[0] >= (n - 0.5 - 1) / rps


async def test_rate_limits_are_per_endpoint(a: Chaos, b: Chaos) -> None:
    """A backlog on one endpoint spills over to another rather than queueing behind it."""
    n, rps = 10, 20.0
    async with rpc_over(Endpoint("a", a.url, max_rps=1), Endpoint("b", b.url, max_rps=rps),
                        deadline_s=DEADLINE_S) as rpc:
        await asyncio.wait_for(asyncio.gather(*(rpc.call("get_slot") for _ in range(n))),
                               GUARD_S)
    # a took the first call; its next turn is a second away, so the others went to b
    assert a.count("getSlot", "forward") == 1 and b.count("getSlot", "forward") == n - 1
    times = sorted(b.times())
    assert times[-1] - times[0] >= (n - 1 - 1.5) / rps  # at b's own pace


async def test_a_light_load_stays_on_the_first_endpoint(a: Chaos, b: Chaos) -> None:
    async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url)) as rpc:
        for _ in range(5):
            await guarded(rpc, "get_slot")
    assert a.count() == 5 and b.count() == 0


# ---- when nothing works -------------------------------------------------------------------------
async def test_every_endpoint_failing_raises_rpc_unavailable_naming_each(
        net: Localnet, a: Chaos, b: Chaos) -> None:
    async with Chaos(net.url) as c, Chaos(net.url) as d:
        a.fail(Status(500), times=None)
        b.fail(Reset(), times=None)
        c.fail(Stall(), times=None)
        d.fail(Garbage(), times=None)
        deadline = 1.5
        async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url), Endpoint("c", c.url),
                            Endpoint("d", d.url), Endpoint("dead", dead_url()),
                            deadline_s=deadline) as rpc:
            with pytest.raises(RpcUnavailable) as unavailable:
                await asyncio.wait_for(rpc.call("get_balance", Keypair().pubkey()),
                                       deadline + 1)
    message = str(unavailable.value)
    assert message.startswith("get_balance: no endpoint could answer within 1.5 s")
    said = unavailable.value.said
    assert said["a"] == "HTTP 500"
    assert said["b"] == "connection failed (RemoteProtocolError)"
    assert said["c"] == "timeout"
    assert said["d"].startswith("unreadable answer")
    assert said["dead"] == "connection failed (ConnectError)"
    for name, what in said.items():
        assert f"{name}: {what}" in message
    # it kept trying the endpoints as their back-off allowed until the deadline
    assert a.count() >= 2 and b.count() >= 2


async def test_endpoints_resting_past_the_deadline_fail_the_call_at_once(a: Chaos,
                                                                         b: Chaos) -> None:
    a.fail(Status(429, retry_after=60), times=None)
    b.fail(Status(429, retry_after=60), times=None)
    async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url)) as rpc:
        with pytest.raises(RpcUnavailable) as first:
            # not a wait until the 5 s deadline: nobody will answer before it
            await asyncio.wait_for(rpc.call("get_slot"), 2)
        assert first.value.said == {"a": "HTTP 429, retry after 60 s",
                                    "b": "HTTP 429, retry after 60 s"}
        with pytest.raises(RpcUnavailable) as second:
            await asyncio.wait_for(rpc.call("get_slot"), 2)
    assert all(what.startswith("resting ") and what.endswith("after HTTP 429, retry after 60 s")
               for what in second.value.said.values())
    assert a.count() == 1 and b.count() == 1  # the resting endpoints were not asked again


async def test_the_rate_limit_wait_never_outlasts_the_deadline(a: Chaos) -> None:
    async with rpc_over(Endpoint("a", a.url, max_rps=0.5), deadline_s=0.5) as rpc:
        await guarded(rpc, "get_slot")
        with pytest.raises(RpcUnavailable) as unavailable:
            # the next turn is 2 s away, past the 0.5 s deadline: no waiting for it
            await asyncio.wait_for(rpc.call("get_slot"), 0.4)
    assert unavailable.value.said == {"a": "its rate limit gives no turn before the deadline"}
    assert a.count() == 1


# ---- node errors --------------------------------------------------------------------------------
async def test_a_json_rpc_error_from_the_node_is_not_an_endpoint_failure(a: Chaos,
                                                                        b: Chaos) -> None:
    async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url)) as rpc:
        with pytest.raises(RPCException) as refused:
            await guarded(rpc, "get_signatures_for_address", Keypair().pubkey(), limit=5000)
        assert "limit" in str(refused.value)
        assert a.count() == 1 and b.count() == 0  # no failover
        await guarded(rpc, "get_slot")  # and the endpoint is not resting
    assert a.count() == 2 and b.count() == 0


async def test_raw_requests_fail_over_and_report_node_errors_alike(a: Chaos, b: Chaos) -> None:
    """`request` runs the methods solana-py lacks, with the same failover."""
    key = str(Keypair().pubkey())
    async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url)) as rpc:
        a.script(Status(500))
        fees = await asyncio.wait_for(
            rpc.request("getRecentPrioritizationFees", [[key]]), GUARD_S)
        assert fees and all(set(f) == {"slot", "prioritizationFee"} for f in fees)
        assert [s.action for s in a.requests()] == ["status 500"] and b.count() == 1

        b.script(Garbage())
        await asyncio.sleep(0.3)  # a's rest is over
        a.script(Reset())
        assert await asyncio.wait_for(rpc.request("getHealth"), GUARD_S) == "ok"
        with pytest.raises(RPCException) as unknown:
            await asyncio.wait_for(rpc.request("getNope"), GUARD_S)
        assert unknown.value.args[0]["code"] == -32601
        assert isinstance(await rpc.request("getSlot"), int)  # a number is an answer here
    # getHealth: a reset, b garbage, then b again once its back-off (the shorter) is over;
    # getNope: b's answer, an error from the node, no failover
    assert [s.action for s in a.requests()] == ["status 500", "reset"]
    assert [s.action for s in b.requests()] == ["forward", "garbage", "forward", "forward",
                                                "forward"]


# ---- program accounts ---------------------------------------------------------------------------
async def test_program_accounts_by_discriminator_decoded_into_their_class(net: Localnet, a: Chaos,
                                                                      b: Chaos) -> None:
    direct = AsyncClient(net.url, commitment=Confirmed)
    user = net.users[0]
    for market_id in (1, 2, 3):
        await send(direct, [create_market(net, user, market_id)], user.kp)
    await direct.close()

    async with rpc_over(Endpoint("a", a.url), Endpoint("b", b.url)) as rpc:
        program = anchor_program(rpc, net.program_id)
        assert program.provider.connection is rpc.primary
        assert program.program_id == net.program_id

        markets = await asyncio.wait_for(rpc.program_accounts(program, Market), GUARD_S)
        assert {key: m.id for key, m in markets} == {net.deployment.market(user.key, i): i
                                                      for i in (1, 2, 3)}
        assert all(isinstance(m, Market) and m.state == 0 and m.question == f"Question {m.id}?"
                   for _, m in markets)
        # the discriminator was the node's first filter
        asked = a.requests("getProgramAccounts")[0].request["params"]
        assert asked[0] == str(net.program_id)
        assert asked[1]["filters"][0] == {"memcmp": {
            "offset": 0, "bytes": base58.b58encode(MARKET_DISCRIMINATOR).decode(),
            "encoding": "base58"}}

        # more filters: the market id (a u64 after the discriminator), and a data size
        second = await rpc.program_accounts(program, Market, [MemcmpOpts(
            offset=8, bytes=base58.b58encode((2).to_bytes(8, "little")).decode())])
        assert [(key, m.id) for key, m in second] == [(net.deployment.market(user.key, 2), 2)]
        first = net.deployment.market(user.key, 1)
        size = len((await rpc.call("get_account_info", first)).value.data)
        assert len(await rpc.program_accounts(program, Market, [size])) == 3
        assert await rpc.program_accounts(program, Market, [size + 1]) == []

        [(config_key, config)] = await rpc.program_accounts(program, Config)
        assert config_key == net.deployment.config
        assert config.council[0] == net.admin.pubkey() and config.vault == net.deployment.vault
        assert await rpc.program_accounts(program, Position) == []

        # with failover like any call
        a.fail(Status(500))
        assert len(await rpc.program_accounts(program, Market)) == 3
        assert b.count("getProgramAccounts") == 1

        # anchorpy's own namespace works over the primary endpoint
        fetched = await program.account["Market"].fetch(net.deployment.market(user.key, 3))
        assert fetched.id == 3
