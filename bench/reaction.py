"""The liquidator fleet's reaction to a crash: `python -m bench.reaction`.

At each scale of `--positions` (open positions in all; default 1,000, 10,000 and 100,000)
it starts what the demo starts (`demo.run`): Redis and PostgreSQL of its own, the
database migrated, a localnet with the program, then seeds two perp markets, each on its own
oracle and each with half the positions — written straight into the localnet
(`Seeder.positions_written`), not one transaction each. `--crossing` of each market's positions
(50) are longs thin enough to go under maintenance at the crash price (collateral 12 % of the
notional at 100, below 5 % maintenance at 90); the rest are healthy (longs with 40 %
collateral, and shorts). The crossing count is the same at every scale, so the scales differ
only in how many positions the keepers must look through. A publisher keeps both prices fresh
all along (the program refuses a price older than 25 slots).

- Fleet: `--instances` liquidator workers (`keepernet worker liquidator`) start; once all of
  them beat in the fleet and watch the oracles, the first market's oracle is written at the
  crash price once (t0 just before the write). Each crossing position's reaction is the time
  from t0 to the first account notification showing it flat; its crash-to-start, from t0 to
  its liquidation's first try beginning (job_runs: the fast path's try 0), splits the
  reaction into finding and starting, and the liquidation itself. Then, the fleet idle, 100
  `liquidate_position` jobs on healthy positions are enqueued one every 50 ms: their
  enqueue-to-start is the queue's own latency, the figure the queue target is about.
- Baseline: a naive keeper as common keepers are, run in this process with keeper-2's key:
  every 10 s, `scan_positions` then `liquidate_position` for each candidate, one after the
  other. The second market's oracle crashes only once the fleet is stopped (so the fleet never
  touches it), half an interval after a scan began: the average phase a crash meets a periodic
  scanner at. Its reaction and crash-to-start are measured the same way (a liquidation starts
  after the scan and the liquidations before it in the sequential loop).
- Faulted reaction: two more markets of `--crossing` crossing positions each (so the fleet's
  book is the scale's and a little more). With the fleet still up, the third market's oracle
  crashes and the first instance is frozen (SIGSTOP) as soon as its trigger has claimed its
  share (its "liquidations found" line), then resumed once all have landed; then the fourth's
  crashes and the first instance is killed (SIGKILL) the same way. Their reactions are the
  last positions' to land, the frozen or killed instance's claims, which the others take over
  once its leases lapse (fleet/lease.py, fleet/fast_path.py); reported beside the fault-free
  reaction, target p99 <= 3 s.

- Book upkeep: before the fleet starts, the liquidator's book loaded and kept for UPKEEP_S more
  in a process of its own (bench/book_upkeep.py), as the price trigger keeps it
  (programSubscribe after one load in BOOK_PARTITIONS answers per side, as the fleet's
  instances load it too, decoded off the event loop) and, as the
  baseline, as it kept it before (every position re-read and decoded on the event loop every
  max(2 s, 0.2 ms per position)): the event loop's lag p99 meanwhile (target <= 20 ms) and
  the process' peak resident memory (target <= 1 GiB at 1,000,000 positions).

- Keeper's share: each liquidator's `keepernet_trigger_to_send_seconds` (metrics/
  trigger_to_send.py: from the price notification's arrival in the liquidator to the signed
  liquidation handed to the node), read from every instance's /metrics once the fault-free
  crash has landed and merged: its p50/p99 as Prometheus' `histogram_quantile` works them out
  (bench/scrape.py), beside the reaction (target p99 <= 20 ms at 1,000,000 positions).

Prints one table of every scale's figures (value the fleet's, baseline the naive keeper's,
ratio fleet ÷ baseline, target, met; the reaction's target, one slot, applies at 10,000
positions) and writes bench/results/reaction.json in the shape of bench/report.py, with every
scale's reaction times in `details` for the plots. The servers' data and every child's log are
in bench/results/reaction/ (kept for a look after a failure); everything started is stopped,
even on failure. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import random
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import orjson
import structlog
from anchorpy import Program
from arq.connections import RedisSettings, create_pool
from redis.asyncio import Redis
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from bench.report import BenchResult, Figure, conclude, percentile, samples
from bench.scrape import Buckets, merged, quantile, scrape
from chain.client import Endpoint, RpcClient, anchor_program
from chain.keys import load_keypair
from chain.localnet.seed import PositionSpec, Seeder
from chain.publisher import Feed, Publisher, PublishError
from chain.sender import FeePolicy, Sender
from chain.watch import watch_accounts
from demo import processes
from demo.processes import Child
from demo.run import servers, worker_env
from demo.scenario import POOL, START_PRICE
from demo.servers import free_port
from fleet.membership import live_instances
from fleet.serializer import job_deserializer, job_serializer
from jobs.deps import JobDeps
from jobs.liquidation import liquidate_position, scan_positions
from jobs.registry import LIQUIDATE_POSITION, enqueue
from program.accounts import Position
from program.client import PERP_MAX_OPEN_INTEREST, Client, PerpMarketParams
from workers.liquidator import FLEET_TTL_S

ROOT = Path(__file__).resolve().parent.parent
DATA_PATH = ROOT / "bench" / "results" / "reaction"
# Issue targets, on the project's 2-core machine: the reaction's at 10,000 open positions.
TARGET_REACTION_P99_S = 0.4  # one Solana slot
TARGET_QUEUE_P99_S = 0.020
SETTLE_S = 1.0  # two slots
TARGET_FAULTED_P99_S = 3.0  # a frozen or killed instance's claims taken over (issue 14)
FAULTS = ("frozen", "killed")  # what befalls the first instance at each faulted crash
CLAIM_TIMEOUT_S = 5.0  # for the instance to fault to claim its share of a crash
TARGET_SCALE = 10_000
DEFAULT_SCALES = [1_000, 10_000, 100_000]
CRASH_PRICE = START_PRICE * 9 // 10  # 100 → 90
CROSSING_COLLATERAL = 0.12  # equity 2 % of notional at 90: under the 5 % maintenance
HEALTHY_COLLATERAL = 0.40  # equity 30 % at 90; shorts gain
PUBLISH_EVERY_S = 0.2
BASELINE_INTERVAL_S = 10.0
SCAN_INTERVAL_S = 60
FLEET_UP_TIMEOUT_S = 60.0
FLEET_UP_S_PER_POSITION = 0.0002  # the instances' loads, one localnet answering them all
FLEET_REACTION_TIMEOUT_S = 20.0
FAULTED_REACTION_TIMEOUT_S = 30.0
BASELINE_REACTION_TIMEOUT_S = 75.0
STOP_TIMEOUT_S = 5.0
CRASH_WRITE_TRIES = 3
STEADY_JOBS = 100
STEADY_GAP_S = 0.05
STEADY_RESULT_TIMEOUT_S = 10.0
ACCOUNTS_PER_READ = 50  # getMultipleAccounts takes at most 100 keys
UPKEEP_S = 20.0  # of upkeep after the first load
# answers per side of the book's load, the upkeep's and the fleet's: one answer of half a
# million positions holds the localnet's loop for many seconds (every other request times out
# meanwhile), 256 of about 2,000 each do not
BOOK_PARTITIONS = 256
TARGET_LAG_P99_S = 0.020
TARGET_RSS_MIB, TARGET_RSS_SCALE = 1024.0, 1_000_000
TARGET_SHARE_P99_S, TARGET_SHARE_SCALE = 0.020, 1_000_000
SHARE = "keepernet_trigger_to_send_seconds"
MIB = 2**20


@dataclass
class Level:
    """A price scenario that is whatever was last set: the crash is one assignment."""

    price_e6: int

    def price_at(self, t_s: float) -> int:
        """The price set last, whatever the time."""
        return self.price_e6


@dataclass(frozen=True)
class Market:
    """One seeded perp market: its oracle's price, and its crossing positions."""

    address: Pubkey
    oracle: Pubkey
    level: Level
    crossing: list[Pubkey]
    healthy: list[Pubkey]


