"""Schema migrations on a real PostgreSQL: in order, once, safe to run concurrently."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from store.migrate import (
    LOCK_KEY,
    DatabaseUnavailable,
    MigrationError,
    available,
    migrate,
    pending,
)

CLI = Path(sys.executable).parent / "keepernet"

# table -> its primary key columns, in order
PRIMARY_KEYS = {
    "schema_migrations": ["version"],
    "events": ["signature", "event_index"],
    "cursors": ["name"],
    "markets": ["address"],
    "perp_markets": ["address"],
    "positions": ["address"],
    "trades": ["signature", "event_index"],
    "votes": ["signature", "event_index"],
    "funding_updates": ["signature", "event_index"],
    "liquidations": ["signature", "event_index"],
    "job_runs": ["run_id"],
}


async def _fetch(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _names() -> list[str]:
    return [m.name for m in available()]


async def test_migrate_applies_every_migration_in_order(pg_database: str) -> None:
    assert _names()[0] == "0001_initial"
    assert await pending(pg_database) == _names()

    assert await migrate(pg_database) == _names()

    rows = await _fetch(pg_database,
                        "SELECT version, name, applied_at FROM schema_migrations ORDER BY version")
    assert [r["name"] for r in rows] == _names()
    assert [r["version"] for r in rows] == [m.version for m in available()]
    assert all(r["applied_at"] is not None for r in rows)
    assert await pending(pg_database) == []


async def test_a_second_run_applies_nothing(pg_database: str) -> None:
    await migrate(pg_database)
    assert await migrate(pg_database) == []
    rows = await _fetch(pg_database, "SELECT count(*) AS n FROM schema_migrations")
    assert rows[0]["n"] == len(_names())


async def test_concurrent_runs_apply_each_migration_once(pg_database: str) -> None:
    results = await asyncio.gather(*(migrate(pg_database) for _ in range(6)))
    applied = [name for result in results for name in result]
    assert sorted(applied) == sorted(_names())  # every migration once, by exactly one run
    rows = await _fetch(pg_database, "SELECT version FROM schema_migrations")
    assert len(rows) == len(_names())


async def test_a_run_waits_for_the_lock(pg_database: str) -> None:
    holder = await asyncpg.connect(pg_database)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        run = asyncio.create_task(migrate(pg_database))
        await asyncio.sleep(0.3)
        assert not run.done()
        await holder.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        assert await asyncio.wait_for(run, 10) == _names()
    finally:
        await holder.close()


async def test_the_tables_exist_with_their_primary_keys(pg_database: str) -> None:
    await migrate(pg_database)
    rows = await _fetch(pg_database, """
        SELECT tc.table_name, kcu.column_name
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu
          ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
        WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'
        ORDER BY tc.table_name, kcu.ordinal_position""")
    keys: dict[str, list[str]] = {}
    for r in rows:
        keys.setdefault(r["table_name"], []).append(r["column_name"])
    assert keys == PRIMARY_KEYS


async def test_the_columns_the_jobs_rely_on(pg_database: str) -> None:
    await migrate(pg_database)
    rows = await _fetch(pg_database, """
        SELECT table_name, column_name, data_type, is_nullable
        FROM information_schema.columns WHERE table_schema = 'public'""")
    column = {(r["table_name"], r["column_name"]): (r["data_type"], r["is_nullable"])
              for r in rows}
    assert column["events", "slot"] == ("bigint", "NO")
    assert column["events", "data"] == ("jsonb", "NO")
    assert column["events", "name"] == ("text", "NO")
    assert column["cursors", "updated_at"] == ("timestamp with time zone", "NO")
    assert column["markets", "updated_slot"] == ("bigint", "NO")
    assert column["markets", "collateral"][0] == "numeric"
    assert column["markets", "id"][0] == "numeric"  # any u64, unique per creator only
    assert column["perp_markets", "id"][0] == "numeric"  # any u64
    assert column["positions", "size"][0] == "numeric"
    assert column["liquidations", "bad_debt"][0] == "numeric"
    assert column["job_runs", "detail"][0] == "jsonb"
    # u64 amounts beyond bigint fit
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute(
            "INSERT INTO trades (signature, event_index, amount) VALUES ('s', 0, $1)", 2**64 - 1)
        assert await conn.fetchval("SELECT amount FROM trades") == 2**64 - 1
        await conn.execute("INSERT INTO events VALUES ('s', 0, 1, NULL, 'E', '{}')")
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO events VALUES ('s', 0, 2, NULL, 'E', '{}')")
        indexes = await conn.fetch(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'events'")
        assert any("(name, slot)" in r["indexdef"] for r in indexes)
    finally:
        await conn.close()


async def test_funding_rates_indexed_in_bps_become_ppm(pg_database: str,
                                                       tmp_path: Path) -> None:
    # a database of v1: migrated up to 0003, with a FundingUpdated of 25 bps indexed
    for m in available():
        if m.version <= 3:
            (tmp_path / m.path.name).write_text(m.sql())
    assert await migrate(pg_database, tmp_path) == [m.name for m in available()[:3]]
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("INSERT INTO funding_updates (signature, event_index, rate_bps) "
                           "VALUES ('s', 0, 25), ('s', 1, -3)")
    finally:
        await conn.close()
    assert await migrate(pg_database) == _names()[3:]
    rows = await _fetch(pg_database,
                        "SELECT rate_ppm FROM funding_updates ORDER BY event_index")
    assert [r["rate_ppm"] for r in rows] == [2_500, -300]


async def test_a_failing_migration_leaves_nothing(pg_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first (x int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (x int); SELECT nonsense;")
    with pytest.raises(MigrationError, match="0002_broken"):
        await migrate(pg_database, tmp_path)
    rows = await _fetch(pg_database, "SELECT to_regclass('half') AS half, "
                                     "to_regclass('first') AS first")
    assert rows[0]["half"] is None and rows[0]["first"] is not None
    assert await pending(pg_database, tmp_path) == ["0002_broken"]
    # the lock was released: a fixed migration goes on from where it stopped
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE half (x int);")
    assert await migrate(pg_database, tmp_path) == ["0002_broken"]


def test_misnamed_or_duplicate_migrations_are_refused(tmp_path: Path) -> None:
    (tmp_path / "1_bad.sql").write_text("")
    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        available(tmp_path)
    (tmp_path / "1_bad.sql").unlink()
    (tmp_path / "0001_a.sql").write_text("")
    (tmp_path / "0001_b.sql").write_text("")
    with pytest.raises(MigrationError, match="version 1"):
        available(tmp_path)


async def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailable, match=r"postgresql://u:\*\*\*@127.0.0.1:1/x"):
        await migrate("postgresql://u:secret@127.0.0.1:1/x")


# ---- keepernet migrate --------------------------------------------------------------------------

def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "KEEPERNET_DATABASE_URL"}
    return subprocess.run([str(CLI), "migrate", *args], env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=60, check=False)


def test_keepernet_migrate_applies_then_has_nothing_to_do(pg_database: str) -> None:
    first = _cli("--dsn", pg_database)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [f"applied {name}" for name in _names()]
    again = _cli(env={"KEEPERNET_DATABASE_URL": pg_database})
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout


def test_keepernet_migrate_without_a_database_exits_2() -> None:
    done = _cli()
    assert done.returncode == 2
    assert "no database: pass --dsn or set KEEPERNET_DATABASE_URL" in done.stderr


@pytest.mark.parametrize(("dsn", "says"), [
    ("postgresql://keeper:secret@127.0.0.1:1/keepernet", "Connect call failed"),
    ("not a dsn", "invalid DSN"),
])
def test_keepernet_migrate_refuses_an_unreachable_database(dsn: str, says: str) -> None:
    done = _cli("--dsn", dsn)
    assert done.returncode == 2
    assert "keepernet migrate: cannot connect to" in done.stderr and says in done.stderr
    assert "secret" not in done.stderr


def test_keepernet_migrate_refuses_a_missing_database(postgres: str) -> None:
    dsn = postgres.rsplit("/", 1)[0] + "/no_such_database"
    done = _cli("--dsn", dsn)
    assert done.returncode == 2
    assert "no_such_database" in done.stderr and "does not exist" in done.stderr
