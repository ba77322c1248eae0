"""The funding role: `update_funding(perp_market)`, the perp market's address as a base58
string, enqueued by the reconciler (jobs/reconciler.py) when an interval has passed; runs are
recorded in job_runs, so the role has a database pool.

    arq workers.funding.WorkerSettings           # settings from the environment
    keepernet worker funding
"""

from __future__ import annotations

from fleet.context import on_target
from fleet.settings import Settings
from jobs.funding import update_funding
from jobs.reconciler import RECONCILE_INTERVAL_S, reconciler_cron
from jobs.registry import UPDATE_FUNDING
from workers.role import FromEnvironment, role_functions, role_settings

ROLE = "funding"


def worker_settings(settings: Settings) -> type:
    functions = role_functions(ROLE, {UPDATE_FUNDING.name: on_target(update_funding)},
                               settings)
    reconciler = reconciler_cron(ROLE, functions, settings.timeouts.reconcile)
    return role_settings(ROLE, settings, functions, cron_jobs=[reconciler],
                         schedule_s=RECONCILE_INTERVAL_S, signs=True,
                         database=True)


__getattr__ = FromEnvironment(__name__, worker_settings)
