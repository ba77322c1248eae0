"""A histogram read from workers' /metrics, and its quantiles as Prometheus'
`histogram_quantile` works them out (linear within the bucket the rank falls in)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

# a histogram's cumulative counts by upper bound (le), +Inf included
Buckets = dict[float, float]


def buckets(text: str, name: str) -> Buckets:
    """The cumulative bucket counts of histogram `name` (without its _bucket suffix) in an
    exposition `text`, summed over its label sets."""
    counts: Buckets = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                le = float(sample.labels["le"])
                counts[le] = counts.get(le, 0.0) + sample.value
    return counts


def merged(each: Iterable[Mapping[float, float]]) -> Buckets:
    """Several instances' buckets as one histogram's."""
    total: Buckets = {}
    for counts in each:
        for le, count in counts.items():
            total[le] = total.get(le, 0.0) + count
    return total


def quantile(counts: Mapping[float, float], q: float) -> float:
    """The `q` quantile (0..1) of cumulative `counts`, as `histogram_quantile`: NaN when
    empty; within the first bucket from 0; the highest finite bound when it falls in +Inf."""
    bounds: Sequence[float] = sorted(counts)
    total = counts[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return math.nan
    rank = q * total
    below, lower = 0.0, 0.0
    for le in bounds:
        count = counts[le]
        if count >= rank:
            if math.isinf(le):
                return lower
            return lower + (le - lower) * ((rank - below) / (count - below)
                                           if count > below else 1.0)
        below, lower = count, le
    return lower


async def scrape(port: int, name: str, timeout_s: float = 5.0) -> Buckets:
    """Histogram `name` as the worker serving /metrics on 127.0.0.1:`port` has it now."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http, \
            http.get(f"http://127.0.0.1:{port}/metrics") as response:
        response.raise_for_status()
        return buckets(await response.text(), name)
