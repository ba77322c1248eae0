"""Every try of every job, in `job_runs` keyed by (job_id, try): what ran, when, and how it ended.

Writers (the workers' job wrapper): `started` when a try begins (outcome NULL, the job's args
in `detail`), `finished` when it ends. Both upsert on (job_id, try), so a try that runs again
(the same arq job rerun after its worker died, or the same id enqueued again later) overwrites
its row instead of adding one. `skipped` records a try that did nothing because another holder
had the target's lease, without touching a row a holder wrote under the same key.

Readers: `last_success` (each job's newest success, for health checks) and `unfinished` (the
newest try of each job id that started long ago and never ended: its worker died, or Redis lost
it, and the reconciler may enqueue it again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

_STARTED = """
INSERT INTO job_runs (job_id, try, role, job, outcome, started_at, finished_at, detail)
VALUES ($1, $2, $3, $4, NULL, coalesce($6::timestamptz, now()), NULL, $5::jsonb)
ON CONFLICT (job_id, try) DO UPDATE
SET role = EXCLUDED.role, job = EXCLUDED.job, outcome = NULL, started_at = EXCLUDED.started_at,
    finished_at = NULL, detail = EXCLUDED.detail
"""

_FINISHED = """
UPDATE job_runs SET outcome = $3, finished_at = coalesce($4::timestamptz, now())
WHERE job_id = $1 AND try = $2
"""

_SKIPPED = """
INSERT INTO job_runs (job_id, try, role, job, outcome, started_at, finished_at, detail)
VALUES ($1, $2, $3, $4, $5, now(), now(), $6::jsonb)
ON CONFLICT (job_id, try) DO NOTHING
"""

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


async def started(pool: asyncpg.Pool, job_id: str, try_: int, role: str, job: str,
                  args: list[Any], at: datetime | None = None) -> None:
    """Record that try `try_` of `job_id` began (`at`, or now by the database's clock when not
    given: the worker writes it beside the work, so its row may land later than the start),
    with the job's JSON args."""
    await pool.execute(_STARTED, job_id, try_, role, job, json.dumps({"args": args}), at)


async def finished(pool: asyncpg.Pool, job_id: str, try_: int, outcome: str,
                   at: datetime | None = None) -> None:
    """Record how try `try_` of `job_id` ended (`at`, or now by the database's clock: a
    worker that held the write while the database was away gives the time it ended)."""
    await pool.execute(_FINISHED, job_id, try_, outcome, at)


async def skipped(pool: asyncpg.Pool, job_id: str, try_: int, role: str, job: str,
                  args: list[Any], outcome: str) -> None:
    """Record a try that ended at once with `outcome`, unless its row already exists (a
    holder's run of the same try, which this must not overwrite)."""
    await pool.execute(_SKIPPED, job_id, try_, role, job, outcome, json.dumps({"args": args}))


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
