"""The demo's scenario, seeded into a fresh localnet: prediction markets in every state the
keepers act on, and two perp markets full of positions, some of them fragile enough that the
publisher's crash sends them under maintenance: one on a legacy Pyth price account, one on a
PriceUpdateV2 account (a pull account of DEMO_FEED, which the keepers post), so that the
keepers liquidate on both kinds of oracle.

Windows are shortened through the config timelock to the least allowed (a minute): proposed,
the localnet's clock moved past the delay, applied. The same parameters are then proposed
again, a change that changes nothing, left for the governance keepers to apply. The seeding
then moves the clock forward three times: past the proposals' window, so that they can be
decided, to the end of the first markets' trading, so that two can be resolved, and past
their dispute window and vote (and the second change's timelock), so that the keepers have
every kind of governance work to do as soon as the fleet starts.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace

from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer

from chain.localnet import default_slot_seconds
from chain.localnet.ledger import SLOT_SECONDS
from chain.localnet.seed import PositionSpec, Seeder, SeedError
from program.client import PERP_MAX_OPEN_INTEREST, ConfigParams, OracleKind, PerpMarketParams
from program.local import PYTH_PROGRAM

WINDOW_S = 60  # the proposal window, dispute window and dispute vote (the least allowed)
FUNDING_INTERVAL_S = 60  # the least a perp market allows
START_PRICE = 100_000_000  # 100 quote per base unit
QUOTE = 1_000_000  # one quote token in base units
LIQUIDITY = 1_000 * QUOTE
POOL = 10_000_000 * QUOTE
YES = 1

TRADING_S = WINDOW_S + 60  # the first markets' trading, from their proposal
CREATOR_LAMPORTS = 100_000_000
DISPUTE_STAKE = 10 * QUOTE  # four of them pass the dispute quorum of the demo's markets

DEMO_PARAMS = ConfigParams(pyth_program=PYTH_PROGRAM, proposal_window_secs=WINDOW_S,
                           dispute_window_secs=WINDOW_S, dispute_vote_secs=WINDOW_S,
                           creator_resolve_secs=WINDOW_S, config_delay_secs=WINDOW_S)


def demo_params(slot_seconds: float) -> ConfigParams:
    """DEMO_PARAMS with price staleness limits (in slots) that last at `slot_seconds` as long
    as DEMO_PARAMS' do at a cluster's slot time: the tests run the localnet's slots 8 times
    faster, where 10 slots would be half a second of a busy machine and seeding, which waits
    for each transaction to be confirmed, would meet stale prices."""
    scale = SLOT_SECONDS / slot_seconds
    return replace(
        DEMO_PARAMS,
        max_oracle_staleness_slots=round(DEMO_PARAMS.max_oracle_staleness_slots * scale),
        max_open_staleness_slots=round(DEMO_PARAMS.max_open_staleness_slots * scale))


PERP_PARAMS = PerpMarketParams(funding_interval_secs=FUNDING_INTERVAL_S)
DEMO_FEED = hashlib.sha256(b"keepernet demo feed").digest()
"""The PriceUpdateV2 feed id of the demo's second market (no real Pyth feed's)."""
MAX_SIZE = 10 * 1_000_000  # position_specs' largest position, base units
MAX_NOTIONAL = MAX_SIZE * START_PRICE // 1_000_000  # its notional at the start price


@dataclass(frozen=True)
class Seeded:
    """What the scenario put on chain."""

    markets: dict[str, Pubkey]  # by what the keepers will do with them
    oracles: list[Pubkey]
    perp_markets: list[Pubkey]
    positions: int


def perp_market_for(positions: int) -> tuple[PerpMarketParams, int]:
    """The demo's perp market parameters and pool for `positions` positions: the open
    interest cap (up to the program's largest: half a million positions hold about 1.6e12 a
    side) and the pool (each position reserves its notional, max_profit_bps being 10,000)
    raised to hold them all at their largest, as the benchmarks' sizes need."""
    params = replace(PERP_PARAMS, max_open_interest=min(PERP_MAX_OPEN_INTEREST, max(
        PERP_PARAMS.max_open_interest, positions * MAX_SIZE)))
    return params, max(POOL, positions * MAX_NOTIONAL)


