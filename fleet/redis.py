"""The workers' Redis connection, from the settings: a connect timeout, retries on connecting
and on every command (so a Redis restart, or a Sentinel failover, is ridden out), a limit on
connections, and — what arq 0.28's `create_pool` does not pass through — a socket timeout and
TCP keepalive.

The URL names one server or, as `redis+sentinel://`, a master through Redis Sentinel
(fleet/redis_url.py). In Sentinel mode arq drops the connect timeout, the retries and the
connection limit too, and `apply_socket_options` sets them again
(`patches/arq_sentinel.py`).

The socket timeout comes with a connection class of our own, whose writes keep a
cancellation (`patches/redis_cancellable_write.py` says why).

`redis_settings(settings)` is arq's `RedisSettings` (connect timeout, connect retries and
delay, redis-py's `Retry` with exponential backoff, retry on timeout and on connection
errors, the connection limit). `apply_socket_options(pool, settings)` sets the socket timeout,
keepalive and connection class on a pool arq created (and, in Sentinel mode, what arq dropped)
and drops its open connections, so that every later one has them; the workers call it first
thing at start-up. `plain_client(settings)` is a redis-py client without arq, for the
operator's commands.
"""

from __future__ import annotations

import math
import socket
from typing import Any

from arq.connections import ArqRedis
from arq.connections import RedisSettings as ArqRedisSettings
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fleet.redis_url import is_sentinel, parse_sentinel
from fleet.settings import RedisSettings, Settings
from patches.arq_sentinel import is_sentinel_pool, restore_sentinel_options
from patches.redis_cancellable_write import cancellable

# seconds of idleness before the first keepalive probe, between probes, and probes lost
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_PROBES = 30, 10, 3


def redis_settings(settings: Settings | RedisSettings) -> ArqRedisSettings:
    """arq's connection settings for `settings.redis` (or a `RedisSettings` itself)."""
    r = settings.redis if isinstance(settings, Settings) else settings
    if is_sentinel(r.url):
        target = parse_sentinel(r.url)
        arq = ArqRedisSettings(host=list(target.sentinels), sentinel=True,
                               sentinel_master=target.master, database=target.db,
                               username=target.username, password=target.password)
    else:
        arq = ArqRedisSettings.from_dsn(r.url)
    # arq declares these as int, but hands them to asyncio.sleep and redis-py as they are
    arq.conn_timeout = r.connect_timeout_s  # type: ignore[assignment]
    arq.conn_retries = r.retries
    arq.conn_retry_delay = r.retry_delay_s  # type: ignore[assignment]
    arq.retry = Retry(ExponentialBackoff(cap=max(r.retry_delay_s * 8, 1.0),
                                         base=r.retry_delay_s),
                      r.retries)
    arq.retry_on_timeout = True
    arq.retry_on_error = [RedisConnectionError, RedisTimeoutError, OSError]
    arq.max_connections = r.max_connections
    return arq


def socket_options(r: RedisSettings) -> dict[str, Any]:
    """redis-py connection keywords arq does not set: the socket timeout and TCP keepalive."""
    keepalive: dict[int, int] = {}
    for name, value in (("TCP_KEEPIDLE", KEEPALIVE_IDLE_S), ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
                        ("TCP_KEEPCNT", KEEPALIVE_PROBES)):
        option = getattr(socket, name, None)
        if option is not None:
            keepalive[option] = value
    return {"socket_timeout": r.socket_timeout_s if math.isfinite(r.socket_timeout_s) else None,
            "socket_keepalive": True, "socket_keepalive_options": keepalive}


async def apply_socket_options(pool: ArqRedis, settings: Settings | RedisSettings) -> None:
    """Give every connection `pool` opens from now on the socket timeout and keepalive (in
    Sentinel mode, also what arq dropped: see the module's docstring), and close the ones it
    has (opened without them)."""
    r = settings.redis if isinstance(settings, Settings) else settings
    connections = pool.connection_pool
    connections.connection_kwargs.update(socket_options(r))
    if is_sentinel_pool(pool):
        await restore_sentinel_options(pool, redis_settings(r), socket_options(r))
    connections.connection_class = cancellable(connections.connection_class)
    await connections.disconnect()
    connections.reset()  # type: ignore[no-untyped-call]


def plain_client(settings: Settings | RedisSettings) -> Redis:
    """A redis-py client (not arq's) of `settings.redis`, one server or the master Sentinel
    names, with the connect and socket timeouts."""
    r = settings.redis if isinstance(settings, Settings) else settings
    timeouts: dict[str, Any] = {"socket_connect_timeout": r.connect_timeout_s,
                                "socket_timeout": r.socket_timeout_s}
    if not is_sentinel(r.url):
        plain: Redis = Redis.from_url(r.url, **timeouts)
        return plain
    target = parse_sentinel(r.url)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        list(target.sentinels), sentinel_kwargs=timeouts, db=target.db,
        username=target.username, password=target.password, **timeouts)
    master: Redis = sentinel.master_for(target.master)
    return master
