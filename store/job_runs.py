"""Every try of every job, in `job_runs`, an append-only history: what ran, when, and how it
ended, one row per try, keyed by a run id the worker draws for the try.

Writers (the workers' job wrapper): `started` when a try begins (outcome NULL, the job's args
in `detail`), `finished` when it ends, both by the try's run id — so a try that runs again
under the same (job_id, try) (arq's rerun of a job whose worker died, the same id enqueued
again later) adds a row and never overwrites the earlier one, and writing the same run again
changes nothing. `skipped` records a try that did nothing because another holder had the
target's lease, unless a row of the same (job_id, try) is there already (the holder's, which
says what happened and which a later finished row would hide from `unfinished`).

Readers: `last_success` (each job's newest success, for health checks) and `unfinished` (the
newest try of each job id that started long ago and never ended: its worker died, or Redis lost
it, and the reconciler may enqueue it again).

Retention: `prune` deletes the rows started more than a number of days ago
(`KEEPERNET_JOB_RUNS_RETENTION_DAYS`), a bounded batch at a time; the indexer calls it after
each `snapshot_accounts`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

_STARTED = """
INSERT INTO job_runs (run_id, job_id, try, role, job, outcome, started_at, finished_at, detail)
VALUES ($1, $2, $3, $4, $5, NULL, coalesce($7::timestamptz, now()), NULL, $6::jsonb)
ON CONFLICT (run_id) DO NOTHING
"""

_FINISHED = """
UPDATE job_runs SET outcome = $2, finished_at = coalesce($3::timestamptz, now())
WHERE run_id = $1
"""

_SKIPPED = """
INSERT INTO job_runs (run_id, job_id, try, role, job, outcome, started_at, finished_at, detail)
SELECT $1, $2, $3, $4, $5, $6, now(), now(), $7::jsonb
WHERE NOT EXISTS (SELECT 1 FROM job_runs WHERE job_id = $2 AND try = $3)
ON CONFLICT (run_id) DO NOTHING
"""

# a batch at a time, so that a first run on a long history does not hold its locks for long
_PRUNE = """
DELETE FROM job_runs WHERE run_id IN (
    SELECT run_id FROM job_runs
    WHERE started_at < now() - make_interval(secs => $1) LIMIT $2)
"""
PRUNE_BATCH = 10_000
DAY_S = 86_400.0

_LAST_SUCCESS = """
SELECT job, max(finished_at) AS at FROM job_runs WHERE outcome = 'success' GROUP BY job
"""

# an unfinished try old enough, unless a later try of the same job id exists (the newest try
# by start decides); the partial index job_runs_unfinished finds the candidates
_UNFINISHED = """
SELECT job_id, try, job, started_at, detail FROM job_runs r
WHERE role = $1 AND finished_at IS NULL AND started_at < now() - make_interval(secs => $2)
  AND NOT EXISTS (
    SELECT 1 FROM job_runs later
    WHERE later.job_id = r.job_id
      AND (later.started_at, later.try) > (r.started_at, r.try))
ORDER BY started_at
"""


@dataclass(frozen=True)
class LostRun:
    """A try that started `started_at` and never finished: its job, id and JSON args."""

    job_id: str
    try_: int
    job: str
    args: list[Any]
    started_at: datetime


async def started(pool: asyncpg.Pool, run_id: UUID, job_id: str, try_: int, role: str,
                  job: str, args: list[Any], at: datetime | None = None) -> None:
    """Record that the run `run_id`, try `try_` of `job_id`, began (`at`, or now by the
    database's clock when not given: the worker writes it beside the work, so its row may land
    later than the start), with the job's JSON args; a new row, unless this run has one."""
    await pool.execute(_STARTED, run_id, job_id, try_, role, job, json.dumps({"args": args}),
                       at)


async def finished(pool: asyncpg.Pool, run_id: UUID, outcome: str,
                   at: datetime | None = None) -> None:
    """Record how the run `run_id` ended (`at`, or now by the database's clock: a worker
    that held the write while the database was away gives the time it ended)."""
    await pool.execute(_FINISHED, run_id, outcome, at)


async def skipped(pool: asyncpg.Pool, run_id: UUID, job_id: str, try_: int, role: str,
                  job: str, args: list[Any], outcome: str) -> None:
    """Record the run `run_id`, try `try_` of `job_id`, that ended at once with `outcome`,
    unless a row of the same try exists (a holder's run, which says what happened)."""
    await pool.execute(_SKIPPED, run_id, job_id, try_, role, job, outcome,
                       json.dumps({"args": args}))


async def prune(pool: asyncpg.Pool, older_than_days: float) -> int:
    """Delete up to `PRUNE_BATCH` rows of tries that started more than `older_than_days` ago;
    how many it deleted."""
    status = await pool.execute(_PRUNE, older_than_days * DAY_S, PRUNE_BATCH)
    return int(status.rsplit(" ", 1)[-1])  # "DELETE <count>"


async def last_success(pool: asyncpg.Pool) -> dict[str, datetime]:
    """When each job last ended in `success`."""
    return {r["job"]: r["at"] for r in await pool.fetch(_LAST_SUCCESS)}


async def unfinished(pool: asyncpg.Pool, role: str, older_than_s: float) -> list[LostRun]:
    """`role`'s job ids whose newest try started more than `older_than_s` ago and never
    finished, oldest first."""
    rows = await pool.fetch(_UNFINISHED, role, float(older_than_s))
    lost = []
    for r in rows:
        detail = json.loads(r["detail"]) if r["detail"] is not None else {}
        args = detail.get("args", []) if isinstance(detail, dict) else []
        lost.append(LostRun(r["job_id"], r["try"], r["job"],
                            args if isinstance(args, list) else [], r["started_at"]))
    return lost
