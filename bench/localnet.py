"""Throughput of the localnet through solana-py: `python -m bench.localnet`.

Starts `keepernet localnet` as a separate process (a free port, a temporary keys folder),
waits for its ready line, then drives it from this process with solana-py's `AsyncClient`:

- `getAccountInfo` requests per second from `--callers` concurrent callers, against the
  baseline of `getHealth` (the server's bare request/response cost) driven the same way;
- transactions per second, sent and confirmed: independent system transfers between the
  genesis wallets sent concurrently with `skipPreflight` by `--senders` tasks, confirmed by
  polling `getSignatureStatuses` in batches and counted when confirmed; the baseline is one
  sequential sender that sends, then polls until its transaction is confirmed.

The client is the measuring instrument and must cost less than what it measures. httpx, which
solana-py sends with, spends 1-3 ms of CPU per request at this concurrency (its connection
pool scans every connection per request, and without `sniffio` installed httpcore retries a
failed import per request), more than the localnet spends answering; on a 2-core machine that
measures the client. So by default the `AsyncClient` sends through an httpx transport backed by
aiohttp (`--transport aiohttp`): solana-py builds every request and parses every answer as
usual, only the HTTP exchange is cheaper. `--transport httpx` measures the stock client.

Reads are driven from `--client-processes` processes (2 by default), each with its share of
the callers, all counting inside one wall-clock window: one Python process parsing answers
with solana-py saturates a core before the localnet does.

Subscriptions are on throughout, as a client's or indexer's would be: a listener process keeps
one WebSocket with slot, root, logs (all), program (the system program, which every transfer
writes), block (all) and account (each wallet) subscriptions and reads every notification;
how many is printed beside the table. `--no-subscriptions` leaves it off.

Each figure is measured over `--seconds` after a short warm-up, and the baselines in the same
run, so the ratios hold on any machine. Prints one table and writes bench/results/localnet.json.
`--profile FILE` runs the server under cProfile and writes its profile to FILE on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import websockets
from solana.rpc.async_api import AsyncClient
from solana.rpc.types import TxOpts
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from demo.servers import free_port_pair
from patches.solana_http import send_through_aiohttp

ROOT = Path(__file__).resolve().parent.parent
RESULTS_PATH = ROOT / "bench" / "results" / "localnet.json"
# Issue targets, on the project's 2-core machine.
TARGET_ACCOUNT_INFO_PER_S = 2_000
TARGET_TX_PER_S = 500
READY_PREFIX = "keepernet localnet ready:"
READY_TIMEOUT_S = 120.0
WARMUP_S = 0.5
STATUS_BATCH = 256  # the most getSignatureStatuses takes at once
WALLETS = ["admin", "keeper-1", "keeper-2", "user-1", "user-2", "user-3"]
SEND_OPTS = TxOpts(skip_preflight=True, skip_confirmation=True)
SYSTEM_PROGRAM = "11111111111111111111111111111111"


@dataclass
class Server:
    """The localnet process."""

    process: asyncio.subprocess.Process
    url: str
    ws_url: str
    keys_dir: Path
    program_id: Pubkey

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(2)  # SIGINT: a clean shutdown (cProfile writes its file)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def start_server(keys_dir: Path, profile: Path | None, log: Path) -> Server:
    port = free_port_pair()
    prefix = [sys.executable] + (["-m", "cProfile", "-o", str(profile)] if profile else [])
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *prefix, "-m", "workers.cli", "localnet", "--port", str(port), "--keys",
            str(keys_dir), cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None

    async def ready_line() -> str:
        assert process.stdout is not None
        while line := (await process.stdout.readline()).decode():
            if line.startswith(READY_PREFIX):
                return line
        raise RuntimeError("the localnet exited before it was ready:\n" + log.read_text())

    try:
        line = await asyncio.wait_for(ready_line(), READY_TIMEOUT_S)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    words = line.split()
    return Server(process, words[words.index("rpc") + 1], words[words.index("ws") + 1], keys_dir,
                  Pubkey.from_string(words[words.index("program") + 1]))


def rpc_client(url: str, transport: str, timeout_s: float = 30) -> AsyncClient:
    """solana-py's client, sending through `transport` ("aiohttp" or its own "httpx")."""
    client = AsyncClient(url, timeout=timeout_s)
    return send_through_aiohttp(client, timeout_s) if transport == "aiohttp" else client


