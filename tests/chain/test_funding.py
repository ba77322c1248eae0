"""The funding accrual against the independent perp model."""

from __future__ import annotations

from chain.funding import Funding, funding_rate_ppm, wrap_i64
from tests.support import perp_model as model


def test_funding_accrues_to_now_like_the_model() -> None:
    f = Funding(cumulative_funding=5, cumulative_funding_short=4, last_accrual_ts=1_000,
                funding_interval_secs=3_600, max_funding_bps=10, long_oi=3, short_oi=1)
    rate = model.funding_rate(3, 1, 10)
    up, down = model.accrual(rate, 123_456_789, 1_777, 3_600)
    assert f.indexes(123_456_789, 2_777) == (5 + up, 4 + down)
    assert f.indexes(123_456_789, 999) == (5, 4)  # nothing before the last accrual


def test_the_rate_is_truncated_toward_zero_both_ways() -> None:
    assert funding_rate_ppm(3, 1, 10) == model.funding_rate(3, 1, 10) == 500
    assert funding_rate_ppm(1, 3, 10) == -500
    assert funding_rate_ppm(2, 1, 1) == 33 and funding_rate_ppm(1, 2, 1) == -33
    assert funding_rate_ppm(0, 0, 10_000) == 0


def test_the_indexes_wrap_as_i64() -> None:
    assert wrap_i64(2**63) == -(2**63)
    assert wrap_i64(-(2**63) - 1) == 2**63 - 1
    f = Funding(cumulative_funding=2**63 - 1, cumulative_funding_short=0, last_accrual_ts=0,
                funding_interval_secs=3_600, max_funding_bps=10_000, long_oi=1, short_oi=0)
    long_index, _ = f.indexes(10**6, 3_600)
    assert long_index < 0  # past i64's top, as the program's index wraps
