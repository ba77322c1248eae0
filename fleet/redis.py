"""The workers' Redis connection, from the settings: a connect timeout, retries on connecting
and on every command (so a Redis restart is ridden out), and — what arq 0.28's
`create_pool` does not pass through — a socket timeout and TCP keepalive.

The socket timeout comes with a connection class of our own: redis-py 5 bounds each write with
`asyncio.wait_for`, which on Python 3.11 drops a cancellation that arrives as the write
completes (CPython gh-86296). arq stops a worker by cancelling its main task, which is mostly
inside a Redis command; one stop in a few dozen was lost and the worker ran on. Our class
bounds the write with `asyncio.timeout`, which keeps the cancellation.

`redis_settings(settings)` is arq's `RedisSettings` (connect timeout, connect retries and
delay, redis-py's `Retry` with exponential backoff, retry on timeout and on connection
errors). `apply_socket_options(pool, settings)` sets the socket timeout, keepalive and
connection class on a pool arq created and drops its open connections, so that every later
one has them; the workers call it first thing at start-up.
"""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Iterable
from typing import Any

from arq.connections import ArqRedis
from arq.connections import RedisSettings as ArqRedisSettings
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
)
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from fleet.settings import RedisSettings, Settings

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


class _CancellableWrite(AbstractConnection):
    """redis-py 5.3's `send_packed_command`, its write bounded by `asyncio.timeout` instead
    of `asyncio.wait_for` (see the module's docstring)."""

    async def send_packed_command(self, command: bytes | str | Iterable[bytes],
                                  check_health: bool = True) -> None:
        if not self.is_connected:
            await self.connect()  # type: ignore[no-untyped-call]
        elif check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        if isinstance(command, str):
            command = command.encode()
        if isinstance(command, bytes):
            command = [command]
        try:
            async with asyncio.timeout(self.socket_timeout):
                self._writer.writelines(command)  # type: ignore[union-attr]
                await self._writer.drain()  # type: ignore[union-attr]
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as e:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {e}") from e
        except BaseException:
            # a write cut off half-way leaves the connection unusable
            await self.disconnect(nowait=True)
            raise


class CancellableConnection(_CancellableWrite, Connection):
    """A TCP connection whose writes keep a cancellation."""


class CancellableSSLConnection(_CancellableWrite, SSLConnection):
    """A TLS connection whose writes keep a cancellation."""


# most derived first: an SSLConnection is a Connection too
_CANCELLABLE: list[tuple[type[AbstractConnection], type[AbstractConnection]]] = [
    (SSLConnection, CancellableSSLConnection), (Connection, CancellableConnection)]


def cancellable(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """The connection class to use in place of redis-py's `connection_class`."""
    if issubclass(connection_class, _CancellableWrite):
        return connection_class
    for stock, ours in _CANCELLABLE:
        if issubclass(connection_class, stock):
            return ours
    raise TypeError(f"no cancellable counterpart for Redis connection class {connection_class}")


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