def load_keypair(path: Path) -> Keypair:
    return Keypair.from_bytes(bytes(json.loads(path.read_text())))


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) that process `pid` has used, where /proc tells."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Figure:
    per_second: float
    server_cpu_us: float | None  # the server's CPU time per operation counted


@dataclass
class Tally:
    """Operations counted inside the measuring window only."""

    counting: bool = False
    stop: bool = False
    count: int = 0

    def add(self) -> None:
        if self.counting:
            self.count += 1

    async def window(self, seconds: float, server_pid: int) -> Figure:
        """Warm up, then count over `seconds`; then tell the workers to stop."""
        await asyncio.sleep(WARMUP_S)
        cpu0 = process_cpu_s(server_pid)
        self.counting = True
        started = time.perf_counter()
        await asyncio.sleep(seconds)
        self.counting = False
        elapsed = time.perf_counter() - started
        cpu1 = process_cpu_s(server_pid)
        self.stop = True
        cpu_us = None if cpu0 is None or cpu1 is None or not self.count \
            else (cpu1 - cpu0) / self.count * 1e6
        return Figure(self.count / elapsed, cpu_us)


async def rate(callers: int, seconds: float, server_pid: int,
               call: Callable[[], Awaitable[object]]) -> Figure:
    """Calls per second that `callers` concurrent loops of `call` complete over `seconds`,
    after a warm-up."""
    tally = Tally()

    async def loop() -> None:
        while not tally.stop:
            await call()
            tally.add()

    tasks = [asyncio.create_task(loop()) for _ in range(callers)]
    try:
        figure = await tally.window(seconds, server_pid)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    return figure


# Client processes need time to start (imports) before the shared window opens.
PROCESS_START_S = 4.0


def count_reads(url: str, transport: str, method: str, account: str, callers: int,
                start_at: float, seconds: float) -> int:
    """In a client process: `callers` loops of `method` (getHealth or getAccountInfo of
    `account`), counting the calls that complete inside [start_at, start_at + seconds)."""

    async def run() -> int:
        count = 0
        end_at = start_at + seconds
        async with rpc_client(url, transport) as client:
            key = Pubkey.from_string(account)
            call: Callable[[], Awaitable[object]] = (
                client.is_connected if method == "getHealth"
                else lambda: client.get_account_info(key))

            async def loop() -> None:
                nonlocal count
                while time.time() < end_at:
                    await call()
                    if start_at <= time.time() < end_at:
                        count += 1

            await asyncio.gather(*(loop() for _ in range(callers)))
        return count

    return asyncio.run(run())


async def rate_from_processes(args: argparse.Namespace, url: str, server_pid: int, method: str,
                              account: Pubkey) -> Figure:
    """Calls per second of `method` from args.client_processes processes in one window."""
    processes = args.client_processes
    start_at = time.time() + PROCESS_START_S
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
        counts = [loop.run_in_executor(pool, count_reads, url, args.transport, method,
                                       str(account), max(1, args.callers // processes),
                                       start_at, args.seconds) for _ in range(processes)]
        await asyncio.sleep(max(0.0, start_at - time.time()))
        cpu0 = process_cpu_s(server_pid)
        await asyncio.sleep(args.seconds)
        cpu1 = process_cpu_s(server_pid)
        total = sum(await asyncio.gather(*counts))
    cpu_us = None if cpu0 is None or cpu1 is None or not total else (cpu1 - cpu0) / total * 1e6
    return Figure(total / args.seconds, cpu_us)


def subscriptions(wallets: list[str]) -> list[tuple[str, list[Any]]]:
    """What the listener subscribes to: a client's and an indexer's usual subscriptions."""
    confirmed = {"commitment": "confirmed"}
    return [("slotSubscribe", []), ("rootSubscribe", []),
            ("logsSubscribe", ["all", confirmed]),
            ("programSubscribe", [SYSTEM_PROGRAM, {"encoding": "base64", **confirmed}]),
            ("blockSubscribe", ["all", {"transactionDetails": "signatures", **confirmed}]),
            *(("accountSubscribe", [w, {"encoding": "base64", **confirmed}])
              for w in wallets)]


def listen(ws_url: str, wallets: list[str], ready: threading.Event, stop: threading.Event) -> int:
    """In the listener process: subscribe, set `ready`, read notifications until `stop`;
    how many were read."""

    async def run() -> int:
        async with websockets.connect(ws_url, max_size=None) as ws:
            wanted = subscriptions(wallets)
            for n, (method, params) in enumerate(wanted):
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": n, "method": method,
                                          "params": params}))
            answered = 0
            while answered < len(wanted):
                answer = json.loads(await ws.recv())
                if "error" in answer:
                    raise RuntimeError(f"subscription refused: {answer}")
                answered += "id" in answer
            ready.set()
            count = 0
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ws.recv(), 0.2)
                    count += 1
            return count

    return asyncio.run(run())