@dataclass
class Landings:
    """When each watched position was first seen flat (perf_counter seconds)."""

    program: Program
    at: dict[Pubkey, float] = field(default_factory=dict)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_change(self, address: Pubkey, data: bytes, slot: int) -> None:
        """Timestamp first, decode after: the decoding's cost is not the fleet's."""
        now = time.perf_counter()
        if address in self.at:
            return
        # a closed account (no data) is as liquidated as a flat one
        if not data or self.program.coder.accounts.decode(data).side == 0:
            self.at[address] = now
            self.changed.set()

    async def on_connected(self) -> None:
        self.connected.set()

    async def wait_all(self, positions: Sequence[Pubkey], timeout_s: float) -> None:
        """Until every one of `positions` has landed or `timeout_s` has passed."""
        deadline = time.perf_counter() + timeout_s
        while not all(p in self.at for p in positions):
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    def reactions(self, positions: Sequence[Pubkey], t0: float) -> list[float]:
        """Seconds from t0 to each position's landing; inf for one that never landed."""
        return [self.at[p] - t0 if p in self.at else math.inf for p in positions]


def position_specs(count: int, crossing_count: int, seed: int
                   ) -> tuple[list[PositionSpec], int]:
    """`count` specs, the first `crossing_count` the crossing longs; the rest healthy longs and
    shorts in turn. Sizes 1-10 base units (seeded)."""
    rng = random.Random(seed)
    crossing_count = min(crossing_count, count)
    specs = []
    for i in range(count):
        size = rng.randint(1, 10) * 1_000_000
        notional = size * START_PRICE // 1_000_000
        if i < crossing_count:
            specs.append(PositionSpec(1, size, int(notional * CROSSING_COLLATERAL)))
        else:
            side = 1 if i % 2 else 2
            specs.append(PositionSpec(side, size, int(notional * HEALTHY_COLLATERAL)))
    return specs, crossing_count


