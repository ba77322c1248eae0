"""Liquidators started while PostgreSQL is down: they start, liquidate every position a crash
makes liquidatable (nothing of that needs the database), hold their job_runs records in
memory, and write them once PostgreSQL is back — a success row for every liquidation."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import asyncpg
from solders.pubkey import Pubkey

from chain.localnet import Localnet
from chain.localnet.seed import PositionSpec
from store.migrate import migrate
from tests.support.keepers import Fleet, keeper_env
from tests.support.perp_world import CRASHED, FRAGILE, SIZE, perp_world

POSITIONS = 20
INSTANCES = 2
WITHIN_S = 60


def flat(net: Localnet, position: Pubkey) -> bool:
    return int(net.protocol.chain.fetch(position).side) == 0


async def liquidated_in_job_runs(dsn: str) -> set[str]:
    """The positions with a successful liquidate_position try in job_runs."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT detail FROM job_runs WHERE job = 'liquidate_position' "
                                "AND outcome = 'success'")
    finally:
        await conn.close()
    return {str(json.loads(r["detail"])["args"][0]) for r in rows}


async def test_liquidators_started_in_a_postgres_outage_liquidate_and_catch_up_job_runs(
        redis_url: str, pg_database: str, postgres_cluster: Any) -> None:
    await migrate(pg_database)
    async with perp_world([PositionSpec(1, SIZE, FRAGILE)] * POSITIONS, pool=10**14) as world:
        net, positions = world.net, world.positions
        fleet = Fleet()
        await asyncio.to_thread(postgres_cluster.stop)
        down = True
        try:
            env = keeper_env(rpc_urls=f"local={net.url} max_rps=10000", database_url=pg_database,
                             redis_url=redis_url, program_id=net.program_id,
                             keypair=Path(net.keys_dir) / "keeper-1.json", SCAN_INTERVAL_S="2")
            workers = [await fleet.start("liquidator", env) for _ in range(INSTANCES)]
            await asyncio.sleep(3)  # started, books loaded, watching the oracle
            assert all(p.returncode is None for p in workers), "a liquidator did not start"
            world.price.price = CRASHED
            deadline = time.monotonic() + WITHIN_S
            while not all(flat(net, p) for p in positions):
                assert time.monotonic() < deadline, (
                    f"{sum(not flat(net, p) for p in positions)} positions never liquidated")
                await asyncio.sleep(0.2)

            await asyncio.to_thread(postgres_cluster.start)
            down = False
            expected = {str(p) for p in positions}
            while (recorded := await liquidated_in_job_runs(pg_database)) != expected:
                assert time.monotonic() < deadline, (
                    f"{len(expected - recorded)} liquidations never recorded")
                await asyncio.sleep(0.5)
            assert all(p.returncode is None for p in workers), "a liquidator exited"
        finally:
            await fleet.stop_all()
            if down:  # the other tests of the session need it
                await asyncio.to_thread(postgres_cluster.start)