class Transfers:
    """Independent signed transfers between the genesis wallets: each one moves a different
    number of lamports, so no two share a signature."""

    def __init__(self, wallets: list[Keypair], blockhash: Hash) -> None:
        self.wallets = wallets
        self.blockhash = blockhash
        self.n = 0

    def next(self) -> bytes:
        self.n += 1
        payer = self.wallets[self.n % len(self.wallets)]
        to = self.wallets[(self.n + 1) % len(self.wallets)].pubkey()
        ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=self.n))
        message = Message.new_with_blockhash([ix], payer.pubkey(), self.blockhash)
        return bytes(VersionedTransaction(message, [payer]))


async def sequential_tx_rate(client: AsyncClient, transfers: Transfers, seconds: float,
                             server_pid: int) -> Figure:
    """One sender: send, poll until confirmed, repeat."""

    async def send_and_confirm() -> None:
        signature = (await client.send_raw_transaction(transfers.next(), SEND_OPTS)).value
        while True:
            status = (await client.get_signature_statuses([signature])).value[0]
            if status is not None:
                if status.err is not None:
                    raise RuntimeError(f"transfer failed: {status.err}")
                return

    return await rate(1, seconds, server_pid, send_and_confirm)


async def concurrent_tx_rate(client: AsyncClient, transfers: Transfers, senders: int,
                             seconds: float, server_pid: int, max_pending: int = 2048) -> Figure:
    """`senders` tasks send; two confirmers poll the pending signatures in batches; a
    transfer counts when confirmed inside the window."""
    pending: list[Signature] = []
    room = asyncio.Semaphore(max_pending)  # bounds sent-but-unconfirmed transactions
    tally = Tally()
    failed: list[object] = []

    async def send() -> None:
        while not tally.stop:
            await room.acquire()
            pending.append((await client.send_raw_transaction(transfers.next(),
                                                              SEND_OPTS)).value)

    async def confirm() -> None:
        while not (tally.stop and not pending):
            if not pending:
                await asyncio.sleep(0.002)
                continue
            batch = pending[:STATUS_BATCH]
            del pending[:STATUS_BATCH]
            statuses = (await client.get_signature_statuses(batch)).value
            for signature, status in zip(batch, statuses, strict=True):
                if status is None:
                    pending.append(signature)
                    continue
                room.release()
                if status.err is not None:
                    failed.append(status.err)
                else:
                    tally.add()

    tasks = [asyncio.create_task(send()) for _ in range(senders)]
    tasks += [asyncio.create_task(confirm()) for _ in range(2)]
    try:
        figure = await tally.window(seconds, server_pid)
        for _ in range(senders):  # unblock senders waiting for room
            room.release()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    finally:
        for task in tasks:
            task.cancel()
    if failed:
        raise RuntimeError(f"{len(failed)} transfers failed, e.g. {failed[0]}")
    return figure


@dataclass(frozen=True)
class Row:
    name: str
    figure: Figure
    baseline_name: str
    baseline: Figure
    target: int

    @property
    def ratio(self) -> float:
        return self.figure.per_second / self.baseline.per_second

    @property
    def met(self) -> bool:
        return self.figure.per_second >= self.target


