"""patches/redis_cancellable_write.py: redis-py's write is still the one it copies, and its
classes stand in for redis-py's (tests/fleet/test_redis.py checks that a worker's pool keeps
every cancellation with them)."""

from __future__ import annotations

import hashlib
import inspect

import pytest
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection

from patches.redis_cancellable_write import (
    CancellableConnection,
    CancellableSSLConnection,
    cancellable,
)

# sha256 of redis 5.3.1's AbstractConnection.send_packed_command, which the patch copies
STOCK_SEND_PACKED_COMMAND = "cad238c0be555d05ad43c6e483425a87e75fed4d9f97ec32b0adc7349cce04dc"


def parameters(function: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default)
            for p in inspect.signature(function).parameters.values()]  # type: ignore[arg-type]


def test_redis_py_still_writes_as_the_patch_copies() -> None:
    source = inspect.getsource(AbstractConnection.send_packed_command)
    assert hashlib.sha256(source.encode()).hexdigest() == STOCK_SEND_PACKED_COMMAND, (
        "redis-py's send_packed_command changed: compare it with the copy in "
        "patches/redis_cancellable_write.py (and whether it still needs one), then update "
        "this hash")


def test_redis_py_still_bounds_the_write_with_wait_for() -> None:
    # the reason for the patch: when this fails, the patch may be removed
    assert "asyncio.wait_for(" in inspect.getsource(AbstractConnection.send_packed_command)


def test_the_override_takes_what_redis_py_passes_it() -> None:
    assert (parameters(CancellableConnection.send_packed_command)
            == parameters(AbstractConnection.send_packed_command))


def test_a_stock_connection_has_what_the_copy_uses() -> None:
    connection = Connection()
    assert isinstance(AbstractConnection.is_connected, property)
    assert connection.is_connected is False
    assert connection._writer is None  # set by connect(); the copy writes to it
    assert connection.socket_timeout is None
    assert "nowait" in inspect.signature(AbstractConnection.disconnect).parameters
    assert inspect.iscoroutinefunction(AbstractConnection.check_health)


def test_each_stock_connection_class_has_its_cancellable_counterpart() -> None:
    assert cancellable(Connection) is CancellableConnection
    assert cancellable(SSLConnection) is CancellableSSLConnection
    assert cancellable(CancellableConnection) is CancellableConnection
    with pytest.raises(TypeError, match="no cancellable counterpart"):
        cancellable(object)  # type: ignore[arg-type]
