"""The governance role: `tally_votes(market)` and `finalize_market(market)`, each with the
market's address as a base58 string.

    arq workers.governance.WorkerSettings        # settings from the environment
    keepernet worker governance
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jobs.governance import finalize_market, tally_votes
from jobs.outcome import Outcome
from workers.context import WorkerDeps, job_function, pubkey_arg
from workers.role import role_settings
from workers.settings import Settings, load_settings

ROLE = "governance"
MAX_TRIES = 3


async def run_tally_votes(deps: WorkerDeps, market: object) -> Outcome:
    key = pubkey_arg(market)
    return Outcome.FAILED if key is None else await tally_votes(deps.chain, key)


async def run_finalize_market(deps: WorkerDeps, market: object) -> Outcome:
    key = pubkey_arg(market)
    return Outcome.FAILED if key is None else await finalize_market(deps.chain, key)


def worker_settings(settings: Settings) -> type:
    return role_settings(ROLE, settings, [
        job_function("tally_votes", run_tally_votes, settings, max_tries=MAX_TRIES),
        job_function("finalize_market", run_finalize_market, settings, max_tries=MAX_TRIES),
    ], signs=True, database=False)


@cache
def _from_environment() -> type:
    return worker_settings(load_settings())


def __getattr__(name: str) -> Any:
    if name == "WorkerSettings":
        return _from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
