"""A Redis Sentinel set on loopback for a test: a primary, a replica and three sentinels
(quorum 2), each a `redis-server` of its own in a temporary folder (the sentinels run as
`redis-server <conf> --sentinel`), with short timeouts so that a failover takes seconds.

    with sentinel_set(tmp_path) as redis_set:
        redis_set.url                 # redis+sentinel://127.0.0.1:p1,...:p3/keepernet/0
        redis_set.kill_primary()      # SIGKILL
        redis_set.wait_for_failover() # the replica's address, once a sentinel names it
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from demo.servers import free_port, redis_binary

MASTER = "keepernet"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
READY_WITHIN_S = 30.0


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)


def _wait(check: object, what: str, within_s: float = READY_WITHIN_S) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} not within {within_s} s")


@dataclass
class SentinelSet:
    """The set's processes and ports; see the module's docstring."""

    root: Path
    primary_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{MASTER}/0"

    def _start(self, name: str, args: list[str]) -> None:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        self.processes[name] = subprocess.Popen(
            [redis_binary(), *args, "--dir", str(folder), "--logfile", str(folder / "log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._start("primary", ["--port", str(self.primary_port), *common])
        self._start("replica", ["--port", str(self.replica_port), *common,
                                "--replicaof", "127.0.0.1", str(self.primary_port)])
        _wait(lambda: _client(self.replica_port).info("replication")["master_link_status"]
              == "up", "the replica's link to the primary")
        for i, port in enumerate(self.sentinel_ports):
            conf = self.root / f"sentinel{i}.conf"  # a sentinel rewrites its own file
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {MASTER} 1\n")
            self._start(f"sentinel{i}", [str(conf), "--sentinel"])
        for port in self.sentinel_ports:  # each knows the replica and the other two
            _wait(lambda port=port: len(_client(port).sentinel_slaves(MASTER)) == 1
                  and len(_client(port).sentinel_sentinels(MASTER)) == 2,
                  f"sentinel {port} ready")

    def master_port(self) -> int:
        """The master's port as the first sentinel that answers names it."""
        for port in self.sentinel_ports:
            try:
                _, master = _client(port).sentinel_get_master_addr_by_name(MASTER)
                return int(master)
            except redis.RedisError:
                continue
        raise RuntimeError("no sentinel answered")

    def kill_primary(self) -> None:
        """SIGKILL the primary: no shutdown, no last write."""
        process = self.processes["primary"]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def wait_for_failover(self, within_s: float = 20.0) -> float:
        """Wait until the sentinels name the replica as the master; when (time.monotonic)."""
        _wait(lambda: self.master_port() == self.replica_port, "the failover", within_s)
        return time.monotonic()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@contextmanager
def sentinel_set(root: Path) -> Iterator[SentinelSet]:
    """A started Sentinel set in `root`, stopped (SIGKILL, nothing to keep) on the way out."""
    made = SentinelSet(root)
    try:
        made.start()
        yield made
    finally:
        made.stop()
