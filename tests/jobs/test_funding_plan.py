"""When update_funding is due, to the second, as the program decides it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from jobs.funding_plan import due_at, intervals_due, is_due, next_due_at

T0 = 1_800_000_000
HOUR = 3_600


@dataclass(frozen=True)
class Perp:
    last_funding_ts: int = T0
    funding_interval_secs: int = HOUR


@pytest.mark.parametrize(("elapsed", "due", "n", "next_at"), [
    (0, False, 0, T0 + HOUR),
    (HOUR - 1, False, 0, T0 + HOUR),
    (HOUR, True, 1, T0 + 2 * HOUR),
    (HOUR + 1, True, 1, T0 + 2 * HOUR),
    (2 * HOUR - 1, True, 1, T0 + 2 * HOUR),
    (2 * HOUR, True, 2, T0 + 3 * HOUR),
    (5 * HOUR + 17, True, 5, T0 + 6 * HOUR),  # a late keeper applies every missed interval
])
def test_due_to_the_second(elapsed: int, due: bool, n: int, next_at: int) -> None:
    perp = Perp()
    now = T0 + elapsed
    assert due_at(perp) == T0 + HOUR
    assert is_due(perp, now) is due
    assert intervals_due(perp, now) == n
    assert next_due_at(perp, now) == next_at


def test_a_clock_behind_the_last_update_is_not_due() -> None:
    perp = Perp()
    assert not is_due(perp, T0 - 10)
    assert intervals_due(perp, T0 - 10) == 0
    assert next_due_at(perp, T0 - 10) == T0 + HOUR
