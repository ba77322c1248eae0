"""The benchmarks' report: figures, the table, latest.json, the plots; reaction's figures."""

from __future__ import annotations

import ctypes
import json
import math
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.reaction import (
    TARGET_FAULTED_P99_S,
    TARGET_QUEUE_P99_S,
    TARGET_REACTION_P99_S,
    TARGET_SCALE,
    TARGET_SHARE_P99_S,
    TARGET_SHARE_SCALE,
    Figures,
    figures,
)
from bench.report import (
    BenchResult,
    Figure,
    latest,
    load_figures,
    met,
    percentile,
    plot_all,
    ratio,
    read_result,
    samples,
    table,
    write_result,
)

MACHINE = {"cpu_count": 2, "python": "3.11.7", "date": "2026-12-04T00:00:00+00:00"}


def test_a_figure_works_out_its_ratio_and_whether_it_meets_its_target() -> None:
    f = Figure.of("events", 25_000.0, "events/s", baseline=5_000.0, target=20_000)
    assert f.ratio == 5.0 and f.met is True
    slow = Figure.of("p99", 30.0, "ms", baseline=500.0, target=20.0, target_op="<=")
    assert slow.ratio == 0.06 and slow.met is False
    assert Figure.of("x", 1.0, "u").met is None  # no target, nothing to meet


def test_missing_numbers_give_no_ratio_and_miss_their_target() -> None:
    assert ratio(1.0, None) is None and ratio(1.0, 0.0) is None and ratio(math.inf, 1.0) is None
    assert met(None, 1.0, ">=") is False and met(math.nan, 1.0, "<=") is False
    f = Figure.of("p99", math.inf, "ms", baseline=math.nan, target=20.0, target_op="<=")
    assert f.value is None and f.baseline is None and f.ratio is None and f.met is False


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    assert percentile([1.0, math.inf], 99) == math.inf  # a missed job counts


def test_the_table_has_one_row_per_figure_and_says_a_bench_failed() -> None:
    ok = BenchResult("scan", [Figure.of("judged, 1,000,000 positions", 4_982_524.0,
                                        "positions/s", baseline=724_343.0, target=1_000_000)])
    failed = BenchResult("indexer", [], error="exit status 1,\nno indexer.json | oops")
    missed = BenchResult("queue", [Figure.of("p99", 31.0, "ms", baseline=501.0, target=20.0,
                                             target_op="<=")])
    lines = table([ok, failed, missed]).splitlines()
    assert lines[0].startswith("| bench | figure | value |")
    assert lines[2] == ("| scan | judged, 1,000,000 positions | 4,982,524 | positions/s | "
                        "724,343 | 6.88x | ≥ 1,000,000 | yes |")
    assert lines[3].startswith("| indexer | FAILED: exit status 1, no indexer.json / oops |")
    assert lines[3].endswith("| NO |")
    assert lines[4] == "| queue | p99 | 31 | ms | 501 | 0.0619x | ≤ 20 | NO |"
    assert not failed.ok and not missed.ok and ok.ok


def test_latest_holds_every_figure_the_failures_and_the_machine() -> None:
    ok = BenchResult("scan", [Figure.of("judged", 2e6, "positions/s", baseline=7e5,
                                        target=1e6)])
    failed = BenchResult("indexer", [], error="timed out")
    data = latest([ok, failed], MACHINE)
    json.dumps(data)  # JSON all through
    assert data["machine"] == MACHINE and data["ok"] is False
    assert data["benches"]["scan"]["status"] == "ok"
    assert data["benches"]["scan"]["figures"][0]["ratio"] == 2e6 / 7e5
    assert data["benches"]["indexer"] == {"status": "failed", "error": "timed out",
                                          "figures": []}
    assert latest([ok], MACHINE)["ok"] is True


def test_a_result_file_round_trips(tmp_path: Path) -> None:
    result = BenchResult("queue", [Figure.of("p50", 7.5, "ms", baseline=260.0, target_op="<=")],
                         {"latencies_ms": {"fleet": [7.5, 8.0]}})
    write_result(result, tmp_path)
    assert read_result("queue", tmp_path) == result


def test_a_file_without_figures_is_refused() -> None:
    with pytest.raises(ValueError, match="no `figures`"):
        load_figures("reaction", {"scales": [{"positions": 1000, "results": []}]})


def test_samples_are_rounded_and_a_missed_measure_is_null() -> None:
    assert samples([0.123456, math.inf, math.nan, 2.0]) == [0.1235, None, None, 2.0]
    json.dumps(samples([math.inf]), allow_nan=False)  # strict JSON


