"""The local price publisher against a real localnet: the program trades at its prices."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair

from chain.client import Endpoint, RpcClient
from chain.localnet import Localnet, run_localnet
from chain.price_update import PriceUpdate, push_feed_address
from chain.prices import OracleLimits, OracleRefused, judge_quote, read_price
from chain.publisher import Feed, Publisher, PublishError
from chain.pyth import decode
from chain.scenarios import Crash
from demo.servers import free_port_pair
from jobs.deps import read_raw_snapshot
from program.client import RECEIVER_PROGRAM, OracleKind
from tests.support.localnet import raw, send
from tests.support.perp_world import funded_perp_market

START = 100_000_000


@pytest.fixture
async def net() -> AsyncIterator[Localnet]:
    async with run_localnet(free_port_pair()) as localnet:
        yield localnet


async def test_the_program_trades_at_the_published_price(net: Localnet) -> None:
    oracle = Keypair().pubkey()
    crash = Crash(START, drop_pct=20, over_s=10, after_s=5)
    publisher = Publisher(net.url, [Feed(oracle, crash)])
    client = AsyncClient(net.url, commitment=Confirmed)
    try:
        assert await publisher.publish(0) == {oracle: START}
        c, d, user = net.client, net.deployment, net.users[0]
        perp = d.perp_market(1)
        await funded_perp_market(net, 1, oracle)
        await send(client, [c.deposit(user.key, perp, user.token, 10**9)], user.kp)
        await publisher.publish(15)  # the bottom of the crash
        await send(client, [c.open_position(user.key, perp, oracle, 1, 1_000_000, 2**64 - 1)],
                   user.kp)
        info = (await client.get_account_info(d.position(perp, user.key))).value
        assert info is not None
        position = net.protocol.chain.program.coder.accounts.decode(bytes(info.data))
        published = (await client.get_account_info(oracle)).value
        assert published is not None
        slot = (await client.get_slot()).value
        assert decode(bytes(published.data)).publish_slot <= slot
        # a long buys at the price moved against it by the confidence
        quote = judge_quote(bytes(published.data), OracleLimits(25, 200), slot)
        assert quote.price == START * 80 // 100
        assert position.entry_price == quote.price + quote.conf
    finally:
        await publisher.close()
        await client.close()


async def test_a_price_update_is_published_at_the_chain_time(net: Localnet) -> None:
    # at the push oracle's address, owned by the receiver, dated by the chain's clock: after
    # the localnet's time travels ahead of the wall clock, a fresh publication is still fresh
    feed = bytes(range(32))
    oracle = push_feed_address(feed)
    publisher = Publisher(net.url, [Feed(oracle, Crash(START, 10, 1), feed_id=feed)])
    rpc = RpcClient([Endpoint("local", net.url)])
    limits = OracleLimits(25, 200, OracleKind.PRICE_UPDATE_V2, feed, 60)
    try:
        await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "keepernet_timeTravel",
                        "params": [{"seconds": 3600}]})
        await publisher.publish(0)
        clock, (account,) = await read_raw_snapshot(rpc, oracle)
        assert account is not None and account.owner == RECEIVER_PROGRAM
        update = PriceUpdate.decode(bytes(account.data))
        assert update.publish_time == clock.unix_timestamp
        assert judge_quote(bytes(account.data), limits, clock.slot,
                           clock.unix_timestamp).price == START
    finally:
        await publisher.close()
        await rpc.close()


async def test_the_localnet_takes_only_price_accounts(net: Localnet) -> None:
    answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "keepernet_setPriceAccount",
                             "params": [str(Keypair().pubkey()), "AAAA"]})
    assert answer["error"]["code"] == -32602
    assert "not a price account" in answer["error"]["message"]


async def test_an_unreachable_localnet_is_a_clear_error() -> None:
    publisher = Publisher(f"http://127.0.0.1:{free_port_pair()}", [Feed(Keypair().pubkey(),
                                                                   Crash(START, 10, 1))])
    try:
        with pytest.raises(PublishError, match="getAccountInfo"):
            await publisher.publish(0)
    finally:
        await publisher.close()


async def test_keepernet_prices_publishes_until_its_duration(net: Localnet) -> None:
    oracle = Keypair().pubkey()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", "prices", "--url", net.url, "--oracle", str(oracle),
        "--scenario", "walk", "--start", "64250.5", "--interval", "0.1", "--duration", "0.5",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert len(out.decode().splitlines()) >= 3
    client = AsyncClient(net.url)
    try:
        info = (await client.get_account_info(oracle)).value
        assert info is not None and decode(bytes(info.data)).price > 0
    finally:
        await client.close()


async def test_read_price_judges_what_the_publisher_wrote(net: Localnet) -> None:
    oracle = Keypair().pubkey()
    publisher = Publisher(net.url, [Feed(oracle, Crash(START, 10, 1))])
    rpc = RpcClient([Endpoint("local", net.url)])
    limits = OracleLimits(max_staleness_slots=25, max_conf_bps=200)
    try:
        await publisher.publish(0)
        assert await read_price(rpc, oracle, limits) == START
        await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "keepernet_timeTravel",
                        "params": [{"slots": 26}]})
        with pytest.raises(OracleRefused) as refused:
            await read_price(rpc, oracle, limits)
        assert refused.value.error == "StaleOracle"
        with pytest.raises(OracleRefused, match="InvalidOracle"):
            await read_price(rpc, Keypair().pubkey(), limits)
    finally:
        await publisher.close()
        await rpc.close()
