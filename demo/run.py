"""`keepernet demo`: the whole fleet against a localnet, from nothing, and a checked summary.

1. Redis and PostgreSQL start in the demo's own folders (`.keepernet/demo/` by default); the
   database is created afresh and migrated, Redis emptied (a previous run's events and jobs
   would belong to another chain).
2. The localnet starts with the program; the scenario is seeded (`demo.scenario`)
   while an in-process publisher keeps the prices fresh.
3. The price publisher starts with a crash, then the four roles' workers.
4. A progress line every two seconds, until `--duration` has passed or Ctrl-C.
5. The workers stop (letting running jobs finish), the indexer catches up once more, and the
   summary is printed beside the chain's own counts; every child and server is stopped.

The children run in sessions of their own, so that Ctrl-C reaches the demo only and it can
stop them in order. Their logs are in `<data>/logs/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import asyncpg
from redis.asyncio import Redis
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.client import Endpoint, RpcClient
from chain.localnet.hosted import HostedProfile
from chain.localnet.seed import Seeder, one_line
from chain.publisher import Feed, Publisher
from chain.scenarios import RandomWalk
from demo import processes
from demo.processes import Child
from demo.report import Summary, progress, summary
from demo.scenario import DEMO_FEED, START_PRICE, seed
from demo.servers import Postgres, RedisServer
from jobs.indexer import index_events
from jobs.outcome import Outcome
from store.migrate import migrate

DATABASE = "keepernet"
PROGRESS_EVERY_S = 2.0
CATCH_UP_RUNS = 10
# which keeper wallet of the localnet's keys folder each signing role uses
ROLE_KEYS = {"indexer": None, "liquidator": "keeper-1", "funding": "keeper-2",
             "governance": "keeper-2"}


@dataclass(frozen=True)
class DemoOptions:
    data: Path = Path(".keepernet/demo")
    duration_s: float | None = None  # None: until Ctrl-C
    positions_per_market: int = 1_000
    crash_after_s: float = 20.0
    crash_drop_pct: float = 20.0
    profile: HostedProfile | None = None  # the localnet's limits: a validator's (none)


Say = Callable[[str], None]


class SeedingFailed(RuntimeError):
    """The scenario could not be seeded; the message is one line saying what failed."""


@asynccontextmanager
async def servers(data: Path, say: Say) -> AsyncIterator[tuple[str, str]]:
    """Redis and PostgreSQL in `data`, the database fresh and migrated: (redis URL, DSN)."""
    pg = Postgres(data / "postgres")
    redis = RedisServer(data / "redis")
    await asyncio.to_thread(pg.start)
    try:
        await asyncio.to_thread(redis.start)
        try:
            admin = await asyncpg.connect(pg.dsn())
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{DATABASE}"')
            finally:
                await admin.close()
            dsn = pg.dsn(DATABASE)
            await migrate(dsn)
            client = Redis.from_url(redis.url)
            await client.flushall()
            await client.aclose()
            say(f"PostgreSQL on {pg.port}, Redis on {redis.port} (in {data})")
            yield redis.url, dsn
        finally:
            await asyncio.to_thread(redis.stop)
    finally:
        await asyncio.to_thread(pg.stop)


def worker_env(role: str, rpc_url: str, dsn: str, redis_url: str, program_id: Pubkey,
               keys: Path, metrics_port: int, *,
               profile: HostedProfile | None = None) -> dict[str, str]:
    """A `role` worker's environment against these servers (metrics port 0: none); under a
    hosted `profile`, each role is a customer of its own, held to the profile's rate."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPERNET_")}
    # the localnet is ours: no provider rate limit to respect, unless it plays one
    endpoint = f"localnet={rpc_url} max_rps=5000" if profile is None \
        else f"localnet={rpc_url}/?api-key={role} max_rps={profile.rps:g}"
    env.update(KEEPERNET_RPC_URLS=endpoint, KEEPERNET_DATABASE_URL=dsn,
               KEEPERNET_REDIS_URL=redis_url, KEEPERNET_PROGRAM_ID=str(program_id),
               KEEPERNET_CU_PRICE_MICRO_LAMPORTS="0", KEEPERNET_METRICS_PORT=str(metrics_port))
    key = ROLE_KEYS[role]
    if key is not None:
        env["KEEPERNET_KEYPAIR"] = str(keys / f"{key}.json")
    return env


# told, once the workers have started, when the crash begins (time.monotonic()) and each
# role's metrics port: for a benchmark that reads the workers while the demo runs
OnStarted = Callable[[float, Mapping[str, int]], None]


