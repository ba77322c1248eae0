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
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import asyncpg
import pytest
import redis

T = TypeVar("T")
SETUP_HINT = "`make setup` (or `make test`) installs it"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code (a fixture), on its own thread so
    that no event loop of pytest-asyncio's is touched."""

    async def main() -> T:
        return await make()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout_s} s")
        time.sleep(0.05)


# ---- PostgreSQL ---------------------------------------------------------------------------------

def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<ver>/bin/initdb
    return tuple(int(p) for p in re.findall(r"\d+", path.parents[1].name))


def postgres_bindir() -> Path:
    """The folder with initdb, pg_ctl and postgres: $KEEPERNET_PG_BINDIR, else the newest
    /usr/lib/postgresql/<ver>/bin (Debian's layout), else wherever `initdb` is on PATH."""
    override = os.environ.get("KEEPERNET_PG_BINDIR")
    candidates = [Path(override)] if override else []
    candidates += [p.parent for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                                            key=_version_key, reverse=True)]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if all(os.access(bindir / b, os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return bindir
    pytest.fail("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
                "$KEEPERNET_PG_BINDIR, /usr/lib/postgresql/*/bin or PATH: the apt package "
                f"`postgresql` is missing; {SETUP_HINT}", pytrace=False)


class Postgres:
    """A PostgreSQL cluster of its own: data, sockets and log under one temporary folder."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="keepernet-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            # initdb and postgres refuse root: the folder goes to the postgres user
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root, but there is no `postgres` user to run "
                            "PostgreSQL as; the apt package `postgresql` creates it "
                            f"({SETUP_HINT})",
                            pytrace=False)
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                        "--init-groups", "--"]

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self._as, str(self.bindir / tool), *args], cwd=self.root,
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}{log}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"""
# keepernet tests
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.root}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
""")

    def start(self) -> None:
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log))

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (roll back sessions) or `immediate` (like a crash)."""
        self._run("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data))

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Postgres]:
    cluster = Postgres(postgres_bindir())
    try:
        cluster.init()
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

def redis_binary() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)),
        None)
    if found is None:
        pytest.fail(f"redis-server not found: the apt package `redis-server` is missing; "
                    f"{SETUP_HINT}", pytrace=False)
    return found


class RedisServer:
    """A redis-server of its own (AOF on, fsync every second) in a temporary folder. It keeps
    its port and folder across restarts, so what was persisted comes back."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(tempfile.mkdtemp(prefix="keepernet-redis-"))
        self.log = self.dir / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def ping(self) -> bool:
        try:
            with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1,
                             socket_connect_timeout=1) as client:
                return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False

    def start(self) -> None:
        assert self.proc is None, "already running"
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
             "--daemonize", "no", "--logfile", str(self.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: self._alive() and self.ping(), 30, f"redis-server on {self.port}")
        except TimeoutError as e:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            self.kill()
            raise RuntimeError(f"{e}:\n{log}") from None

    def _alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {self.log.read_text(errors='replace')}")
        return True

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: redis-server writes the AOF out and exits)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """A crash (SIGKILL): writes of the last second may be lost."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, *, crash: bool = False) -> None:
        """Stop (or with crash=True kill) the server and start it again on the same port."""
        if crash:
            self.kill()
        else:
            self.stop()
        self.start()

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_instance() -> Iterator[RedisServer]:
    server = RedisServer(redis_binary())
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
