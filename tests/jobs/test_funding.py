"""update_funding end to end on the localnet: not before the interval, once after it (twice in
a row, twice at once), a late keeper reporting every missed interval at once (funding itself
accrues continuously: the crank only keeps idle markets' indexes and the event series
current)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.publisher import Feed, Publisher
from chain.scenarios import RandomWalk
from jobs.funding import update_funding
from jobs.outcome import Outcome
from program.client import PerpMarketParams
from tests.support.chain_world import World, world
from tests.support.perp_world import funded_perp_market

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOUR = 3_600
PRICE = 100_000_000
LONG, SHORT = 1, 2


@dataclass
class Perp:
    w: World
    publisher: Publisher
    oracle: Pubkey
    address: Pubkey

    async def state(self) -> tuple[int, int]:
        """(last_funding_ts, cumulative_funding)"""
        _, (m,) = await self.w.keepers[0].snapshot(self.address)
        assert m is not None
        return int(m.last_funding_ts), int(m.cumulative_funding)

    async def travel(self, seconds: int) -> None:
        await self.w.travel(seconds)
        await self.publisher.publish(0)  # a fresh price: the oracle must not be stale

    async def updates(self) -> tuple[int, int]:
        return await self.w.calls(self.address, self.w.net.client.update_funding(
            self.address, self.oracle))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def perp() -> AsyncIterator[Perp]:
    async with world() as w:
        net, c = w.net, w.net.client
        oracle = Keypair().pubkey()
        publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=0))])
        try:
            await publisher.publish(0)
            # the pool reserves each position's profit cap at open
            address = await funded_perp_market(
                net, 1, oracle, params=PerpMarketParams(funding_interval_secs=HOUR),
                pool=10**11)
            long_, short = net.users[1], net.users[2]
            await w.send([c.deposit(long_.key, address, long_.token, 20_000_000),
                          c.deposit(short.key, address, short.token, 50_000_000)],
                         long_.kp, short.kp)
            # a price fresh for each open (at most max_open_staleness_slots old)
            await publisher.publish(0)
            await w.send([c.open_position(long_.key, address, oracle, LONG, 1_000_000,
                                          2**64 - 1)], long_.kp)
            await publisher.publish(0)
            await w.send([c.open_position(short.key, address, oracle, SHORT, 500_000, 0)],
                         short.kp)
            yield Perp(w, publisher, oracle, address)
        finally:
            await publisher.close()


EARLY_S = 5


async def test_funding_is_updated_once_per_interval(perp: Perp) -> None:
    k = perp.w.keepers[0]
    last, index = await perp.state()
    assert await update_funding(k, perp.address) == Outcome.NOT_NEEDED
    # a few seconds early: the localnet's clock moves on with wall time while the job reads,
    # and a send waits for its slot
    await perp.travel(HOUR - EARLY_S - (await perp.w.now() - last))
    assert await update_funding(k, perp.address) == Outcome.NOT_NEEDED
    await perp.travel(EARLY_S)
    assert await update_funding(k, perp.address) == Outcome.SUCCESS
    new_last, new_index = await perp.state()
    assert new_last == last + HOUR
    assert new_index > index  # longs outweigh shorts: the index rises
    assert await update_funding(k, perp.address) == Outcome.NOT_NEEDED
    assert await perp.updates() == (1, 0)


async def test_two_keepers_at_once_update_once(perp: Perp) -> None:
    last, _ = await perp.state()
    await perp.travel(HOUR)
    got = await asyncio.gather(*(update_funding(k, perp.address) for k in perp.w.keepers))
    assert Outcome.SUCCESS in got and got.count(Outcome.SUCCESS) == 1
    assert set(got) <= {Outcome.SUCCESS, Outcome.NOT_NEEDED, Outcome.ALREADY_DONE}
    assert (await perp.state())[0] == last + HOUR
    ok, failed = await perp.updates()
    # one update succeeded; without a shared lease (the workers' Redis lease) the other
    # keeper may have sent too, and its transaction then failed with TooEarly
    assert ok == 2 and failed <= 1


async def test_a_late_keeper_applies_every_missed_interval(perp: Perp) -> None:
    last, _ = await perp.state()
    await perp.travel(3 * HOUR + 100)
    assert await update_funding(perp.w.keepers[1], perp.address) == Outcome.SUCCESS
    assert (await perp.state())[0] == last + 3 * HOUR
    assert await update_funding(perp.w.keepers[0], perp.address) == Outcome.NOT_NEEDED


async def test_a_missing_perp_market_fails(perp: Perp) -> None:
    assert await update_funding(perp.w.keepers[0],
                                perp.w.net.deployment.perp_market(99)) == Outcome.FAILED
