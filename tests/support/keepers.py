"""Keeper processes for the tests: real `keepernet worker <role>` processes, started and
stopped (or killed) by the test, each with its own environment (`keeper_env`) and key file
(`keypair_file`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from solders.keypair import Keypair

from chain.localnet import Localnet

STOP_TIMEOUT_S = 20


def keypair_file(keypair: Keypair, folder: Path) -> Path:
    """`keypair` written where a worker reads it: folder/keeper.json, readable by its owner
    only (the settings refuse anything else)."""
    path = folder / "keeper.json"
    path.write_text(json.dumps(list(bytes(keypair))))
    path.chmod(0o600)
    return path


def rpc_urls(net: Localnet, customer: str) -> str:
    """A keeper's KEEPERNET_RPC_URLS for `net`: under a hosted profile a customer of its own
    (`customer` its api-key, as a provider's plan per instance), pacing itself to the plan's
    rate as an operator configures it; else the node itself, unpaced."""
    if net.profile is None:
        return f"local={net.url} max_rps=10000"
    return f"local={net.url}/?api-key={customer} max_rps={net.profile.rps:g}"


def keeper_env(*, rpc_urls: str, database_url: str, redis_url: str, program_id: object,
               keypair: Path, **settings: str) -> dict[str, str]:
    """A worker's environment: these servers and key, no metrics port unless `settings` give
    one, and any other KEEPERNET_ setting by its name without the prefix
    (`SCAN_INTERVAL_S="2"`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPERNET_")}
    env.update(KEEPERNET_RPC_URLS=rpc_urls, KEEPERNET_DATABASE_URL=database_url,
               KEEPERNET_REDIS_URL=redis_url, KEEPERNET_PROGRAM_ID=str(program_id),
               KEEPERNET_KEYPAIR=str(keypair), KEEPERNET_CU_PRICE_MICRO_LAMPORTS="0",
               KEEPERNET_METRICS_PORT="0")
    env.update({f"KEEPERNET_{name}": value for name, value in settings.items()})
    return env


@dataclass
class Fleet:
    """The worker processes a test started; `stop_all` ends those still running."""

    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    killed: int = 0

    async def start(self, role: str, env: dict[str, str], *,
                    log: Path | None = None) -> asyncio.subprocess.Process:
        """A worker of `role`; its JSON log lines (stderr) into the file `log`, if given."""
        with open(log or os.devnull, "wb") as stderr:  # the child keeps its own descriptor
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "workers.cli", "worker", role, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=stderr)
        self.processes.append(process)
        return process

    async def kill(self, process: asyncio.subprocess.Process) -> None:
        """SIGKILL: no shutdown, no result written, its in-progress keys left behind."""
        process.kill()
        await process.wait()
        self.processes.remove(process)
        self.killed += 1

    async def stop_all(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
        self.processes.clear()

    def running(self) -> list[asyncio.subprocess.Process]:
        return [p for p in self.processes if p.returncode is None]


async def stored_events(dsn: str) -> list[tuple[str, int, str]]:
    """(signature, event index, name) of every event the indexer stored."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT signature, event_index, name FROM events")
    finally:
        await conn.close()
    return [(r["signature"], r["event_index"], r["name"]) for r in rows]
