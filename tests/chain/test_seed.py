"""Seeding a localnet over JSON-RPC: traders, a perp market and positions land as specified."""

from __future__ import annotations

from solders.keypair import Keypair

from chain.localnet import run_localnet
from chain.localnet.seed import PositionSpec, Seeder
from chain.publisher import Feed, Publisher
from chain.scenarios import RandomWalk
from program.client import PerpMarketParams
from tests.chain.test_localnet import free_port

PRICE = 100_000_000


async def test_positions_are_opened_as_specified() -> None:
    async with run_localnet(free_port()) as net:
        seeder = await Seeder.connect(net.url, net.keys_dir)
        oracle = Keypair().pubkey()
        publisher = Publisher(net.url, [Feed(oracle, RandomWalk(PRICE, volatility_bps=0))])
        try:
            await publisher.publish(0)
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
            await publisher.close()
            await seeder.close()
