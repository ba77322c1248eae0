"""The indexer role: `index_events()`, on a cron every `INTERVAL_S` seconds, and
`snapshot_accounts()`, on a cron every `SNAPSHOT_INTERVAL_S` seconds (each unique: one run per
tick however many workers); both enqueueable by hand. After each snapshot the indexer also
deletes the `job_runs` rows older than the retention (`KEEPERNET_JOB_RUNS_RETENTION_DAYS`), a
batch a run.

    arq workers.indexer.WorkerSettings           # settings from the environment
    keepernet worker indexer
"""

from __future__ import annotations

import structlog
from arq.cron import CronJob, cron
from arq.worker import Function
from solana.rpc.commitment import Finalized

from chain.client import anchor_program
from fleet.context import WorkerDeps
from fleet.settings import Settings
from jobs.indexer import index_events
from jobs.outcome import Outcome
from jobs.registry import INDEX_EVENTS, SNAPSHOT_ACCOUNTS, Job
from jobs.snapshot import snapshot_accounts
from metrics import definitions as metric
from store.job_runs import prune
from workers.role import FromEnvironment, role_functions, role_settings

ROLE = "indexer"
INTERVAL_S = 5
SNAPSHOT_INTERVAL_S = 30

log = structlog.get_logger(__name__)


async def run_index_events(deps: WorkerDeps) -> Outcome:
    """index_events; once it has caught up, the slot read before it is the indexer's last slot
    (every event up to it is stored), whether or not the program emitted any since."""
    # finalized, as index_events reads: every event up to this slot is what it stores
    slot = (await deps.rpc.call("get_slot", Finalized)).value
    outcome = await index_events(deps.rpc, await deps.ready_pool(),
                                 deps.settings.program_id)
    if outcome in (Outcome.SUCCESS, Outcome.NOT_NEEDED):
        metric.indexer_last_slot.set(slot)
    return outcome


async def run_snapshot_accounts(deps: WorkerDeps) -> Outcome:
    # the indexer signs nothing, so its deps hold no Program: one over its RpcClient decodes
    program = anchor_program(deps.rpc, deps.settings.program_id)
    outcome = await snapshot_accounts(deps.rpc, await deps.ready_pool(), program)
    await prune_job_runs(deps)
    return outcome


async def prune_job_runs(deps: WorkerDeps) -> None:
    """Delete a batch of the `job_runs` rows older than the retention; a failure is logged,
    never the snapshot's: the next run deletes what this one left."""
    try:
        deleted = await prune(deps.pool, deps.settings.job_runs_retention_days)
    except Exception as e:  # asyncpg's errors are many; the snapshot is written anyway
        log.warning("job_runs retention not applied", error=f"{type(e).__name__}: {e}")
        return
    if deleted:
        log.info("job_runs retention applied", deleted=deleted,
                 retention_days=deps.settings.job_runs_retention_days)


def _every(function: Function, job: Job, interval_s: int) -> CronJob:
    return cron(function.coroutine, name=f"cron:{function.name}",
                second=set(range(0, 60, interval_s)), run_at_startup=True, unique=True,
                timeout=function.timeout_s, max_tries=job.tries)


def worker_settings(settings: Settings) -> type:
    functions = role_functions(ROLE, {INDEX_EVENTS.name: run_index_events,
                                      SNAPSHOT_ACCOUNTS.name: run_snapshot_accounts}, settings)
    index, snapshot = functions
    return role_settings(ROLE, settings, functions,
                         cron_jobs=[_every(index, INDEX_EVENTS, INTERVAL_S),
                                    _every(snapshot, SNAPSHOT_ACCOUNTS, SNAPSHOT_INTERVAL_S)],
                         schedule_s=INTERVAL_S, signs=False, database=True,
                         works_without_database=False)


__getattr__ = FromEnvironment(__name__, worker_settings)
