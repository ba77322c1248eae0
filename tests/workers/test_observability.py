"""A worker as its operators see it: a real Prometheus server scrapes two governance workers
(each a `keepernet worker` process) and its query API shows what a job did (a market's tally,
found due by the reconciler); the fleet's queue
series come from one worker only; `/healthz` fails while Redis is down, naming it, and recovers
when Redis returns; a metrics port another process holds stops the worker with a message naming
the setting."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from arq.worker import create_worker

from chain.client import Endpoint
from chain.sender import FeePolicy
from demo.servers import free_port_pair
from fleet import observer as health
from fleet.settings import RedisSettings, Settings
from metrics.definitions import registry
from store.migrate import migrate
from tests.support.chain_world import World, world
from tests.support.keepers import keeper_env, keypair_file
from tests.support.markets import proposal
from workers import governance

on_the_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@pytest_asyncio.fixture(loop_scope="module")
async def settings(w: World, redis_url: str, pg_database: str, tmp_path: Path) -> Settings:
    await migrate(pg_database)
    return Settings(metrics_port=0, rpc=(Endpoint("local", w.net.url, max_rps=10_000),),
                    database_url=pg_database, program_id=w.net.program_id,
                    keypair_path=keypair_file(w.net.keepers[0].kp, tmp_path),
                    redis=RedisSettings(url=redis_url, retries=1),
                    fees=FeePolicy(fixed_micro_lamports=0))


def worker_env(settings: Settings, port: int) -> dict[str, str]:
    return keeper_env(rpc_urls=f"local={settings.rpc[0].url} max_rps=5000",
                      database_url=settings.database_url, redis_url=settings.redis.url,
                      program_id=settings.program_id, keypair=Path(str(settings.keypair_path)),
                      METRICS_PORT=str(port))


@contextlib.asynccontextmanager
async def worker_process(role: str, env: dict[str, str]) -> AsyncIterator[None]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", "worker", role, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


@contextlib.contextmanager
def prometheus(tmp: Path, targets: dict[str, int]) -> Iterator[str]:
    """A Prometheus server scraping `targets` (instance name → port) every second; its URL."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: Debian's `prometheus` package (scripts/setup)"
    config = tmp / "prometheus.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "keepernet",
            "honor_labels": True,  # the series' own `job` label (the keeper job) is kept
            "static_configs": [{"targets": [f"127.0.0.1:{port}"],
                                "labels": {"role": "governance", "worker": name}}
                               for name, port in targets.items()],
        }],
    }))
    port = free_port_pair()
    server = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def query(http: aiohttp.ClientSession, url: str, promql: str) -> list[dict[str, Any]]:
    try:
        async with http.get(f"{url}/api/v1/query", params={"query": promql}) as response:
            if response.status == 503:  # up, its storage not ready yet (a busy machine)
                return []
            body = await response.json()
    except aiohttp.ClientConnectionError:
        return []  # not up yet
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def eventually(http: aiohttp.ClientSession, url: str, promql: str,
                     timeout_s: float = 40) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = await query(http, url, promql)
        if found:
            return found
        assert time.monotonic() < deadline, f"Prometheus never had {promql}"
        await asyncio.sleep(0.5)


