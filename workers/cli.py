"""The `keepernet` command.

  keepernet localnet [--port N] [--keys DIR] [--host ADDRESS] [--slot-ms MS]
                     [--finalize-slots N] [--profile validator|hosted] [--rps N] [--gpa-cap N]
                     [--subscriptions-per-connection N] [--operator-key KEY]
  keepernet prices [--oracle KEY ...] [--feed HEX[@KEY] ...] --scenario walk|crash|csv [options]
  keepernet migrate [--dsn DSN]
  keepernet worker indexer|liquidator|funding|governance [--config FILE]
  keepernet enqueue JOB [ADDRESS] [--config FILE]
  keepernet status [--config FILE]
  keepernet demo [--duration S] [--data DIR] [--positions N] [--profile validator|hosted]
                 [--rps N] [--gpa-cap N] [--subscriptions-per-connection N]

Every refusal (unknown or bad arguments, an unreadable scenario file, bad settings, an enqueue
whose target is not on chain, a service that does not answer) prints what is wrong and exits
with status 2, before anything starts or is enqueued.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from solders.pubkey import Pubkey

from chain.keys import KeypairError
from chain.price_update import FEED_ID_LEN, push_feed_address
from chain.publisher import Feed, Publisher, PublishError
from chain.scenarios import Crash, RandomWalk, Scenario, ScenarioError, load_csv

if TYPE_CHECKING:  # the localnet's modules load the SVM stack: imported where they run
    from chain.localnet.hosted import HostedProfile

DEFAULT_KEYS = Path(".keepernet/localnet-keys")
DEMO_DATA = Path(".keepernet/demo")
# the benchmarks' largest book, a million positions, on the demo's two perp markets
MAX_POSITIONS_PER_MARKET = 500_000
DATABASE_URL_ENV = "KEEPERNET_DATABASE_URL"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    # the WebSocket server takes the next port
    if not 1 <= port <= 65534:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65534, not {port}")
    return port


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_ms(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected milliseconds > 0, got {text!r}")
    return value


def _localnet_profile(args: argparse.Namespace) -> HostedProfile | None:
    """The localnet's profile: the environment's (chain/localnet/hosted.py) with the command
    line's choices over it; ValueError for a bad one."""
    from chain.localnet.hosted import default_profile, profile_from

    from_env = default_profile()
    name = args.profile or ("validator" if from_env is None else "hosted")
    values = (args.rps, args.gpa_cap, args.subscriptions_per_connection,
              getattr(args, "operator_key", None))  # the demo makes its own
    if name == "validator":
        if any(v is not None for v in values):
            raise ValueError("--rps, --gpa-cap, --subscriptions-per-connection and "
                             "--operator-key need --profile hosted")
        return None
    base = from_env if from_env is not None else profile_from(None, None, None, None)
    return dataclasses.replace(base, **{k: v for k, v in zip(
        ("rps", "gpa_cap", "subscriptions_per_connection", "operator_key"), values,
        strict=True) if v is not None})


