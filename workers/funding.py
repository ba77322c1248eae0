"""The funding role: `update_funding(perp_market)`, the perp market's address as a base58
string.

    arq workers.funding.WorkerSettings           # settings from the environment
    keepernet worker funding
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jobs.funding import update_funding
from jobs.outcome import Outcome
from workers.context import WorkerDeps, job_function, pubkey_arg
from workers.role import role_settings
from workers.settings import Settings, load_settings

ROLE = "funding"
MAX_TRIES = 3


async def run_update_funding(deps: WorkerDeps, perp_market: object) -> Outcome:
    key = pubkey_arg(perp_market)
    return Outcome.FAILED if key is None else await update_funding(deps.chain, key)


def worker_settings(settings: Settings) -> type:
    return role_settings(ROLE, settings, [
        job_function("update_funding", run_update_funding, settings, max_tries=MAX_TRIES),
    ], signs=True, database=False)


@cache
def _from_environment() -> type:
    return worker_settings(load_settings())


def __getattr__(name: str) -> Any:
    if name == "WorkerSettings":
        return _from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
