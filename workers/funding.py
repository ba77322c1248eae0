"""The funding role: `update_funding(perp_market)` and `post_price(perp_market)`, the perp
market's address as a base58 string, enqueued by the reconciler (jobs/reconciler.py) when an
interval has passed or a pull oracle is getting old (and `post_price` by the liquidator and
funding jobs that meet one stale); runs are recorded in job_runs, so the role has a database
pool. `post_price`'s source is `prices.source` (jobs/price_source.py), checked at start-up
with the pull accounts' keypairs (`prices.pull_keys`, jobs/price_poster.py).

    arq workers.funding.WorkerSettings           # settings from the environment
    keepernet worker funding
"""

from __future__ import annotations

from fleet.context import WorkerDeps, on_target, pubkey_arg
from fleet.settings import Settings
from jobs.funding import update_funding
from jobs.outcome import Outcome
from jobs.price_post import post_price
from jobs.price_poster import load_pull_keys, price_poster
from jobs.price_source import check_price_source, price_source
from jobs.reconciler import RECONCILE_INTERVAL_S, reconciler_cron
from jobs.registry import POST_PRICE, UPDATE_FUNDING
from workers.role import FromEnvironment, role_functions, role_settings

ROLE = "funding"


async def run_post_price(deps: WorkerDeps, target: object) -> Outcome:
    """`post_price` on `target`, posting as the cluster takes it (jobs/price_poster.py)."""
    key = pubkey_arg(target)
    if key is None:
        return Outcome.FAILED
    async with price_poster(deps.settings, deps.chain.sender, deps.chain.rpc) as poster:
        return await post_price(deps.chain, key, price_source(deps.settings, deps.chain.rpc),
                                poster)


def worker_settings(settings: Settings) -> type:
    check_price_source(settings)
    if settings.prices.pull_keys is not None:
        load_pull_keys(settings.prices.pull_keys)  # refused at start-up, not at each post
    functions = role_functions(ROLE, {UPDATE_FUNDING.name: on_target(update_funding),
                                      POST_PRICE.name: run_post_price}, settings)
    reconciler = reconciler_cron(ROLE, functions, settings.timeouts.reconcile)
    return role_settings(ROLE, settings, functions, cron_jobs=[reconciler],
                         schedule_s=RECONCILE_INTERVAL_S, signs=True,
                         database=True)


__getattr__ = FromEnvironment(__name__, worker_settings)
