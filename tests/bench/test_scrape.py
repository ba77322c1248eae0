"""The keeper's share read back from the liquidators' /metrics: buckets parsed, merged over
instances, and quantiles as Prometheus' histogram_quantile gives them."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from bench.scrape import buckets, merged, quantile

NAME = "keepernet_trigger_to_send_seconds"


def exposition(values: list[float]) -> str:
    registry = CollectorRegistry()
    h = Histogram(NAME, "test", buckets=(0.01, 0.02, 0.05), registry=registry)
    for v in values:
        h.observe(v)
    return generate_latest(registry).decode()


def test_buckets_are_read_and_merged_over_instances() -> None:
    one, two = buckets(exposition([0.005, 0.015]), NAME), buckets(exposition([0.04]), NAME)
    assert one == {0.01: 1, 0.02: 2, 0.05: 2, math.inf: 2}
    assert merged([one, two]) == {0.01: 1, 0.02: 2, 0.05: 3, math.inf: 3}
    assert buckets(exposition([0.005]), "another_histogram") == {}


def test_quantiles_interpolate_within_the_bucket_as_prometheus_does() -> None:
    counts = {0.01: 50.0, 0.02: 90.0, 0.05: 100.0, math.inf: 100.0}
    assert quantile(counts, 0.5) == 0.01  # rank 50: the first bucket's top
    assert math.isclose(quantile(counts, 0.7), 0.015)  # rank 70: half into (0.01, 0.02]
    assert math.isclose(quantile(counts, 0.99), 0.02 + 0.03 * 9 / 10)
    assert math.isclose(quantile(counts, 0.25), 0.005)  # the first bucket starts at 0


def test_beyond_the_last_bound_and_empty() -> None:
    assert quantile({0.01: 1.0, 0.05: 1.0, math.inf: 4.0}, 0.99) == 0.05
    assert math.isnan(quantile({}, 0.5))
    assert math.isnan(quantile({0.01: 0.0, math.inf: 0.0}, 0.5))
