"""Prediction markets built on a chain World: proposals voted on, and markets resolving."""

from __future__ import annotations

from solders.pubkey import Pubkey

from jobs.governance import tally_votes
from jobs.governance_plan import MarketState
from jobs.outcome import Outcome
from tests.support.chain_world import World

WINDOW = 86_400  # the localnet's proposal window
DISPUTE_WINDOW = 172_800
YES = 1
LIQUIDITY = 100_000_000
STAKE = 1_000_000  # the localnet's least vote stake; three of them make its quorum


async def proposal(w: World, market_id: int, likes: int, dislikes: int = 0, *,
                   closed: bool = False) -> Pubkey:
    """A market with `likes` and `dislikes` votes of STAKE each, its window still open (or
    `closed`: the clock moved past it, so that the tally can be decided)."""
    net = w.net
    creator = net.users[0]
    trading_ends_at = await w.now() + WINDOW + 100
    await w.send([net.client.create_market(creator.key, market_id, f"Q{market_id}?",
                                           trading_ends_at, creator_token=creator.token)],
                 creator.kp)
    market = net.deployment.market(creator.key, market_id)
    voters = net.users + net.keepers
    for i, voter in enumerate(voters[:likes + dislikes]):
        await w.send([net.client.vote_proposal(voter.key, market, i < likes, stake=STAKE,
                                               voter_token=voter.token)], voter.kp)
    if closed:
        await w.travel(WINDOW + 1)
    return market


async def state(w: World, market: Pubkey) -> int:
    _, (m,) = await w.keepers[0].snapshot(market)
    assert m is not None
    return int(m.state)


async def resolving(w: World, market_id: int) -> Pubkey:
    """A market past its trading end with its outcome proposed (Resolving)."""
    net, creator = w.net, w.net.users[0]
    market = await proposal(w, market_id, likes=3, closed=True)
    assert await tally_votes(w.keepers[0], market) == Outcome.SUCCESS
    await w.send([net.client.activate_market(creator.key, market, creator.token, LIQUIDITY)],
                 creator.kp)
    await w.travel(200)
    await w.send([net.client.propose_resolution(creator.key, market, YES,
                                                proposer_token=creator.token)], creator.kp)
    assert await state(w, market) == MarketState.RESOLVING
    return market