def _profile_arguments(command: argparse.ArgumentParser) -> None:
    """The localnet's profile options, on `keepernet localnet` and `keepernet demo`."""
    command.add_argument("--profile", choices=("validator", "hosted"), default=None,
                         help="validator: no limits; hosted: a hosted provider's (batches "
                              "refused, getProgramAccounts capped, 429 above --rps, "
                              "subscriptions per connection limited) (default validator, or "
                              "$KEEPERNET_LOCALNET_PROFILE)")
    command.add_argument("--rps", type=_positive, default=None,
                         help="hosted: requests per second per client before 429 (default "
                              "50, or $KEEPERNET_LOCALNET_RPS)")
    command.add_argument("--gpa-cap", type=_positive_int, default=None,
                         help="hosted: most accounts in a getProgramAccounts answer (default "
                              "100000, or $KEEPERNET_LOCALNET_GPA_CAP)")
    command.add_argument("--subscriptions-per-connection", type=_positive_int, default=None,
                         help="hosted: most WebSocket subscriptions on one connection (default "
                              "100, or $KEEPERNET_LOCALNET_SUBSCRIPTIONS_PER_CONNECTION)")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="keepernet", description="Keepernet keeper network.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    localnet = commands.add_parser(
        "localnet", help="serve Solana JSON-RPC (port) and WebSocket (port + 1) over LiteSVM "
                         "with the program deployed")
    localnet.add_argument("--port", type=_port, default=8899,
                          help="JSON-RPC port; WebSocket on the next one (default 8899)")
    localnet.add_argument("--keys", type=Path, default=DEFAULT_KEYS,
                          help=f"keypair folder, loaded or created (default {DEFAULT_KEYS})")
    localnet.add_argument("--host", default="127.0.0.1",
                          help="address to listen on (default 127.0.0.1; 0.0.0.0 in a "
                               "container others reach)")
    localnet.add_argument("--slot-ms", type=_positive_ms, default=None,
                          help="milliseconds per slot (default 400, a cluster's, or "
                               "$KEEPERNET_LOCALNET_SLOT_MS)")
    localnet.add_argument("--finalize-slots", type=_positive_int, default=None,
                          help="slots after which a slot is finalized (default 32, a "
                               "cluster's, or $KEEPERNET_LOCALNET_FINALIZE_SLOTS)")
    _profile_arguments(localnet)
    localnet.add_argument("--operator-key", default=None,
                          help="hosted: the api-key URL parameter served without limits "
                               "(default random, printed when ready, or "
                               "$KEEPERNET_LOCALNET_OPERATOR_KEY)")
    prices = commands.add_parser(
        "prices", help="publish Pyth price accounts into the localnet from a scenario")
    prices.add_argument("--url", default="http://127.0.0.1:8899", help="the localnet's RPC URL")
    prices.add_argument("--oracle", type=_pubkey, action="append", default=[],
                        help="a legacy price account address to publish (repeatable)")
    prices.add_argument("--feed", type=_feed, action="append", default=[],
                        help="a PriceUpdateV2 of this feed id (64 hex digits) to publish at "
                             "its push-oracle address, or at KEY after @ (a pull account; "
                             "repeatable)")
    prices.add_argument("--shard", type=int, default=0,
                        help="the push-oracle shard of --feed addresses (default 0)")
    prices.add_argument("--scenario", choices=("walk", "crash", "csv"), required=True)
    prices.add_argument("--start", type=_positive, default=100.0,
                        help="walk/crash: the starting price in quote units (default 100)")
    prices.add_argument("--volatility-bps", type=float, default=20.0,
                        help="walk: standard deviation of each step (default 20)")
    prices.add_argument("--seed", type=int, default=0, help="walk: random seed (default 0)")
    prices.add_argument("--drop-pct", type=float, default=30.0,
                        help="crash: how far the price falls, percent (default 30)")
    prices.add_argument("--over", type=_positive, default=10.0,
                        help="crash: seconds the fall takes (default 10)")
    prices.add_argument("--after", type=float, default=5.0,
                        help="crash: seconds before it starts (default 5)")
    prices.add_argument("--file", type=Path, help="csv: a file with columns seconds,price")
    prices.add_argument("--interval", type=_positive, default=0.4,
                        help="seconds between publications (default 0.4, a slot)")
    prices.add_argument("--duration", type=_positive,
                        help="stop after this many seconds (default: run until interrupted)")
    migrate = commands.add_parser(
        "migrate", help="apply the database schema migrations not applied yet")
    migrate.add_argument("--dsn", default=None,
                         help=f"PostgreSQL DSN (default: ${DATABASE_URL_ENV})")
    worker = commands.add_parser(
        "worker", help="run one role's arq worker until interrupted (settings from the "
                       "environment and the optional TOML file)")
    worker.add_argument("role", help="indexer, liquidator, funding or governance")
    worker.add_argument("--config", type=Path, default=None,
                        help="a TOML settings file (default: $KEEPERNET_CONFIG, if set)")
    worker.add_argument("--burst", action="store_true",
                        help="stop once the queue is empty (default: run until interrupted)")
    enqueue = commands.add_parser(
        "enqueue", help="enqueue a job now under the id the planners use, once its target is "
                        "checked on chain")
    enqueue.add_argument("job", help="the job's name (index_events, tally_votes, ...)")
    enqueue.add_argument("args", nargs="*", metavar="ADDRESS",
                         help="the account the job acts on, if it takes one")
    status = commands.add_parser(
        "status", help="show the queues, running jobs, last successes, indexer lag and the "
                       "keeper's balance")
    demo = commands.add_parser(
        "demo", help="run the whole fleet on a seeded localnet with servers of its own, then "
                     "print a summary checked against the chain")
    demo.add_argument("--duration", type=_positive, default=None,
                      help="seconds to run (default: until Ctrl-C)")
    demo.add_argument("--data", type=Path, default=DEMO_DATA,
                      help=f"folder for the servers' data, keys and logs (default {DEMO_DATA})")
    demo.add_argument("--positions", type=_count, default=1_000,
                      help="positions per perp market (default 1000)")
    _profile_arguments(demo)
    for command in (enqueue, status):
        command.add_argument("--config", type=Path, default=None,
                             help="a TOML settings file (default: $KEEPERNET_CONFIG, if set)")
    return root


