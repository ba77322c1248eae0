"""A chain World holding work due of every kind the keepers read from the chain."""

from __future__ import annotations

from dataclasses import dataclass

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.publisher import Feed, Publisher
from chain.scenarios import RandomWalk
from jobs.due import DueJob
from jobs.governance_plan import MarketState
from program.client import PerpMarketParams
from tests.support.chain_world import World
from tests.support.markets import DISPUTE_WINDOW, proposal, resolving

HOUR = 3_600
PRICE = 100_000_000


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
