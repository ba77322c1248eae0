"""Seeding a localnet over JSON-RPC: traders, a perp market and positions land as specified."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.localnet import run_localnet
from chain.localnet.seed import PositionSpec, Seeder
from chain.publisher import Feed, Publisher
from chain.scenarios import RandomWalk
from demo.servers import free_port_pair
from program.accounts import Position
from program.client import PerpMarketParams
from tests.support.localnet import raw
from tests.support.perp_world import PRICE, SIZE, SOLID, perp_world, stop


async def test_positions_are_opened_as_specified() -> None:
    async with run_localnet(free_port_pair()) as net:
        seeder = await Seeder.connect(net.url, net.keys_dir)
        oracle = Keypair().pubkey()
        publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=0))])
        # a price kept fresh while seeding: opens take one at most 10 slots old
        fresh = asyncio.create_task(publisher.run(0.2))
        try:
            await asyncio.sleep(0.3)  # a first price written
            market = await seeder.perp_market(7, oracle, PerpMarketParams(), 10**12)
            specs = [PositionSpec(1 + i % 2, 1_000_000 + i, 20_000_000 + i * 1_000)
                     for i in range(40)]
            positions = await seeder.positions(market, oracle, specs)
            assert len(set(positions)) == len(specs)
            for address, spec in zip(positions, specs, strict=True):
                p = net.protocol.chain.fetch(address)
                assert (p.side, p.size, p.perp_market) == (spec.side, spec.size, market)
                assert 0 < p.collateral < spec.collateral  # less the taker fee
            m = net.protocol.chain.fetch(market)
            assert m.long_oi == sum(s.size for s in specs if s.side == 1)
            assert m.short_oi == sum(s.size for s in specs if s.side == 2)
            before = await seeder.now()
            await seeder.travel(100)
            assert await seeder.now() >= before + 100
        finally:
            await stop(fresh)
            await publisher.close()
            await seeder.close()


async def test_opens_refused_for_a_stale_price_land_once_it_is_fresh_again() -> None:
    """The publisher runs beside the seeder and a busy machine can delay its next write past
    the staleness limit: the opens refused meanwhile are sent again and land."""
    async with run_localnet(free_port_pair()) as net:
        seeder = await Seeder.connect(net.url, net.keys_dir)
        oracle = Keypair().pubkey()
        publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=0))])
        try:
            await publisher.publish(0)
            market = await seeder.perp_market(7, oracle, PerpMarketParams(), 10**12)
            specs = [PositionSpec(1 + i % 2, 1_000_000, 20_000_000) for i in range(6)]
            wallets = await seeder.traders(len(specs), 20_000_000)
            stale_from = (await publisher.clock()).slot + 11  # max_open_staleness_slots 10
            while (await publisher.clock()).slot < stale_from:
                await asyncio.sleep(0.02)

            async def fresh_later() -> None:
                await asyncio.sleep(1.0)  # the first opens are long refused by then
                await publisher.publish(1)

            later = asyncio.create_task(fresh_later())
            positions = await seeder.open_positions(market, oracle, wallets, specs)
            assert later.done()
            assert all(net.protocol.chain.fetch(p).size == 1_000_000 for p in positions)
        finally:
            await publisher.close()
            await seeder.close()


async def test_written_positions_are_the_programs_own() -> None:
    """Positions written without transactions decode as opened ones (their reserve, their
    side's funding snapshot), raise the market's open interest and the pool's reserved part,
    and the program liquidates one like any other (the vault holds its collateral)."""
    async with perp_world([PositionSpec(1, SIZE, SOLID)], market_id=8, pool=10**12,
                          publish_every_s=None) as world:
        net, seeder, market, opened = world.net, world.seeder, world.market, world.positions
        specs = [PositionSpec(1 + i % 2, 1_000_000 + i, 15_000_000) for i in range(12)]
        reserved = net.protocol.chain.fetch(net.protocol.d.config).perp_pool_reserved
        written = await seeder.positions_written(market, specs, PRICE)
        m = net.protocol.chain.fetch(market)
        reserves = [s.size * PRICE // 10**6 for s in specs]  # max_profit_bps 10,000
        assert net.protocol.chain.fetch(net.protocol.d.config).perp_pool_reserved == (
            reserved + sum(reserves))
        assert m.long_oi == 1_000_000 + sum(s.size for s in specs if s.side == 1)
        assert m.short_oi == sum(s.size for s in specs if s.side == 2)
        for address, spec, reserve in zip(written, specs, reserves, strict=True):
            p = net.protocol.chain.fetch(address)
            assert (p.side, p.size, p.collateral, p.entry_price, p.perp_market, p.reserve) == (
                spec.side, spec.size, spec.collateral, PRICE, market, reserve)
            # as the program snapshots: the other side's index, rounded against the position
            assert p.funding_snapshot == (m.cumulative_funding_short if spec.side == 1
                                          else m.cumulative_funding)
        found = await seeder.rpc.program_accounts(seeder.program.program, Position)
        assert {a for a, _ in found} == {*opened, *written}

        world.price.price = 80_000_000  # the written longs go under maintenance
        await world.publisher.publish(1)
        keeper = net.keepers[0]
        long_written = written[0]
        await seeder.send([seeder.program.liquidate(keeper.key, market, long_written,
                                                    world.oracle, keeper.token)], keeper.kp)
        assert net.protocol.chain.fetch(long_written).side == 0
        assert net.protocol.chain.fetch(market).long_oi == m.long_oi - specs[0].size


def _entry(address: Pubkey, data: str = "AAAA") -> list[str]:
    return [str(address), data, str(Keypair().pubkey())]


@pytest.mark.parametrize(("entries", "says"), [
    ([], "expected a list of 1 to 2000"),
    ([[str(Keypair().pubkey()), "AAAA"]], "entry 2: expected [address, base64 data, owner]"),
    ([_entry(Keypair().pubkey(), "not base64!")], "entry 2: data is not base64"),
    ([["nope", "AAAA", str(Keypair().pubkey())]], "nope"),
])
async def test_set_accounts_refuses_malformed_entries_and_writes_nothing(
        entries: list[Any], says: str) -> None:
    good = Keypair().pubkey()
    async with run_localnet(free_port_pair()) as net:
        answer = await raw(net, {"jsonrpc": "2.0", "id": 1, "method": "keepernet_setAccounts",
                                 "params": [[_entry(good), *entries] if entries else []]})
        assert answer["error"]["code"] == -32602
        assert says in answer["error"]["message"]
        assert net.genesis.ledger.account(good) is None  # the good entry before it neither