def position_specs(count: int, seed: int) -> list[PositionSpec]:
    """`count` positions, 60 % long: sizes of 1-10 base units, collateral between 11 % and
    60 % of the notional at the start price (initial margin is 10 %), so a 20 % fall takes
    roughly a quarter of the longs under maintenance."""
    rng = random.Random(seed)
    specs = []
    for _ in range(count):
        size = rng.randint(1, MAX_SIZE // 1_000_000) * 1_000_000
        notional = size * START_PRICE // 1_000_000
        ratio = rng.uniform(0.11, 0.60)
        specs.append(PositionSpec(1 if rng.random() < 0.6 else 2, size, int(notional * ratio)))
    return specs


async def seed_markets(s: Seeder) -> dict[str, Pubkey]:
    """Markets that the governance keepers will approve, reject and finalize (after the
    dispute window, and after a dispute vote), and one open market with trades. Votes stake
    quote, and a proposal is decided only once its window has closed."""
    c, d = s.program, s.d
    people = await s.traders(8, 10_000 * QUOTE)
    creator, disputer, voters = people[0], people[1], people[2:]
    # the rent of five Market accounts is more than a trader's SOL
    await s.send([transfer(TransferParams(from_pubkey=s.admin.pubkey(), to_pubkey=creator.key,
                                          lamports=CREATOR_LAMPORTS))], s.admin)
    stake = DEMO_PARAMS.min_vote_stake
    now = await s.now()

    async def propose(market_id: int, likes: int, dislikes: int, trading_s: int) -> Pubkey:
        await s.send([c.create_market(creator.key, market_id, f"Demo question {market_id}?",
                                      now + trading_s, creator_token=creator.token)],
                     creator.kp)
        market = d.market(creator.key, market_id)
        for i, voter in enumerate(voters[:likes + dislikes]):
            await s.send([c.vote_proposal(voter.key, market, i < likes, stake=stake,
                                          voter_token=voter.token)], voter.kp)
        return market

    async def trading(market: Pubkey) -> None:
        await s.send([c.approve_market(market),
                      c.activate_market(creator.key, market, creator.token, LIQUIDITY)],
                     creator.kp)
        for i, trader in enumerate(voters[:4]):
            await s.send([c.buy(trader.key, market, trader.token, i % 2, 50 * QUOTE)],
                         trader.kp)

    # every proposal first: the clock then moves past their window once. The seeder approves
    # three and trades in them: two whose trading ends soon, resolved (one left alone, one
    # disputed), and one open for long; the keepers tally the other two, enough stake for
    # and too little
    finalize_after_window = await propose(1, 3, 0, TRADING_S)
    finalize_after_dispute = await propose(2, 3, 0, TRADING_S)
    open_market = await propose(5, 3, 0, 100 * WINDOW_S)
    approve = await propose(3, 3, 0, 10 * WINDOW_S)
    reject = await propose(4, 1, 2, 10 * WINDOW_S)
    await s.travel(WINDOW_S + 1)
    for market in (finalize_after_window, finalize_after_dispute, open_market):
        await trading(market)
    await s.travel(TRADING_S - WINDOW_S)
    for market in (finalize_after_window, finalize_after_dispute):
        await s.send([c.propose_resolution(creator.key, market, YES,
                                           proposer_token=creator.token)], creator.kp)
    await s.send([c.dispute(disputer.key, finalize_after_dispute, disputer.token)], disputer.kp)
    # enough stake for the dispute quorum; three of four agree, so the outcome stands
    for i, voter in enumerate(voters[:4]):
        await s.send([c.vote_dispute(voter.key, finalize_after_dispute, i < 3,
                                     stake=DISPUTE_STAKE, voter_token=voter.token)], voter.kp)
    # past the dispute window and the dispute vote: both due when the fleet starts
    await s.travel(WINDOW_S + 1)
    return {"approve": approve, "reject": reject, "open": open_market,
            "finalize after the dispute window": finalize_after_window,
            "finalize after the dispute vote": finalize_after_dispute}


async def shorten_windows(s: Seeder) -> None:
    """`demo_params` made current the way every change is: the admin (the genesis council of
    one) proposes them, the clock passes the current delay, and they are applied. Then the
    same parameters again, proposed and left pending: harmless, and the governance keepers'
    apply_config to do once the seeding's time travel has passed the (now shortened) delay."""
    account = (await s.client.get_account_info(s.d.config)).value
    if account is None:
        raise SeedError("the localnet has no Config: was it initialized?")
    config = s.program.program.coder.accounts.decode(bytes(account.data))
    params = replace(demo_params(default_slot_seconds()), council=(s.admin.pubkey(),),
                     treasury=config.treasury)
    await s.send([s.program.propose_config(s.admin.pubkey(), params)], s.admin)
    await s.travel(config.config_delay_secs)
    await s.send([s.program.apply_config()], s.admin)
    await s.send([s.program.propose_config(s.admin.pubkey(), params)], s.admin)


async def price_update_market(s: Seeder, perp_market_id: int, oracle: Pubkey, feed_id: bytes,
                              params: PerpMarketParams, pool: int) -> Pubkey:
    """A perp market bound to the PriceUpdateV2 of `feed_id` at `oracle`, with `pool` more in
    the counterparty pool (the admin's quote minted first: the creation and the funding in one
    transaction, as `Seeder.perp_market` makes a legacy one)."""
    admin = await s.admin_wallet(pool)
    await s.send([s.program.create_perp_market(admin.key, perp_market_id, oracle, params,
                                               oracle_kind=OracleKind.PRICE_UPDATE_V2,
                                               feed_id=feed_id),
                  s.program.fund_pool(admin.key, admin.token, pool)], s.admin)
    return s.d.perp_market(perp_market_id)


async def seed(s: Seeder, oracles: list[Pubkey], positions_per_market: int,
               seed: int = 7, feeds: Mapping[Pubkey, bytes] | None = None) -> Seeded:
    """The whole scenario: a perp market per oracle, on a PriceUpdateV2 of its feed id for the
    oracles in `feeds`, on a legacy price account otherwise. A publisher must keep the
    oracles' prices fresh meanwhile: a position opens only at a fresh price, and seeding takes
    longer than a price stays fresh."""
    feeds = feeds or {}
    await shorten_windows(s)
    markets = await seed_markets(s)
    perp_markets = []
    params, pool = perp_market_for(positions_per_market)
    for i, oracle in enumerate(oracles, start=1):
        if oracle in feeds:
            perp = await price_update_market(s, i, oracle, feeds[oracle], params, pool)
        else:
            perp = await s.perp_market(i, oracle, params, pool)
        await s.positions(perp, oracle, position_specs(positions_per_market, seed + i))
        perp_markets.append(perp)
    # the first funding report due at once (the interval is at least a minute); the positions
    # accrue that minute's funding, at the open interest they opened with
    await s.travel(FUNDING_INTERVAL_S)
    return Seeded(markets, oracles, perp_markets, positions_per_market * len(oracles))
