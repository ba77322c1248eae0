"""patches/arq_sentinel.py: arq 0.28 still drops the connect timeout, the retries and the
connection limit in Sentinel mode, redis-py still keeps the sentinels where the patch finds
them, and a pool given the options back serves through the patch's connection."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from arq.connections import RedisSettings as ArqRedisSettings
from arq.connections import create_pool
from redis.asyncio.sentinel import SentinelConnectionPool, SentinelManagedConnection

from fleet.redis import apply_socket_options, redis_settings
from fleet.settings import RedisSettings
from patches.arq_sentinel import SentinelConnection
from tests.support.sentinel import SentinelSet, sentinel_set

DROPPED = ("socket_connect_timeout", "retry", "retry_on_timeout", "retry_on_error")


@pytest.fixture(scope="module")
def redis_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    with sentinel_set(Path(tmp_path_factory.mktemp("sentinel"))) as made:
        yield made


def settings_of(redis_set: SentinelSet) -> RedisSettings:
    return RedisSettings(url=redis_set.url, connect_timeout_s=0.5, max_connections=7)


async def test_arq_drops_the_options_in_sentinel_mode(redis_set: SentinelSet) -> None:
    arq: ArqRedisSettings = redis_settings(settings_of(redis_set))
    assert arq.sentinel and arq.retry is not None and arq.max_connections == 7
    pool = await create_pool(arq)
    try:
        connections = pool.connection_pool
        assert isinstance(connections, SentinelConnectionPool)
        assert not set(DROPPED) & set(connections.connection_kwargs)
        assert connections.max_connections != 7
        assert len(connections.sentinel_manager.sentinels) == 3
    finally:
        await pool.aclose()


async def test_the_options_are_set_again_and_the_pool_serves(redis_set: SentinelSet) -> None:
    settings = settings_of(redis_set)
    pool = await create_pool(redis_settings(settings))
    try:
        await apply_socket_options(pool, settings)
        connections = pool.connection_pool
        assert set(DROPPED) <= set(connections.connection_kwargs)
        assert connections.max_connections == 7
        assert issubclass(connections.connection_class, SentinelConnection)
        for sentinel in connections.sentinel_manager.sentinels:
            assert sentinel.connection_pool.connection_kwargs["socket_connect_timeout"] == 0.5
        assert await pool.set("k", "v") and await pool.get("k") == b"v"
    finally:
        await pool.aclose()


def test_a_sentinel_connection_still_connects_through_its_retry() -> None:
    source = inspect.getsource(SentinelManagedConnection.connect_to)
    assert "await super().connect()" in source
    assert "call_with_retry" in inspect.getsource(SentinelManagedConnection.connect)
