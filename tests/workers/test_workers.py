"""The role workers end to end: jobs enqueued through arq's pool with the JSON serializer and
a deterministic id (jobs.registry.enqueue), run by a real arq Worker (burst) built from the
role's WorkerSettings, against the localnet, Redis and PostgreSQL; each try recorded in
job_runs and logged as JSON lines. The reconciler's cron is left out here (it would enqueue the
same work the tests enqueue): tests/jobs/test_reconciler.py tests it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from arq.connections import ArqRedis, create_pool
from arq.jobs import Job
from arq.utils import import_string
from arq.worker import create_worker

from chain.client import Endpoint
from chain.sender import FeePolicy
from fleet.redis import apply_socket_options, redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import RedisSettings, Settings
from jobs.governance_plan import MarketState
from jobs.registry import enqueue
from store.migrate import migrate
from tests.support.burst import run_burst
from tests.support.chain_world import World, world
from tests.support.history import chain_events
from tests.support.keepers import keypair_file
from tests.support.markets import DISPUTE_WINDOW, proposal, resolving, state
from workers import funding, governance, indexer
from workers.cli import main
from workers.role import worker_settings_of

on_the_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@pytest_asyncio.fixture(loop_scope="module")
async def database(pg_database: str) -> str:
    await migrate(pg_database)
    return pg_database


@pytest.fixture
def settings(w: World, redis_url: str, database: str, tmp_path: Path) -> Settings:
    keypair = keypair_file(w.net.keepers[0].kp, tmp_path)
    return Settings(metrics_port=0, rpc=(Endpoint("local", w.net.url, max_rps=10_000),),
                    database_url=database, program_id=w.net.program_id,
                    keypair_path=keypair, redis=RedisSettings(url=redis_url, retries=1),
                    fees=FeePolicy(fixed_micro_lamports=0))


@pytest_asyncio.fixture(loop_scope="module")
async def queue(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(settings), job_serializer=job_serializer,
                             job_deserializer=job_deserializer)
    yield pool
    await pool.aclose()


async def result(job: Job | None) -> Any:
    assert job is not None
    return await job.result(timeout=5, poll_delay=0.05)


@on_the_module_loop
async def test_tally_votes_through_the_governance_worker(w: World, settings: Settings,
                                                         queue: ArqRedis) -> None:
    market = await proposal(w, 1, likes=3, closed=True)
    job = await enqueue(queue, "tally_votes", str(market))
    worker = await run_burst(governance.worker_settings(settings))
    assert await result(job) == "success"
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert await state(w, market) == MarketState.APPROVED
    assert await w.calls(market, w.net.client.approve_market(market)) == (1, 0)
    assert await runs(settings) == [(f"tally_votes:{market}", 1, "governance", "tally_votes",
                                     "success", [str(market)])]


async def runs(settings: Settings) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        found = await conn.fetch("SELECT job_id, try, role, job, outcome, detail, finished_at "
                                 "FROM job_runs ORDER BY started_at")
    finally:
        await conn.close()
    assert all(r["finished_at"] is not None for r in found)
    return [(r["job_id"], r["try"], r["role"], r["job"], r["outcome"],
             json.loads(r["detail"])["args"]) for r in found]


@on_the_module_loop
async def test_a_jobs_log_lines_are_json_with_its_role_id_and_try(
        w: World, settings: Settings, queue: ArqRedis,
        capsys: pytest.CaptureFixture[str]) -> None:
    market = await proposal(w, 6, likes=3)
    await enqueue(queue, "finalize_market", str(market), stage=int(MarketState.PROPOSED))
    capsys.readouterr()
    await run_burst(governance.worker_settings(settings))
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    done = [e for e in lines if e["event"] == "job done"]
    assert len(done) == 1
    assert done[0] | {"timestamp": None} == {
        "event": "job done", "level": "info", "outcome": "not_needed", "role": "governance",
        "job": "finalize_market", "job_id": f"finalize_market:{market}:0", "try": 1,
        "timestamp": None}
    assert done[0]["timestamp"].endswith("Z")
    # the job's own line carries the same context, and so does the worker's start-up line
    (own,) = [e for e in lines if e["event"] == "finalize_market"]
    assert own["job_id"] == done[0]["job_id"] and own["try"] == 1
    assert any(e["event"] == "worker started" and e["role"] == "governance" for e in lines)


@on_the_module_loop
async def test_finalize_market_through_the_governance_worker(w: World, settings: Settings,
                                                             queue: ArqRedis) -> None:
    market = await resolving(w, 2)
    await w.travel(DISPUTE_WINDOW)
    job = await enqueue(queue, "finalize_market", str(market), stage=int(MarketState.RESOLVING))
    await run_burst(worker_settings_of("governance", settings))
    assert await result(job) == "success"
    assert await state(w, market) == MarketState.FINALIZED


@on_the_module_loop
async def test_the_same_job_id_is_queued_once(w: World, settings: Settings,
                                              queue: ArqRedis) -> None:
    market = await proposal(w, 3, likes=3, closed=True)
    job_id = f"tally_votes:{market}"
    first = await enqueue(queue, "tally_votes", str(market))
    second = await enqueue(queue, "tally_votes", str(market))
    assert first is not None and second is None and first.job_id == job_id
    # what the queue holds is JSON, not pickle
    raw = await queue.get(f"arq:job:{job_id}")
    assert raw is not None and json.loads(raw)["a"] == [str(market)]
    worker = await run_burst(governance.worker_settings(settings))
    assert worker.jobs_complete == 1
    assert await result(first) == "success"
    assert await w.calls(market, w.net.client.approve_market(market)) == (1, 0)


@on_the_module_loop
async def test_a_bad_public_key_fails_without_sending(settings: Settings,
                                                      queue: ArqRedis) -> None:
    job = await enqueue(queue, "update_funding", "not-a-key", stage=0)
    await run_burst(funding.worker_settings(settings))
    assert await result(job) == "failed"


@on_the_module_loop
async def test_the_indexer_worker_stores_the_chains_events(w: World, settings: Settings,
                                                           queue: ArqRedis) -> None:
    await proposal(w, 4, likes=2)
    job = await enqueue(queue, "index_events", stage="manual")
    # the cron tick (run at start-up) runs alongside the enqueued job
    await run_burst(indexer.worker_settings(settings), cron_jobs=indexer.worker_settings(
        settings).cron_jobs)
    assert await result(job) in ("success", "already_done", "not_needed")
    expected = await chain_events(SimpleNamespace(client=w.direct, net=w.net))  # type: ignore[arg-type]
    conn = await asyncpg.connect(settings.database_url)
    try:
        rows = await conn.fetch("SELECT signature, event_index, name FROM events")
    finally:
        await conn.close()
    assert sorted((r["signature"], r["event_index"]) for r in rows) == \
        sorted((e[1], e[2]) for e in expected)
    assert Counter(r["name"] for r in rows)["ProposalVoted"] >= 2


@on_the_module_loop
async def test_the_redis_connections_get_a_socket_timeout_and_keepalive(
        settings: Settings) -> None:
    pool = await create_pool(redis_settings(settings))
    try:
        await apply_socket_options(pool, settings)
        assert await pool.ping()
        kwargs = pool.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == settings.redis.socket_timeout_s
        assert kwargs["socket_keepalive"] is True
        assert kwargs["retry"] is not None and kwargs["retry_on_timeout"] is True
    finally:
        await pool.aclose()


def test_the_worker_settings_come_from_the_environment(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPERNET_RPC_URLS", settings.rpc[0].url)
    monkeypatch.setenv("KEEPERNET_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("KEEPERNET_PROGRAM_ID", str(settings.program_id))
    monkeypatch.setenv("KEEPERNET_REDIS_URL", settings.redis.url)
    indexer.__getattr__.cache_clear()
    try:
        ws = import_string("workers.indexer.WorkerSettings")  # what `arq` does
        assert ws.queue_name == "keepernet:indexer"
        assert ws.redis_settings.port == int(settings.redis.url.rsplit(":", 1)[1].split("/")[0])
        assert ws.allow_abort_jobs is False and ws.job_completion_wait > 0
    finally:
        indexer.__getattr__.cache_clear()


@on_the_module_loop
async def test_a_worker_survives_a_redis_restart(w: World, settings: Settings,
                                                 redis_instance: Any) -> None:
    market = await proposal(w, 5, likes=3, closed=True)
    patient = dataclasses.replace(settings, redis=RedisSettings(
        url=settings.redis.url, retries=20, retry_delay_s=0.1, socket_timeout_s=2.0))
    worker = create_worker(governance.worker_settings(patient), handle_signals=False,
                           poll_delay=0.05, cron_jobs=[])
    running = asyncio.create_task(worker.async_run())
    try:
        await asyncio.sleep(0.5)  # polling
        await asyncio.to_thread(redis_instance.kill)
        await asyncio.sleep(1.0)  # down for longer than a poll
        await asyncio.to_thread(redis_instance.start)
        await asyncio.sleep(0.3)
        assert not running.done(), "the worker exited when Redis went away"
        pool = await create_pool(redis_settings(patient), job_serializer=job_serializer,
                                 job_deserializer=job_deserializer)
        try:
            job = await enqueue(pool, "tally_votes", str(market))
            assert await result(job) == "success"
        finally:
            await pool.aclose()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()
    assert await state(w, market) == MarketState.APPROVED


def test_an_unknown_role_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker", "nosuchrole"]) == 2
    assert "unknown role 'nosuchrole'" in capsys.readouterr().err


def test_bad_settings_are_refused(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEPERNET_CONFIG", raising=False)
    monkeypatch.setenv("KEEPERNET_RPC_URLS", "ftp://nowhere")
    monkeypatch.setenv("KEEPERNET_DATABASE_URL", "postgresql://x@127.0.0.1/x")
    monkeypatch.setenv("KEEPERNET_PROGRAM_ID", "not-base58!")
    assert main(["worker", "governance"]) == 2
    err = capsys.readouterr().err
    assert "KEEPERNET_RPC_URLS" in err and "KEEPERNET_PROGRAM_ID" in err
