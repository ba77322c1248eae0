"""The work due on the localnet, read by jobs/due.py: proposals to approve or reject, markets to
finalize, perp markets whose funding interval passed, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.publisher import Feed, Publisher
from chain.scenarios import RandomWalk
from jobs.deps import JobDeps
from jobs.due import DueJob, read_due
from jobs.governance_plan import MarketState
from program.client import PerpMarketParams
from tests.jobs.chain_world import World, world
from tests.jobs.test_governance import DISPUTE_WINDOW, proposal, resolving

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOUR = 3_600
PRICE = 100_000_000


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@dataclass
class DueWorld:
    """Markets in every situation, and the jobs due once the dispute window passed."""

    approvable: Pubkey  # Proposed with enough likes: approve at any time
    closed: Pubkey  # Proposed without, its window closed: reject
    resolving: Pubkey  # Resolving, its dispute window over: finalize
    perp: Pubkey  # its funding interval passed
    last_funding_ts: int

    @property
    def governance(self) -> set[DueJob]:
        return {DueJob("tally_votes", self.approvable), DueJob("tally_votes", self.closed),
                DueJob("finalize_market", self.resolving, MarketState.RESOLVING)}

    @property
    def funding(self) -> set[DueJob]:
        return {DueJob("update_funding", self.perp, self.last_funding_ts)}


async def due_world(w: World, first_id: int) -> DueWorld:
    """Markets `first_id`.. on `w` and a perp market `first_id`, with their work due."""
    approvable = await proposal(w, first_id, likes=3)
    closed = await proposal(w, first_id + 1, likes=1, dislikes=1)
    market = await resolving(w, first_id + 2)  # travels past the proposal windows
    perp, last_funding_ts = await perp_market(w, first_id)
    await w.travel(DISPUTE_WINDOW + 1)
    return DueWorld(approvable, closed, market, perp, last_funding_ts)


async def perp_market(w: World, market_id: int) -> tuple[Pubkey, int]:
    """A perp market `market_id` on a new oracle, its funding due every HOUR: its address and
    its last_funding_ts."""
    net = w.net
    oracle = Keypair().pubkey()
    publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=0))])
    try:
        await publisher.publish(0)
        perp = net.deployment.perp_market(market_id)
        await w.send([net.client.create_perp_market(
            net.admin.pubkey(), market_id, oracle,
            PerpMarketParams(funding_interval_secs=HOUR))], net.admin)
    finally:
        await publisher.close()
    _, (p,) = await w.keepers[0].snapshot(perp)
    assert p is not None
    return perp, int(p.last_funding_ts)


@dataclass(frozen=True)
class AtTime(JobDeps):
    """A keeper that reads the chain's accounts but sees the clock at `now`: the localnet's
    clock moves with wall time, so only this holds a boundary to the second."""

    now: int

    async def snapshot(self, *addresses: Pubkey) -> tuple[int, list[Any | None]]:
        _, accounts = await super().snapshot(*addresses)
        return self.now, accounts


async def test_the_due_work_is_read_from_the_chain(w: World) -> None:
    k = w.keepers[0]
    early = await proposal(w, 1, likes=1)
    approvable = await proposal(w, 2, likes=3)
    # whatever the stake, nothing is decided while a window is open
    assert await read_due(k, "governance") == []
    assert await read_due(k, "funding") == []

    got = await due_world(w, 10)
    governance = set(await read_due(k, "governance"))
    # the early and approvable proposals' windows closed meanwhile: both are due too
    assert governance == got.governance | {DueJob("tally_votes", early),
                                           DueJob("tally_votes", approvable)}
    assert set(await read_due(k, "funding")) == got.funding


async def test_funding_is_due_from_the_second_its_interval_has_passed(w: World) -> None:
    perp, last_funding_ts = await perp_market(w, 30)
    k = w.keepers[0]
    due = DueJob("update_funding", perp, last_funding_ts)

    def at(now: int) -> AtTime:
        return AtTime(k.rpc, k.sender, k.program, k.client, now)

    assert due not in await read_due(at(last_funding_ts + HOUR - 1), "funding")
    assert due in await read_due(at(last_funding_ts + HOUR), "funding")


async def test_an_unknown_role_has_no_due_work(w: World) -> None:
    with pytest.raises(ValueError, match="no due work to read for role 'indexer'"):
        await read_due(w.keepers[0], "indexer")