async def measure(args: argparse.Namespace) -> tuple[list[Row], int | None]:
    """The rows, and how many notifications the listener read (None when off)."""
    with tempfile.TemporaryDirectory(prefix="keepernet-bench-") as tmp, \
            ProcessPoolExecutor(1, mp_context=get_context("spawn")) as listener:
        server = await start_server(Path(tmp) / "keys", args.profile, Path(tmp) / "server.log")
        pid = server.process.pid
        manager = get_context("spawn").Manager()
        ready, stop = manager.Event(), manager.Event()
        heard: asyncio.Future[int] | None = None
        try:
            wallets = [load_keypair(server.keys_dir / f"{name}.json") for name in WALLETS]
            if args.subscriptions:
                heard = asyncio.get_running_loop().run_in_executor(
                    listener, listen, server.ws_url, [str(w.pubkey()) for w in wallets],
                    ready, stop)
                while not ready.is_set():
                    if heard.done():
                        heard.result()  # raises what stopped it
                    await asyncio.sleep(0.05)
            async with rpc_client(server.url, args.transport) as client:
                config = Pubkey.find_program_address([b"config"], server.program_id)[0]
                if (await client.get_account_info(config)).value is None:
                    raise RuntimeError(f"no config account at {config}")
                health = await rate_from_processes(args, server.url, pid, "getHealth", config)
                account_info = await rate_from_processes(args, server.url, pid,
                                                         "getAccountInfo", config)
                blockhash = (await client.get_latest_blockhash()).value.blockhash
                transfers = Transfers(wallets, blockhash)
                sequential = await sequential_tx_rate(client, transfers, args.seconds, pid)
                concurrent = await concurrent_tx_rate(client, transfers, args.senders,
                                                      args.seconds, pid)
            stop.set()
            notifications = None if heard is None else await heard
        finally:
            stop.set()
            await server.stop()
            manager.shutdown()
    return [
        Row(f"getAccountInfo ({args.callers} callers)", account_info,
            f"getHealth ({args.callers} callers)", health, TARGET_ACCOUNT_INFO_PER_S),
        Row(f"transfers sent + confirmed ({args.senders} senders)", concurrent,
            "one sequential sender", sequential, TARGET_TX_PER_S),
    ], notifications


def _us(figure: Figure) -> str:
    return "?" if figure.server_cpu_us is None else f"{figure.server_cpu_us:,.0f}"


def table(rows: list[Row]) -> str:
    out = ["| measure | per second | server CPU µs/op | baseline | per second | "
           "server CPU µs/op | ratio | target | met |",
           "|---|---:|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r.name} | {r.figure.per_second:,.0f} | {_us(r.figure)} | "
                   f"{r.baseline_name} | {r.baseline.per_second:,.0f} | {_us(r.baseline)} | "
                   f"{r.ratio:.2f}x | ≥ {r.target:,} | {'yes' if r.met else 'NO'} |")
    return "\n".join(out)


def _json(figure: Figure) -> dict[str, float | None]:
    return {"per_second": round(figure.per_second, 1),
            "server_cpu_us": None if figure.server_cpu_us is None
            else round(figure.server_cpu_us, 1)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.localnet", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each measure")
    parser.add_argument("--callers", type=int, default=32, help="concurrent getAccountInfo")
    parser.add_argument("--senders", type=int, default=32, help="concurrent senders")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="processes the reads are driven from (default 2)")
    parser.add_argument("--transport", choices=("aiohttp", "httpx"), default="aiohttp",
                        help="how solana-py's client sends HTTP (see above)")
    parser.add_argument("--profile", type=Path, help="run the server under cProfile")
    parser.add_argument("--no-subscriptions", dest="subscriptions", action="store_false",
                        help="no WebSocket listener (see above)")
    args = parser.parse_args(argv)
    rows, notifications = asyncio.run(measure(args))
    heard = "no subscriptions" if notifications is None \
        else f"a subscriber read {notifications:,} notifications"
    print(f"localnet in its own process; solana-py AsyncClient over {args.transport}; "
          f"{os.cpu_count()} CPUs; {heard}")
    print(table(rows))
    RESULTS_PATH.parent.mkdir(exist_ok=True)
    RESULTS_PATH.write_text(json.dumps({
        "seconds": args.seconds,
        "transport": args.transport,
        "notifications": notifications,
        "results": [{"measure": r.name, **_json(r.figure), "baseline": r.baseline_name,
                     "baseline_figure": _json(r.baseline), "ratio": round(r.ratio, 3),
                     "target": r.target, "met": r.met}
                    for r in rows]}, indent=2) + "\n")
    return 0 if all(r.met for r in rows) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
