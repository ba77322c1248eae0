"""The keeper's own share of a liquidation's reaction, measured apart from the chain's: from a
price notification's arrival in the liquidator to its liquidation's signed transaction handed
to the node (`keepernet_trigger_to_send_seconds`).

The arrival is carried in a context variable rather than through every call between: the
account watch (chain/watch.py) sets it around each notification's handling (`notified_at`),
the fast path's tasks inherit it with their context, and the sender reads it as it hands a
transaction to the node (`handed_to_node`). Each arrival is observed once per task, at its first
send: rebroadcasts and re-signings after an expiry are the chain's time, not the keeper's. A
send outside a notification's handling (a queued job, a rescan) observes nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from metrics import definitions as metric

# time.monotonic() when the notification being handled arrived; None outside one, and once
# this task's send has been observed
_arrived: ContextVar[float | None] = ContextVar("keepernet_notified_at", default=None)


@contextlib.contextmanager
def notified_at(monotonic_s: float) -> Iterator[None]:
    """Within the block (and the tasks it starts), the notification being handled arrived at
    `monotonic_s` (time.monotonic())."""
    token = _arrived.set(monotonic_s)
    try:
        yield
    finally:
        _arrived.reset(token)


def handed_elsewhere() -> None:
    """This task's sends were handed to the node by tasks it started (which observed them):
    none of its own, nor of the tasks it starts from now on, is observed."""
    _arrived.set(None)


def handed_to_node(now_s: float | None = None, *, times: int = 1) -> float | None:
    """Observe the time from the notification this task handles to now (`now_s`, else
    time.monotonic()), once (`times` times, for as many transactions handed over together):
    the seconds observed, None when nothing was (no notification, or observed already)."""
    arrived = _arrived.get()
    if arrived is None:
        return None
    _arrived.set(None)
    elapsed = max(0.0, (time.monotonic() if now_s is None else now_s) - arrived)
    for _ in range(times):
        metric.trigger_to_send.observe(elapsed)
    return elapsed