async def keep_fresh(publisher: Publisher) -> None:
    """Publish every PUBLISH_EVERY_S until cancelled, through a refused or lost write (the
    next one makes up for it)."""
    while True:
        with contextlib.suppress(PublishError):
            await publisher.run(PUBLISH_EVERY_S)
        await asyncio.sleep(PUBLISH_EVERY_S)


async def crash(rpc_url: str, market: Market) -> float:
    """Write the crash price into `market`'s oracle once; t0, taken just before the write.
    The background publisher keeps publishing that price afterwards (same Level). A write
    the localnet does not answer in time (busy with the naive keeper's whole-book answer at a
    million positions) is made again: its reaction counts from the first try."""
    publisher = Publisher(rpc_url, [Feed(market.oracle, market.level)], timeout_s=30.0)
    try:
        market.level.price_e6 = CRASH_PRICE
        t0 = time.perf_counter()
        for _ in range(CRASH_WRITE_TRIES - 1):
            with contextlib.suppress(PublishError):
                await publisher.publish(0.0)
                return t0
        await publisher.publish(0.0)  # the last try: its error is the run's
        return t0
    finally:
        await publisher.close()


async def seed_market(seeder: Seeder, perp_market_id: int, oracle: Pubkey, level: Level,
                      count: int, crossing_count: int) -> Market:
    specs, crossing = position_specs(count, crossing_count, perp_market_id)
    # the pool reserves every position's profit cap (its notional at the default
    # max_profit_bps): enough free liquidity for all of them
    reserves = sum(s.size * START_PRICE // 1_000_000 for s in specs)
    address = await seeder.perp_market(perp_market_id, oracle,
                                       # a market of 500,000 positions (a million in all)
                                       # holds 1.4e12 base units a side: over the default
                                       PerpMarketParams(max_open_interest=PERP_MAX_OPEN_INTEREST),
                                       POOL + reserves)
    # written straight into the localnet, not one transaction each: 100,000 take seconds
    positions = await seeder.positions_written(address, specs, START_PRICE)
    return Market(address, oracle, level, positions[:crossing], positions[crossing:])


async def claim_then(victim: Child, fault: str, since: int) -> None:
    """Once `victim` logs a claim past byte `since` of its log ("liquidations found": its fast
    path has queued its share and started the tries), freeze (SIGSTOP) or kill (SIGKILL) it."""
    deadline = time.monotonic() + CLAIM_TIMEOUT_S
    while b"liquidations found" not in victim.log_path.read_bytes()[since:]:
        if time.monotonic() > deadline:
            say(f"{victim.name} claimed nothing within {CLAIM_TIMEOUT_S:g} s: {fault} anyway")
            break
        await asyncio.sleep(0.002)
    if fault == "frozen":
        victim.process.send_signal(signal.SIGSTOP)
    else:
        victim.process.kill()
        await victim.process.wait()


async def faulted_reaction(rpc_url: str, market: Market, victim: Child, fault: str,
                           landings: Landings) -> list[float]:
    """Crash `market`, freeze or kill `victim` once it claimed its share, and each crossing
    position's reaction; a frozen victim is resumed at the end."""
    since = victim.log_path.stat().st_size
    t0 = await crash(rpc_url, market)
    await claim_then(victim, fault, since)
    try:
        await landings.wait_all(market.crossing, FAULTED_REACTION_TIMEOUT_S)
    finally:
        if fault == "frozen":
            victim.process.send_signal(signal.SIGCONT)
    return landings.reactions(market.crossing, t0)


async def wait_for_fleet(redis_url: str, fleet: Sequence[Child], positions: int) -> None:
    """Until every instance beats in the fleet and its price trigger watches the oracles
    (each loads the `positions` first)."""
    redis = Redis.from_url(redis_url)
    timeout_s = FLEET_UP_TIMEOUT_S + positions * FLEET_UP_S_PER_POSITION
    deadline = time.monotonic() + timeout_s
    try:
        while len(await live_instances(redis, "liquidator", FLEET_TTL_S)) < len(fleet):
            for child in fleet:
                child.check_running()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the fleet's {len(fleet)} instances did not all beat "
                                   f"within {timeout_s:.0f} s")
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()
    for child in fleet:
        await processes.wait_for_line(child, "watching accounts",
                                      max(1.0, deadline - time.monotonic()))
    # an instance's verdicts are fresh once its book has heard a slot since it loaded
    await asyncio.sleep(SETTLE_S)


