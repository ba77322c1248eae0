"""Three liquidator processes on 500 positions that a crash makes liquidatable, while one of
them is killed with SIGKILL every few seconds and started again: every position is liquidated,
none twice (counted in each position's transaction history on the localnet), and no job is
lost — a killed instance's share passes to the live ones, and a job it held is rerun once its
in-progress key expires."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

from solders.pubkey import Pubkey

from chain.localnet import Localnet
from chain.localnet.seed import PositionSpec
from store.migrate import migrate
from tests.support.keepers import Fleet, keeper_env, rpc_urls
from tests.support.perp_world import CRASHED, FRAGILE, SIZE, perp_world

POSITIONS = 500
INSTANCES = 3
KILL_EVERY_S = 2.0
TIMEOUT_S = "2"  # every job's: arq reruns a killed worker's job 12 s after it started
WITHIN_S = 120


def flat(net: Localnet, position: Pubkey) -> bool:
    return int(net.protocol.chain.fetch(position).side) == 0


async def test_every_position_is_liquidated_once_while_liquidators_are_killed(
        redis_url: str, pg_database: str) -> None:
    await migrate(pg_database)
    async with perp_world([PositionSpec(1, SIZE, FRAGILE)] * POSITIONS, pool=10**14) as world:
        net, positions = world.net, world.positions
        fleet = Fleet()
        try:
            def env(instance: int) -> dict[str, str]:
                # each process a customer of its own under a hosted profile
                return keeper_env(rpc_urls=rpc_urls(net, f"liquidator-{instance}"),
                                  database_url=pg_database, redis_url=redis_url,
                                  program_id=net.program_id,
                                  keypair=Path(net.keys_dir) / "keeper-1.json",
                                  SCAN_INTERVAL_S="2", TIMEOUT_LIQUIDATE_POSITION_S=TIMEOUT_S,
                                  TIMEOUT_SCAN_POSITIONS_S=TIMEOUT_S)

            for instance in range(INSTANCES):
                await fleet.start("liquidator", env(instance))
            await asyncio.sleep(3)  # started, books loaded, watching the oracle
            world.price.price = CRASHED
            deadline = time.monotonic() + WITHIN_S
            rng = random.Random(7)
            while not all(flat(net, p) for p in positions):
                assert time.monotonic() < deadline, (
                    f"{sum(not flat(net, p) for p in positions)} positions never liquidated")
                await asyncio.sleep(KILL_EVERY_S)
                await fleet.kill(rng.choice(fleet.running()))
                await fleet.start("liquidator", env(fleet.killed + INSTANCES))
            await asyncio.sleep(1)  # anything sent twice would land meanwhile
        finally:
            await fleet.stop_all()
        assert fleet.killed >= 1
        histories = await asyncio.gather(*(world.seeder.client.get_signatures_for_address(p)
                                           for p in positions))
        sent = [len(h.value) - 1 for h in histories]  # beyond each position's opening
    assert sent == [1] * POSITIONS, {n: sent.count(n) for n in set(sent)}
