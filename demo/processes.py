"""The demo's child processes: each `keepernet` command it starts, with its output in a log
file, stopped gently (SIGTERM: a worker lets its running jobs finish) and killed if it does
not go."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from demo.servers import free_port, free_port_pair

STOP_TIMEOUT_S = 30.0


class ProcessFailed(RuntimeError):
    """A child exited before it should have; the message ends with its log's tail."""


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    log: IO[bytes]

    def tail(self, lines: int = 20) -> str:
        self.log.flush()
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def check_running(self) -> None:
        """ProcessFailed when the child has exited."""
        code = self.process.returncode
        if code is not None:
            raise ProcessFailed(f"{self.name} exited with status {code}:\n{self.tail()}")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.log.close()


async def start(name: str, args: Sequence[str], logs: Path,
                env: Mapping[str, str] | None = None) -> Child:
    """`keepernet <args>` (this interpreter's), its stdout and stderr in `logs/<name>.log`."""
    log_path = logs / f"{name}.log"
    log = log_path.open("wb")  # this run's output only: a ready line must be fresh
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=log, stderr=asyncio.subprocess.STDOUT,
        env=dict(env) if env is not None else None)
    return Child(name, process, log_path, log)


async def wait_for_line(child: Child, needle: str, timeout_s: float) -> str:
    """The first line of `child`'s log holding `needle`; ProcessFailed if it exits or the
    line does not come within `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        child.log.flush()
        for line in child.log_path.read_text(errors="replace").splitlines():
            if needle in line:
                return line
        child.check_running()
        if asyncio.get_running_loop().time() > deadline:
            raise ProcessFailed(f"{child.name} did not say {needle!r} within {timeout_s:.0f} s:"
                                f"\n{child.tail()}")
        await asyncio.sleep(0.1)


async def stop_all(children: Sequence[Child]) -> None:
    """Stop every child, all at once, whatever happens to one."""
    with contextlib.suppress(Exception):
        await asyncio.gather(*(c.stop() for c in children), return_exceptions=True)


PORT_ATTEMPTS = 3
LOCALNET_READY_S = 120.0
WORKER_READY_S = 60.0

Command = Callable[[int], tuple[Sequence[str], Mapping[str, str] | None]]


async def start_on_free_port(name: str, command: Command, logs: Path, *,
                             pick: Callable[[], int], ready: str, taken: str,
                             ready_s: float) -> tuple[Child, int]:
    """`keepernet <args>` for `command(port)` on a port `pick` finds free, once its log says
    `ready`, and the port. A port found free can be taken before the child binds it (by another
    process's connection): when its failure says `taken`, it starts again on another port."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        port = pick()
        args, env = command(port)
        child = await start(name, args, logs, env)
        try:
            await wait_for_line(child, ready, ready_s)
        except ProcessFailed as e:
            await child.stop()
            if taken in str(e) and attempt < PORT_ATTEMPTS:
                continue
            raise
        return child, port
    raise ProcessFailed(f"{name} found no free port in {PORT_ATTEMPTS} attempts")


async def start_localnet(logs: Path, keys: Path,
                         options: Sequence[str] = ()) -> tuple[Child, int]:
    """`keepernet localnet` on free ports (RPC and WebSocket), with `options`, once it says it
    is ready, and its RPC port."""
    return await start_on_free_port(
        "localnet", lambda port: (["localnet", "--port", str(port), "--keys", str(keys),
                                   *options], None),
        logs, pick=free_port_pair, ready="localnet ready", taken="address already in use",
        ready_s=LOCALNET_READY_S)


async def start_worker(role: str, logs: Path,
                       env: Callable[[int], Mapping[str, str]]) -> tuple[Child, int]:
    """`keepernet worker <role>` with `env(port)` serving its metrics on a free port, once it
    has started, and the port."""
    return await start_on_free_port(
        role, lambda port: (["worker", role], env(port)), logs, pick=free_port,
        ready="worker started", taken="KEEPERNET_METRICS_PORT", ready_s=WORKER_READY_S)