def _worker(role: str, config: Path | None, burst: bool) -> int:
    from fleet.settings import SettingsError, load_settings
    from jobs.registry import ROLES
    from metrics.server import PortTaken
    from patches.arq_redis_away import create_worker
    from workers.role import UnknownRole, worker_settings_of

    if role not in ROLES:
        print(f"keepernet worker: unknown role {role!r}: one of {', '.join(ROLES)}",
              file=sys.stderr)
        return 2
    try:
        settings = load_settings(config)
        if role != "indexer":
            settings.keypair()  # a signing role refuses to start without a usable keypair
        worker_settings = worker_settings_of(role, settings)
    except (SettingsError, UnknownRole) as e:
        print(f"keepernet worker {role}: bad settings:\n{e}", file=sys.stderr)
        return 2
    # arq's worker, but one that waits for Redis rather than exiting (patches/arq_redis_away.py)
    worker = create_worker(worker_settings, burst=burst)
    try:
        worker.run()  # handles SIGINT/SIGTERM: stops polling, lets running jobs finish
    except PortTaken as e:  # raised at start-up, before any job
        print(f"keepernet worker {role}: {e}", file=sys.stderr)
        return 2
    return 0


def _enqueue(job: str, args: Sequence[str], config: Path | None) -> int:
    from redis.exceptions import RedisError
    from solana.rpc.core import RPCException

    from chain.client import RpcUnavailable
    from fleet.settings import SettingsError, load_settings
    from workers.enqueue import Refused, describe, parse_request, run_enqueue

    try:
        request = parse_request(job, args)
        settings = load_settings(config)
        enqueued = asyncio.run(run_enqueue(settings, request))
    except Refused as e:
        print(f"keepernet enqueue: {e}", file=sys.stderr)
        return 2
    except SettingsError as e:
        print(f"keepernet enqueue: bad settings:\n{e}", file=sys.stderr)
        return 2
    except (RpcUnavailable, RPCException) as e:
        print(f"keepernet enqueue: the RPC (KEEPERNET_RPC_URLS) did not answer: {e}",
              file=sys.stderr)
        return 2
    except (RedisError, OSError) as e:
        print(f"keepernet enqueue: Redis (KEEPERNET_REDIS_URL) did not answer: {e}",
              file=sys.stderr)
        return 2
    print(describe(enqueued))
    return 0


def _status(config: Path | None) -> int:
    from fleet.settings import SettingsError, load_settings
    from workers.status import Unreachable, gather, render

    try:
        print(render(asyncio.run(gather(load_settings(config)))))
    except SettingsError as e:
        print(f"keepernet status: bad settings:\n{e}", file=sys.stderr)
        return 2
    except Unreachable as e:
        print(f"keepernet status: {e}", file=sys.stderr)
        return 2
    return 0


