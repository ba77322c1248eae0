"""`keepernet enqueue` in-process against a real localnet and Redis: the id is the planners'
(its stage read from the chain), a duplicate is reported and not queued twice, and every
refusal exits 2 with nothing enqueued. Unit tests of the pure parsing beside them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import asyncpg
import pytest
import pytest_asyncio
import redis
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from demo.servers import free_port_pair
from fleet.settings import load_settings
from jobs.outcome import Outcome
from jobs.registry import JOBS, ROLES, job_id
from jobs.stages import stage_of
from store.migrate import migrate
from tests.support.burst import run_burst
from tests.support.chain_world import World, world
from tests.support.markets import proposal
from tests.support.perp_world import open_positions
from workers import indexer
from workers.cli import main
from workers.enqueue import Refused, parse_request

on_the_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chain(w: World) -> dict[str, Any]:
    """A market and a perp market with two positions."""
    market = await proposal(w, 1, likes=1)
    perp, positions = await open_positions(w)
    return {"market": market, "perp": perp, "positions": positions}


@pytest.fixture
def env(w: World, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """The CLI's settings in the environment; the Redis it enqueues on."""
    monkeypatch.delenv("KEEPERNET_CONFIG", raising=False)
    monkeypatch.delenv("KEEPERNET_KEYPAIR", raising=False)
    monkeypatch.setenv("KEEPERNET_RPC_URLS", w.net.url)
    monkeypatch.setenv("KEEPERNET_RPC_DEADLINE_S", "2")
    monkeypatch.setenv("KEEPERNET_DATABASE_URL", "postgresql://postgres@127.0.0.1/none")
    monkeypatch.setenv("KEEPERNET_PROGRAM_ID", str(w.net.program_id))
    monkeypatch.setenv("KEEPERNET_REDIS_URL", redis_url)
    monkeypatch.setenv("KEEPERNET_REDIS_RETRIES", "0")
    with redis.Redis.from_url(redis_url) as client:
        yield client


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = await asyncio.to_thread(main, ["enqueue", *argv])
    out, err = capsys.readouterr()
    return status, out.strip(), err.strip()


async def account(w: World, address: Pubkey) -> Any:
    _, (got,) = await w.keepers[0].snapshot(address)
    assert got is not None
    return got


def queued(client: redis.Redis, role: str) -> list[str]:
    members = cast(list[bytes], client.zrange(f"keepernet:{role}", 0, -1))
    return [m.decode() for m in members]


def stored(client: redis.Redis, key: str) -> Any:
    """The JSON record arq keeps at `key`."""
    raw = cast(bytes | None, client.get(key))
    assert raw is not None, key
    return json.loads(raw)


# ---- enqueued --------------------------------------------------------------------------------

@on_the_module_loop
async def test_each_job_is_enqueued_under_the_planners_id(
        w: World, chain: dict[str, Any], env: redis.Redis,
        capsys: pytest.CaptureFixture[str]) -> None:
    market, perp, position = chain["market"], chain["perp"], chain["positions"][0]
    expected = {
        ("index_events",): job_id("index_events"),
        ("snapshot_accounts",): job_id("snapshot_accounts"),
        ("scan_positions",): job_id("scan_positions"),
        ("scan_positions", str(perp)): job_id("scan_positions", perp),
        ("tally_votes", str(market)): job_id("tally_votes", market),
        ("finalize_market", str(market)):
            job_id("finalize_market", market, (await account(w, market)).state),
        ("update_funding", str(perp)):
            job_id("update_funding", perp, (await account(w, perp)).last_funding_ts),
        ("liquidate_position", str(position)):
            job_id("liquidate_position", position, (await account(w, position)).opened_at),
    }
    for argv, the_id in expected.items():
        assert await cli(capsys, *argv) == (0, the_id, "")
        role = JOBS[argv[0]].role
        assert the_id in queued(env, role)
        record = stored(env, f"arq:job:{the_id}")  # JSON, with the address as base58
        assert record["f"] == argv[0] and record["a"] == list(argv[1:])
    assert expected[("liquidate_position", str(position))].count(":") == 2
    assert sum(len(queued(env, role)) for role in ROLES) == len(expected)


@on_the_module_loop
async def test_a_duplicate_is_reported_and_queued_once(
        chain: dict[str, Any], env: redis.Redis, capsys: pytest.CaptureFixture[str]) -> None:
    market = str(chain["market"])
    the_id = f"tally_votes:{market}"
    assert await cli(capsys, "tally_votes", market) == (0, the_id, "")
    assert await cli(capsys, "tally_votes", market) == (0, f"already queued: {the_id}", "")
    assert queued(env, "governance") == [the_id]
    # done, its result kept: still refused by arq, and said so
    env.zrem("keepernet:governance", the_id)
    env.delete(f"arq:job:{the_id}")
    env.set(f"arq:result:{the_id}", b"{}")
    assert await cli(capsys, "tally_votes", market) == \
        (0, f"already done: {the_id} (its result is still kept)", "")
    assert queued(env, "governance") == []