def test_reactions_figures_name_their_scale_and_carry_the_targets() -> None:
    fleet = Figures(reactions=[0.2, 0.3], starts=[0.05, 0.1], steady=[0.004, 0.03])
    naive = Figures(reactions=[5.0, 6.0], starts=[4.9, 5.9], steady=[])
    at_target = {f.figure: f for f in figures(fleet, naive, TARGET_SCALE)}
    p99 = at_target["reaction p99, 10,000 positions"]
    assert (p99.value, p99.unit, p99.baseline, p99.target, p99.target_op, p99.met) \
        == (0.3, "s", 6.0, TARGET_REACTION_P99_S, "<=", True)
    assert p99.ratio == pytest.approx(0.05)
    assert at_target["crash to liquidation start p50, 10,000 positions"].baseline == 4.9
    steady = at_target["enqueue-to-start, one at a time, p99, 10,000 positions"]
    assert steady.baseline is None and steady.ratio is None
    assert steady.target == TARGET_QUEUE_P99_S and steady.met is False
    assert len(at_target) == 10
    # the keeper's share, read from the liquidators' histogram: its target at a million only
    share = {0.01: 90.0, 0.02: 100.0, math.inf: 100.0}
    at_million = {f.figure: f for f in figures(Figures([0.2], [0.05], [0.004], share=share),
                                               naive, TARGET_SHARE_SCALE)}
    p99 = at_million["keeper's share, price notification to send, p99, 1,000,000 positions"]
    assert (p99.value, p99.target, p99.met, p99.baseline) == \
        (pytest.approx(0.019), TARGET_SHARE_P99_S, True, None)
    assert at_target["keeper's share, price notification to send, p99, 10,000 positions"] \
        .value is None  # no histogram read: not measured
    elsewhere = {f.figure: f for f in figures(fleet, naive, 1000)}
    assert elsewhere["reaction p99, 1,000 positions"].target is None  # the target's scale only
    assert elsewhere["enqueue-to-start, one at a time, p99, 1,000 positions"].met is False
    faulted = Figures([0.2], [0.05], [0.004], {"frozen": [0.1, 2.5], "killed": [0.1, 3.5]})
    beside = {f.figure: f for f in figures(faulted, naive, 1000)}
    frozen = beside["reaction, one instance frozen at the crash, p99, 1,000 positions"]
    assert (frozen.target, frozen.met, frozen.baseline) == (TARGET_FAULTED_P99_S, True, None)
    assert beside["reaction, one instance killed at the crash, p99, 1,000 positions"].met \
        is False
    assert len(beside) == 14
    never = figures(Figures([0.2, math.inf], [0.1, math.inf], [0.01]), naive, TARGET_SCALE)
    assert never[1].value is None and never[1].met is False  # one never landed: missed
    assert not BenchResult("reaction", never).ok


def test_plots_are_drawn_from_the_details(tmp_path: Path) -> None:
    results = [
        BenchResult("queue", [], {"latencies_ms": {"fleet": [5.0, 7.0], "arq": [250.0]}}),
        BenchResult("scan", [], {"scales": [{"n": 10_000, "value": 1e7, "baseline": 7e5},
                                            {"n": 100_000, "value": 9e6, "baseline": 7e5}]}),
        BenchResult("reaction", [Figure.of("reaction p99, 1,000 positions", 0.5, "s",
                                           baseline=6.0, target=0.4, target_op="<=")],
                    {"scales": [{"positions": 1000,
                                 "reactions_s": {"fleet": [0.3, None], "baseline": [6.0]}}]}),
        BenchResult("indexer", [], error="failed: no plot"),
        BenchResult("requests", [], {"rps": 50.0, "windows": {
            "rest": {"indexer": 60.0, "liquidator": 30.0},
            "crash": {"indexer": 90.0, "liquidator": 300.0}}}),
    ]
    written = plot_all(results, tmp_path)
    assert sorted(p.name for p in written) == ["queue_latency.png", "reaction.png",
                                               "reaction_latency.png", "requests.png",
                                               "scan.png"]
    assert all(p.stat().st_size > 1000 for p in written)


# What LiteSVM leaves behind after running a program that calls through a function pointer
# (tests/toolchain/test_link.py, the localnet of tests/faults/test_postgres_restart.py): a full
# x87 stack, on which the next x87 instruction overflows and gives NaN.
FILL_X87_STACK = """
void fill_x87_stack(void) {
    __asm__ volatile("fld1; fld1; fld1; fld1; fld1; fld1; fld1; fld1");
}
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x87 is x86's")
def test_plots_are_drawn_whatever_state_the_callers_fpu_is_in(tmp_path: Path) -> None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no host C compiler (gcc): install it, e.g. apt install gcc")
    (tmp_path / "x87.c").write_text(FILL_X87_STACK)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(tmp_path / "x87.so"),
                    str(tmp_path / "x87.c")], check=True)
    ctypes.CDLL(str(tmp_path / "x87.so")).fill_x87_stack()
    queue = BenchResult("queue", [], {"latencies_ms": {"fleet": [5.0, 7.0], "arq": [250.0]}})
    assert [p.name for p in plot_all([queue], tmp_path)] == ["queue_latency.png"]
