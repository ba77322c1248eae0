"""A perp market on the localnet for the tests: its oracle, a publisher writing the price the
test sets (`Settable`), and positions opened as specified. `perp_world` starts a localnet of its
own; `perp_market_on` puts the same on a localnet the test already has; `open_positions` a
long and a short on a chain World."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.localnet import Localnet, run_localnet
from chain.localnet.seed import PositionSpec, Seeder
from chain.publisher import Feed, Publisher
from chain.scenarios import RandomWalk
from demo.servers import free_port_pair
from program.client import PerpMarketParams
from program.local import PYTH_PROGRAM
from tests.support.chain_world import World

PRICE, CRASHED = 100_000_000, 80_000_000
LONG, SHORT = 1, 2
SIZE = 1_000_000  # one base unit: 100 quote of notional
FRAGILE, SOLID = 15_000_000, 60_000_000  # collateral: under maintenance at 80, or far from it


def perp_market_stub(**fields: Any) -> SimpleNamespace:
    """A PerpMarket as anchorpy decodes it, for unit tests of the pure liquidation logic:
    every field the keepers read, neutral (no funding, no socialized loss) unless `fields`
    gives it."""
    return SimpleNamespace(**{
        "oracle": Pubkey.default(), "pyth_program": PYTH_PROGRAM, "cumulative_funding": 0,
        "cumulative_funding_short": 0, "funding_remainder": 0, "loss_index_long": 0,
        "loss_index_short": 0, "last_accrual_ts": 0, "funding_interval_secs": 3_600,
        "max_funding_bps": 0, "long_oi": 0, "short_oi": 0, "maintenance_margin_bps": 500,
        "max_oracle_staleness_slots": 25, "max_oracle_conf_bps": 200, "oracle_kind": 0,
        "feed_id": (0,) * 32, "max_price_age_secs": 60, **fields})


class Settable:
    """A price scenario the test sets."""

    def __init__(self, price: int) -> None:
        self.price = price

    def price_at(self, t_s: float) -> int:
        return self.price


@dataclass
class PerpWorld:
    net: Localnet
    seeder: Seeder
    price: Settable  # what the publisher writes next: set `price.price`
    oracle: Pubkey
    publisher: Publisher
    market: Pubkey
    positions: list[Pubkey]  # in the order of their specs


async def funded_perp_market(net: Localnet, market_id: int, oracle: Pubkey, *,
                             params: PerpMarketParams | None = None, pool: int = 10**13) -> Pubkey:
    """A perp market on `oracle` with `pool` in the counterparty pool its positions reserve
    their payout from (the council, the localnet's admin, funds it)."""
    seeder = await Seeder.connect(net.operator_url, net.keys_dir)
    try:
        return await seeder.perp_market(market_id, oracle, params or PerpMarketParams(), pool)
    finally:
        await seeder.close()


@contextlib.asynccontextmanager
async def perp_market_on(net: Localnet, specs: Sequence[PositionSpec] = (), *,
                         market_id: int = 1, params: PerpMarketParams | None = None,
                         pool: int = 10**13,
                         publish_every_s: float | None = 0.1) -> AsyncIterator[PerpWorld]:
    """A perp market (`market_id`, `params`, `pool` in its counterparty pool) on a new oracle
    at PRICE, and a position per spec. The publisher writes the price every `publish_every_s`
    until the end; with None it writes it only while seeding (a position opens only at a price
    at most max_open_staleness_slots old) and then only when the test calls
    `publisher.publish`."""
    seeder = await Seeder.connect(net.operator_url, net.keys_dir)
    oracle = Keypair().pubkey()
    price = Settable(PRICE)
    publisher = Publisher(net.operator_url, [Feed(oracle, price)])
    fresh = asyncio.create_task(publisher.run(publish_every_s or 0.2))
    try:
        await asyncio.sleep(0.3)  # a first price written
        market = await seeder.perp_market(market_id, oracle, params or PerpMarketParams(), pool)
        positions = await seeder.positions(market, oracle, specs) if specs else []
        if publish_every_s is None:
            await stop(fresh)
        yield PerpWorld(net, seeder, price, oracle, publisher, market, positions)
    finally:
        await stop(fresh)
        await publisher.close()
        await seeder.close()


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait for it to end (once or again)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def perp_world(specs: Sequence[PositionSpec] = (), *, market_id: int = 1,
                     params: PerpMarketParams | None = None, pool: int = 10**13,
                     publish_every_s: float | None = 0.1) -> AsyncIterator[PerpWorld]:
    """`perp_market_on` a localnet of its own, stopped at the end."""
    async with run_localnet(free_port_pair()) as net, \
            perp_market_on(net, specs, market_id=market_id, params=params, pool=pool,
                           publish_every_s=publish_every_s) as world:
        yield world


async def open_positions(w: World, perp_id: int = 1) -> tuple[Pubkey, list[Pubkey]]:
    """A perp market with a long and a short open on it: its address and the positions'."""
    net, c = w.net, w.net.client
    oracle = Keypair().pubkey()
    publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=0))])
    try:
        await publisher.publish(0)
        perp = net.deployment.perp_market(perp_id)
        await funded_perp_market(net, perp_id, oracle)
        long_, short = net.users[1], net.users[2]
        await w.send([c.deposit(long_.key, perp, long_.token, 20_000_000),
                      c.deposit(short.key, perp, short.token, 50_000_000)], long_.kp, short.kp)
        # a price fresh for each open: it takes one at most max_open_staleness_slots old,
        # and each send waits a slot or two to be confirmed
        await publisher.publish(0)
        await w.send([c.open_position(long_.key, perp, oracle, LONG, 1_000_000, 2**64 - 1)],
                     long_.kp)
        await publisher.publish(0)
        await w.send([c.open_position(short.key, perp, oracle, SHORT, 500_000, 0)], short.kp)
    finally:
        await publisher.close()
    return perp, [net.deployment.position(perp, u.key) for u in (long_, short)]
