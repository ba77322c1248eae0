"""PostgreSQL and Redis servers of the project's own, each in a folder it owns: the demo
runs them in `.keepernet/demo/`, the tests in temporary folders.

`Postgres(root)` is a cluster whose data, socket and log live under `root` (initialized on
first start, reused after); as root it runs as the `postgres` user, since `initdb` refuses
root. `RedisServer(root)` is a redis-server with AOF on (`everysec`), `noeviction`, keeping
its port and folder across restarts so what was persisted comes back. The binaries are
Debian's (apt `postgresql`, `redis-server`); a missing one raises `ServerMissing` naming the
package.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

SETUP_HINT = "`make setup` (or `make test`) installs it"


class ServerMissing(RuntimeError):
    """A server cannot run here: its binary or system user is not installed, or its folder is
    out of its user's reach."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_pair() -> int:
    """A TCP port free on 127.0.0.1 now together with the next one (a localnet's RPC and
    WebSocket ports)."""
    for _ in range(50):
        port = free_port()
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise OSError("no two consecutive free ports on 127.0.0.1")


def _wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not come up within {timeout_s} s")
        time.sleep(0.05)


# ---- PostgreSQL ---------------------------------------------------------------------------------

def _check_reachable(folder: Path, user: str) -> None:
    """ServerMissing unless every folder above `folder` lets others through (mode o+x): the
    server runs as `user`, who owns only `folder` itself."""
    for parent in folder.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise ServerMissing(f"PostgreSQL runs as the `{user}` user (initdb refuses root), "
                                f"who cannot reach {folder}: {parent} lets no one else "
                                f"through; choose a data folder elsewhere (under /tmp, say) "
                                f"or `chmod o+x {parent}`")


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
    raise ServerMissing("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
                        "$KEEPERNET_PG_BINDIR, /usr/lib/postgresql/*/bin or PATH: the apt "
                        f"package `postgresql` is missing; {SETUP_HINT}")


class Postgres:
    """A PostgreSQL cluster of its own: data, socket and log under `root`, on `port` (a free
    one by default)."""

    def __init__(self, root: Path, port: int | None = None, bindir: Path | None = None) -> None:
        self.bindir = bindir or postgres_bindir()
        self.port = port or free_port()
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            # initdb and postgres refuse root: the folder goes to the postgres user
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServerMissing("running as root, but there is no `postgres` user to "
                                    "run PostgreSQL as; the apt package `postgresql` "
                                    f"creates it ({SETUP_HINT})") from None
            _check_reachable(root, user.pw_name)
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
        """Start the cluster (initialized first if its folder holds none yet) on `port`."""
        if not (self.data / "PG_VERSION").exists():
            self.init()
        self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
                  "-o", f"-p {self.port}")

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


# ---- Redis ---------------------------------------------------------------------------------------

def redis_binary() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)),
        None)
    if found is None:
        raise ServerMissing(f"redis-server not found: the apt package `redis-server` is "
                            f"missing; {SETUP_HINT}")
    return found


class RedisServer:
    """A redis-server of its own (AOF on, fsync every second) in a temporary folder. It keeps
    its port and folder across restarts, so what was persisted comes back."""

    def __init__(self, root: Path, port: int | None = None, binary: str | None = None) -> None:
        self.binary = binary or redis_binary()
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = root
        root.mkdir(parents=True, exist_ok=True)
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
             "--maxmemory-policy", "noeviction",
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


