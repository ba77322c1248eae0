"""Redis behind Sentinel (a primary, a replica, three sentinels on loopback), its primary
SIGKILLed in the middle of a liquidation burst: every position is liquidated exactly once
(counted in each position's history on the localnet), no worker exits, and enqueues through
the workers' Sentinel settings resume within 5 s of the failover."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from arq.connections import create_pool
from solders.pubkey import Pubkey

from chain.localnet import Localnet
from chain.localnet.seed import PositionSpec
from fleet.redis import apply_socket_options, redis_settings
from fleet.settings import RedisSettings
from store.migrate import migrate
from tests.support.keepers import Fleet, keeper_env
from tests.support.perp_world import CRASHED, FRAGILE, SIZE, perp_world
from tests.support.sentinel import sentinel_set

POSITIONS = 150
INSTANCES = 2
RESUMED_WITHIN_S = 5.0
WITHIN_S = 60
# the workers ride out the failover: retried quickly, for longer than it takes
REDIS = {"REDIS_RETRIES": "40", "REDIS_RETRY_DELAY_S": "0.1", "REDIS_SOCKET_TIMEOUT_S": "1",
         "REDIS_CONNECT_TIMEOUT_S": "0.5"}


def flat(net: Localnet, position: Pubkey) -> bool:
    return int(net.protocol.chain.fetch(position).side) == 0


async def test_a_sentinel_failover_mid_burst_loses_and_doubles_nothing(
        pg_database: str, tmp_path: Path) -> None:
    await migrate(pg_database)
    with sentinel_set(tmp_path / "redis") as redis_set:
        settings = RedisSettings(url=redis_set.url, retries=40, retry_delay_s=0.1,
                                 socket_timeout_s=1.0, connect_timeout_s=0.5)
        queue = await create_pool(redis_settings(settings))
        await apply_socket_options(queue, settings)
        enqueued_at: list[float] = []

        async def enqueue_forever() -> None:  # what a planner does, through the same settings
            n = 0
            while True:
                try:
                    await queue.enqueue_job("noop", _job_id=f"probe:{n}",
                                            _queue_name="keepernet:test:probe")
                    enqueued_at.append(time.monotonic())
                    n += 1
                except Exception:  # the failover: try again
                    pass
                await asyncio.sleep(0.05)

        async with perp_world([PositionSpec(1, SIZE, FRAGILE)] * POSITIONS,
                              pool=10**14) as world:
            net, positions = world.net, world.positions
            fleet = Fleet()
            prober = asyncio.create_task(enqueue_forever())
            try:
                env = keeper_env(rpc_urls=f"local={net.url} max_rps=10000",
                                 database_url=pg_database, redis_url=redis_set.url,
                                 program_id=net.program_id,
                                 keypair=Path(net.keys_dir) / "keeper-1.json",
                                 SCAN_INTERVAL_S="1", **REDIS)
                workers = [await fleet.start("liquidator", env) for _ in range(INSTANCES)]
                await asyncio.sleep(4)  # started, books loaded, watching the oracle
                world.price.price = CRASHED
                deadline = time.monotonic() + 10
                while sum(flat(net, p) for p in positions) < POSITIONS // 10:  # mid-burst
                    assert time.monotonic() < deadline, "the burst never started"
                    await asyncio.sleep(0.02)
                done_at_kill = sum(flat(net, p) for p in positions)
                await asyncio.to_thread(redis_set.kill_primary)
                failed_over = await asyncio.to_thread(redis_set.wait_for_failover)

                deadline = time.monotonic() + WITHIN_S
                while not all(flat(net, p) for p in positions):
                    assert time.monotonic() < deadline, (
                        f"{sum(not flat(net, p) for p in positions)} positions never "
                        f"liquidated")
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1)  # anything sent twice would land meanwhile
                resumed = next((t for t in enqueued_at if t >= failed_over), None)
                assert resumed is not None and resumed - failed_over <= RESUMED_WITHIN_S, \
                    "enqueues did not resume after the failover"
                assert all(w.returncode is None for w in workers), "a worker exited"
                assert done_at_kill < POSITIONS, "the primary died after the burst"
            finally:
                prober.cancel()
                await asyncio.gather(prober, return_exceptions=True)
                await fleet.stop_all()
                await queue.aclose()
            histories = await asyncio.gather(*(world.seeder.client.get_signatures_for_address(p)
                                               for p in positions))
            sent = [len(h.value) - 1 for h in histories]  # beyond each position's opening
    assert sent == [1] * POSITIONS, {n: sent.count(n) for n in set(sent)}
