"""The sender's compute-unit price from recent prioritization fees (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chain.sender import percentile_fee


def test_no_recent_fees_means_no_price() -> None:
    assert percentile_fee([], 75, 1_000) == 0


def test_nearest_rank_percentile() -> None:
    fees = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert percentile_fee(fees, 50, 10**9) == 40
    assert percentile_fee(fees, 75, 10**9) == 70
    assert percentile_fee(fees, 100, 10**9) == 90
    assert percentile_fee(fees, 1, 10**9) == 0


def test_the_cap_wins() -> None:
    assert percentile_fee([5_000, 7_000], 100, 6_000) == 6_000


@given(st.lists(st.integers(0, 10**9), min_size=1), st.integers(1, 100), st.integers(0, 10**9))
def test_the_price_is_one_of_the_fees_or_the_cap(fees: list[int], pct: int, cap: int) -> None:
    price = percentile_fee(fees, pct, cap)
    assert price == cap or price in fees
    assert price <= cap
    # at least pct% of the fees are at or below the chosen one
    assert sum(f <= price for f in fees) * 100 >= pct * len(fees) or price == cap
