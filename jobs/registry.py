"""Which queue each job goes to and the id it is enqueued under: the one place job ids are made.

A job's id is `job[:target][:stage]`. The target is the account the job acts on; the stage
names the moment of the work, so that the same work is queued once however many planners,
crons or operators ask for it, while the next piece of work on the same account gets a new id
(arq refuses an id while it is queued, running, or its result is kept); `jobs.stages` reads
the stage from the target account:

    liquidate_position  position, its `opened_at` (a re-opened position is new work)
    update_funding      perp market, its `last_funding_ts` (the interval being applied)
    tally_votes         market (a proposal is decided once)
    finalize_market     market, its state (Resolving and Disputed finalize differently)
    apply_config        the PendingConfig, its `proposed_at` (each proposal is new work)
    scan_positions      perp market, or none for every market
    index_events, snapshot_accounts   no target
"""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job

QUEUE_PREFIX = "keepernet:"

JOB_ROLES: dict[str, str] = {
    "index_events": "indexer",
    "snapshot_accounts": "indexer",
    "scan_positions": "liquidator",
    "liquidate_position": "liquidator",
    "update_funding": "funding",
    "tally_votes": "governance",
    "finalize_market": "governance",
    "apply_config": "governance",
}
ROLES = tuple(dict.fromkeys(JOB_ROLES.values()))  # indexer, liquidator, funding, governance


class UnknownJob(ValueError):
    pass


class NotAnId(ValueError):
    """An id that `job_id` does not make for the job and target given."""


def queue_name(role: str) -> str:
    """The arq queue of `role`: each role has its own, so a slow job family never delays
    another."""
    return QUEUE_PREFIX + role


def role_of(job: str) -> str:
    """The role whose workers run `job`; UnknownJob for a name that is not a job."""
    try:
        return JOB_ROLES[job]
    except KeyError:
        raise UnknownJob(f"unknown job {job!r}: one of {', '.join(JOB_ROLES)}") from None


def job_id(job: str, target: object | None = None, stage: object | None = None) -> str:
    """The deterministic id of `job` on `target` at `stage` (see the module's table)."""
    role_of(job)
    parts = [job]
    if target is not None:
        parts.append(str(target))
    if stage is not None:
        parts.append(str(stage))
    return ":".join(parts)


def stage_in(id_: str, job: str, target: object | None) -> str | None:
    """The stage `id_` carries, such that `job_id(job, target, stage) == id_`; NotAnId when
    no stage makes it (an id given by hand)."""
    base = job_id(job, target)
    if id_ == base:
        return None
    prefix = base + ":"
    if id_.startswith(prefix) and len(id_) > len(prefix):
        return id_[len(prefix):]
    raise NotAnId(f"{id_!r} is not an id job_ids makes for {job} on {target}")


async def enqueue(redis: ArqRedis, job: str, *args: Any, stage: object | None = None,
                  defer_s: float | None = None) -> Job | None:
    """Enqueue `job(*args)` on its role's queue under its deterministic id (the first argument,
    if any, is the target); None when that id is already queued, running or just done."""
    target = args[0] if args else None
    return await redis.enqueue_job(job, *args, _job_id=job_id(job, target, stage),
                                   _queue_name=queue_name(role_of(job)), _defer_by=defer_s)
