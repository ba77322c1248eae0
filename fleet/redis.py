"""The workers' Redis connection, from the settings: a connect timeout, retries on connecting
and on every command (so a Redis restart is ridden out), and — what arq 0.28's
`create_pool` does not pass through — a socket timeout and TCP keepalive.

The socket timeout comes with a connection class of our own, whose writes keep a
cancellation (`patches/redis_cancellable_write.py` says why).

`redis_settings(settings)` is arq's `RedisSettings` (connect timeout, connect retries and
delay, redis-py's `Retry` with exponential backoff, retry on timeout and on connection
errors). `apply_socket_options(pool, settings)` sets the socket timeout, keepalive and
connection class on a pool arq created and drops its open connections, so that every later
one has them; the workers call it first thing at start-up.
"""

from __future__ import annotations

import math
import socket
from typing import Any

from arq.connections import ArqRedis
from arq.connections import RedisSettings as ArqRedisSettings
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fleet.settings import RedisSettings, Settings
from patches.redis_cancellable_write import cancellable

# seconds of idleness before the first keepalive probe, between probes, and probes lost
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_PROBES = 30, 10, 3


def redis_settings(settings: Settings | RedisSettings) -> ArqRedisSettings:
    """arq's connection settings for `settings.redis` (or a `RedisSettings` itself)."""
    r = settings.redis if isinstance(settings, Settings) else settings
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
    """Give every connection `pool` opens from now on the socket timeout and keepalive, and
    close the ones it has (opened without them)."""
    r = settings.redis if isinstance(settings, Settings) else settings
    connections = pool.connection_pool
    connections.connection_kwargs.update(socket_options(r))
    connections.connection_class = cancellable(connections.connection_class)
    await connections.disconnect()
    connections.reset()  # type: ignore[no-untyped-call]
