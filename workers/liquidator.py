"""The liquidator role: `liquidate_position(position)`, `scan_positions([perp_market])`, and the
price trigger.

Positions are found two ways: each instance's `PriceTrigger` (workers/price_trigger.py)
judges its share of the positions the moment an oracle's price changes, and a cron
`scan_positions` over every position (unique: one run per tick across instances) is the safety
net for anything the triggers missed — a position opened since the last book refresh, a
notification lost in a reconnection, a dead instance's share before the others take it over.
Both enqueue `liquidate_position` under the same deterministic ids.

    arq workers.liquidator.WorkerSettings        # settings from the environment
    keepernet worker liquidator
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.cron import cron

from chain.client import RpcUnavailable
from jobs.liquidation import liquidate_position, scan_positions
from jobs.outcome import Outcome
from workers.context import WorkerDeps, deps_of, job_function, on_target, pubkey_arg
from workers.fleet import Fleet, instance_name
from workers.price_trigger import PriceTrigger, enqueue_liquidations
from workers.role import FromEnvironment, role_settings
from workers.settings import Settings

ROLE = "liquidator"
MAX_TRIES = 3
MAX_JOBS = 50  # liquidations wait on confirmation, not on this process's CPU
POLL_DELAY_S = 0.01  # arq has no wake-up: the queue is polled, and a liquidation is urgent
BEAT_S = 1.0
FLEET_TTL_S = 3 * BEAT_S

log = structlog.get_logger(__name__)


@dataclass
class _Running:
    """What a liquidator worker holds beside its deps: the queue it enqueues on and its
    trigger's task (set at start-up)."""

    redis: ArqRedis | None = None
    trigger: asyncio.Task[None] | None = None


def scan_seconds(interval_s: float) -> set[int]:
    """The cron's seconds for a scan every `interval_s` (at least 1 s, at most a minute)."""
    step = min(max(round(interval_s), 1), 60)
    return set(range(0, 60, step))


def worker_settings(settings: Settings) -> type:
    running = _Running()

    async def run_scan(deps: WorkerDeps, perp_market: object = None) -> Outcome:
        market = None
        if perp_market is not None:
            market = pubkey_arg(perp_market)
            if market is None:
                return Outcome.FAILED
        if running.redis is None:
            return Outcome.RETRY
        try:
            result = await scan_positions(deps.chain, market)
        except RpcUnavailable:
            return Outcome.RETRY
        queued = await enqueue_liquidations(running.redis, result.candidates)
        log.info("scan_positions", judged=result.judged, found=len(result.candidates),
                 queued=queued, refused={str(k): v for k, v in result.refused.items()})
        return Outcome.SUCCESS if result.candidates else Outcome.NOT_NEEDED

    scan = job_function("scan_positions", run_scan, settings, max_tries=MAX_TRIES)
    tick = cron(scan.coroutine, name="cron:scan_positions",
                second=scan_seconds(settings.liquidator.scan_interval_s), run_at_startup=True,
                unique=True, timeout=scan.timeout_s, max_tries=1)
    made = role_settings(ROLE, settings, [
        job_function("liquidate_position", on_target(liquidate_position), settings,
                     max_tries=MAX_TRIES),
        scan,
    ], cron_jobs=[tick], signs=True, database=True)
    base_startup, base_shutdown = made.on_startup, made.on_shutdown  # type: ignore[attr-defined]

    async def on_startup(ctx: dict[Any, Any]) -> None:
        await base_startup(ctx)
        running.redis = ctx["redis"]
        fleet = Fleet(ctx["redis"], ROLE, instance_name(), FLEET_TTL_S)
        trigger = PriceTrigger(deps_of(ctx).chain, ctx["redis"], fleet,
                               settings.websocket_url(), beat_s=BEAT_S)
        running.trigger = asyncio.create_task(trigger.run(), name="price trigger")
        log.info("liquidator instance joined", instance=fleet.instance)

    async def on_shutdown(ctx: dict[Any, Any]) -> None:
        if running.trigger is not None:
            running.trigger.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running.trigger
        await base_shutdown(ctx)

    made.on_startup = on_startup  # type: ignore[attr-defined]
    made.on_shutdown = on_shutdown  # type: ignore[attr-defined]
    made.max_jobs = MAX_JOBS  # type: ignore[attr-defined]
    made.poll_delay = POLL_DELAY_S  # type: ignore[attr-defined]
    return made


__getattr__ = FromEnvironment(__name__, worker_settings)
