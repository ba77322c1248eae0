"""A worker's observer: it serves `/metrics` and `/healthz` (metrics/server.py) and, every
`PROBE_INTERVAL_S`, probes what the worker depends on and samples the gauges no job sets.

Each round reads the chain's slot (`keepernet_chain_slot`; the indexer's lag from it), pings
Redis and PostgreSQL (through the worker's link to it, which also says what job_runs writes it
holds while the database is away), reads the keeper wallet's balance (roles that sign), shares this
worker's last success with the fleet (a Redis sorted set: the role's newest success, whichever
instance had it, is what `/healthz` judges — a unique cron runs on one instance per tick), and
judges health with metrics/health.py. One worker of the whole fleet — the holder of a standing
Redis lease — exports every role's queue depth and oldest-job age; the others drop those
series, so Prometheus sees them once. A separate timer measures the event loop's lag.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from arq.connections import ArqRedis
from solders.pubkey import Pubkey

from chain.client import RpcClient
from fleet.lease import hold
from fleet.membership import instance_name
from fleet.store_link import StoreLink
from jobs.registry import ROLES, queue_name
from metrics import definitions as metric
from metrics.health import CHECKS, Health, HealthPolicy, Probe, SlotWatch, judge
from metrics.server import MetricsServer

PROBE_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 4.0  # each probe's own bound, so one dead dependency does not stall a round
LOOP_LAG_INTERVAL_S = 0.5
LAST_SUCCESS_KEY = "keepernet:health:last-success"  # sorted set: role → unix time
QUEUE_COLLECTOR_KEY = "keepernet:metrics:queue-collector"
QUEUE_COLLECTOR_TTL_S = 3 * PROBE_INTERVAL_S

T = TypeVar("T")
log = structlog.get_logger(__name__)


class Observer:
    """The probes, verdict and server of one worker (see the module docstring)."""

    def __init__(self, role: str, policy: HealthPolicy, *, rpc: RpcClient, redis: ArqRedis,
                 store: StoreLink | None, wallet: Pubkey | None) -> None:
        self.role = role
        self.policy = policy
        self.rpc = rpc
        self.redis = redis
        self.store = store
        self.wallet = wallet
        self.instance = instance_name()
        self.started_at_s = time.time()
        self.slots = SlotWatch()
        self.latest = Health({name: "not probed yet" for name in CHECKS})
        self._tasks: list[asyncio.Task[None]] = []
        self._server: MetricsServer | None = None

    async def start(self, port: int) -> None:
        """Serve on `port` and start probing."""
        self._server = await MetricsServer.start(port, lambda: self.latest)
        self._tasks = [asyncio.create_task(self._every(PROBE_INTERVAL_S, self.probe),
                                           name="health probes"),
                       asyncio.create_task(_loop_lag(), name="event-loop lag")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.stop()

    async def probe(self) -> Health:
        """One round of probes; the verdict becomes what `/healthz` reports."""
        redis = self.redis
        # at once: a dependency that is down takes PROBE_TIMEOUT_S, once, not once per probe
        (slot, slot_error), (_, redis_error), (_, postgres_error), (last_success, _), _ = \
            await asyncio.gather(
                _attempt(self._slot()), _attempt(redis.ping()), _attempt(self._postgres()),
                _attempt(self._share_last_success(redis)), _attempt(self._wallet_balance()))
        if redis_error is None:
            await _attempt(self._collect_queues(redis))
        if self.store is not None and self.store.backlog:
            held = f"job_runs writes held: {self.store.backlog}, dropped: {self.store.dropped}"
            postgres_error = f"{postgres_error}; {held}" if postgres_error else \
                f"reached again, writing what it held ({held})"
        now = time.time()
        if slot is not None:
            self.slots.see(slot, now)
        probe = Probe(now, slot, slot_error, redis_error, postgres_error, last_success)
        self.latest = judge(probe, self.slots, self.policy, self.started_at_s)
        for name, problem in self.latest.checks.items():
            metric.health_check.labels(name).set(0 if problem else 1)
        if not self.latest.ok or self.latest.degraded:
            log.warning("unhealthy" if not self.latest.ok else "degraded",
                        **{k: v for k, v in self.latest.checks.items() if v})
        return self.latest

    async def _slot(self) -> int:
        slot = int((await self.rpc.call("get_slot")).value)
        metric.chain_slot.set(slot)
        indexed = metric.registry.get_sample_value("keepernet_indexer_last_slot")
        if self.role == "indexer" and indexed:
            metric.indexer_lag.set(max(0.0, slot - indexed))
        return slot

    async def _share_last_success(self, redis: ArqRedis) -> float | None:
        mine = [s.value for family in metric.job_last_success.collect() for s in family.samples
                if s.labels.get("role") == self.role]
        if mine:
            await redis.zadd(LAST_SUCCESS_KEY, {self.role: max(mine)}, gt=True)
        score = await redis.zscore(LAST_SUCCESS_KEY, self.role)
        return None if score is None else float(score)

    async def _postgres(self) -> None:
        if self.store is not None:
            # (StoreUnavailable while the worker has not reached the database yet)
            await self.store.pool.fetchval("SELECT 1")

    async def _wallet_balance(self) -> None:
        if self.wallet is not None:
            metric.wallet_balance.set((await self.rpc.call("get_balance", self.wallet)).value)

    async def _collect_queues(self, redis: ArqRedis) -> None:
        if not await hold(redis, QUEUE_COLLECTOR_KEY, self.instance, QUEUE_COLLECTOR_TTL_S):
            metric.queue_jobs.clear()
            metric.queue_oldest_age.clear()
            return
        now_ms = time.time() * 1000
        for role in ROLES:
            queue = queue_name(role)
            # due ones only: a deferred job (a retry's wait, the fast path's fallback) is no
            # backlog
            metric.queue_jobs.labels(role).set(await redis.zcount(queue, "-inf", now_ms))
            oldest = await redis.zrangebyscore(queue, "-inf", now_ms, start=0, num=1,
                                               withscores=True)
            age_s = (now_ms - oldest[0][1]) / 1000 if oldest else 0.0
            metric.queue_oldest_age.labels(role).set(max(0.0, age_s))

    async def _every(self, period_s: float, step: Callable[[], Awaitable[object]]) -> None:
        while True:
            try:
                await step()
            except Exception as e:  # a probe round must never end the observer
                log.warning("health probe failed", error=f"{type(e).__name__}: {e}")
            await asyncio.sleep(period_s)


async def _attempt(work: Awaitable[T]) -> tuple[T | None, str | None]:
    """`work`'s result, or None and what went wrong (within PROBE_TIMEOUT_S)."""
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            return await work, None
    except TimeoutError:
        return None, f"no answer within {PROBE_TIMEOUT_S:.0f} s"
    except Exception as e:  # the dependencies' errors are many; each one is the answer
        return None, f"{type(e).__name__}: {e}"


async def _loop_lag() -> None:
    """Sample how late the event loop wakes a sleeper: a blocked loop delays every job."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(LOOP_LAG_INTERVAL_S)
        metric.event_loop_lag.set(max(0.0, loop.time() - before - LOOP_LAG_INTERVAL_S))
