"""What arq drops in Sentinel mode, set again on the pool it made; and a Sentinel connection
that asks the sentinels again on every try to connect.

What it changes: the connection options of a pool arq 0.28.0's `create_pool` made for
`RedisSettings(sentinel=True)`: the master's connections get the connect timeout, redis-py's
`Retry`, retry on timeout and the errors to retry on; the pool its connection limit; and each
sentinel's own client the connect and socket timeouts and keepalive. In Sentinel mode,
`create_pool` builds `redis.asyncio.Sentinel(sentinels, ssl=..., db=..., username=...,
password=..., encoding=...)` and nothing else, so `conn_timeout`, `retry`,
`retry_on_timeout`, `retry_on_error` and `max_connections`, which it passes to a single
server's client, are lost (a command to a master that has just failed over would fail at once
instead of retrying until the new one is known).

Why: the workers' Redis may be a master behind Redis Sentinel (`redis+sentinel://`,
fleet/redis_url.py), and must ride out a failover as they ride out a restart.

redis-py 5.3's `SentinelManagedConnection.connect` retries (with the connection's `Retry`) a
step that asks the sentinels for the master's address and connects to it, but that connect is
itself retried with the same `Retry` at the same address: after the master dies, every try
hammered the dead address until the retries ran out (38 s with 40 quick retries) before the
sentinels were asked again. `SentinelConnection` connects to an address once, so that each
retry asks the sentinels, and a failover is followed within a retry's delay.

Limit: arq pings the master once inside `create_pool`, before this can run: that first
connection has no connect timeout (arq's `conn_retries` and `conn_retry_delay` still bound its
tries). Every later one has it.

Pinned: arq==0.28.0 and redis==5.3.1 (tests/patches/test_arq_sentinel.py checks that arq still
drops these options, that the pool is redis-py's `SentinelConnectionPool` holding its
`Sentinel` as `sentinel_manager` with the clients in `sentinels`, that a connection made
after this carries the options, and that `SentinelManagedConnection.connect_to` still connects
through `connect` with `self.retry`).

To remove: once arq passes these options to `Sentinel` (the pinning test then fails), drop
this module and its call in `fleet.redis.apply_socket_options`.
"""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from arq.connections import RedisSettings as ArqRedisSettings
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import SentinelConnectionPool, SentinelManagedConnection
from redis.backoff import NoBackoff

_ONCE = Retry(NoBackoff(), 0)


class SentinelConnection(SentinelManagedConnection):
    """A connection to the master Sentinel names that tries each address it is given once: the
    retries of `connect` ask the sentinels again (see the module's docstring)."""

    async def connect_to(self, address: tuple[str, int]) -> None:
        retry, self.retry = self.retry, _ONCE
        try:
            await super().connect_to(address)  # type: ignore[no-untyped-call]
        finally:
            self.retry = retry


def is_sentinel_pool(pool: ArqRedis) -> bool:
    """Whether arq made `pool` in Sentinel mode."""
    return isinstance(pool.connection_pool, SentinelConnectionPool)


async def restore_sentinel_options(pool: ArqRedis, settings: ArqRedisSettings,
                                   socket: dict[str, Any]) -> None:
    """Give `pool` (made by arq in Sentinel mode) what arq dropped from `settings`, and its
    sentinels' clients the connect timeout and the `socket` options (socket timeout,
    keepalive); their open connections are closed, so that every later one has them."""
    connections = pool.connection_pool
    if not isinstance(connections, SentinelConnectionPool):
        raise TypeError("not a pool arq made in Sentinel mode")
    connections.connection_kwargs.update(
        socket_connect_timeout=settings.conn_timeout, retry=settings.retry,
        retry_on_timeout=settings.retry_on_timeout,
        retry_on_error=list(settings.retry_on_error or []))
    if settings.max_connections is not None:
        connections.max_connections = settings.max_connections
    for sentinel in connections.sentinel_manager.sentinels:
        asked = sentinel.connection_pool
        asked.connection_kwargs.update(socket_connect_timeout=settings.conn_timeout, **socket)
        await asked.disconnect()