async def opened_at(deps: JobDeps, positions: Sequence[Pubkey]) -> dict[Pubkey, int]:
    """Each position's `opened_at`, the stage of its liquidation's job id."""
    found: dict[Pubkey, int] = {}
    for start in range(0, len(positions), ACCOUNTS_PER_READ):
        chunk = positions[start:start + ACCOUNTS_PER_READ]
        _, accounts = await deps.snapshot(*chunk)
        for position, account in zip(chunk, accounts, strict=True):
            if not isinstance(account, Position):
                raise RuntimeError(f"no position at {position}")
            found[position] = int(account.opened_at)
    return found


async def first_tries(dsn: str, positions: Sequence[Pubkey]) -> dict[Pubkey, float]:
    """When the fleet first began each position's liquidation (its earliest try in
    job_runs: the fast path's try 0, or the queue's), unix seconds."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT detail->'args'->>0 AS position, extract(epoch FROM min(started_at)) AS at "
            "FROM job_runs WHERE job = $1 GROUP BY 1", LIQUIDATE_POSITION.name)
    finally:
        await conn.close()
    wanted = {str(p) for p in positions}
    return {Pubkey.from_string(r["position"]): float(r["at"]) for r in rows
            if r["position"] in wanted}


def crash_to_start(starts: dict[Pubkey, float], positions: Sequence[Pubkey],
                   t0: float) -> list[float]:
    """Seconds from t0 to each position's liquidation starting; inf for one never started."""
    return [starts[p] - t0 if p in starts else math.inf for p in positions]


