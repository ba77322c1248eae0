"""PostgreSQL restarted in the middle of a backfill: the indexer (a real worker process, its
RPC rate-limited so that the backfill takes a few seconds) loses its connections mid-batch,
and afterwards the stored events equal the chain's events exactly — none missing, none
twice."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg

from chain.client import Endpoint, RpcClient
from chain.localnet.seed import PositionSpec
from demo.report import chain_events
from store.migrate import migrate
from tests.support.keepers import Fleet, keeper_env, stored_events
from tests.support.perp_world import SIZE, SOLID, perp_world

POSITIONS = 1200  # 400 transactions: two of the indexer's batches (200 each)
RPC_MAX_RPS = "100"  # each batch's getTransaction calls take seconds
WITHIN_S = 90


async def count_events(dsn: str) -> int:
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError):
        return -1
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()


async def test_the_stored_events_equal_the_chains_after_a_restart_mid_backfill(
        redis_url: str, pg_database: str, postgres_cluster: Any) -> None:
    await migrate(pg_database)
    async with perp_world([PositionSpec(1, SIZE, SOLID)] * POSITIONS,
                          publish_every_s=None) as world:
        net = world.net
        rpc = RpcClient([Endpoint("local", net.operator_url, max_rps=10_000)])
        fleet = Fleet()
        try:
            on_chain = await chain_events(rpc, net.program_id)
            await fleet.start("indexer", keeper_env(
                rpc_urls=f"local={net.url} max_rps={RPC_MAX_RPS}", database_url=pg_database,
                redis_url=redis_url, program_id=net.program_id,
                keypair=Path(net.keys_dir) / "keeper-1.json"))

            deadline = time.monotonic() + WITHIN_S
            while (stored := await count_events(pg_database)) <= 0:
                assert time.monotonic() < deadline, "the indexer never stored an event"
                await asyncio.sleep(0.02)
            assert stored < len(on_chain), "the backfill ended before the restart"
            await asyncio.to_thread(postgres_cluster.restart)

            while await count_events(pg_database) < len(on_chain):
                assert time.monotonic() < deadline, "the indexer did not catch up"
                await asyncio.sleep(0.2)
            await asyncio.sleep(1)  # anything stored twice would be meanwhile
            events = await stored_events(pg_database)
        finally:
            await fleet.stop_all()
            await rpc.close()
    assert len(events) == len(set(events)), "an event stored twice"
    assert set(events) == on_chain
