"""A worker's link to PostgreSQL, which the worker starts and runs without.

A worker needs the database for its `job_runs` records (every role), the reconciler's reads of
them (funding, governance) and, for the indexer, its work itself. None of that may keep a
worker from starting or liquidating: `StoreLink.start()` returns at once and makes the
asyncpg pool in the background, retrying with backoff until the database answers.

`record(write)` is how a job_runs write goes out: at once when the database is up and nothing
is held, otherwise into a bounded in-memory backlog (the oldest dropped beyond
`backlog_limit`, and counted), which a background task writes, in order, once the database
answers again. Only a failure to reach the database holds a write: any other error is logged
and the write given up (the chain, not that table, is the source of truth). `pool` is the
pool for the readers (the reconciler, the indexer's jobs), `StoreUnavailable` — a retryable
error — until it exists. The gauges `keepernet_store_up` and `keepernet_store_backlog` and the
counter `keepernet_store_backlog_dropped_total` say how it stands (and the worker's observer
says it in `/healthz`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from jobs.errors import Retryable
from metrics import definitions as metric

BACKLOG_LIMIT = 10_000  # held writes; a try makes two, so ~5,000 tries of an outage
WRITE_TIMEOUT_S = 5.0  # a write that takes longer is taken for the database being away
RETRY_MIN_S, RETRY_MAX_S = 0.2, 5.0  # backoff between attempts to reach the database
# a job that needs the database waits this long for the pool a worker is still making (at
# start, it is made in the background) before it ends `retry`
POOL_WAIT_S = 5.0
POOL_MIN, POOL_MAX = 1, 4

# errors that say the database is away (not that a write is wrong): the write is held
UNREACHABLE: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError, OSError, TimeoutError)

Write = Callable[[asyncpg.Pool], Awaitable[None]]
Connect = Callable[[str], Awaitable[asyncpg.Pool]]

log = structlog.get_logger(__name__)


class StoreUnavailable(Retryable):
    """The worker has no connection to PostgreSQL yet: a job that reads it runs again."""


async def create_pool(dsn: str) -> asyncpg.Pool:
    """A worker's asyncpg pool."""
    return await asyncpg.create_pool(dsn, min_size=POOL_MIN, max_size=POOL_MAX)


class StoreLink:
    """The pool, made in the background, and the writes held while the database is away (see
    the module docstring)."""

    def __init__(self, dsn: str, *, backlog_limit: int = BACKLOG_LIMIT,
                 connect: Connect = create_pool) -> None:
        self.dsn = dsn
        self.backlog_limit = backlog_limit
        self._connect = connect
        self._pool: asyncpg.Pool | None = None
        self._backlog: collections.deque[tuple[str, Write]] = collections.deque()
        self.dropped = 0
        self.error: str | None = "not connected yet"  # why the database is away; None: up
        self._wake = asyncio.Event()
        self._made = asyncio.Event()  # set once the pool exists
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def connected(cls, pool: asyncpg.Pool) -> StoreLink:
        """A link over a pool made already (for tools and tests that hold one)."""
        link = cls("")
        link._pool, link.error = pool, None
        link._made.set()
        return link

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool; StoreUnavailable while none could be made yet."""
        if self._pool is None:
            raise StoreUnavailable(f"PostgreSQL not reached yet: {self.error}")
        return self._pool

    async def ready_pool(self, wait_s: float = POOL_WAIT_S) -> asyncpg.Pool:
        """The pool, waiting up to `wait_s` for a first one still being made; then
        StoreUnavailable, as `pool`."""
        if self._pool is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._made.wait()
        return self.pool

    @property
    def backlog(self) -> int:
        """How many writes are held."""
        return len(self._backlog)

    def start(self) -> None:
        """Start reaching the database and writing what is held, in the background."""
        self._show()
        self._task = asyncio.create_task(self._run(), name="store link")

    async def close(self) -> None:
        """Stop the background task and close the pool; writes still held are lost (logged)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._backlog:
            log.warning("job_runs writes lost at shutdown: PostgreSQL away",
                        held=len(self._backlog), error=self.error)
        if self._pool is not None:
            await self._pool.close()

    async def record(self, what: str, write: Write) -> None:
        """Write now, or hold `write` (named `what` in logs) until the database is back."""
        if self._pool is not None and not self._backlog:
            try:
                await self._attempt(self._pool, what, write)
                return
            except UNREACHABLE as e:
                self._down(e)
        self._hold(what, write)

    async def _attempt(self, pool: asyncpg.Pool, what: str, write: Write) -> None:
        """One write; an error that is not the database being away is logged and dropped."""
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await write(pool)
        except UNREACHABLE:
            raise
        except Exception as e:  # asyncpg's errors are many; a wrong write is given up
            log.warning("job_runs not written", write=what, error=f"{type(e).__name__}: {e}")
        if self.error is not None:
            self.error = None
            self._show()

    def _hold(self, what: str, write: Write) -> None:
        if len(self._backlog) >= self.backlog_limit:
            self._backlog.popleft()
            self.dropped += 1
            metric.store_backlog_dropped.inc()
        self._backlog.append((what, write))
        self._show()
        self._wake.set()

    def _down(self, error: BaseException) -> None:
        first = self.error is None
        self.error = f"{type(error).__name__}: {error}"
        if first:
            log.warning("PostgreSQL away: job_runs writes held in memory", error=self.error)
        self._show()

    def _show(self) -> None:
        metric.store_up.set(1 if self.error is None else 0)
        metric.store_backlog.set(len(self._backlog))

    async def _run(self) -> None:
        """Make the pool, then write what is held whenever there is some, backing off while
        the database does not answer."""
        delay = RETRY_MIN_S
        while True:
            try:
                if self._pool is None:
                    async with asyncio.timeout(WRITE_TIMEOUT_S):
                        self._pool = await self._connect(self.dsn)
                    self._made.set()
                    self.error = None
                    self._show()
                    log.info("PostgreSQL reached", held=len(self._backlog))
                while self._backlog:
                    what, write = self._backlog[0]
                    await self._attempt(self._pool, what, write)
                    self._backlog.popleft()
                    self._show()
                delay = RETRY_MIN_S
                self._wake.clear()
                await self._wake.wait()
            # any failure to make the pool too (a database not created yet, a password
            # refused): the worker runs on without it and says why, rather than exiting
            except Exception as e:
                self._down(e)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
