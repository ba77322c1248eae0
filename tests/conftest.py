"""Servers for any test package: a throwaway PostgreSQL cluster and a Redis server.

Both are started by the tests on 127.0.0.1 (a free port each), in their own temporary
folders, once per session, and stopped at its end:

    postgres            -> str          DSN of the cluster's `postgres` database (superuser, trust)
    postgres_cluster    -> Postgres     the same cluster: .dsn(db), .stop(), .start(), .restart()
    pg_database         -> str          DSN of a fresh, empty database for one test (dropped after)
    redis_server        -> str          URL of the Redis server (redis://127.0.0.1:PORT/0)
    redis_instance      -> RedisServer  the same server: .restart(), .kill(), .stop(), .start()
    redis_url           -> str          redis_server, emptied (FLUSHALL) before the test

The binaries come from the apt packages `postgresql` and `redis-server` (`make setup` installs
them); a missing binary fails the test with that message rather than skipping it. As root,
PostgreSQL runs as the `postgres` user (its `initdb` refuses to run as root).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
import redis

from chain.localnet import FINALIZE_SLOTS_ENV, SLOT_MS_ENV
from demo.servers import Postgres, RedisServer, ServerMissing

# every localnet the tests start (run_localnet, `keepernet localnet`, demo, bench) runs 50 ms
# slots: sends wait a slot or two to be confirmed, and at a cluster's 400 ms the suite would
# spend minutes waiting. Fast enough, yet 10 slots still leave a perp open 0.5 s of price age.
# A slot is finalized 2 slots after it, not a cluster's 32, so that what the indexer reads
# (finalized, as a keeper's) is there a slot after a test's send is confirmed
os.environ.setdefault(SLOT_MS_ENV, "50")
os.environ.setdefault(FINALIZE_SLOTS_ENV, "2")

T = TypeVar("T")


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code (a fixture), on its own thread so
    that no event loop of pytest-asyncio's is touched."""

    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Postgres]:
    try:
        cluster = Postgres(Path(tempfile.mkdtemp(prefix="keepernet-pg-")))
    except ServerMissing as e:
        pytest.fail(str(e), pytrace=False)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def postgres(postgres_cluster: Postgres) -> str:
    """DSN of the session's cluster (database `postgres`, superuser `postgres`, no password)."""
    return postgres_cluster.dsn()


@pytest.fixture
def pg_database(postgres_cluster: Postgres) -> Iterator[str]:
    """DSN of a new, empty database (from template0) for this test alone; dropped after it."""
    name = f"test_{uuid.uuid4().hex[:16]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(postgres_cluster.dsn())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_async(lambda: admin(f'CREATE DATABASE "{name}" TEMPLATE template0'))
    try:
        yield postgres_cluster.dsn(name)
    finally:
        run_async(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ---- Redis --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def redis_instance() -> Iterator[RedisServer]:
    try:
        server = RedisServer(Path(tempfile.mkdtemp(prefix="keepernet-redis-")))
    except ServerMissing as e:
        pytest.fail(str(e), pytrace=False)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def redis_server(redis_instance: RedisServer) -> str:
    """URL of the session's Redis server (redis://127.0.0.1:PORT/0)."""
    return redis_instance.url


@pytest.fixture
def redis_url(redis_instance: RedisServer) -> str:
    """The session's Redis server, started again if a test stopped it, and emptied."""
    if redis_instance.proc is None:
        redis_instance.start()
    with redis.Redis.from_url(redis_instance.url) as client:
        client.flushall()
    return redis_instance.url