async def steady_queue_delays(redis_url: str, dsn: str,
                              stages: dict[Pubkey, int]) -> list[float]:
    """Enqueue-to-start of `liquidate_position` jobs enqueued one every STEADY_GAP_S on an
    otherwise idle fleet (healthy positions: each run is a read and `not_needed`): the queue's
    own latency, apart from a burst's wait for CPU. A job's start is its try in job_runs (arq
    keeps no result of a liquidation); its enqueue, the wall-clock time just before the call."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), job_serializer=job_serializer,
                             job_deserializer=job_deserializer)
    sent: dict[Pubkey, float] = {}
    try:
        for position, stage in stages.items():
            sent[position] = time.time()
            await enqueue(pool, LIQUIDATE_POSITION.name, str(position), stage=stage)
            await asyncio.sleep(STEADY_GAP_S)
    finally:
        await pool.aclose()
    deadline = time.monotonic() + STEADY_RESULT_TIMEOUT_S
    while len(starts := await first_tries(dsn, list(stages))) < len(stages) \
            and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return [starts[p] - sent[p] if p in starts else math.inf for p in stages]


@dataclass
class NaiveKeeper:
    """The baseline: every `interval_s`, scan every market, then liquidate each candidate of
    `perp_market` in turn; `starts` holds when each liquidation began (perf_counter)."""

    deps: JobDeps
    perp_market: Pubkey
    interval_s: float
    scans: list[float] = field(default_factory=list)
    starts: dict[Pubkey, float] = field(default_factory=dict)

    async def run(self) -> None:
        while True:
            began = time.perf_counter()
            self.scans.append(began)
            result = await scan_positions(self.deps)
            for candidate in result.candidates:
                if candidate.perp_market != self.perp_market:
                    continue  # the fleet's market: not this measure's
                self.starts.setdefault(candidate.position, time.perf_counter())
                await liquidate_position(self.deps, candidate.position)
            await asyncio.sleep(max(0.0, self.interval_s - (time.perf_counter() - began)))


@dataclass(frozen=True)
class Figures:
    """One side's measures, in seconds."""

    reactions: list[float]
    starts: list[float]  # crash to each liquidation's start
    steady: list[float]  # enqueue-to-start of jobs enqueued one at a time (fleet only)
    faulted: dict[str, list[float]] = field(default_factory=dict)  # FAULTS → reactions (fleet)
    upkeep: dict[str, float] = field(default_factory=dict)  # bench/book_upkeep.py's figures
    share: Buckets = field(default_factory=dict)  # the fleet's SHARE histogram (fleet only)


def figures(fleet: Figures, baseline: Figures, positions: int) -> list[Figure]:
    """The figures of one scale, in seconds; the reaction's target applies at TARGET_SCALE."""
    at = f", {positions:,} positions"

    def both(name: str, fleet_s: list[float], base_s: list[float], pct: float,
             target: float | None = None) -> Figure:
        return Figure.of(f"{name} p{pct:g}{at}", percentile(fleet_s, pct), "s",
                         baseline=percentile(base_s, pct), target=target, target_op="<=")

    return [
        both("reaction", fleet.reactions, baseline.reactions, 50),
        both("reaction", fleet.reactions, baseline.reactions, 99,
             TARGET_REACTION_P99_S if positions == TARGET_SCALE else None),
        # beside the fault-free reaction; the naive keeper has no instance to lose
        *(Figure.of(f"reaction, one instance {fault} at the crash, p{pct:g}{at}",
                    percentile(reactions, pct), "s",
                    target=TARGET_FAULTED_P99_S if pct == 99 else None, target_op="<=")
          for fault, reactions in fleet.faulted.items() for pct in (50, 99)),
        both("crash to liquidation start", fleet.starts, baseline.starts, 50),
        both("crash to liquidation start", fleet.starts, baseline.starts, 99),
        # the naive keeper has no queue to wait in when idle: no baseline
        Figure.of(f"enqueue-to-start, one at a time, p50{at}", percentile(fleet.steady, 50),
                  "s", target_op="<="),
        Figure.of(f"enqueue-to-start, one at a time, p99{at}", percentile(fleet.steady, 99),
                  "s", target=TARGET_QUEUE_P99_S, target_op="<="),
        # the naive keeper reacts to no notification: no baseline
        Figure.of(f"keeper's share, price notification to send, p50{at}",
                  quantile(fleet.share, 0.5), "s", target_op="<="),
        Figure.of(f"keeper's share, price notification to send, p99{at}",
                  quantile(fleet.share, 0.99), "s",
                  target=TARGET_SHARE_P99_S if positions == TARGET_SHARE_SCALE else None,
                  target_op="<="),
        Figure.of(f"liquidator event-loop lag keeping the book, p99{at}",
                  fleet.upkeep.get("lag_p99_s"), "s", baseline=baseline.upkeep.get("lag_p99_s"),
                  target=TARGET_LAG_P99_S, target_op="<="),
        Figure.of(f"liquidator book upkeep peak resident memory{at}",
                  fleet.upkeep.get("peak_rss_bytes", math.nan) / MIB, "MiB",
                  baseline=baseline.upkeep.get("peak_rss_bytes", math.nan) / MIB,
                  target=TARGET_RSS_MIB if positions == TARGET_RSS_SCALE else None,
                  target_op="<="),
    ]


