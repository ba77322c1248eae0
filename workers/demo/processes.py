"""The demo's child processes: each `keepernet` command it starts, with its output in a log
file, stopped gently (SIGTERM: a worker lets its running jobs finish) and killed if it does
not go."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from workers.demo.servers import free_port_pair

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


LOCALNET_ATTEMPTS = 3
LOCALNET_READY_S = 120.0


async def start_localnet(logs: Path, keys: Path) -> tuple[Child, int]:
    """`keepernet localnet` on free ports, once it says it is ready, and its RPC port. A port
    found free can be taken before the localnet binds it (by another process's connection):
    then it starts again on other ports."""
    for attempt in range(1, LOCALNET_ATTEMPTS + 1):
        port = free_port_pair()
        child = await start("localnet", ["localnet", "--port", str(port), "--keys", str(keys)],
                            logs)
        try:
            await wait_for_line(child, "localnet ready", LOCALNET_READY_S)
        except ProcessFailed as e:
            await child.stop()
            if "address already in use" in str(e) and attempt < LOCALNET_ATTEMPTS:
                continue
            raise
        return child, port
    raise ProcessFailed(f"the localnet found no free ports in {LOCALNET_ATTEMPTS} attempts")
