"""redis-py's `send_packed_command` with its write bounded by `asyncio.timeout` instead of
`asyncio.wait_for`, in connection classes of our own.

What it changes: the connection class of the pools it is given (`cancellable` maps redis-py's
`Connection`, `SSLConnection` and Sentinel's `SentinelManagedConnection` to subclasses
overriding `send_packed_command`); redis-py's
classes themselves are left alone. `fleet.redis.apply_socket_options` applies it to every
worker's pool at start-up.

Why: redis-py 5 bounds each write with `asyncio.wait_for` when a socket timeout is set, and
on Python 3.11 `wait_for` drops a cancellation that arrives as the write completes (CPython
gh-86296). arq stops a worker by cancelling its main task, which is mostly inside a Redis
command; one stop in a few dozen was lost and the worker ran on. `asyncio.timeout` keeps
the cancellation.

Pinned: redis==5.3.1 on Python 3.11. The override is a copy of that version's method with
the one change; tests/patches/test_redis_cancellable_write.py fails when redis-py's method
changes (its source, its signature) and checks that the override keeps a cancellation.

To remove: once on Python 3.12 or later (whose `wait_for` is built on `asyncio.timeout`), or
on a redis-py whose write no longer uses `wait_for`: drop this module and the
`connection_class` line of `fleet.redis.apply_socket_options`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.sentinel import SentinelManagedConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from patches.arq_sentinel import SentinelConnection


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


class CancellableSentinelConnection(_CancellableWrite, SentinelConnection):
    """A connection to the master Sentinel names whose writes keep a cancellation (it connects
    through `SentinelManagedConnection.connect`, which asks the sentinels; see
    `patches.arq_sentinel.SentinelConnection`)."""


# most derived first: an SSLConnection and a SentinelManagedConnection are Connections too
_CANCELLABLE: list[tuple[type[AbstractConnection], type[AbstractConnection]]] = [
    (SSLConnection, CancellableSSLConnection),
    (SentinelManagedConnection, CancellableSentinelConnection),
    (Connection, CancellableConnection)]


def cancellable(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """The connection class to use in place of redis-py's `connection_class`."""
    if issubclass(connection_class, _CancellableWrite):
        return connection_class
    for stock, ours in _CANCELLABLE:
        if issubclass(connection_class, stock):
            return ours
    raise TypeError(f"no cancellable counterpart for Redis connection class {connection_class}")