async def run_demo(options: DemoOptions, say: Say = print,
                   on_started: OnStarted | None = None) -> int:
    """The demo; 0 when the summary matches the chain, 1 when it does not."""
    data, stop = options.data.resolve(), asyncio.Event()
    logs, keys = data / "logs", data / "keys"
    logs.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    children: list[Child] = []
    async with servers(data, say) as (redis_url, dsn):
        localnet, port = await processes.start_localnet(logs, keys,
                                                        localnet_args(options.profile))
        rpc_url = f"http://127.0.0.1:{port}"
        # the demo's own seeding, prices and checks are the localnet's operator's, never
        # held to a hosted profile's limits: those are the workers'
        own_url = rpc_url if options.profile is None \
            else f"{rpc_url}/?api-key={options.profile.operator_key}"
        try:
            say(f"localnet on {rpc_url}" + ("" if options.profile is None
                                              else f" ({options.profile.describe()})"))
            rpc = RpcClient([Endpoint("localnet", own_url, max_rps=100_000)])
            seeder = await Seeder.connect(own_url, keys)
            try:
                program_id = seeder.d.program_id
                # one market on each kind of oracle: a legacy price account, and a pull
                # PriceUpdateV2 of the demo's feed at a fresh key, seeded here and then posted
                # by the funding role's post_price from the feed's push address, where the
                # publisher plays Pyth's price service (jobs/price_source.py, `local`)
                legacy, pulled = Keypair().pubkey(), Keypair().pubkey()
                oracles = [legacy, pulled]
                await seed_scenario(seeder, own_url, oracles, options, say,
                                    feeds={pulled: DEMO_FEED})
                children.append(await processes.start("prices", [
                    "prices", "--url", own_url, "--oracle", str(legacy),
                    "--feed", DEMO_FEED.hex(), "--scenario", "crash",
                    "--start", str(START_PRICE / 1e6), "--after", str(options.crash_after_s),
                    "--drop-pct", str(options.crash_drop_pct), "--over", "10"], logs))
                crash_at = time.monotonic() + options.crash_after_s
                ports = {}
                for role in ROLE_KEYS:
                    child, ports[role] = await processes.start_worker(
                        role, logs, partial(worker_env, role, rpc_url, dsn, redis_url,
                                            program_id, keys, profile=options.profile))
                    children.append(child)
                say(f"publisher (crash of {options.crash_drop_pct:g} % after "
                    f"{options.crash_after_s:g} s) and workers {', '.join(ROLE_KEYS)} started;"
                    f" logs in {logs}")
                say("metrics and health: " + ", ".join(
                    f"{role} http://127.0.0.1:{port}/metrics /healthz"
                    for role, port in ports.items()))
                if on_started is not None:
                    on_started(crash_at, ports)
                await watch(options, rpc, dsn, redis_url, [localnet, *children], stop, say)
                await processes.stop_all(children)
                say("workers stopped; the indexer catches up and the chain is read back")
                result = await check(rpc, dsn, program_id, {
                    seeder.d.perp_market(1): "legacy Pyth", seeder.d.perp_market(2):
                    "PriceUpdateV2"})
                say(result.text())
                return 0 if result.confirmed else 1
            finally:
                await seeder.close()
                await rpc.close()
        finally:
            await processes.stop_all([*children, localnet])


def localnet_args(profile: HostedProfile | None) -> list[str]:
    """`keepernet localnet`'s options for `profile` (said even when none: the environment's
    KEEPERNET_LOCALNET_PROFILE does not choose for the demo's localnet)."""
    if profile is None:
        return ["--profile", "validator"]
    return ["--profile", "hosted", "--rps", f"{profile.rps:g}", "--gpa-cap",
            str(profile.gpa_cap), "--subscriptions-per-connection",
            str(profile.subscriptions_per_connection), "--operator-key", profile.operator_key]


async def seed_scenario(seeder: Seeder, rpc_url: str, oracles: list[Pubkey],
                        options: DemoOptions, say: Say,
                        feeds: Mapping[Pubkey, bytes] | None = None) -> None:
    """Seed the scenario (`demo.scenario.seed`, PriceUpdateV2 oracles in `feeds`) while a
    publisher keeps every oracle fresh."""
    started = time.monotonic()
    feeds = feeds or {}
    publisher = Publisher(rpc_url, [Feed(o, RandomWalk(int(START_PRICE), volatility_bps=0),
                                         feed_id=feeds.get(o)) for o in oracles])
    fresh = asyncio.create_task(publisher.run(0.4))
    try:
        await asyncio.sleep(0.5)
        seeded = await seed(seeder, oracles, options.positions_per_market, feeds=feeds)
    except Exception as e:  # whatever it is, the operator reads one line, not a traceback
        raise SeedingFailed(f"seeding failed: {one_line(e)}") from e
    finally:
        fresh.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fresh
        await publisher.close()
    say(f"seeded in {time.monotonic() - started:.0f} s: {len(seeded.markets)} prediction "
        f"markets ({', '.join(seeded.markets)}), {len(seeded.perp_markets)} perp markets with "
        f"{seeded.positions:,} positions")


async def watch(options: DemoOptions, rpc: RpcClient, dsn: str, redis_url: str,
                children: list[Child], stop: asyncio.Event, say: Say) -> None:
    """Print progress until the duration has passed or `stop` is set; ProcessFailed when a
    child dies meanwhile."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    redis = Redis.from_url(redis_url)
    started = time.monotonic()
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if options.duration_s is not None and elapsed >= options.duration_s:
                return
            for child in children:
                child.check_running()
            say((await progress(elapsed, rpc, pool, redis)).line())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PROGRESS_EVERY_S):
                    await stop.wait()
    finally:
        await redis.aclose()
        await pool.close()


async def check(rpc: RpcClient, dsn: str, program_id: Pubkey,
                kinds: Mapping[Pubkey, str]) -> Summary:
    """Let the indexer catch up, then the stored events against the chain's (with the
    liquidations per oracle kind of `kinds`' markets)."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    try:
        for _ in range(CATCH_UP_RUNS):
            if await index_events(rpc, pool, program_id) == Outcome.NOT_NEEDED:
                break
        return await summary(rpc, pool, program_id, kinds)
    finally:
        await pool.close()
