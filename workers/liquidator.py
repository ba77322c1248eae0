"""The liquidator role: `liquidate_position(position)`, `scan_positions([perp_market])`, and the
price trigger.

Positions are found two ways: each instance's `PriceTrigger` (fleet/price_trigger.py)
judges its share of the positions the moment an oracle's price changes and liquidates them at
once (fleet/fast_path.py), and a cron `scan_positions` over every position (unique: one run
per tick across instances) is the safety net for anything the triggers missed — a position
opened since the last book refresh, a notification lost in a reconnection, a dead instance's
share before the others take it over. Both enqueue `liquidate_position` under the same
deterministic ids (the fast path's deferred, as its fallback).

    arq workers.liquidator.WorkerSettings        # settings from the environment
    keepernet worker liquidator
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import structlog
from arq.connections import ArqRedis
from arq.cron import cron

from fleet.context import WorkerDeps, on_target, pubkey_arg
from fleet.fast_path import FastPath
from fleet.membership import Fleet, instance_name
from fleet.price_trigger import PriceTrigger
from fleet.settings import Settings
from jobs.liquidation import liquidate_position, scan_positions
from jobs.liquidation_plan import Candidate
from jobs.outcome import Outcome
from jobs.registry import LIQUIDATE_POSITION, SCAN_POSITIONS, enqueue
from workers.role import FromEnvironment, role_functions, role_settings

ROLE = "liquidator"
# liquidations wait on confirmation, not on this process's CPU: so many run at once
# from the queue, and so many more on the fast path
MAX_JOBS = 50
POLL_DELAY_S = 0.01  # arq has no wake-up: the queue is polled, and a liquidation is urgent
# a dead instance's share of the book passes to the others when its heartbeat lapses: as
# short as the lease (fleet/context.LEASE_TTL_S), so takeover is in seconds either way
BEAT_S = 0.5
FLEET_TTL_S = 3 * BEAT_S

LIQUIDATE = on_target(liquidate_position)  # the job's run, from the queue or the fast path

log = structlog.get_logger(__name__)


def scan_seconds(interval_s: float) -> set[int]:
    """The cron's seconds for a scan every `interval_s` (at least 1 s, at most a minute)."""
    step = min(max(round(interval_s), 1), 60)
    return set(range(0, 60, step))


async def enqueue_liquidations(redis: ArqRedis, candidates: Iterable[Candidate]) -> int:
    """Enqueue `liquidate_position` for each candidate; how many were not queued already."""
    jobs = await asyncio.gather(*(enqueue(redis, LIQUIDATE_POSITION.name, str(c.position),
                                          stage=c.opened_at) for c in candidates))
    return sum(job is not None for job in jobs)


async def run_scan(deps: WorkerDeps, perp_market: object = None) -> Outcome:
    """`scan_positions` over every position (or `perp_market`'s), each liquidatable one
    enqueued."""
    market = None
    if perp_market is not None:
        market = pubkey_arg(perp_market)
        if market is None:
            return Outcome.FAILED
    result = await scan_positions(deps.chain, market,
                                  partitions=deps.settings.liquidator.book_partitions)
    queued = await enqueue_liquidations(deps.redis, result.candidates)
    log.info("scan enqueued liquidations", judged=result.judged, found=len(result.candidates),
             queued=queued, refused={str(k): v for k, v in result.refused.items()})
    return Outcome.SUCCESS if result.candidates else Outcome.NOT_NEEDED


async def price_trigger(deps: WorkerDeps) -> None:
    """This instance's price trigger, joined to the fleet, liquidating what it finds through
    the fast path, until cancelled; then the liquidations running finish."""
    fleet = Fleet(deps.redis, ROLE, instance_name(), FLEET_TTL_S)
    fast_path = FastPath(deps, LIQUIDATE, MAX_JOBS)
    log.info("liquidator instance joined", instance=fleet.instance)
    # a blockhash and a fee at hand, so that the fast path's sends never wait for them: the
    # fee to lock the Config and the vault, which every liquidation writes
    d = deps.chain.client.d
    fresh = asyncio.create_task(deps.chain.sender.keep_fresh([d.config, d.vault]),
                                name="blockhash and fee")
    try:
        await PriceTrigger(deps.chain, fast_path.liquidate, fleet,
                           deps.settings.websocket_url(), beat_s=BEAT_S,
                           book_partitions=deps.settings.liquidator.book_partitions,
                           book_reconcile_s=deps.settings.liquidator.book_reconcile_s,
                           price_commitment=deps.settings.liquidator.price_commitment).run()
    finally:
        await fast_path.drain()
        fresh.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await fresh


def worker_settings(settings: Settings) -> type:
    functions = role_functions(ROLE, {LIQUIDATE_POSITION.name: LIQUIDATE,
                                      SCAN_POSITIONS.name: run_scan}, settings)
    scan = next(f for f in functions if f.name == SCAN_POSITIONS.name)
    tick = cron(scan.coroutine, name=f"cron:{scan.name}",
                second=scan_seconds(settings.liquidator.scan_interval_s), run_at_startup=True,
                unique=True, timeout=scan.timeout_s, max_tries=1)
    return role_settings(ROLE, settings, functions, cron_jobs=[tick],
                         schedule_s=settings.liquidator.scan_interval_s, signs=True,
                         database=True, background=price_trigger, max_jobs=MAX_JOBS,
                         poll_delay_s=POLL_DELAY_S)


__getattr__ = FromEnvironment(__name__, worker_settings)
