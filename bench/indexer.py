"""Indexer catch-up: `python -m bench.indexer`.

Starts what the demo starts (`demo.run.servers`: Redis and PostgreSQL of its own, the
database created and migrated) and a localnet with the program in a process of its own, then
for each size of `--sizes` (10k, 30k and 100k events; `--quick` 10k) seeds program events up to
that many through real transactions over JSON-RPC — traders each send transactions of
`--per-tx` `deposit` instructions, one `Deposited` event each (12 by default: past about 15 the
runtime's 10 kB log limit truncates the logs, and events with them) — and then, each into a
fresh database, measures from empty to caught up:

- real: `jobs.indexer.index_events` as the indexer role runs it (one run, its default batch
  size and concurrency, `finalized` reads): signatures paged backwards, getTransaction in
  parallel, each batch written with its cursor in one PostgreSQL transaction;
- baseline: a naive indexer written here as common indexers are: the signatures, then one
  getTransaction at a time, then one INSERT per event, each in its own transaction (the
  cursor moved after each transaction's events).

Both decode with the same code (`jobs.indexing.transaction_events`) and talk to the localnet
through the same `RpcClient`, into fresh databases of the same cluster; each must store
exactly the events seeded (checked), else the run fails. The figure is events per second from
the first RPC call to the last commit: the median of `--repeats` runs (3) for the real indexer,
one run for the naive one (7-9 times as long). `--profile` runs the real indexer under cProfile and
prints where its time goes (the localnet's own time is in another process: its CPU seconds
during the run are reported beside).

Writes bench/results/indexer.json in the shape of bench/report.py. The servers' data and the
localnet's log are in bench/results/indexer/ (kept for a look after a failure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import logging
import os
import pstats
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from solana.rpc.types import TxOpts
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from bench.report import BenchResult, Figure, conclude
from chain.client import Endpoint, RpcClient
from chain.localnet.seed import IN_FLIGHT, Seeder
from chain.publisher import Feed, Publisher
from demo import processes
from demo.run import servers
from demo.scenario import POOL, START_PRICE
from demo.servers import free_port_pair
from jobs.indexer import index_events
from jobs.indexing import MAX_SIGNATURES_PER_PAGE, SignatureInfo, event_parser, transaction_events
from jobs.outcome import Outcome
from program.client import PerpMarketParams
from store.migrate import migrate

ROOT = Path(__file__).resolve().parent.parent
DATA_PATH = ROOT / "bench" / "results" / "indexer"
TARGET_PER_S = 20_000  # issue 7: events per second, the real indexer
TARGET_RATIO = 5.0  # and at least this many times the naive one
SIZES = (10_000, 30_000, 100_000)
QUICK_SIZES = (10_000,)
READY_TIMEOUT_S = 120.0
DEPOSIT = 1_000  # quote units per deposit (plus a unit per event of a trader's, so that
# no two of its transactions are the same)
TXS_PER_TRADER = 20


@dataclass(frozen=True)
class Fixed:
    """A price scenario that never moves."""

    price_e6: int

    def price_at(self, t_s: float) -> int:
        return self.price_e6


async def perp_market(seeder: Seeder, rpc_url: str) -> Pubkey:
    """A perp market to deposit into (its creation is one event too)."""
    oracle = Keypair().pubkey()
    publisher = Publisher(rpc_url, [Feed(oracle, Fixed(START_PRICE))])
    try:
        await publisher.publish(0.0)  # create_perp_market wants a Pyth account as oracle
    finally:
        await publisher.close()
    return await seeder.perp_market(1, oracle, PerpMarketParams(), POOL)


async def seed_events(seeder: Seeder, perp: Pubkey, events: int, per_tx: int) -> int:
    """`events` Deposited events in transactions of `per_tx`, by new traders; how many."""
    txs = -(-events // per_tx)
    traders = await seeder.traders(-(-txs // TXS_PER_TRADER),
                                   DEPOSIT * per_tx * TXS_PER_TRADER * 2)
    batches: list[tuple[list[Instruction], Sequence[Keypair]]] = []
    sent = 0
    for t in range(txs):
        wallet = traders[t // TXS_PER_TRADER]
        n = min(per_tx, events - sent)
        ixs = [seeder.program.deposit(wallet.key, perp, wallet.token,
                                      DEPOSIT + (t % TXS_PER_TRADER) * per_tx + i)
               for i in range(n)]
        batches.append((ixs, [wallet.kp]))
        sent += n
    await send_unchecked(seeder, batches)
    return sent


async def send_unchecked(seeder: Seeder, batches: Sequence[tuple[list[Instruction],
                                                                 Sequence[Keypair]]]) -> None:
    """Like `Seeder.send_all`, without the preflight simulation (half the localnet's work per
    transaction): a transaction that fails lands failed, its events missing, and the count
    check after indexing says so."""
    for start in range(0, len(batches), IN_FLIGHT):
        blockhash = (await seeder.client.get_latest_blockhash()).value.blockhash
        await asyncio.gather(*(
            seeder.client.send_raw_transaction(
                bytes(Transaction(list(signers), Message.new_with_blockhash(
                    ixs, signers[0].pubkey(), blockhash), blockhash)),
                opts=TxOpts(skip_preflight=True))
            for ixs, signers in batches[start:start + IN_FLIGHT]))


# ---- the naive indexer --------------------------------------------------------------------------

_INSERT_EVENT = """
INSERT INTO events (signature, event_index, slot, block_time, name, data)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
ON CONFLICT (signature, event_index) DO NOTHING"""
_UPSERT_CURSOR = """
INSERT INTO cursors (name, signature, slot, updated_at) VALUES ('events', $1, $2, now())
ON CONFLICT (name) DO UPDATE SET signature = excluded.signature, slot = excluded.slot,
                                 updated_at = now()"""


async def naive_index(rpc: RpcClient, dsn: str, program_id: Pubkey) -> int:
    """The baseline (see the module's docstring); the events stored."""
    import json

    signatures: list[SignatureInfo] = []
    before: str | None = None
    while True:
        config: dict[str, Any] = {"limit": MAX_SIGNATURES_PER_PAGE, "commitment": "finalized"}
        if before is not None:
            config["before"] = before
        page = [SignatureInfo.from_json(s) for s in
                await rpc.request("getSignaturesForAddress", [str(program_id), config])]
        signatures += page
        if len(page) < MAX_SIGNATURES_PER_PAGE:
            break
        before = page[-1].signature
    parser = event_parser(program_id)
    conn = await asyncpg.connect(dsn)
    stored = 0
    try:
        for info in reversed(signatures):
            if info.failed:
                continue
            tx = await rpc.request("getTransaction", [info.signature, {
                "encoding": "json", "maxSupportedTransactionVersion": 0,
                "commitment": "finalized"}])
            for e in transaction_events(parser, info.signature, tx):
                await conn.execute(_INSERT_EVENT, e.signature, e.event_index, e.slot,
                                   e.block_time, e.name, json.dumps(e.data, sort_keys=True))
                stored += 1
            await conn.execute(_UPSERT_CURSOR, info.signature, info.slot)
    finally:
        await conn.close()
    return stored


# ---- measuring ---------------------------------------------------------------------------------

def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    events: int
    seconds: float
    localnet_cpu_s: float
    own_cpu_s: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds

    def to_json(self) -> dict[str, float]:
        return {"events": self.events, "seconds": round(self.seconds, 3),
                "per_second": round(self.per_second), "localnet_cpu_s":
                round(self.localnet_cpu_s, 3), "indexer_cpu_s": round(self.own_cpu_s, 3)}


async def fresh_database(dsn: str, name: str) -> str:
    """A new migrated database beside `dsn`'s; its DSN."""
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    new = dsn.rsplit("/", 1)[0] + "/" + name
    await migrate(new)
    return new


async def stored_events(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events"))
    finally:
        await conn.close()


async def run_real(rpc: RpcClient, dsn: str, program_id: Pubkey, localnet_pid: int,
                   profile: bool) -> Run:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    profiler = cProfile.Profile() if profile else None
    try:
        cpu0, own0 = cpu_s(localnet_pid), time.process_time()
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        outcome = await index_events(rpc, pool, program_id)
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - started
        localnet, own = cpu_s(localnet_pid) - cpu0, time.process_time() - own0
    finally:
        await pool.close()
    if outcome is not Outcome.SUCCESS:
        raise RuntimeError(f"index_events: {outcome}")
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    return Run(await stored_events(dsn), seconds, localnet, own)


async def run_naive(rpc: RpcClient, dsn: str, program_id: Pubkey, localnet_pid: int) -> Run:
    cpu0, own0 = cpu_s(localnet_pid), time.process_time()
    started = time.perf_counter()
    await naive_index(rpc, dsn, program_id)
    seconds = time.perf_counter() - started
    localnet, own = cpu_s(localnet_pid) - cpu0, time.process_time() - own0
    return Run(await stored_events(dsn), seconds, localnet, own)


def say(text: str) -> None:
    print(text, flush=True)


@dataclass(frozen=True)
class Scale:
    """Both indexers from empty to caught up with `events` on chain."""

    events: int
    real: Run  # the median of the real indexer's runs
    naive: Run
    real_per_s: list[float]  # every run of the real indexer

    def to_json(self) -> dict[str, Any]:
        return {"n": self.events, "value": round(self.real.per_second),
                "baseline": round(self.naive.per_second), "real": self.real.to_json(),
                "naive": self.naive.to_json(),
                "real_runs_per_s": [round(v) for v in self.real_per_s]}


async def measure(sizes: Sequence[int], per_tx: int, repeats: int,
                  profile: bool) -> list[Scale]:
    """For each size (ascending): seed up to it, then each indexer into a fresh database, the
    real one `repeats` times (its median run kept: the machine is shared), the naive one
    once (it takes 7-9 times longer)."""
    logs, keys = DATA_PATH / "logs", DATA_PATH / "keys"
    logs.mkdir(parents=True, exist_ok=True)
    scales = []
    async with servers(DATA_PATH, say) as (_, dsn):
        port = free_port_pair()
        rpc_url = f"http://127.0.0.1:{port}"
        localnet = await processes.start("localnet", ["localnet", "--port", str(port),
                                                      "--keys", str(keys)], logs)
        try:
            await processes.wait_for_line(localnet, "localnet ready", READY_TIMEOUT_S)
            pid = localnet.process.pid
            seeder = await Seeder.connect(rpc_url, keys)
            rpc = RpcClient([Endpoint("localnet", rpc_url, max_rps=100_000)])
            try:
                program_id = seeder.d.program_id
                perp = await perp_market(seeder, rpc_url)
                seeded = 0
                for size in sorted(sizes):
                    started = time.monotonic()
                    seeded += await seed_events(seeder, perp, size - seeded, per_tx)
                    say(f"seeded up to {seeded:,} Deposited events, {per_tx} per transaction, "
                        f"in {time.monotonic() - started:.1f} s")
                    runs = []
                    for i in range(repeats):
                        runs.append(await run_real(
                            rpc, await fresh_database(dsn, f"real_{size}_{i}"), program_id, pid,
                            profile and i == 0))
                        say(f"index_events: {runs[-1].events:,} events in "
                            f"{runs[-1].seconds:.2f} s")
                    real = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]  # the median
                    naive = await run_naive(rpc, await fresh_database(dsn, f"naive_{size}"),
                                            program_id, pid)
                    say(f"naive: {naive.events:,} events in {naive.seconds:.2f} s")
                    want = expected_events(seeded)
                    for name, run in (*(("index_events", r) for r in runs), ("naive", naive)):
                        if run.events != want:
                            raise RuntimeError(f"{name} stored {run.events:,} events, the "
                                               f"chain holds {want:,}")
                    scales.append(Scale(want, real, naive, [r.per_second for r in runs]))
            finally:
                await rpc.close()
                await seeder.close()
        finally:
            await processes.stop_all([localnet])
    return scales


def expected_events(seeded: int) -> int:
    """Every seeded Deposited, plus the events the set-up itself emits (the perp market's
    creation)."""
    return seeded + 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.indexer", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES),
                        help="events on chain, each size measured in turn (default "
                        f"{' '.join(map(str, SIZES))})")
    parser.add_argument("--per-tx", type=int, default=12, help="events per transaction")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the real indexer per size, the median kept (default 3)")
    parser.add_argument("--quick", action="store_true", help="10,000 events only")
    parser.add_argument("--profile", action="store_true",
                        help="run the real indexer under cProfile and print the profile")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else args.sizes
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    scales = asyncio.run(measure(sizes, args.per_tx, args.repeats, args.profile))
    figures = []
    for s in scales:
        figures.append(Figure.of(f"catch-up from empty, {s.events:,} events", s.real.per_second,
                                 "events/s", baseline=s.naive.per_second, target=TARGET_PER_S))
        figures.append(Figure.of(f"speed-up over the naive indexer, {s.events:,} events",
                                 s.real.per_second / s.naive.per_second, "x",
                                 target=TARGET_RATIO))
    top = scales[-1]
    figures += [
        Figure.of(f"localnet CPU per event, {top.events:,} events",
                  top.real.localnet_cpu_s / top.events * 1e6, "µs",
                  baseline=top.naive.localnet_cpu_s / top.events * 1e6, target_op="<="),
        Figure.of(f"indexer CPU per event, {top.events:,} events",
                  top.real.own_cpu_s / top.events * 1e6, "µs",
                  baseline=top.naive.own_cpu_s / top.events * 1e6, target_op="<="),
    ]
    result = BenchResult("indexer", figures, {
        "per_tx": args.per_tx, "scales": [s.to_json() for s in scales],
        "baseline": "signatures, then one getTransaction at a time, one INSERT per event in "
                    "its own transaction"})
    return conclude(result, f"Deposited events, {args.per_tx} per transaction, on a localnet "
                            f"in its own process; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
