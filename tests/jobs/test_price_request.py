"""A job that meets a pull oracle stale queues its post: `scan_positions`,
`liquidate_position` and `update_funding` on the localnet, each on a market whose pull
PriceUpdateV2 has gone stale, queue `post_price` for the market under the reconciler's id;
nothing while the price is fresh, nothing without a queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import pytest_asyncio
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.localnet.seed import Seeder
from chain.price_update import PriceUpdate
from chain.publisher import Feed, Publisher
from chain.scenarios import RandomWalk
from demo.scenario import price_update_market
from jobs.deps import JobDeps
from jobs.funding import update_funding
from jobs.liquidation import liquidate_position, scan_positions
from jobs.outcome import Outcome
from jobs.registry import job_id, queue_name
from program.client import PerpMarketParams
from tests.support.chain_world import World, world

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRICE = 100_000_000
FEED = bytes(range(32))
HOUR = 3_600
LONG = 1


class Queue:
    """arq's enqueue_job, recording: None for an id queued already, as arq answers."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[str, str, tuple[Any, ...]]] = {}

    async def enqueue_job(self, function: str, *args: Any, _job_id: str, _queue_name: str,
                          _defer_by: float | None) -> object | None:
        if _job_id in self.jobs:
            return None
        self.jobs[_job_id] = (_queue_name, function, args)
        return object()


@dataclass
class Pull:
    w: World
    publisher: Publisher
    oracle: Pubkey
    market: Pubkey
    position: Pubkey

    def keeper(self) -> tuple[JobDeps, Queue]:
        queue = Queue()
        deps: Any = queue
        return replace(self.w.keepers[0], queue=deps), queue

    async def stale(self) -> int:
        """The pull account left as it is past its market's limits; its publish time."""
        await self.w.travel(HOUR)  # an hour: funding due, and far past max_price_age_secs
        account = (await self.w.direct.get_account_info(self.oracle)).value
        assert account is not None
        return PriceUpdate.decode(bytes(account.data)).publish_time

    def expected(self, publish_time: int) -> dict[str, tuple[str, str, tuple[Any, ...]]]:
        return {job_id("post_price", self.market, publish_time):
                (queue_name("funding"), "post_price", (str(self.market),))}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pull() -> AsyncIterator[Pull]:
    async with world() as w:
        net, c = w.net, w.net.client
        oracle = Keypair().pubkey()  # a pull account: not the push oracle's address
        publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=0),
                                             feed_id=FEED)])
        seeder = await Seeder.connect(net.url, net.keys_dir)
        try:
            await publisher.publish(0)
            market = await price_update_market(
                seeder, 1, oracle, FEED, PerpMarketParams(funding_interval_secs=HOUR), 10**11)
            user = net.users[0]
            await w.send([c.deposit(user.key, market, user.token, 20_000_000)], user.kp)
            await publisher.publish(0)
            await w.send([c.open_position(user.key, market, oracle, LONG, 1_000_000,
                                          2**64 - 1)], user.kp)
            yield Pull(w, publisher, oracle, market, net.deployment.position(market, user.key))
        finally:
            await seeder.close()
            await publisher.close()


async def test_nothing_is_queued_while_the_price_is_fresh(pull: Pull) -> None:
    await pull.publisher.publish(0)
    deps, queue = pull.keeper()
    assert (await scan_positions(deps)).refused == {}
    assert await liquidate_position(deps, pull.position) == Outcome.NOT_NEEDED
    assert queue.jobs == {}


async def test_the_scan_queues_the_post_of_a_stale_pull_oracle(pull: Pull) -> None:
    published = await pull.stale()
    deps, queue = pull.keeper()
    assert (await scan_positions(deps)).refused == {pull.market: "StaleOracle"}
    assert queue.jobs == pull.expected(published)


async def test_a_liquidation_queues_the_post_of_a_stale_pull_oracle(pull: Pull) -> None:
    published = await pull.stale()
    deps, queue = pull.keeper()
    assert await liquidate_position(deps, pull.position) == Outcome.RETRY
    assert queue.jobs == pull.expected(published)


async def test_a_funding_update_queues_the_post_of_a_stale_pull_oracle(pull: Pull) -> None:
    published = await pull.stale()
    deps, queue = pull.keeper()
    assert await update_funding(deps, pull.market) == Outcome.RETRY
    assert queue.jobs == pull.expected(published)


async def test_without_a_queue_a_stale_oracle_is_only_retried(pull: Pull) -> None:
    await pull.stale()
    assert pull.w.keepers[0].queue is None
    assert await liquidate_position(pull.w.keepers[0], pull.position) == Outcome.RETRY
    assert await update_funding(pull.w.keepers[0], pull.market) == Outcome.RETRY
