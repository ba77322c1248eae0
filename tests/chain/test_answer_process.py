"""Answers parsed in the helper process (chain/answer_process.py) through RpcClient.request:
the same result as parsed on the event loop, worked out in another process, and node errors and
unreadable answers handled as ever."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solders.pubkey import Pubkey

from chain.answer_process import AccountsBlob, accounts_blob
from chain.client import Endpoint, RpcClient
from chain.localnet import Localnet, run_localnet
from demo.servers import free_port_pair
from tests.support.chaos import Chaos, Garbage
from tests.support.localnet import create_market, send

GUARD_S = 10.0


def _pid_and(result: Any) -> tuple[int, Any]:
    return os.getpid(), result


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        direct = AsyncClient(localnet.url, commitment=Confirmed)
        user = localnet.users[0]
        for market_id in (1, 2, 3):
            await send(direct, [create_market(localnet, user, market_id)], user.kp)
        await direct.close()
        yield localnet


def _accounts_params(net: Localnet) -> list[object]:
    return [str(net.program_id), {"encoding": "base64", "commitment": "confirmed"}]


async def test_a_reduced_answer_is_the_answer_worked_out_in_another_process(
        net: Localnet) -> None:
    rpc = RpcClient([Endpoint("a", net.url)])
    try:
        params = _accounts_params(net)
        here = await asyncio.wait_for(rpc.request("getProgramAccounts", params), GUARD_S)
        pid, there = await asyncio.wait_for(
            rpc.request("getProgramAccounts", params, reduce=_pid_and), GUARD_S)
        blob = await asyncio.wait_for(
            rpc.request("getProgramAccounts", params, reduce=accounts_blob), GUARD_S)
    finally:
        await rpc.close()
    assert pid != os.getpid()
    assert there == here and len(here) >= 3  # the markets, the config, the program's others
    assert blob == AccountsBlob(
        b"".join(bytes(Pubkey.from_string(item["pubkey"])) for item in here),
        b"".join(base64.b64decode(item["account"]["data"][0]) for item in here), len(here))


async def test_node_errors_and_unreadable_answers_are_told_apart_as_ever(net: Localnet) -> None:
    async with Chaos(net.url) as a, Chaos(net.url) as b:
        rpc = RpcClient([Endpoint("a", a.url), Endpoint("b", b.url)])
        try:
            a.script(Garbage())  # a's answer is not JSON: the endpoint failed, b answers
            found = await asyncio.wait_for(
                rpc.request("getProgramAccounts", _accounts_params(net), reduce=accounts_blob),
                GUARD_S)
            assert found.count >= 3
            assert [s.action for s in a.requests()] == ["garbage"] and b.count() == 1
            with pytest.raises(RPCException) as refused:  # the node's own error: no failover
                await asyncio.wait_for(rpc.request("getProgramAccounts", ["not a key"],
                                                   reduce=accounts_blob), GUARD_S)
            assert refused.value.args[0]["code"] == -32602
            assert a.count() + b.count() == 3  # asked once
        finally:
            await rpc.close()
