"""Queue latency, enqueue to start, for the liquidator queue: `python -m bench.queue`.

A Redis of its own (`demo.servers.RedisServer`, in a temporary folder). Jobs are
enqueued one at a time, every 20-50 ms (uniform, seeded), with `jobs.registry.enqueue` —
the real path: `liquidate_position` under its deterministic id onto
`queue_name("liquidator")`, JSON-serialized — and picked up by an arq worker in a process of
its own:

- real: the liquidator role's arq options, poll delay `workers.liquidator.POLL_DELAY_S` and
  `MAX_JOBS`, the role's JSON serializer;
- baseline: the same worker with arq's defaults (poll delay 0.5 s, max_jobs 10).

The job function is a cheap STAND-IN named `liquidate_position` that returns the wall-clock
time it started (it is the queue's latency that is measured, not a liquidation's work: see
bench/reaction.py for that). A job's latency is that start time minus the wall-clock time
taken just before its enqueue call, so it includes the enqueue's own round trip. The two
workers run one after the other on an emptied Redis, never side by side.

Writes bench/results/queue.json in the shape of bench/report.py, with every latency in
`details` for the plot.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker, func

from bench.report import BenchResult, Figure, conclude, percentile
from demo.servers import RedisServer
from fleet.serializer import job_deserializer, job_serializer
from jobs.registry import LIQUIDATE_POSITION, enqueue, queue_name
from workers.liquidator import MAX_JOBS, POLL_DELAY_S

TARGET_P99_MS = 20.0  # issue 7
ARQ_DEFAULT_POLL_DELAY_S = 0.5
ARQ_DEFAULT_MAX_JOBS = 10
GAP_S = (0.020, 0.050)
READY_TIMEOUT_S = 30.0
RESULT_TIMEOUT_S = 10.0
JOB = LIQUIDATE_POSITION.name


@dataclass(frozen=True)
class Side:
    """One worker configuration to measure."""

    name: str
    poll_delay_s: float
    max_jobs: int


FLEET = Side("liquidator options", POLL_DELAY_S, MAX_JOBS)
BASELINE = Side("arq defaults", ARQ_DEFAULT_POLL_DELAY_S, ARQ_DEFAULT_MAX_JOBS)
SIDES = {"fleet": FLEET, "baseline": BASELINE}


# ---- the worker's side (a child process) --------------------------------------------------------

async def started_at(ctx: dict[str, Any], position: str) -> float:
    """The stand-in job: when it started (wall clock), nothing else."""
    return time.time()


async def serve(side: Side, redis_url: str) -> None:
    """An arq worker of `side`'s options on the liquidator queue, until killed."""
    worker = Worker(functions=[func(started_at, name=JOB)],
                    queue_name=queue_name(LIQUIDATE_POSITION.role),
                    redis_settings=RedisSettings.from_dsn(redis_url),
                    job_serializer=job_serializer, job_deserializer=job_deserializer,
                    poll_delay=side.poll_delay_s, max_jobs=side.max_jobs, handle_signals=False)
    await worker.async_run()


# ---- the measuring side -------------------------------------------------------------------------

def start_worker(side_key: str, redis_url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "bench.queue", "--serve", side_key,
                                 "--redis", redis_url], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


async def wait_ready(pool: ArqRedis, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the worker has run a warm-up job."""
    job = await enqueue(pool, JOB, "warm-up", stage=os.getpid())
    if job is None:
        raise RuntimeError("the warm-up job was already queued")
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(TimeoutError):
            await job.result(timeout=0.5, poll_delay=0.05)
            return
    raise TimeoutError(f"the worker ran no job within {READY_TIMEOUT_S:.0f} s")


async def latencies(pool: ArqRedis, jobs: int, seed: int) -> list[float]:
    """Enqueue `jobs` one at a time; each one's enqueue-to-start in milliseconds."""
    rng = random.Random(seed)
    sent = []
    for i in range(jobs):
        before = time.time()
        job = await enqueue(pool, JOB, f"position-{i}", stage=seed)
        if job is None:
            raise RuntimeError(f"job {i} was refused as already queued")
        sent.append((before, job))
        await asyncio.sleep(rng.uniform(*GAP_S))
    out = []
    for before, job in sent:
        start = await job.result(timeout=RESULT_TIMEOUT_S, poll_delay=0.05)
        out.append((float(start) - before) * 1000)
    return out


async def measure_side(side_key: str, redis_url: str, jobs: int, data: Path) -> list[float]:
    pool = await create_pool(RedisSettings.from_dsn(redis_url), job_serializer=job_serializer,
                             job_deserializer=job_deserializer)
    log = data / f"worker-{side_key}.log"
    proc = start_worker(side_key, redis_url, log)
    try:
        await pool.flushall()
        await wait_ready(pool, proc, log)
        return await latencies(pool, jobs, seed=1 + len(side_key))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        await pool.aclose()


async def measure(jobs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="keepernet-bench-queue-") as tmp:
        data = Path(tmp)
        redis = RedisServer(data / "redis")
        await asyncio.to_thread(redis.start)
        try:
            return {key: await measure_side(key, redis.url, jobs, data) for key in SIDES}
        finally:
            await asyncio.to_thread(redis.remove)


def figures(measured: dict[str, list[float]]) -> list[Figure]:
    fleet, base = measured["fleet"], measured["baseline"]
    return [
        Figure.of("liquidator queue, enqueue to start, p50", percentile(fleet, 50), "ms",
                  baseline=percentile(base, 50), target_op="<="),
        Figure.of("liquidator queue, enqueue to start, p99", percentile(fleet, 99), "ms",
                  baseline=percentile(base, 99), target=TARGET_P99_MS, target_op="<="),
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench.queue", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per worker (default 200)")
    parser.add_argument("--quick", action="store_true", help="100 jobs per worker")
    parser.add_argument("--serve", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--redis", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(SIDES[args.serve], args.redis))
        return 0
    jobs = 100 if args.quick else args.jobs
    measured = asyncio.run(measure(jobs))
    result = BenchResult("queue", figures(measured), {
        "jobs": jobs, "gap_s": list(GAP_S),
        "fleet": {"poll_delay_s": FLEET.poll_delay_s, "max_jobs": FLEET.max_jobs},
        "baseline": {"poll_delay_s": BASELINE.poll_delay_s, "max_jobs": BASELINE.max_jobs},
        "job": "stand-in: returns its start time",
        "latencies_ms": {f"liquidator options (poll {FLEET.poll_delay_s * 1000:g} ms)":
                         [round(v, 3) for v in measured["fleet"]],
                         f"arq defaults (poll {BASELINE.poll_delay_s * 1000:g} ms)":
                         [round(v, 3) for v in measured["baseline"]]}})
    return conclude(result, f"{jobs} jobs per worker, one every {GAP_S[0] * 1000:g}-"
                            f"{GAP_S[1] * 1000:g} ms; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
