"""`keepernet localnet`: Solana JSON-RPC and WebSocket subscriptions over LiteSVM.

`run_localnet()` starts one in-process for tests; `serve()` runs one until cancelled (the CLI).
Modules: `ledger` (slot clock and history), `rpc` (the JSON-RPC methods), `server` (HTTP and
WebSocket), `hosted` (a hosted provider's limits, the `hosted` profile), `bootstrap` (genesis:
program, mint, vault, config, wallets), `tokens` (the token queries), `token_state` (token
accounts and mints decoded), `parsed` and `instruction_parsers` (the jsonParsed encoding of
transactions).
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.localnet.bootstrap import Genesis, bootstrap
from chain.localnet.hosted import FROM_ENV, FromEnv, HostedProfile, default_profile
from chain.localnet.ledger import FINALIZE_SLOTS, SLOT_SECONDS, Ledger
from chain.localnet.server import HOST, LocalnetServer
from program.client import Client, Deployment
from program.local import LocalProtocol, Wallet

DEFAULT_PORT = 8899


@dataclass(frozen=True)
class Localnet:
    """A running localnet: where it listens, the protocol's addresses and the wallets; under a
    hosted `profile`, `url` meets its limits and `operator_url` does not."""

    url: str
    ws_url: str
    genesis: Genesis
    profile: HostedProfile | None = None

    @property
    def operator_url(self) -> str:
        """`url`, with the operator's key under a hosted profile: for seeding and checks."""
        if self.profile is None:
            return self.url
        return f"{self.url}/?api-key={self.profile.operator_key}"

    @property
    def protocol(self) -> LocalProtocol:
        return self.genesis.protocol

    @property
    def ledger(self) -> Ledger:
        return self.genesis.ledger

    @property
    def deployment(self) -> Deployment:
        return self.genesis.protocol.d

    @property
    def program_id(self) -> Pubkey:
        return self.genesis.protocol.d.program_id

    @property
    def client(self) -> Client:
        """Builds the program's instructions for this deployment."""
        return self.genesis.protocol.client

    @property
    def admin(self) -> Keypair:
        return self.genesis.protocol.admin

    @property
    def keepers(self) -> list[Wallet]:
        return self.genesis.keepers

    @property
    def users(self) -> list[Wallet]:
        return self.genesis.users

    @property
    def keys_dir(self) -> Path:
        return self.genesis.keys_dir

    def ready_line(self) -> str:
        line = (f"keepernet localnet ready: rpc {self.url} ws {self.ws_url} "
                f"program {self.program_id} keys {self.keys_dir}")
        return line if self.profile is None else f"{line}; {self.profile.describe()}"


# milliseconds per slot, and slots to finalization, of a localnet not told otherwise: the test
# suite sets them so that every localnet its tests start, in-process or as `keepernet
# localnet`/`demo`, runs fast slots and finalizes a send soon after it is confirmed
SLOT_MS_ENV = "KEEPERNET_LOCALNET_SLOT_MS"
FINALIZE_SLOTS_ENV = "KEEPERNET_LOCALNET_FINALIZE_SLOTS"


def default_slot_seconds() -> float:
    """SLOT_SECONDS (a cluster's), or the milliseconds SLOT_MS_ENV gives when it is set."""
    text = os.environ.get(SLOT_MS_ENV)
    if not text:
        return SLOT_SECONDS
    try:
        ms = float(text)
    except ValueError:
        ms = 0.0
    if not ms > 0:
        raise ValueError(f"{SLOT_MS_ENV} must be milliseconds > 0, not {text!r}")
    return ms / 1000


def default_finalize_slots() -> int:
    """FINALIZE_SLOTS (a cluster's 32), or the slots FINALIZE_SLOTS_ENV gives when it is set."""
    text = os.environ.get(FINALIZE_SLOTS_ENV)
    if not text:
        return FINALIZE_SLOTS
    try:
        slots = int(text)
    except ValueError:
        slots = 0
    if slots < 1:
        raise ValueError(f"{FINALIZE_SLOTS_ENV} must be a whole number of slots >= 1, "
                         f"not {text!r}")
    return slots


@asynccontextmanager
async def run_localnet(port: int = DEFAULT_PORT, keys_dir: Path | None = None, *,
                       host: str = HOST, slot_seconds: float | None = None,
                       finalize_slots: int | None = None,
                       profile: HostedProfile | FromEnv | None = FROM_ENV
                       ) -> AsyncIterator[Localnet]:
    """Start a localnet on `host`:`port` (WebSocket on `port + 1`; 127.0.0.1 unless told) and
    stop it on exit. Without `keys_dir` the keypairs live in a temporary folder removed on
    exit. The URLs it gives are 127.0.0.1's either way. A slot lasts `slot_seconds`
    (`default_slot_seconds()` unless told) and is finalized `finalize_slots` later
    (`default_finalize_slots()` unless told); it serves under a hosted provider's `profile`
    (`default_profile()`'s unless told; None: a validator's, no limits)."""
    if slot_seconds is None:
        slot_seconds = default_slot_seconds()
    if finalize_slots is None:
        finalize_slots = default_finalize_slots()
    if isinstance(profile, FromEnv):
        profile = default_profile()
    with tempfile.TemporaryDirectory(prefix="keepernet-localnet-") as tmp:
        genesis = bootstrap(keys_dir if keys_dir is not None else Path(tmp),
                            slot_seconds=slot_seconds, finalize_slots=finalize_slots)
        server = LocalnetServer(genesis.ledger, genesis.faucet, profile)
        await server.start(port, host)
        try:
            yield Localnet(f"http://{HOST}:{port}", f"ws://{HOST}:{port + 1}", genesis, profile)
        finally:
            await server.stop()


async def serve(port: int = DEFAULT_PORT, keys_dir: Path | None = None, *,
                host: str = HOST, slot_seconds: float | None = None,
                finalize_slots: int | None = None,
                profile: HostedProfile | FromEnv | None = FROM_ENV) -> None:
    """Run a localnet until SIGINT or SIGTERM, printing one line when it is ready."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # shut down cleanly when told to
        loop.add_signal_handler(signum, stop.set)
    async with run_localnet(port, keys_dir, host=host, slot_seconds=slot_seconds,
                            finalize_slots=finalize_slots, profile=profile) as net:
        print(net.ready_line(), flush=True)
        await stop.wait()


__all__ = ["DEFAULT_PORT", "FINALIZE_SLOTS_ENV", "SLOT_MS_ENV", "HostedProfile", "Localnet",
           "default_finalize_slots", "default_slot_seconds", "run_localnet", "serve"]
