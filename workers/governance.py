"""The governance role: `tally_votes(market)`, `finalize_market(market)` and
`apply_config(pending_config)`, each with its account's address as a base58 string, enqueued
by the reconciler (jobs/reconciler.py) when the chain says they are due; runs are recorded
in job_runs, so the role has a database pool.

    arq workers.governance.WorkerSettings        # settings from the environment
    keepernet worker governance
"""

from __future__ import annotations

from fleet.context import on_target
from fleet.settings import Settings
from jobs.config import apply_config
from jobs.governance import finalize_market, tally_votes
from jobs.reconciler import RECONCILE_INTERVAL_S, reconciler_cron
from jobs.registry import APPLY_CONFIG, FINALIZE_MARKET, TALLY_VOTES
from workers.role import FromEnvironment, role_functions, role_settings

ROLE = "governance"


def worker_settings(settings: Settings) -> type:
    functions = role_functions(ROLE, {TALLY_VOTES.name: on_target(tally_votes),
                                      FINALIZE_MARKET.name: on_target(finalize_market),
                                      APPLY_CONFIG.name: on_target(apply_config)}, settings)
    reconciler = reconciler_cron(ROLE, functions, settings.timeouts.reconcile)
    return role_settings(ROLE, settings, functions, cron_jobs=[reconciler],
                         schedule_s=RECONCILE_INTERVAL_S, signs=True,
                         database=True)


__getattr__ = FromEnvironment(__name__, worker_settings)
