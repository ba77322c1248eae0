"""RPC requests per minute per role, at rest and during a crash, against a hosted provider's
limits: `python -m bench.requests [--positions N]`.

Runs the demo (`demo.run.run_demo`: its own Redis, PostgreSQL and localnet, the scenario
seeded, the four roles' workers) with the localnet under the hosted profile
(chain/localnet/hosted.py; each role a customer of its own at `--rps`), and reads each worker's
`keepernet_rpc_requests_total` (every endpoint, method and outcome, the WebSocket's
subscriptions included) and `keepernet_rpc_rate_limited_total` from its /metrics:

- at rest: over the RESTING_S seconds that end a second before the crash starts;
- during the crash: over the CRASH_S seconds from its start (a 20 % fall over 10 s).

Figures are requests per minute over each window. No baseline: this is a measurement of what a
provider plan must allow, not a comparison. The demo's summary under the profile, checked
against the chain, ends the demo's lines and is kept in the results' details (`python -m bench`
prints it again after its table). Writes bench/results/requests.json.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.report import BenchResult, Figure, conclude
from chain.localnet.hosted import HostedProfile
from demo.run import ROLE_KEYS, DemoOptions, run_demo

REQUESTS = "keepernet_rpc_requests_total"
RATE_LIMITED = "keepernet_rpc_rate_limited_total"
RESTING_S = 15.0
CRASH_S = 20.0
CRASH_AFTER_S = 45.0  # from the publisher's start: room for the workers to start and rest
RPS = 50.0
DEFAULT_POSITIONS = 100
ROLES = tuple(ROLE_KEYS)

Counts = dict[str, dict[str, float]]  # role: {metric: total}


class Said:
    """The demo's lines printed, but its progress lines (every two seconds); the last one kept
    (the demo ends with its summary)."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, line: str) -> None:
        if not line.startswith("t="):
            print(line, flush=True)
            self.last = line


async def scrape(http: aiohttp.ClientSession, ports: Mapping[str, int]) -> Counts:
    """Each role's totals of REQUESTS and RATE_LIMITED, read from its /metrics now."""
    counts: Counts = {}
    for role, port in ports.items():
        async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
        totals = {REQUESTS: 0.0, RATE_LIMITED: 0.0}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in totals:
                    totals[sample.name] += sample.value
        counts[role] = totals
    return counts


def per_minute(before: Counts, after: Counts, seconds: float, metric: str) -> dict[str, float]:
    """Each role's `metric` per minute between two scrapes `seconds` apart."""
    return {role: (after[role][metric] - before[role][metric]) * 60 / seconds
            for role in after}


async def measure(positions: int, rps: float) -> tuple[dict[str, dict[str, float]], str]:
    """One demo run's windows: {"rest"|"crash"|"rest_429"|"crash_429": {role: per minute}},
    and the demo's summary (checked against the chain)."""
    started: asyncio.Future[tuple[float, Mapping[str, int]]] = \
        asyncio.get_running_loop().create_future()
    data = Path(tempfile.mkdtemp(prefix="keepernet-bench-requests-"))
    data.chmod(0o755)  # as root, PostgreSQL runs as `postgres`, which must reach the folder
    options = DemoOptions(data=data, duration_s=CRASH_AFTER_S + CRASH_S,
                          positions_per_market=positions, crash_after_s=CRASH_AFTER_S,
                          profile=HostedProfile(rps=rps, gpa_cap=max(1_000, 4 * positions)))
    say = Said()
    demo = asyncio.create_task(run_demo(options, say=say,
                                        on_started=lambda at, p: started.set_result((at, p))))
    try:
        # the demo's own failure (its seeding, say) ends the wait too
        either: list[asyncio.Future[Any]] = [started, demo]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            raise RuntimeError(f"the demo ended before its workers started: {demo.result()}")
        crash_at, ports = started.result()
        rest_from = max(time.monotonic() + 3, crash_at - 1 - RESTING_S)
        async with aiohttp.ClientSession() as http:
            await asyncio.sleep(rest_from - time.monotonic())
            a = await scrape(http, ports)
            await asyncio.sleep(crash_at - 1 - time.monotonic())
            b = await scrape(http, ports)
            rest_s = crash_at - 1 - rest_from
            await asyncio.sleep(crash_at + CRASH_S - time.monotonic())
            c = await scrape(http, ports)
        if await demo != 0:
            raise RuntimeError("the demo's summary did not match the chain")
    finally:
        if not demo.done():
            demo.cancel()
        shutil.rmtree(data, ignore_errors=True)
    return {"rest": per_minute(a, b, rest_s, REQUESTS),
            "crash": per_minute(b, c, CRASH_S, REQUESTS),
            "rest_429": per_minute(a, b, rest_s, RATE_LIMITED),
            "crash_429": per_minute(b, c, CRASH_S, RATE_LIMITED)}, say.last


def result(windows: Mapping[str, Mapping[str, float]], positions: int, rps: float,
           demo_summary: str = "") -> BenchResult:
    figures = [Figure.of(f"{role} requests/min {window}", windows[window][role], "req/min")
               for role in ROLES for window in ("rest", "crash")]
    figures += [Figure.of(f"{role} 429s/min during the crash", windows["crash_429"][role],
                          "429/min") for role in ROLES]
    return BenchResult("requests", figures, {"positions_per_market": positions, "rps": rps,
                                             "windows": windows,
                                             "demo_summary": demo_summary})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.requests", description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=DEFAULT_POSITIONS,
                        help=f"positions per perp market (default {DEFAULT_POSITIONS})")
    parser.add_argument("--rps", type=float, default=RPS,
                        help=f"the hosted profile's requests per second per role (default "
                             f"{RPS:g})")
    args = parser.parse_args(argv)
    windows, demo_summary = asyncio.run(measure(args.positions, args.rps))
    return conclude(result(windows, args.positions, args.rps, demo_summary),
                    f"RPC requests per minute per role, hosted profile at {args.rps:g} req/s, "
                    f"{args.positions:,} positions per market")


if __name__ == "__main__":
    sys.exit(main())