@on_the_module_loop
async def test_an_enqueued_snapshot_runs_on_the_indexer_worker(
        w: World, chain: dict[str, Any], env: redis.Redis, pg_database: str,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPERNET_DATABASE_URL", pg_database)
    await migrate(pg_database)
    assert await cli(capsys, "snapshot_accounts") == (0, "snapshot_accounts", "")
    await run_burst(indexer.worker_settings(load_settings()))
    assert stored(env, "arq:result:snapshot_accounts")["r"] == Outcome.SUCCESS
    conn = await asyncpg.connect(pg_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM positions WHERE perp_market = $1",
                                   str(chain["perp"])) == 2
    finally:
        await conn.close()


# ---- refused ---------------------------------------------------------------------------------

@on_the_module_loop
@pytest.mark.parametrize(("argv", "says"), [
    (("nosuchjob",), "unknown job 'nosuchjob': one of index_events, snapshot_accounts"),
    (("index_events", "x"), "index_events takes no argument, but got 1"),
    (("tally_votes",), "tally_votes takes one argument, the Market's address, but got 0"),
    (("scan_positions", "a", "b"), "takes at most one argument"),
    (("update_funding", "not-base58!"), "not a base58 public key: 'not-base58!'"),
])
async def test_bad_input_is_refused(argv: tuple[str, ...], says: str, env: redis.Redis,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = await cli(capsys, *argv)
    assert (status, out) == (2, "")
    assert says in err
    assert env.keys("*") == []


@on_the_module_loop
async def test_a_target_that_is_not_the_jobs_account_is_refused(
        w: World, chain: dict[str, Any], env: redis.Redis,
        capsys: pytest.CaptureFixture[str]) -> None:
    nothing = Keypair().pubkey()
    wallet = w.net.users[0].key  # a system account: not the program's
    market, perp, position = chain["market"], chain["perp"], chain["positions"][0]
    cases = [
        (("tally_votes", str(nothing)), f"no account at {nothing}: expected a Market"),
        (("finalize_market", str(wallet)), f"the account at {wallet} is not the program's"),
        (("tally_votes", str(perp)), f"{perp} is a PerpMarket, not a Market"),
        (("update_funding", str(market)), f"{market} is a Market, not a PerpMarket"),
        (("scan_positions", str(position)), f"{position} is a Position, not a PerpMarket"),
        (("liquidate_position", str(perp)), f"{perp} is a PerpMarket, not a Position"),
    ]
    for argv, says in cases:
        status, out, err = await cli(capsys, *argv)
        assert (status, out) == (2, ""), argv
        assert says in err, err
    assert env.keys("*") == []


@on_the_module_loop
async def test_an_unreachable_redis_is_refused(
        chain: dict[str, Any], env: redis.Redis, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPERNET_REDIS_URL", f"redis://127.0.0.1:{free_port_pair()}/0")
    monkeypatch.setenv("KEEPERNET_REDIS_CONNECT_TIMEOUT_S", "0.5")
    status, out, err = await cli(capsys, "tally_votes", str(chain["market"]))
    assert (status, out) == (2, "")
    assert "Redis (KEEPERNET_REDIS_URL) did not answer" in err


@on_the_module_loop
async def test_an_unreachable_rpc_is_refused(
        chain: dict[str, Any], env: redis.Redis, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPERNET_RPC_URLS", f"http://127.0.0.1:{free_port_pair()}")
    monkeypatch.setenv("KEEPERNET_RPC_DEADLINE_S", "0.5")
    status, out, err = await cli(capsys, "tally_votes", str(chain["market"]))
    assert (status, out) == (2, "")
    assert "the RPC (KEEPERNET_RPC_URLS) did not answer" in err
    assert env.keys("*") == []


@on_the_module_loop
async def test_bad_settings_are_refused(env: redis.Redis, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPERNET_PROGRAM_ID", "not-base58!")
    status, out, err = await cli(capsys, "index_events")
    assert (status, out) == (2, "")
    assert "bad settings" in err and "KEEPERNET_PROGRAM_ID" in err
    assert env.keys("*") == []


def test_a_missing_job_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["enqueue"])
    assert exit_.value.code == 2
    assert "job" in capsys.readouterr().err


# ---- pure ------------------------------------------------------------------------------------

def test_parse_request() -> None:
    key = Keypair().pubkey()
    assert parse_request("scan_positions", []).target is None
    assert parse_request("scan_positions", [str(key)]).target == key
    with pytest.raises(Refused, match="takes no argument"):
        parse_request("snapshot_accounts", [str(key)])


def test_the_stage_is_the_field_job_ids_names() -> None:
    class Account:
        opened_at, last_funding_ts, state = 11, 22, 3

    assert stage_of("liquidate_position", Account()) == 11
    assert stage_of("update_funding", Account()) == 22
    assert stage_of("finalize_market", Account()) == 3
    assert stage_of("tally_votes", Account()) is None