def say(text: str) -> None:
    print(text, flush=True)


async def book_upkeep(mode: str, rpc_url: str, ws_url: str, program_id: Pubkey) \
        -> dict[str, float]:
    """bench/book_upkeep.py's figures for `mode` (`feed` or `reread`), in a process of its
    own."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.book_upkeep", mode, rpc_url, ws_url, str(program_id),
        str(UPKEEP_S), str(BOOK_PARTITIONS), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench.book_upkeep {mode} exited with {process.returncode}")
    figures: dict[str, float] = orjson.loads(out.splitlines()[-1])
    say(f"book upkeep, {mode}: event-loop lag p99 {figures['lag_p99_s'] * 1000:.1f} ms "
        f"(max {figures['lag_max_s'] * 1000:.0f} ms), "
        f"peak RSS {figures['peak_rss_bytes'] / MIB:.0f} MiB, {figures['positions']:,.0f} "
        f"positions, first load {figures['first_load_s'] or math.nan:.2f} s")
    return figures


async def measure(per_market: int, crossing: int, instances: int) -> tuple[Figures, Figures]:
    """One scale's run; see the module's docstring."""
    data = DATA_PATH
    logs, keys = data / "logs", data / "keys"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    async with servers(data, say) as (redis_url, dsn):
        localnet, port = await processes.start_localnet(logs, keys)
        rpc_url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port + 1}"
        fleet: list[Child] = []
        tasks: list[asyncio.Task[None]] = []
        closers: list[Publisher | Seeder | RpcClient] = []
        try:
            seeder = await Seeder.connect(rpc_url, keys)
            closers.append(seeder)
            program_id = seeder.d.program_id
            fleet_oracle, base_oracle = Keypair().pubkey(), Keypair().pubkey()
            fleet_level, base_level = Level(START_PRICE), Level(START_PRICE)
            fault_oracles = {fault: (Keypair().pubkey(), Level(START_PRICE)) for fault in FAULTS}
            publisher = Publisher(rpc_url, [Feed(fleet_oracle, fleet_level),
                                            Feed(base_oracle, base_level),
                                            *(Feed(o, lv) for o, lv in fault_oracles.values())])
            closers.append(publisher)
            tasks.append(asyncio.create_task(keep_fresh(publisher), name="publisher"))
            await asyncio.sleep(0.5)  # a position opens only at a fresh price
            fleet_market = await seed_market(seeder, 1, fleet_oracle, fleet_level, per_market,
                                             crossing)
            base_market = await seed_market(seeder, 2, base_oracle, base_level, per_market,
                                            crossing)
            faulted_markets = {
                fault: await seed_market(seeder, 3 + i, oracle, level, crossing, crossing)
                for i, (fault, (oracle, level)) in enumerate(fault_oracles.items())}
            say(f"localnet on {rpc_url}; seeded 2 markets of {per_market:,} positions "
                f"({len(fleet_market.crossing)} crossing each) and {len(FAULTS)} of "
                f"{crossing} crossing in {time.monotonic() - started:.0f} s")

            upkeep = {mode: await book_upkeep(mode, rpc_url, ws_url, program_id)
                      for mode in ("feed", "reread")}

            rpc = RpcClient([Endpoint("localnet", rpc_url, max_rps=5000)])
            closers.append(rpc)
            deps = JobDeps(rpc=rpc, sender=Sender(rpc, load_keypair(keys / "keeper-2.json"),
                                                  fees=FeePolicy(fixed_micro_lamports=0)),
                           program=anchor_program(rpc, program_id),
                           client=Client(anchor_program(rpc, program_id), seeder.d))
            landings = Landings(deps.program)
            tasks.append(asyncio.create_task(watch_accounts(
                ws_url, [*fleet_market.crossing, *base_market.crossing,
                         *(p for m in faulted_markets.values() for p in m.crossing)],
                landings.on_change,
                landings.on_connected), name="watch"))
            await asyncio.wait_for(landings.connected.wait(), 30)

            env = worker_env("liquidator", rpc_url, dsn, redis_url, program_id, keys,
                             metrics_port=0)
            # the price trigger is what is measured; the cron safety net, which re-reads every
            # position, runs once a minute (as an operator sets it for a large book)
            env["KEEPERNET_SCAN_INTERVAL_S"] = str(SCAN_INTERVAL_S)
            env["KEEPERNET_BOOK_PARTITIONS"] = str(BOOK_PARTITIONS)
            ports = []  # each instance's metrics, for the keeper's share
            for i in range(instances):
                child, metrics_port = await processes.start_on_free_port(
                    f"liquidator-{i + 1}",
                    lambda p: (["worker", "liquidator"], {**env, "KEEPERNET_METRICS_PORT": str(p)}),
                    logs, pick=free_port, ready="worker started", taken="KEEPERNET_METRICS_PORT",
                    ready_s=processes.WORKER_READY_S)
                fleet.append(child)
                ports.append(metrics_port)
            await wait_for_fleet(redis_url, fleet, 2 * per_market)
            say(f"{instances} liquidator instances up; crashing the fleet's oracle")
            t0 = await crash(rpc_url, fleet_market)
            t0_unix = t0 + time.time() - time.perf_counter()
            await landings.wait_all(fleet_market.crossing, FLEET_REACTION_TIMEOUT_S)
            fleet_reactions = landings.reactions(fleet_market.crossing, t0)
            share = merged([await scrape(p, SHARE) for p in ports])
            say(f"keeper's share, notification to send: p50 "
                f"{quantile(share, 0.5) * 1000:.1f} ms, p99 {quantile(share, 0.99) * 1000:.1f} ms "
                f"over {share.get(math.inf, 0):.0f} sends")
            fleet_starts = crash_to_start(await first_tries(dsn, fleet_market.crossing),
                                          fleet_market.crossing, t0_unix)
            steady = await steady_queue_delays(
                redis_url, dsn, await opened_at(deps, fleet_market.healthy[:STEADY_JOBS]))
            faulted = {}
            if len(fleet) > 1:  # someone must be left to take over
                for fault, market in faulted_markets.items():
                    faulted[fault] = await faulted_reaction(rpc_url, market, fleet[0], fault,
                                                            landings)
                    say(f"one of {len(fleet)} instances {fault}: "
                        f"{sum(map(math.isfinite, faulted[fault]))}/{len(faulted[fault])} "
                        f"landed, the last after {max(faulted[fault]):.2f} s")
            await processes.stop_all(fleet)
            say(f"fleet: {sum(map(math.isfinite, fleet_reactions))}/{len(fleet_reactions)} "
                f"landed; fleet stopped; the naive keeper starts")

            keeper = NaiveKeeper(deps, base_market.address, BASELINE_INTERVAL_S)
            tasks.append(asyncio.create_task(keeper.run(), name="naive keeper"))
            while not keeper.scans:
                await asyncio.sleep(0.05)
            await asyncio.sleep(max(0.0, keeper.scans[0] + BASELINE_INTERVAL_S / 2
                                    - time.perf_counter()))
            t0 = await crash(rpc_url, base_market)
            await landings.wait_all(base_market.crossing, BASELINE_REACTION_TIMEOUT_S)
            base_reactions = landings.reactions(base_market.crossing, t0)
            say(f"baseline: {sum(map(math.isfinite, base_reactions))}/{len(base_reactions)} "
                f"landed; total run {time.monotonic() - started:.0f} s")
            return (Figures(fleet_reactions, fleet_starts, steady, faulted, upkeep["feed"],
                            share),
                    Figures(base_reactions,
                            crash_to_start(keeper.starts, base_market.crossing, t0), [],
                            upkeep=upkeep["reread"]))
        finally:
            await stop_tasks(tasks)
            for closer in closers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closer.close(), STOP_TIMEOUT_S)
            await processes.stop_all([*fleet, localnet])


async def stop_tasks(tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel `tasks` and give them STOP_TIMEOUT_S to end: a task stuck in a library's cleanup
    must not keep the servers and children from being stopped."""
    for task in tasks:
        task.cancel()
    if tasks:
        _, stuck = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
        if stuck:
            say(f"left behind: {', '.join(t.get_name() for t in stuck)}")


