"""accountSubscribe watching against the localnet: each change arrives with its data and slot,
and a dropped connection is re-established and announced (the caller then rescans)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest_asyncio
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.localnet import HostedProfile, Localnet, run_localnet
from chain.publisher import Feed, Publisher
from chain.pyth import read_aggregate
from chain.scenarios import RandomWalk
from chain.watch import WS_ENDPOINT, watch_accounts
from demo.servers import free_port_pair
from metrics.definitions import registry

PRICE = 100_000_000


@pytest_asyncio.fixture
async def net() -> AsyncIterator[Localnet]:
    # a validator's slot time: a price written within a slot is told as of that slot, which
    # the watch (at confirmed) would otherwise see as of the one before
    async with run_localnet(free_port_pair(), slot_seconds=0.4) as got:
        yield got


class Proxy:
    """A TCP forwarder whose connections the test can cut."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()

    async def close(self) -> None:
        self.cut()
        self.server.close()


def subscriptions() -> float:
    return registry.get_sample_value("keepernet_rpc_requests_total", {
        "endpoint": WS_ENDPOINT, "method": "accountSubscribe", "outcome": "ok"}) or 0.0


async def test_changes_arrive_and_a_cut_connection_comes_back(net: Localnet) -> None:
    oracle = Keypair().pubkey()
    publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=50, seed=3))])
    proxy = Proxy(int(net.ws_url.rsplit(":", 1)[1]))
    port = await proxy.start()
    changes: asyncio.Queue[tuple[Pubkey, bytes, int]] = asyncio.Queue()
    connected = asyncio.Queue[int]()

    async def on_change(address: Pubkey, data: bytes, slot: int) -> None:
        await changes.put((address, data, slot))

    async def on_connected() -> None:
        await connected.put(1)

    while net.ledger.commitment_slot("confirmed") < 2:  # past the genesis' first slots
        await asyncio.sleep(0.05)
    await publisher.publish(0)
    subscribed = subscriptions()
    watch = asyncio.create_task(watch_accounts(f"ws://127.0.0.1:{port}", [oracle], on_change,
                                               on_connected))
    try:
        await asyncio.wait_for(connected.get(), 5)
        for step in (1, 2):
            await publisher.publish(step)
            address, data, slot = await asyncio.wait_for(changes.get(), 5)
            on_chain = net.protocol.chain.raw(oracle)
            assert address == oracle and data == on_chain
            assert read_aggregate(data).publish_slot <= slot <= net.ledger.slot
        proxy.cut()
        await asyncio.wait_for(connected.get(), 10)  # resubscribed, and said so
        # each subscription is a request, as a provider counts it
        assert subscriptions() == subscribed + 2
        await publisher.publish(3)
        address, data, _ = await asyncio.wait_for(changes.get(), 5)
        assert data == net.protocol.chain.raw(oracle)
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        await proxy.close()
        await publisher.close()


def refusals() -> float:
    return registry.get_sample_value("keepernet_rpc_requests_total", {
        "endpoint": WS_ENDPOINT, "method": "accountSubscribe", "outcome": "rpc_error"}) or 0.0


async def test_a_refused_subscription_is_asked_again_not_given_up() -> None:
    """A provider allowing one subscription a connection refuses the second of two: the watch
    keeps asking (with its backoff) rather than ending, which left the liquidator without its
    trigger until restarted."""
    profile = HostedProfile(subscriptions_per_connection=1)
    async with run_localnet(free_port_pair(), profile=profile) as hosted:
        refused = refusals()
        watch = asyncio.create_task(watch_accounts(
            hosted.ws_url, [Keypair().pubkey(), Keypair().pubkey()], lambda *_: asyncio.sleep(0)))
        try:
            deadline = asyncio.get_running_loop().time() + 10
            while refusals() < refused + 2:  # refused, then asked again and refused again
                assert not watch.done(), watch
                assert asyncio.get_running_loop().time() < deadline, "asked only once"
                await asyncio.sleep(0.05)
            assert not watch.done()
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch


async def test_a_processed_watch_hears_a_change_a_slot_before_a_confirmed_one(
        net: Localnet) -> None:
    """The liquidator watches its oracles at `processed` (fleet/settings.py): a price is heard
    as its slot is made, before that slot is confirmed, and before a watch at `confirmed`
    hears it."""
    oracle = Keypair().pubkey()
    publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=50, seed=4))])
    heard: dict[str, asyncio.Queue[tuple[int, int, float]]] = {
        "processed": asyncio.Queue(), "confirmed": asyncio.Queue()}

    def recorder(commitment: str) -> Callable[[Pubkey, bytes, int], Awaitable[None]]:
        async def on_change(address: Pubkey, data: bytes, slot: int) -> None:
            await heard[commitment].put((slot, net.ledger.commitment_slot("confirmed"),
                                         time.monotonic()))
        return on_change

    connected = asyncio.Queue[int]()

    async def on_connected() -> None:
        await connected.put(1)

    while net.ledger.commitment_slot("confirmed") < 2:  # past the genesis' first slots
        await asyncio.sleep(0.05)
    watches = [asyncio.create_task(watch_accounts(net.ws_url, [oracle], recorder(c),
                                                  on_connected, commitment=c))
               for c in heard]
    try:
        for _ in watches:
            await asyncio.wait_for(connected.get(), 5)
        await publisher.publish(1)
        slot, confirmed_then, processed_at = await asyncio.wait_for(
            heard["processed"].get(), 5)
        assert confirmed_then < slot  # heard before its slot was confirmed
        confirmed_slot, _, confirmed_at = await asyncio.wait_for(heard["confirmed"].get(), 5)
        assert confirmed_slot == slot and confirmed_at > processed_at
    finally:
        for watch in watches:
            watch.cancel()
        await asyncio.gather(*watches, return_exceptions=True)
        await publisher.close()
