"""apply_config through the fleet's machinery, on the localnet, a real Redis and PostgreSQL: the
reconciler enqueues it once the timelock has passed (once, under the planners' id), an
operator's `keepernet enqueue apply_config` is that same job (and is refused, exit 2, while
the timelock runs or with nothing pending), and the governance worker runs it: the change
lands once and the run is recorded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from arq.connections import ArqRedis, create_pool

from chain.client import Endpoint
from chain.sender import FeePolicy
from fleet.context import WorkerDeps
from fleet.redis import redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import RedisSettings, Settings
from fleet.store_link import StoreLink
from jobs.reconciler import reconcile
from jobs.registry import job_id, queue_name
from metrics import definitions as metric
from store.migrate import migrate
from tests.support.burst import run_burst
from tests.support.chain_world import World, world
from tests.support.keepers import keypair_file
from workers import governance
from workers.cli import main

pytestmark = pytest.mark.asyncio(loop_scope="module")

LOST_AFTER_S = 40.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@pytest.fixture
def settings(w: World, redis_url: str, pg_database: str, tmp_path: Path) -> Settings:
    return Settings(metrics_port=0, rpc=(Endpoint("local", w.net.url, max_rps=10_000),),
                    database_url=pg_database, program_id=w.net.program_id,
                    keypair_path=keypair_file(w.net.keepers[0].kp, tmp_path),
                    redis=RedisSettings(url=redis_url, retries=1),
                    fees=FeePolicy(fixed_micro_lamports=0))


@pytest_asyncio.fixture(loop_scope="module")
async def deps(w: World, settings: Settings) -> AsyncIterator[WorkerDeps]:
    await migrate(settings.database_url)
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=2)
    yield WorkerDeps("governance", settings, w.rpcs[0], chain_deps=w.keepers[0],
                     store=StoreLink.connected(pool))
    await pool.close()


@pytest_asyncio.fixture(loop_scope="module")
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(settings), job_serializer=job_serializer,
                             job_deserializer=job_deserializer)
    yield pool
    await pool.aclose()


async def queued(redis: ArqRedis) -> set[str]:
    return {m.decode() for m in await redis.zrange(queue_name("governance"), 0, -1)}


async def propose(w: World, trade_fee_bps: int) -> int:
    admin = w.net.protocol.admin
    params = replace(w.net.protocol.params, trade_fee_bps=trade_fee_bps)
    await w.send([w.net.client.propose_config(admin.pubkey(), params)], admin)
    _, (pending,) = await w.keepers[0].snapshot(w.net.deployment.pending_config)
    assert pending is not None
    return int(pending.proposed_at)


async def trade_fee_bps(w: World) -> int:
    _, (config,) = await w.keepers[0].snapshot(w.net.deployment.config)
    assert config is not None
    return int(config.trade_fee_bps)


def pending_effective_s() -> float | None:
    return metric.registry.get_sample_value(
        "keepernet_config_pending_effective_timestamp_seconds")


async def enqueue_by_hand(capsys: pytest.CaptureFixture[str],
                          *argv: str) -> tuple[int, str, str]:
    """`keepernet enqueue ARGV`: its exit status, stdout and stderr."""
    capsys.readouterr()  # anything logged before
    status = await asyncio.to_thread(main, ["enqueue", *argv])
    out, err = capsys.readouterr()
    return status, out.strip(), err.strip()


@pytest.fixture
def cli_env(w: World, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's settings in the environment, as `settings`."""
    for var, value in {"KEEPERNET_RPC_URLS": w.net.url, "KEEPERNET_REDIS_URL":
                       settings.redis.url, "KEEPERNET_PROGRAM_ID": str(w.net.program_id),
                       "KEEPERNET_DATABASE_URL": settings.database_url}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("KEEPERNET_CONFIG", raising=False)
    monkeypatch.delenv("KEEPERNET_KEYPAIR", raising=False)


async def test_the_reconciler_enqueues_a_due_change_once_and_the_worker_applies_it(
        w: World, deps: WorkerDeps, redis: ArqRedis, cli_env: None,
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    pending = w.net.deployment.pending_config
    # nothing ever proposed: there is no PendingConfig account yet
    status, out, err = await enqueue_by_hand(capsys, "apply_config")
    assert (status, out) == (2, "")
    assert f"no account at {pending}: expected a PendingConfig" in err

    proposed_at = await propose(w, 77)
    the_id = job_id("apply_config", pending, proposed_at)
    _, (change,) = await w.keepers[0].snapshot(pending)
    assert change is not None
    until = datetime.fromtimestamp(change.effective_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    # before the timelock: nothing due, and an operator's enqueue is refused (a run now could
    # only end not_needed, and its kept result would hold the reconciler's enqueue back)
    assert (await reconcile(redis, deps, "governance", LOST_AFTER_S))["due"] == 0
    assert pending_effective_s() == change.effective_at  # the ConfigProposed alert's gauge
    for argv in (["apply_config"], ["apply_config", str(pending)]):
        status, out, err = await enqueue_by_hand(capsys, *argv)
        assert (status, out) == (2, "")
        assert f"keepernet enqueue: apply_config: the timelock runs until {until}" in err
    status, _, err = await enqueue_by_hand(capsys, "apply_config",
                                           str(w.net.deployment.config))
    assert status == 2 and "is a Config, not a PendingConfig" in err
    assert await redis.keys("*") == []

    await w.travel(int((await w.keepers[0].snapshot(w.net.deployment.config))[1][0]
                       .config_delay_secs))
    first = await reconcile(redis, deps, "governance", LOST_AFTER_S)
    assert (first["due"], first["enqueued"]) == (1, 1)
    assert await queued(redis) == {the_id}
    assert (await reconcile(redis, deps, "governance", LOST_AFTER_S))["enqueued"] == 0
    # once due, an operator's enqueue is that same job
    for argv in (["apply_config"], ["apply_config", str(pending)]):
        assert await enqueue_by_hand(capsys, *argv) == (0, f"already queued: {the_id}", "")

    worker = await run_burst(governance.worker_settings(settings))
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert await trade_fee_bps(w) == 77
    assert await w.calls(pending, w.net.client.apply_config()) == (1, 0)
    rows = await deps.pool.fetch("SELECT job_id, outcome FROM job_runs WHERE job = $1",
                                 "apply_config")
    assert [(r["job_id"], r["outcome"]) for r in rows] == [(the_id, "success")]
    # applied: nothing is due any more, and an operator is told so
    assert (await reconcile(redis, deps, "governance", LOST_AFTER_S))["due"] == 0
    assert pending_effective_s() == 0
    status, out, err = await enqueue_by_hand(capsys, "apply_config")
    assert (status, out) == (2, "")
    assert "keepernet enqueue: apply_config: no config change is pending" in err
    assert await queued(redis) == set()
