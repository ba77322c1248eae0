"""`keepernet status` in-process against a real localnet, Redis and PostgreSQL (jobs enqueued
through `keepernet enqueue`, one marked running as arq marks it, job runs and the indexer's
cursor in the database); every unreachable service exits 2. The rendering is unit-tested."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
import redis
from solders.keypair import Keypair

from demo.servers import free_port_pair
from store.migrate import migrate
from tests.support.chain_world import World, world
from tests.support.keepers import keypair_file
from tests.support.markets import proposal
from workers.cli import main
from workers.status import RoleQueue, Status, render, role_of_job_id

on_the_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@pytest.fixture
def env(w: World, redis_url: str, pg_database: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    keypair = keypair_file(w.net.keepers[0].kp, tmp_path)
    monkeypatch.delenv("KEEPERNET_CONFIG", raising=False)
    monkeypatch.setenv("KEEPERNET_KEYPAIR", str(keypair))
    monkeypatch.setenv("KEEPERNET_RPC_URLS", w.net.url)
    monkeypatch.setenv("KEEPERNET_RPC_DEADLINE_S", "2")
    monkeypatch.setenv("KEEPERNET_DATABASE_URL", pg_database)
    monkeypatch.setenv("KEEPERNET_PROGRAM_ID", str(w.net.program_id))
    monkeypatch.setenv("KEEPERNET_REDIS_URL", redis_url)
    monkeypatch.setenv("KEEPERNET_REDIS_RETRIES", "0")
    monkeypatch.setenv("KEEPERNET_REDIS_CONNECT_TIMEOUT_S", "0.5")
    with redis.Redis.from_url(redis_url) as client:
        yield client


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def row(out: str, name: str) -> list[str]:
    line = next(line for line in out.splitlines() if line.startswith(name + " "))
    return line.split()


@on_the_module_loop
async def test_the_status_of_a_working_fleet(w: World, env: redis.Redis,
                                             pg_database: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    await migrate(pg_database)
    market = await proposal(w, 11, likes=1)
    for argv in (["index_events"], ["snapshot_accounts"], ["tally_votes", str(market)],
                 ["scan_positions"]):
        assert (await run(capsys, "enqueue", *argv))[0] == 0
    # the worker took index_events: arq's in-progress key, the job still in its queue
    env.set("arq:in-progress:index_events", b"1", px=60_000)
    # and a cron run of the governance role, which is in no queue
    env.set("arq:in-progress:cron:finalize_market:123", b"1", px=60_000)
    finished = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.executemany(
            "INSERT INTO job_runs (job_id, try, role, job, outcome, started_at, finished_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $6)", [
                (f"tally_votes:{market}", 1, "governance", "tally_votes", "success",
                 finished - timedelta(hours=1)),
                (f"tally_votes:{market}", 2, "governance", "tally_votes", "success", finished),
                ("update_funding:x:1", 1, "funding", "update_funding", "failed", finished)])
        await conn.execute("INSERT INTO cursors (name, signature, slot) VALUES ('events', 'x', 1)")
    finally:
        await conn.close()

    status, out, err = await run(capsys, "status")
    assert (status, err) == (0, "")
    chain_slot = (await w.direct.get_slot()).value
    balance = (await w.direct.get_balance(w.net.keepers[0].key)).value

    indexer, liquidator = row(out, "indexer"), row(out, "liquidator")
    assert indexer[1] == "1" and indexer[-1] == "1"  # snapshot_accounts waits, index_events runs
    assert indexer[2] != "-"
    assert liquidator[1] == "1" and liquidator[-1] == "0"  # scan_positions
    assert row(out, "funding")[1:] == ["0", "-", "0"]
    governance = row(out, "governance")
    assert governance[1] == "1" and governance[-1] == "1"
    assert row(out, "tally_votes")[1:3] == ["2026-01-02", "03:04:05"]
    assert row(out, "update_funding")[1:] == ["never"]
    assert row(out, "index_events")[1:] == ["never"]
    lag = re.search(r"indexer lag:\s+(\d+) slots \(chain (\d+), indexed 1\)", out)
    assert lag is not None and int(lag[1]) == int(lag[2]) - 1
    assert int(lag[2]) <= chain_slot  # read before it, a slot every 400 ms
    assert f"{w.net.keepers[0].key}  {balance / 1e9:.9f} SOL" in out
    assert str(w.net.keepers[0].kp) not in out  # the secret, base58


@on_the_module_loop
async def test_no_keypair_and_nothing_indexed(env: redis.Redis, pg_database: str,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEEPERNET_KEYPAIR")
    await migrate(pg_database)
    status, out, _ = await run(capsys, "status")
    assert status == 0
    assert "keeper wallet:  no keypair in the settings" in out
    assert "nothing indexed yet" in out
    assert all(row(out, role)[1:] == ["0", "-", "0"]
               for role in ("indexer", "liquidator", "funding", "governance"))


@on_the_module_loop
@pytest.mark.parametrize(("variable", "value", "says"), [
    ("KEEPERNET_REDIS_URL", "redis://127.0.0.1:{port}/0", "Redis (KEEPERNET_REDIS_URL)"),
    ("KEEPERNET_DATABASE_URL", "postgresql://postgres@127.0.0.1:{port}/x",
     "PostgreSQL (KEEPERNET_DATABASE_URL) did not answer"),
    ("KEEPERNET_RPC_URLS", "http://127.0.0.1:{port}", "the RPC (KEEPERNET_RPC_URLS)"),
])
async def test_an_unreachable_service_is_refused(
        variable: str, value: str, says: str, env: redis.Redis, pg_database: str,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    await migrate(pg_database)
    monkeypatch.setenv(variable, value.format(port=free_port_pair()))
    status, out, err = await run(capsys, "status")
    assert (status, out) == (2, "")
    assert says in err


@on_the_module_loop
async def test_a_database_without_the_schema_is_refused(
        env: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = await run(capsys, "status")
    assert (status, out) == (2, "")
    assert "run `keepernet migrate`" in err


@on_the_module_loop
async def test_bad_settings_are_refused(env: redis.Redis, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPERNET_RPC_URLS", "ftp://nowhere")
    status, out, err = await run(capsys, "status")
    assert (status, out) == (2, "")
    assert "bad settings" in err and "KEEPERNET_RPC_URLS" in err


# ---- pure ------------------------------------------------------------------------------------

def test_render() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    keeper = Keypair().pubkey()
    text = render(Status(
        now=now,
        queues=[RoleQueue("indexer", 2, 3.25, 1), RoleQueue("liquidator", 0, None, 0),
                RoleQueue("funding", 1, 5400.0, 0), RoleQueue("governance", 0, None, 2)],
        last_success={"index_events": now - timedelta(seconds=90), "tally_votes": None},
        chain_slot=1000, indexed_slot=988, keeper=keeper, balance_lamports=1_500_000_000))
    assert text.splitlines() == [
        "role          queued  oldest     running",
        "indexer            2  3.2 s            1",
        "liquidator         0  -                0",
        "funding            1  1.5 h            0",
        "governance         0  -                2",
        "",
        "job                 last success",
        "index_events        2026-05-01 11:58:30 UTC (1.5 min ago)",
        "tally_votes         never",
        "",
        "indexer lag:    12 slots (chain 1000, indexed 988)",
        f"keeper wallet:  {keeper}  1.500000000 SOL",
    ]


def test_role_of_job_id() -> None:
    assert role_of_job_id("liquidate_position:abc:12") == "liquidator"
    assert role_of_job_id("cron:index_events:1700000000000") == "indexer"
    assert role_of_job_id("index_events") == "indexer"
    assert role_of_job_id("something_else:1") is None