def _scales(text: str) -> list[int]:
    try:
        scales = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of counts: {text!r}") from None
    if not scales or any(n < 2 or n % 2 for n in scales):
        raise argparse.ArgumentTypeError("each count must be even and at least 2 (two markets)")
    return scales


def main(argv: list[str]) -> int:
    """Run the benchmark at each scale, print the table, write the results; 0 when every
    target is met."""
    parser = argparse.ArgumentParser(prog="bench.reaction", description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=_scales, default=DEFAULT_SCALES,
                        help="open positions in all, comma-separated for several runs "
                             f"(default {','.join(map(str, DEFAULT_SCALES))}); half per market")
    parser.add_argument("--crossing", type=int, default=50,
                        help="positions per market the crash sends under maintenance (default 50)")
    parser.add_argument("--instances", type=int, default=3,
                        help="liquidator instances (default 3; the faulted reaction needs 2)")
    args = parser.parse_args(argv)
    # the in-process keeper's jobs log every scan and liquidation: only trouble is worth a line
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    found: list[Figure] = []
    runs = []
    for scale in args.positions:
        say(f"== {scale:,} open positions")
        fleet, baseline = asyncio.run(measure(scale // 2, args.crossing, args.instances))
        found += figures(fleet, baseline, scale)
        runs.append({"positions": scale,
                     "reactions_s": {"fleet": samples(fleet.reactions),
                                     "baseline": samples(baseline.reactions)},
                     "steady_queue_s": samples(fleet.steady),
                     "faulted_reactions_s": {fault: samples(reactions)
                                             for fault, reactions in fleet.faulted.items()},
                     "book_upkeep": {"feed": fleet.upkeep, "reread": baseline.upkeep},
                     "trigger_to_send_buckets": [[str(le), n] for le, n
                                                 in sorted(fleet.share.items())]})
    result = BenchResult("reaction", found, {
        "crossing_per_market": args.crossing, "instances": args.instances,
        "baseline_interval_s": BASELINE_INTERVAL_S, "target_scale": TARGET_SCALE,
        "scales": runs})
    return conclude(result, f"{', '.join(f'{n:,}' for n in args.positions)} open positions "
                            f"(half per market), {args.crossing} per market crossing (to "
                            f"{CRASH_PRICE / START_PRICE:.0%} of the price); "
                            f"{args.instances} liquidator instances vs a naive keeper scanning "
                            f"every {BASELINE_INTERVAL_S:g} s; {os.cpu_count()} CPUs")

if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
