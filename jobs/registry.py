"""The jobs, each defined once: its name, role, target, stage, timeout, tries, result keeping
and which errors mean retry; and the one place job ids and queue names are made.

Everything else reads this table: the settings' job list and default timeouts
(fleet/settings.py), the roles' arq functions (workers/), the operator's enqueue checks
(workers/enqueue.py), the stages (jobs/stages.py) and the metrics. Adding a job is one `Job`
here, its function, its run in its role's module, and its field in the settings'
`JobTimeouts` (defaulting to the `Job`'s timeout); tests/jobs/test_registry.py checks each job
is wired.

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
    post_price          perp market, its oracle's `publish_time` (the update it replaces)
    scan_positions      perp market, or none for every market
    index_events, snapshot_accounts   no target
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job as ArqJob

from jobs.errors import RETRYABLE, UNREACHABLE, Permanent
from patches.arq_enqueue_many import Queued, enqueue_many

QUEUE_PREFIX = "keepernet:"
# ids carry their stage, so a kept result only blocks the same piece of work: keep it no
# longer than it takes to stop a burst of duplicate enqueues
KEEP_RESULT_S = 300.0
# the reconciler's cron: timed and counted like a job, but never enqueued by name
RECONCILE = "reconcile"
RECONCILE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Target:
    """The kind of account (its IDL name) a job acts on, and whether it may be left out (the
    job then covers every such account, or the deployment's own: workers/enqueue.py)."""

    kind: str
    optional: bool = False


@dataclass(frozen=True)
class Job:
    """One job. `stage` is the field of its target account that names the moment of the work
    (None: its id has none); `timeout_s` is the default of its setting; `keep_result_s` how
    long arq keeps its result (0: none); `retry_on` the errors after which it runs again."""

    name: str
    role: str
    target: Target | None
    stage: str | None = None
    timeout_s: float = 30.0
    tries: int = 3
    keep_result_s: float = KEEP_RESULT_S
    retry_on: tuple[type[Exception], ...] = RETRYABLE


# the indexer reads PostgreSQL itself: the database or a socket away is passing too
INDEX_EVENTS = Job("index_events", "indexer", None, timeout_s=60.0, tries=2,
                   retry_on=UNREACHABLE)
SNAPSHOT_ACCOUNTS = Job("snapshot_accounts", "indexer", None, timeout_s=60.0, tries=2,
                        retry_on=UNREACHABLE)
SCAN_POSITIONS = Job("scan_positions", "liquidator", Target("PerpMarket", optional=True),
                     timeout_s=20.0)
# no result kept: a kept `not_needed` would refuse the position's id, so a price that dips,
# recovers and dips again within KEEP_RESULT_S would find it unliquidatable by the trigger and
# the scan alike; the chain (a flat position) stops repeats instead
LIQUIDATE_POSITION = Job("liquidate_position", "liquidator", Target("Position"),
                         stage="opened_at", keep_result_s=0)
UPDATE_FUNDING = Job("update_funding", "funding", Target("PerpMarket"),
                     stage="last_funding_ts")
# cranks a pull oracle's price for the perps, beside update_funding; its stage is read from
# the market's oracle (jobs/price_post.py), so a stale update is replaced once
POST_PRICE = Job("post_price", "funding", Target("PerpMarket"), stage="publish_time",
                 timeout_s=20.0)
TALLY_VOTES = Job("tally_votes", "governance", Target("Market"))
FINALIZE_MARKET = Job("finalize_market", "governance", Target("Market"), stage="state")
APPLY_CONFIG = Job("apply_config", "governance", Target("PendingConfig", optional=True),
                   stage="proposed_at")  # a new proposal is new work

JOBS: dict[str, Job] = {job.name: job for job in (
    INDEX_EVENTS, SNAPSHOT_ACCOUNTS, SCAN_POSITIONS, LIQUIDATE_POSITION, UPDATE_FUNDING,
    POST_PRICE, TALLY_VOTES, FINALIZE_MARKET, APPLY_CONFIG)}
ROLES = tuple(dict.fromkeys(job.role for job in JOBS.values()))  # indexer, liquidator, …


def jobs_of(role: str) -> list[Job]:
    """The jobs `role`'s workers run, in the table's order."""
    return [job for job in JOBS.values() if job.role == role]


class UnknownJob(Permanent, ValueError):
    """A name that is not a job's."""


class NotAnId(Permanent, ValueError):
    """An id that `job_id` does not make for the job and target given."""


def queue_name(role: str) -> str:
    """The arq queue of `role`: each role has its own, so a slow job family never delays
    another."""
    return QUEUE_PREFIX + role


def job_named(name: str) -> Job:
    """The job called `name`; UnknownJob for a name that is not a job."""
    try:
        return JOBS[name]
    except KeyError:
        raise UnknownJob(f"unknown job {name!r}: one of {', '.join(JOBS)}") from None


def role_of(job: str) -> str:
    """The role whose workers run `job`; UnknownJob for a name that is not a job."""
    return job_named(job).role


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


async def enqueue_each(redis: ArqRedis, job: str,
                       targets: Sequence[tuple[object, object | None, float | None]]
                       ) -> list[bool]:
    """Enqueue `job(target)` for each (target, stage, defer_s) of `targets` on its role's queue
    under its deterministic id, all in one round trip (patches/arq_enqueue_many.py); whether
    each was queued (False: that id is already queued, running or just done)."""
    return await enqueue_many(redis, queue_name(role_of(job)), [
        Queued(job, (target,), job_id(job, target, stage), defer_s)
        for target, stage, defer_s in targets])


async def enqueue(redis: ArqRedis, job: str, *args: Any, stage: object | None = None,
                  defer_s: float | None = None) -> ArqJob | None:
    """Enqueue `job(*args)` on its role's queue under its deterministic id (the first argument,
    if any, is the target); None when that id is already queued, running or just done."""
    target = args[0] if args else None
    return await redis.enqueue_job(job, *args, _job_id=job_id(job, target, stage),
                                   _queue_name=queue_name(role_of(job)), _defer_by=defer_s)
