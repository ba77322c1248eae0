"""Schema migrations: plain versioned SQL files, applied in order.

`store/migrations/NNNN_name.sql` is migration version NNNN. `migrate(dsn)` applies those not
yet applied, each in its own transaction together with its row in
`schema_migrations(version, name, applied_at)`, so a migration is applied entirely or not at
all. A PostgreSQL advisory lock, held for the whole run, makes concurrent runs (every worker
migrating at start-up, say) safe: the others wait, then find nothing left to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from jobs.errors import Permanent, Retryable

MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_lock's key: a fixed 64-bit number of Keepernet's own ("kpmigrat" in ASCII)
LOCK_KEY = int.from_bytes(b"kpmigrat", "big")
CONNECT_TIMEOUT_S = 10.0
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    int         PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


class MigrationError(Permanent):
    """The migrations on disk are unusable, or one failed to apply (nothing of it was kept)."""


class DatabaseUnavailable(Retryable):
    """The database could not be reached or refused the connection."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file's name without .sql, e.g. "0001_initial"
    path: Path

    def sql(self) -> str:
        return self.path.read_text()


def available(folder: Path = MIGRATIONS) -> list[Migration]:
    """The migrations in `folder`, by version; MigrationError on a misnamed file or a
    version used twice."""
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: a migration is named NNNN_name.sql (lowercase)")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path}: version {version} is also {found[version].path}")
        found[version] = Migration(version, path.stem, path)
    return [found[v] for v in sorted(found)]


def redact(dsn: str) -> str:
    """The DSN without its password, for messages."""
    try:
        parts = urlsplit(dsn)
        if parts.password is None:
            return dsn
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return dsn


async def connect(dsn: str) -> asyncpg.Connection:
    """A connection, or DatabaseUnavailable saying why not (bad DSN, unreachable, refused)."""
    try:
        return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
            ValueError) as e:
        reason = str(e) or type(e).__name__
        raise DatabaseUnavailable(f"cannot connect to {redact(dsn)}: {reason}") from e


async def _applied(conn: asyncpg.Connection) -> set[int]:
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return set()
    return {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}


async def pending(dsn: str, folder: Path = MIGRATIONS) -> list[str]:
    """The names of the migrations not applied yet, in order."""
    conn = await connect(dsn)
    try:
        done = await _applied(conn)
    finally:
        await conn.close()
    return [m.name for m in available(folder) if m.version not in done]


async def migrate(dsn: str, folder: Path = MIGRATIONS) -> list[str]:
    """Apply the pending migrations in order; the names of those this call applied."""
    migrations = available(folder)
    conn = await connect(dsn)
    try:
        # session-level: released by the unlock below, or by the server if the connection dies
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            await conn.execute(_CREATE_TABLE)
            done = await _applied(conn)
            applied: list[str] = []
            for m in migrations:
                if m.version in done:
                    continue
                try:
                    async with conn.transaction():
                        await conn.execute(m.sql())
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            m.version, m.name)
                except asyncpg.PostgresError as e:
                    raise MigrationError(f"{m.name}: {e}") from e
                applied.append(m.name)
            return applied
        finally:
            if not conn.is_closed():
                await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()
