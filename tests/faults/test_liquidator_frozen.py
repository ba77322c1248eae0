"""Three liquidator processes on tens of positions that a crash makes liquidatable; one is
frozen (SIGSTOP) for 30 s right after its price trigger claimed its share. Its leases lapse
and the fallbacks of its claims come due within seconds, so the two others liquidate every
position within 3 s of the crash; resumed, it sends none of them again (its tries find their
leases passed on: the fencing check before signing) — one liquidation per position, counted in
each position's transaction history on the localnet."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

from redis.asyncio import Redis

from chain.localnet.seed import PositionSpec
from fleet.membership import live_instances
from store.migrate import migrate
from tests.support.keepers import Fleet, keeper_env
from tests.support.perp_world import CRASHED, FRAGILE, SIZE, PerpWorld, perp_world
from workers.liquidator import FLEET_TTL_S

POSITIONS = 30
INSTANCES = 3
FROZEN_S = 30.0
WITHIN_S = 3.0  # from the crash to the last liquidation
FOUND_TIMEOUT_S = 5.0
RESUMED_S = 3.0  # for a resumed instance to send whatever it would send


async def claimed(log: Path) -> int:
    """How many positions the worker logging into `log` queued on its fast path after the
    crash (its trigger's "liquidations found" line), once it says so."""
    deadline = time.monotonic() + FOUND_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if '"liquidations found"' in line:
                return int(json.loads(line)["queued"])
        await asyncio.sleep(0.005)
    raise AssertionError("the instance to freeze found no liquidation")


async def fleet_up(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        for _ in range(400):
            if len(await live_instances(redis, "liquidator", FLEET_TTL_S)) == INSTANCES:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the liquidators did not all join the fleet")
    finally:
        await redis.aclose()


def open_positions(world: PerpWorld) -> int:
    return sum(int(world.net.protocol.chain.fetch(p).side) != 0 for p in world.positions)


async def test_a_frozen_liquidators_claims_are_taken_over_within_seconds(
        redis_url: str, pg_database: str, tmp_path: Path) -> None:
    await migrate(pg_database)
    async with perp_world([PositionSpec(1, SIZE, FRAGILE)] * POSITIONS, pool=10**14) as world:
        net = world.net
        fleet = Fleet()
        try:
            # the cron scan once a minute: the takeover is not its doing
            env = keeper_env(rpc_urls=f"local={net.url} max_rps=10000", database_url=pg_database,
                             redis_url=redis_url, program_id=net.program_id,
                             keypair=Path(net.keys_dir) / "keeper-1.json", SCAN_INTERVAL_S="60")
            victim_log = tmp_path / "frozen.log"
            victim = await fleet.start("liquidator", env, log=victim_log)
            for _ in range(INSTANCES - 1):
                await fleet.start("liquidator", env)
            await fleet_up(redis_url)
            await asyncio.sleep(2)  # books loaded, watching the oracle
            world.price.price = CRASHED
            crashed = time.monotonic()
            queued = await claimed(victim_log)
            victim.send_signal(signal.SIGSTOP)
            frozen = time.monotonic()
            assert queued > 0, "the frozen instance had claimed nothing"
            while open_positions(world) and time.monotonic() - crashed < WITHIN_S:
                await asyncio.sleep(0.02)
            left = open_positions(world)
            assert left == 0, (f"{left} positions (of {queued} the frozen instance claimed) not "
                               f"liquidated {WITHIN_S:g} s after the crash")
            await asyncio.sleep(max(0.0, frozen + FROZEN_S - time.monotonic()))
            victim.send_signal(signal.SIGCONT)
            await asyncio.sleep(RESUMED_S)
            assert victim.returncode is None  # resumed, not dead
        finally:
            await fleet.stop_all()
        histories = await asyncio.gather(*(world.seeder.client.get_signatures_for_address(p)
                                           for p in world.positions))
        sent = [len(h.value) - 1 for h in histories]  # beyond each position's opening
    assert sent == [1] * POSITIONS, {n: sent.count(n) for n in set(sent)}