@on_the_module_loop
async def test_prometheus_scrapes_what_a_job_did(w: World, settings: Settings,
                                                 tmp_path: Path) -> None:
    await proposal(w, 21, likes=3, closed=True)
    ports = {"a": free_port_pair(), "b": free_port_pair()}
    async with contextlib.AsyncExitStack() as stack:
        for port in ports.values():
            await stack.enter_async_context(worker_process("governance",
                                                           worker_env(settings, port)))
        url = stack.enter_context(prometheus(tmp_path, ports))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        await eventually(http, url, 'count(up{job="keepernet"} == 1) == 2')
        # the reconciler finds the market's tally due and one of the workers sends it
        tally = 'sum(keepernet_job_runs_total{role="governance",job="tally_votes",' \
            'outcome="success"})'
        await eventually(http, url, f"{tally} == 1")
        await eventually(http, url, 'sum(keepernet_markets_total{result="approved"}) == 1')
        await eventually(http, url, 'sum(keepernet_transactions_total{'
                         'instruction="approve_market",outcome="landed"}) == 1')
        await eventually(http, url, 'sum(keepernet_transaction_confirmation_seconds_count{'
                         'instruction="approve_market"}) == 1')
        await eventually(http, url, 'max(keepernet_job_last_success_timestamp_seconds{'
                         'job="reconcile"}) > 0')
        await eventually(http, url, "min(keepernet_chain_slot) > 0")
        await eventually(http, url, "min(keepernet_wallet_balance_lamports) > 0")
        await eventually(http, url, 'sum(rate(keepernet_rpc_requests_total{endpoint="local",'
                         'outcome="ok"}[1m])) > 0')
        await eventually(http, url, 'min(keepernet_health_check_ok{check="redis"}) == 1')
        # the queue series: one worker of the two exports them
        await eventually(http, url, 'count(keepernet_queue_jobs{role="governance"})')
        # and so they stay, scrapes later: once seen is not enough (a second tally, a second
        # exporter would show only now)
        await asyncio.sleep(3)  # three scrape intervals
        for promql in ('count(up{job="keepernet"} == 1)', tally,
                       'sum(keepernet_transactions_total{instruction="approve_market",'
                       'outcome="landed"})',
                       'count(keepernet_queue_jobs{role="governance"})'):
            found = await query(http, url, promql)
            assert [float(r["value"][1]) for r in found] == \
                [2 if promql.startswith("count(up") else 1], promql


async def get_health(port: int) -> tuple[int, dict[str, Any]]:
    """/healthz's status and body; 0 while nothing listens (the worker is starting)."""
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/healthz") as response:
            return response.status, await response.json()
    except aiohttp.ClientConnectionError:
        return 0, {}


async def until_health(port: int, status: int, timeout_s: float = 30, *,
                       whole: bool = False) -> dict[str, Any]:
    """The first /healthz answer with `status` (and, `whole`, not degraded: the database
    reached, which a worker does in the background after it starts)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got, body = await get_health(port)
        if got == status and not (whole and body.get("degraded")):
            return body
        assert time.monotonic() < deadline, f"/healthz stayed {got}: {body}"
        await asyncio.sleep(0.2)


@on_the_module_loop
async def test_healthz_fails_while_redis_is_down_and_recovers(
        settings: Settings, redis_instance: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "PROBE_INTERVAL_S", 0.3)
    monkeypatch.setattr(health, "PROBE_TIMEOUT_S", 1.0)
    port = free_port_pair()
    patient = dataclasses.replace(settings, metrics_port=port, redis=RedisSettings(
        url=settings.redis.url, retries=20, retry_delay_s=0.1, socket_timeout_s=1.0))
    worker = create_worker(governance.worker_settings(patient), handle_signals=False,
                           poll_delay=0.05)
    running = asyncio.create_task(worker.async_run())
    try:
        healthy = await until_health(port, 200, whole=True)
        assert healthy == {"ok": True, "degraded": False, "checks": {
            "chain": "ok", "redis": "ok", "postgres": "ok", "success": "ok"}}
        metrics_text = await metrics_of(port)
        assert 'keepernet_health_check_ok{check="redis"} 1.0' in metrics_text

        await asyncio.to_thread(redis_instance.kill)
        down = await until_health(port, 503)
        assert down["ok"] is False
        assert down["checks"]["redis"].startswith("Redis unreachable: ")
        assert down["checks"]["chain"] == "ok" and down["checks"]["postgres"] == "ok"
        assert registry.get_sample_value("keepernet_health_check_ok", {"check": "redis"}) == 0

        await asyncio.to_thread(redis_instance.start)
        assert (await until_health(port, 200))["ok"] is True
        assert not running.done(), "the worker exited when Redis went away"
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await worker.close()


async def metrics_of(port: int) -> str:
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        return await response.text()


@on_the_module_loop
async def test_a_taken_metrics_port_is_refused_by_name(settings: Settings) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "workers.cli", "worker", "governance",
            env=worker_env(settings, port), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(60):
            _, err = await process.communicate()
    assert process.returncode == 2
    assert (f"keepernet worker governance: cannot serve /metrics and /healthz on 0.0.0.0:{port} "
            f"(KEEPERNET_METRICS_PORT)") in err.decode()
