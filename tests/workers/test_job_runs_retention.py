"""The indexer's retention of job_runs, on a real PostgreSQL: after each snapshot it deletes
the rows older than KEEPERNET_JOB_RUNS_RETENTION_DAYS and keeps the others; a database away is
logged, not raised (the snapshot is written all the same)."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import pytest
from solders.pubkey import Pubkey

from chain.client import Endpoint, RpcClient
from demo.servers import free_port_pair
from fleet.context import WorkerDeps
from fleet.settings import Settings
from fleet.store_link import StoreLink
from store import job_runs
from store.migrate import migrate
from workers.indexer import prune_job_runs

pytestmark = pytest.mark.asyncio


def deps_with(dsn: str, pool: asyncpg.Pool, retention_days: float) -> WorkerDeps:
    settings = Settings(metrics_port=0, rpc=(Endpoint("unused", "http://127.0.0.1:9"),),
                        database_url=dsn, program_id=Pubkey.default(),
                        job_runs_retention_days=retention_days)
    return WorkerDeps("indexer", settings, RpcClient(list(settings.rpc)),
                      store=StoreLink.connected(pool))


async def test_the_rows_past_the_retention_are_deleted(pg_database: str) -> None:
    await migrate(pg_database)
    pool = await asyncpg.create_pool(pg_database, min_size=1, max_size=2)
    deps = deps_with(pg_database, pool, 7)
    try:
        for job_id, age_days in [("tally_votes:A", 8), ("tally_votes:B", 6), ("tally_votes:C", 0)]:
            run = uuid4()
            await job_runs.started(pool, run, job_id, 1, "governance", "tally_votes", ["A"])
            await job_runs.finished(pool, run, "success")
            await pool.execute("UPDATE job_runs SET started_at = now() - make_interval("
                               "days => $2) WHERE run_id = $1", run, age_days)
        await prune_job_runs(deps)
        kept = await pool.fetch("SELECT job_id FROM job_runs ORDER BY job_id")
        assert [r["job_id"] for r in kept] == ["tally_votes:B", "tally_votes:C"]
    finally:
        await deps.close()


async def test_a_database_away_is_logged_not_raised() -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port_pair()}/x"
    pool = await asyncpg.create_pool(nowhere, min_size=0, max_size=1)
    deps = deps_with(nowhere, pool, 7)
    try:
        await prune_job_runs(deps)  # no exception
    finally:
        await deps.close()
