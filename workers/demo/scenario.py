"""The demo's scenario, seeded into a fresh localnet: prediction markets in every state the
keepers act on, and two perp markets full of positions, some of them fragile enough that the
publisher's crash sends them under maintenance.

Windows are shortened with `update_config` (the demo must show the keepers acting within a
minute), and the seeding moves the localnet's clock forward once, so that two markets reach
their resolution before the fleet starts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from solders.pubkey import Pubkey

from chain.localnet.seed import PositionSpec, Seeder
from program.client import ConfigParams, PerpMarketParams
from program.local import PYTH_PROGRAM

WINDOW_S = 60  # the proposal window, dispute window and dispute vote (the least allowed)
FUNDING_INTERVAL_S = 60  # the least a perp market allows
START_PRICE = 100_000_000  # 100 quote per base unit
QUOTE = 1_000_000  # one quote token in base units
LIQUIDITY = 1_000 * QUOTE
POOL = 10_000_000 * QUOTE
YES = 1

DEMO_PARAMS = ConfigParams(pyth_program=PYTH_PROGRAM, proposal_window_secs=WINDOW_S,
                           dispute_window_secs=WINDOW_S, dispute_vote_secs=WINDOW_S)
PERP_PARAMS = PerpMarketParams(funding_interval_secs=FUNDING_INTERVAL_S)


@dataclass(frozen=True)
class Seeded:
    """What the scenario put on chain."""

    markets: dict[str, Pubkey]  # by what the keepers will do with them
    oracles: list[Pubkey]
    perp_markets: list[Pubkey]
    positions: int


def position_specs(count: int, seed: int) -> list[PositionSpec]:
    """`count` positions, 60 % long: sizes of 1-10 base units, collateral between 11 % and
    60 % of the notional at the start price (initial margin is 10 %), so a 20 % fall takes
    roughly a quarter of the longs under maintenance."""
    rng = random.Random(seed)
    specs = []
    for _ in range(count):
        size = rng.randint(1, 10) * 1_000_000
        notional = size * START_PRICE // 1_000_000
        ratio = rng.uniform(0.11, 0.60)
        specs.append(PositionSpec(1 if rng.random() < 0.6 else 2, size, int(notional * ratio)))
    return specs


async def seed_markets(s: Seeder) -> dict[str, Pubkey]:
    """Markets that the governance keepers will approve, reject and finalize (after the
    dispute window, and after a dispute vote), and one open market with trades."""
    c, d = s.program, s.d
    people = await s.traders(8, 10_000 * QUOTE)
    creator, disputer, voters = people[0], people[1], people[2:]
    now = await s.now()

    async def propose(market_id: int, likes: int, dislikes: int, trading_s: int) -> Pubkey:
        await s.send([c.create_market(creator.key, market_id, f"Demo question {market_id}?",
                                      now + trading_s)], creator.kp)
        market = d.market(market_id)
        for i, voter in enumerate(voters[:likes + dislikes]):
            await s.send([c.vote_proposal(voter.key, market, i < likes)], voter.kp)
        return market

    async def trading(market_id: int, trading_s: int) -> Pubkey:
        market = await propose(market_id, 3, 0, trading_s)
        await s.send([c.approve_market(market),
                      c.activate_market(creator.key, market, creator.token, LIQUIDITY)],
                     creator.kp)
        for i, trader in enumerate(voters[:4]):
            await s.send([c.buy(trader.key, market, trader.token, i % 2, 50 * QUOTE)],
                         trader.kp)
        return market

    # two markets whose trading ends now, resolved: one left alone, one disputed
    finalize_after_window = await trading(1, WINDOW_S + 5)
    finalize_after_dispute = await trading(2, WINDOW_S + 5)
    await s.travel(WINDOW_S + 10)
    now = await s.now()
    for market in (finalize_after_window, finalize_after_dispute):
        await s.send([c.propose_resolution(creator.key, market, YES)], creator.kp)
    await s.send([c.dispute(disputer.key, finalize_after_dispute, disputer.token)], disputer.kp)
    for i, voter in enumerate(voters[:4]):
        await s.send([c.vote_dispute(voter.key, finalize_after_dispute, i < 3)], voter.kp)
    # proposals the keepers tally: enough likes at once, or too few when the window closes
    approve = await propose(3, 3, 0, 10 * WINDOW_S)
    reject = await propose(4, 1, 2, 10 * WINDOW_S)
    open_market = await trading(5, 100 * WINDOW_S)
    return {"approve": approve, "reject": reject, "open": open_market,
            "finalize after the dispute window": finalize_after_window,
            "finalize after the dispute vote": finalize_after_dispute}


async def seed(s: Seeder, oracles: list[Pubkey], positions_per_market: int,
               seed: int = 7) -> Seeded:
    """The whole scenario. A publisher must keep the oracles' prices fresh meanwhile: a
    position opens only at a fresh price, and seeding takes longer than a price stays fresh."""
    admin = s.admin
    await s.send([s.program.update_config(admin.pubkey(), DEMO_PARAMS, False)], admin)
    markets = await seed_markets(s)
    perp_markets = []
    for i, oracle in enumerate(oracles, start=1):
        perp = await s.perp_market(i, oracle, PERP_PARAMS, POOL)
        await s.positions(perp, oracle, position_specs(positions_per_market, seed + i))
        perp_markets.append(perp)
    # the first funding report due at once (the interval is at least a minute); the positions
    # accrue that minute's funding, at the open interest they opened with
    await s.travel(FUNDING_INTERVAL_S)
    return Seeded(markets, oracles, perp_markets, positions_per_market * len(oracles))
