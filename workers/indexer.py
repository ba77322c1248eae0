"""The indexer role: `index_events()`, on a cron every `INTERVAL_S` seconds (unique: one run
per tick however many workers) and enqueueable by hand.

    arq workers.indexer.WorkerSettings           # settings from the environment
    keepernet worker indexer
"""

from __future__ import annotations

from arq.cron import cron

from jobs.indexer import index_events
from jobs.outcome import Outcome
from workers.context import WorkerDeps, job_function
from workers.role import FromEnvironment, role_settings
from workers.settings import Settings

ROLE = "indexer"
INTERVAL_S = 5
MAX_TRIES = 2


async def run_index_events(deps: WorkerDeps) -> Outcome:
    return await index_events(deps.rpc, deps.pool, deps.settings.program_id)


def worker_settings(settings: Settings) -> type:
    job = job_function("index_events", run_index_events, settings, max_tries=MAX_TRIES)
    tick = cron(job.coroutine, name="cron:index_events", second=set(range(0, 60, INTERVAL_S)),
                run_at_startup=True, unique=True, timeout=job.timeout_s, max_tries=MAX_TRIES)
    return role_settings(ROLE, settings, [job], cron_jobs=[tick], signs=False, database=True)


__getattr__ = FromEnvironment(__name__, worker_settings)
