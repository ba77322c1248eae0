"""An arq worker that waits for Redis instead of exiting: `PatientWorker`, a subclass of
`arq.worker.Worker`.

What it changes, in the worker it makes (arq's class is left alone):
- `main`: when Redis cannot be reached at start, arq's `create_pool` gives up after
  `conn_retries` and the worker exits; here the pool is made first, retrying with backoff for
  as long as it takes, and arq's `main` then finds it made.
- `_poll_iteration`: an error reaching Redis (a connection reset at connect, in redis-py's
  `on_connect` handshake — outside redis-py's own retry —, or mid-command; a timeout; the
  retries running out while Redis is away) ends arq's loop and the worker; here it is logged,
  counted (`keepernet_redis_poll_failures_total`, `keepernet_redis_up` 0) and the next poll
  waits with backoff. Jobs running go on.
- `start_jobs`: arq takes a job's slot (its semaphore and counter) before the Redis pipeline
  that claims the job; an error there left the slot taken for good, so that enough of them
  stopped the worker from picking jobs. Here the slot is given back.

Why: a liquidator exited 13 s after Redis came back, `ConnectionError (104, reset by peer)`
raised from redis-py's `on_connect` into `_poll_iteration` (issue 14), and no worker started
while Redis was down.

Pinned: arq==0.28.0 (`Worker.main` makes the pool only when `_pool` is None and loops on
`_poll_iteration`; `start_jobs` acquires the slot before the pipeline).
tests/patches/test_arq_redis_away.py fails when those change.

To remove: once arq retries Redis in its poll loop and at start by itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from arq.connections import ArqRedis, create_pool
from arq.worker import Worker, get_kwargs
from redis.exceptions import RedisError

from metrics import definitions as metric

# redis-py's ConnectionError and TimeoutError are RedisErrors; a socket's own errors and
# asyncio's timeouts may come through as they are
REDIS_AWAY: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.1, 5.0

log = structlog.get_logger(__name__)


class PatientWorker(Worker):
    """arq's worker, waiting out Redis being away at start and at every poll."""

    _away_since: float | None = None
    _backoff_s: float = BACKOFF_MIN_S

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await self._wait_for_pool()
        await super().main()

    async def _wait_for_pool(self) -> ArqRedis:
        while True:
            try:
                pool = await create_pool(
                    self.redis_settings, job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer, default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms)
            except REDIS_AWAY as e:
                await self._away(e)
            else:
                self._back()
                return pool

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except REDIS_AWAY as e:
            await self._away(e)
        else:
            self._back()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except REDIS_AWAY:
                # arq took the job's slot before its pipeline failed, and did not give it back
                self.job_counter -= 1
                self.sem.release()
                raise

    async def _away(self, error: Exception) -> None:
        loop = asyncio.get_running_loop()
        if self._away_since is None:
            self._away_since = loop.time()
            log.warning("Redis away: the worker waits for it", queue=self.queue_name,
                        error=f"{type(error).__name__}: {error}")
        metric.redis_up.set(0)
        metric.redis_poll_failures.inc()
        await asyncio.sleep(self._backoff_s)
        self._backoff_s = min(self._backoff_s * 2, BACKOFF_MAX_S)

    def _back(self) -> None:
        if self._away_since is not None:
            log.info("Redis back", queue=self.queue_name,
                     away_s=round(asyncio.get_running_loop().time() - self._away_since, 1))
            self._away_since = None
        self._backoff_s = BACKOFF_MIN_S
        metric.redis_up.set(1)


def create_worker(settings_cls: type, **overrides: Any) -> PatientWorker:
    """A `PatientWorker` from a `WorkerSettings` class, as arq's `create_worker` makes its
    own."""
    kwargs: dict[str, Any] = {**get_kwargs(settings_cls), **overrides}
    return PatientWorker(**kwargs)