def _pubkey(text: str) -> Pubkey:
    try:
        return Pubkey.from_string(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a base58 public key: {text!r}") from None


def _feed(text: str) -> tuple[bytes, Pubkey | None]:
    """HEX or HEX@KEY: a feed id and the pull account's address, if any."""
    hex_id, _, address = text.partition("@")
    try:
        feed_id = bytes.fromhex(hex_id.removeprefix("0x"))
    except ValueError:
        feed_id = b""
    if len(feed_id) != FEED_ID_LEN:
        raise argparse.ArgumentTypeError(f"not a feed id of 64 hex digits: {hex_id!r}")
    return feed_id, _pubkey(address) if address else None


def _feeds(args: argparse.Namespace) -> list[tuple[Pubkey, bytes | None]]:
    """Each account to publish and its feed id (None: a legacy price account), in order."""
    if not 0 <= args.shard < 2**16:
        raise ScenarioError(f"--shard {args.shard} is not a u16")
    legacy: list[tuple[Pubkey, bytes | None]] = [(o, None) for o in args.oracle]
    return legacy + [(address or push_feed_address(feed_id, args.shard), feed_id)
                     for feed_id, address in args.feed]


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _scenarios(args: argparse.Namespace, count: int) -> list[Scenario]:
    """One scenario per account; ScenarioError when the settings or the file are unusable."""
    start_e6 = round(args.start * 1_000_000)
    if args.scenario == "csv":
        if args.file is None:
            raise ScenarioError("--scenario csv needs --file")
        replay = load_csv(args.file)
        return [replay] * count
    if args.scenario == "crash":
        crash = Crash(start_e6, args.drop_pct, args.over, args.after)
        return [crash] * count
    # independent walks, reproducible from the seed
    return [RandomWalk(start_e6, args.volatility_bps, args.interval, args.seed + i)
            for i in range(count)]


async def _publish(args: argparse.Namespace, feeds: list[tuple[Pubkey, bytes | None]],
                   scenarios: list[Scenario]) -> None:
    publisher = Publisher(args.url, [Feed(o, s, feed_id=f)
                                     for (o, f), s in zip(feeds, scenarios, strict=True)])

    def show(t_s: float, prices: dict[Pubkey, int]) -> None:
        quoted = ", ".join(f"{str(k)[:8]}…={v / 1e6:,.6f}" for k, v in prices.items())
        print(f"t={t_s:7.1f}s {quoted}", flush=True)

    try:
        await publisher.run(args.interval, args.duration, show)
    finally:
        await publisher.close()


def _migrate(dsn: str | None) -> int:
    from store.migrate import DatabaseUnavailable, MigrationError, migrate, redact

    dsn = dsn or os.environ.get(DATABASE_URL_ENV)
    if not dsn:
        print(f"keepernet migrate: no database: pass --dsn or set {DATABASE_URL_ENV}",
              file=sys.stderr)
        return 2
    try:
        applied = asyncio.run(migrate(dsn))
    except DatabaseUnavailable as e:
        print(f"keepernet migrate: {e}", file=sys.stderr)
        return 2
    except MigrationError as e:
        print(f"keepernet migrate: {redact(dsn)}: {e}", file=sys.stderr)
        return 1
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("up to date: no migration to apply")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from demo.processes import ProcessFailed
    from demo.run import DemoOptions, SeedingFailed, run_demo
    from demo.servers import ServerMissing

    data: Path = args.data
    try:
        profile = _localnet_profile(args)
    except ValueError as e:
        print(f"keepernet demo: {e}", file=sys.stderr)
        return 2
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"keepernet demo: cannot keep the demo's data in {data}: {e.strerror}",
              file=sys.stderr)
        return 2
    options = DemoOptions(data=data, duration_s=args.duration,
                          positions_per_market=args.positions, profile=profile)
    try:
        return asyncio.run(run_demo(options, lambda line: print(line, flush=True)))
    except ServerMissing as e:  # refused before anything started
        print(f"keepernet demo: {e}", file=sys.stderr)
        return 2
    except (ProcessFailed, SeedingFailed) as e:
        print(f"keepernet demo: {e}", file=sys.stderr)
        return 1


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_POSITIONS_PER_MARKET:
        raise argparse.ArgumentTypeError(
            f"must be between 1 and {MAX_POSITIONS_PER_MARKET}, not {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.command == "migrate":
        return _migrate(args.dsn)
    if args.command == "worker":
        return _worker(args.role, args.config, args.burst)
    if args.command == "enqueue":
        return _enqueue(args.job, args.args, args.config)
    if args.command == "status":
        return _status(args.config)
    if args.command == "demo":
        return _demo(args)
    if args.command == "prices":
        try:
            feeds = _feeds(args)
            if not feeds:
                raise ScenarioError("nothing to publish: give --oracle or --feed")
            scenarios = _scenarios(args, len(feeds))
        except ScenarioError as e:
            cli.error(str(e))
        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_publish(args, feeds, scenarios))
        except PublishError as e:
            print(f"keepernet prices: {e}", file=sys.stderr)
            return 1
        return 0
    if args.command == "localnet":
        # imported late: the SVM stack is heavy
        from chain.localnet import default_finalize_slots, default_slot_seconds, serve

        try:  # the environment's defaults are refused before anything starts
            slot_seconds = (default_slot_seconds() if args.slot_ms is None
                            else args.slot_ms / 1000)
            finalize_slots = (default_finalize_slots() if args.finalize_slots is None
                              else args.finalize_slots)
            profile = _localnet_profile(args)
        except ValueError as e:
            print(f"keepernet localnet: {e}", file=sys.stderr)
            return 2
        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(serve(args.port, args.keys, host=args.host,
                                  slot_seconds=slot_seconds, finalize_slots=finalize_slots,
                                  profile=profile))
        except KeypairError as e:  # a key file in the folder others can read, or malformed
            print(f"keepernet localnet: {e}", file=sys.stderr)
            return 2
        except OSError as e:  # the port is taken, say
            print(f"keepernet localnet: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
