"""The reconciler: a cron job of the governance and funding roles that enqueues their work from
the sources of truth, so that nothing due is lost with a Redis queue or a dead worker.

Every `RECONCILE_INTERVAL_S` (and at start-up; unique, so one run per tick across instances)
`reconcile`:

1. reads the work due on chain (jobs/due.py) and enqueues each job through
   `jobs.registry.enqueue`: its id is deterministic, so a job already queued, running or
   just done is not enqueued again, and a queue wiped by FLUSHDB or lost with Redis is
   rebuilt on the next tick;
2. re-enqueues the role's lost runs: tries in `job_runs` that started longer ago than arq
   could still be running them (the worker's largest timeout + 10 s) and never finished, whose
   arq job is gone from Redis (neither `arq:job:<id>` nor `arq:in-progress:<id>`), with their
   stored args under the same id.

Either half failing (the chain or the database unreachable) is logged and the other still runs;
the next tick tries again. The run returns and logs its counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import structlog
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.cron import CronJob, cron
from arq.worker import Function

from fleet.context import WorkerDeps, deps_of
from jobs.due import read_due
from jobs.errors import outcome_of
from jobs.outcome import Outcome
from jobs.registry import RECONCILE, NotAnId, enqueue, stage_in
from metrics.jobs import JobTry
from store.job_runs import unfinished

RECONCILE_INTERVAL_S = 10
ARQ_IN_PROGRESS_EXTRA_S = 10.0  # arq keeps a job's in-progress key its largest timeout + this

log = structlog.get_logger(__name__)


class Summary(TypedDict):
    """What one reconciler run did: jobs found due on chain and how many of them were new to
    the queue; lost runs found in job_runs and how many were enqueued again."""

    due: int
    enqueued: int
    lost: int
    requeued: int


async def in_redis(redis: ArqRedis, job_id_: str) -> bool:
    """Whether arq still has the job `job_id_`: queued or deferred (its job key), or running
    (its in-progress key)."""
    found = await redis.exists(job_key_prefix + job_id_, in_progress_key_prefix + job_id_)
    return bool(found)


async def enqueue_due(redis: ArqRedis, deps: WorkerDeps, role: str) -> tuple[int, int]:
    """Enqueue `role`'s work due on chain: (jobs due, jobs newly enqueued)."""
    due = await read_due(deps.chain, role)
    enqueued = 0
    for d in due:
        if await enqueue(redis, d.job, str(d.target), stage=d.stage) is not None:
            enqueued += 1
            log.info("reconciler enqueued due job", due_job=d.job, target=str(d.target),
                     stage=d.stage)
    return len(due), enqueued


async def requeue_lost(redis: ArqRedis, deps: WorkerDeps, role: str,
                       lost_after_s: float) -> tuple[int, int]:
    """Enqueue again `role`'s runs lost from Redis: (lost runs, runs enqueued again)."""
    lost = [r for r in await unfinished(deps.pool, role, lost_after_s)
            if not await in_redis(redis, r.job_id)]
    requeued = 0
    for run in lost:
        try:
            # (an id enqueued by hand under a name of its own would get another id)
            stage = stage_in(run.job_id, run.job, run.args[0] if run.args else None)
        except NotAnId as e:
            log.warning("lost run not requeued", lost_job_id=run.job_id, reason=str(e))
            continue
        # None: arq still keeps the id's result (it ended without the row saying so): the
        # work is judged again from the chain once the result expires
        if await enqueue(redis, run.job, *run.args, stage=stage) is not None:
            requeued += 1
            log.info("reconciler requeued lost run", lost_job_id=run.job_id, lost_try=run.try_)
    return len(lost), requeued


async def reconcile(redis: ArqRedis, deps: WorkerDeps, role: str,
                    lost_after_s: float) -> Summary:
    """One reconciler run for `role` (see the module docstring)."""
    summary = Summary(due=0, enqueued=0, lost=0, requeued=0)
    try:
        summary["due"], summary["enqueued"] = await enqueue_due(redis, deps, role)
    except Exception as e:
        if outcome_of(e) is None:  # not a failure the error model knows: a bug, raised
            raise
        log.warning("reconciler could not read the chain", error=f"{type(e).__name__}: {e}")
    try:
        summary["lost"], summary["requeued"] = await requeue_lost(redis, deps, role,
                                                                  lost_after_s)
    except Exception as e:  # asyncpg's errors are many; the chain half above is done anyway
        log.warning("reconciler could not read job_runs", error=f"{type(e).__name__}: {e}")
    log.info("reconciled", **summary)
    return summary


def reconciler_cron(role: str, functions: Sequence[Function], timeout_s: float) -> CronJob:
    """`role`'s reconciler as an arq cron job, beside the role's `functions`."""
    longest_s = max([timeout_s, *(f.timeout_s or 0.0 for f in functions)])
    lost_after_s = longest_s + ARQ_IN_PROGRESS_EXTRA_S

    async def run(ctx: dict[Any, Any]) -> Summary:
        deps = deps_of(ctx)
        recorded = JobTry.of(role, RECONCILE, ctx)
        recorded.start()
        outcome = Outcome.FAILED
        with structlog.contextvars.bound_contextvars(
                role=role, job=RECONCILE, job_id=ctx.get("job_id"),
                **{"try": int(ctx.get("job_try", 1))}):
            try:
                summary = await reconcile(ctx["redis"], deps, role, lost_after_s)
                outcome = Outcome.SUCCESS
                return summary
            finally:
                recorded.finish(str(outcome))

    run.__qualname__ = run.__name__ = RECONCILE
    # a name per role: cron ids are the name and the tick, and two roles sharing them would
    # dedupe each other's ticks (only one role's reconciler would run)
    return cron(run, name=f"cron:{RECONCILE}:{role}",
                second=set(range(0, 60, RECONCILE_INTERVAL_S)),
                run_at_startup=True, unique=True, timeout=timeout_s, max_tries=1)
