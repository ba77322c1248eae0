"""The keeper's share, notification to send: observed once per task that handles a
notification, from its arrival, and never for a send outside one."""

from __future__ import annotations

import asyncio

from metrics.definitions import registry
from metrics.trigger_to_send import handed_to_node, notified_at


def observed() -> float:
    return registry.get_sample_value("keepernet_trigger_to_send_seconds_count") or 0.0


def test_a_send_outside_a_notification_observes_nothing() -> None:
    before = observed()
    assert handed_to_node(5.0) is None
    assert observed() == before


def test_the_first_send_after_a_notification_is_observed_once() -> None:
    before = observed()
    with notified_at(10.0):
        assert handed_to_node(10.012) == 10.012 - 10.0
        assert handed_to_node(11.0) is None  # a rebroadcast, or a re-signing: the chain's time
    assert observed() == before + 1
    assert handed_to_node(12.0) is None  # the notification's handling is over


async def test_each_task_a_notification_starts_observes_its_own_send() -> None:
    """The fast path's tries run in tasks started while handling the price: each inherits the
    arrival and observes its own send."""
    before = observed()
    with notified_at(20.0):
        tasks = [asyncio.create_task(_send(20.0 + i)) for i in (1, 2, 3)]
    # the tasks run after the block: they hold the arrival as it was when they started
    assert await asyncio.gather(*tasks) == [1.0, 2.0, 3.0]
    assert observed() == before + 3


async def _send(at: float) -> float | None:
    await asyncio.sleep(0)
    return handed_to_node(at)
