"""What every role's `WorkerSettings` shares, and the roles by name.

A role module (`workers.indexer`, `workers.governance`, `workers.funding`) has
`worker_settings(settings) -> type`, a plain class of `arq.Worker`'s options, and a
module-level `WorkerSettings` built from the environment on first access (so that
`arq workers.<role>.WorkerSettings` reads the settings when it starts, and importing the
module does not).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from arq.cron import CronJob
from arq.worker import Function

from fleet.context import Background, Run, job_function, lifecycle
from fleet.redis import redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import Settings, load_settings
from jobs.errors import Permanent
from jobs.registry import KEEP_RESULT_S, ROLES, jobs_of, queue_name
from metrics.health import HealthPolicy

HEALTH_CHECK_INTERVAL_S = 10
SHUTDOWN_GRACE_S = 5  # beyond the role's longest timeout, to let running jobs finish
SCHEDULE_SLACK = 3  # cron periods a role may go without a success before it is unhealthy


class UnknownRole(Permanent, ValueError):
    """A name that is not a role's."""


def role_functions(role: str, runs: Mapping[str, Run], settings: Settings) -> list[Function]:
    """The arq functions of `role`'s jobs in the registry, each with its run from `runs` (by
    job name); a job of the role without a run, or a run of no job of the role, is a wiring
    mistake: ValueError."""
    jobs = jobs_of(role)
    if set(runs) != {job.name for job in jobs}:
        raise ValueError(f"the {role} role's runs {sorted(runs)} are not its jobs "
                         f"{[job.name for job in jobs]}")
    return [job_function(job, runs[job.name], settings) for job in jobs]


def role_settings(role: str, settings: Settings, functions: Sequence[Function], *,
                  cron_jobs: Sequence[CronJob] = (), schedule_s: float, signs: bool,
                  database: bool, works_without_database: bool = True,
                  background: Background | None = None, max_jobs: int = 10,
                  poll_delay_s: float = 0.1) -> type:
    """The `WorkerSettings` class of `role`: its own queue, JSON, Redis with timeouts and
    retries, its deps built at start-up (and its `background` task started), a shutdown that
    waits for running jobs, and its health judged against `schedule_s`, the period of its most
    frequent cron job (a success is due within SCHEDULE_SLACK of those, plus a timeout).
    A role that `works_without_database` (it needs it only for job_runs and reads it can do
    without) is degraded, not unhealthy, while PostgreSQL is away."""
    timeouts = [f.timeout_s for f in functions] + [c.timeout_s for c in cron_jobs]
    longest_s = max(t or 0.0 for t in timeouts)
    health = HealthPolicy(
        success_within_s=SCHEDULE_SLACK * schedule_s + longest_s,
        degraded_by=frozenset({"postgres"} if works_without_database else ()))
    on_startup, on_shutdown = lifecycle(settings, role, signs=signs, database=database,
                                        health=health, background=background)
    attributes: dict[str, Any] = {
        "__doc__": f"arq options of the {role} role.",
        "functions": list(functions),
        "cron_jobs": list(cron_jobs),
        "queue_name": queue_name(role),
        "redis_settings": redis_settings(settings),
        "job_serializer": job_serializer,
        "job_deserializer": job_deserializer,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "allow_abort_jobs": False,
        "job_completion_wait": math.ceil(longest_s) + SHUTDOWN_GRACE_S,
        "max_jobs": max_jobs,
        "poll_delay": poll_delay_s,
        # the crons' (each job function keeps its own, from the registry)
        "keep_result": KEEP_RESULT_S,
    }
    return type("WorkerSettings", (), attributes)


def worker_settings_of(role: str, settings: Settings) -> type:
    """`role`'s WorkerSettings for `settings`; UnknownRole for a name not in ROLES."""
    if role not in ROLES:
        raise UnknownRole(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    module = importlib.import_module(f"workers.{role}")
    made: type = module.worker_settings(settings)
    return made


class FromEnvironment:
    """A role module's `__getattr__`: its `WorkerSettings`, built from the environment on
    first access and kept (`cache_clear` forgets it, for tests)."""

    def __init__(self, module: str, build: Callable[[Settings], type]) -> None:
        self.module = module
        self.build = build
        self._built: type | None = None

    def __call__(self, name: str) -> type:
        if name != "WorkerSettings":
            raise AttributeError(f"module {self.module!r} has no attribute {name!r}")
        if self._built is None:
            self._built = self.build(load_settings())
        return self._built

    def cache_clear(self) -> None:
        self._built = None
