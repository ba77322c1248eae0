"""The benchmarks' one result shape, the table of every figure, latest.json and the plots.

Each benchmark writes `bench/results/<name>.json`:

    {"bench": "scan",
     "figures": [{"figure": "positions judged per second, 1,000,000 positions",
                  "value": 4.1e7, "unit": "positions/s",
                  "baseline": 9.8e5, "ratio": 42.0,
                  "target": 1e6, "target_op": ">=", "met": true}, ...],
     "details": {...}}          # free-form: sizes, distributions for the plots

`value` is the real code path's figure, `baseline` the same figure of the naive way measured in
the same run, `ratio` value ÷ baseline. `target` is the issue's target for `value` (`target_op`
says which side of it is good: ">=" for a throughput, "<=" for a latency) and `met` whether it
holds; a figure without a target has `target` and `met` null. A number that could not be
measured (a baseline that does not apply) is null.

`python -m bench` (bench/__main__.py) runs each benchmark as a child, then `table` prints every
figure, `latest` is written to bench/results/latest.json and `plot_all` draws PNGs beside it.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"

TargetOp = Literal[">=", "<="]


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its baseline measured in the same run."""

    figure: str
    value: float | None
    unit: str
    baseline: float | None = None
    target: float | None = None
    target_op: TargetOp = ">="
    ratio: float | None = field(default=None)
    met: bool | None = field(default=None)

    @classmethod
    def of(cls, figure: str, value: float | None, unit: str, *, baseline: float | None = None,
           target: float | None = None, target_op: TargetOp = ">=") -> Figure:
        """A figure with its ratio and `met` worked out (None where they cannot be)."""
        return cls(figure, _finite(value), unit, _finite(baseline), target, target_op,
                   ratio(value, baseline), met(value, target, target_op))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> Figure:
        op = item.get("target_op", ">=")
        return cls(str(item["figure"]), item.get("value"), str(item.get("unit", "")),
                   item.get("baseline"), item.get("target"), "<=" if op == "<=" else ">=",
                   item.get("ratio"), item.get("met"))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value ÷ baseline, or None when either is missing, not finite, or the baseline is 0."""
    if value is None or baseline is None or not math.isfinite(value) \
            or not math.isfinite(baseline) or baseline == 0:
        return None
    return value / baseline


def met(value: float | None, target: float | None, op: TargetOp) -> bool | None:
    """Whether `value` meets `target` (None without a target; False for a value that could not
    be measured: a missed measure misses its target)."""
    if target is None:
        return None
    if value is None or not math.isfinite(value):
        return False
    return value >= target if op == ">=" else value <= target


def samples(values: Iterable[float], digits: int = 4) -> list[float | None]:
    """Measures for a result's details: rounded, one that is not finite (a measure missed,
    e.g. a liquidation that never landed) as null."""
    return [round(v, digits) if math.isfinite(v) else None for v in values]


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: exact on small samples, never interpolated (nan if empty)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


# ---- one benchmark's results --------------------------------------------------------------------

@dataclass(frozen=True)
class BenchResult:
    """What one benchmark produced, or why it produced nothing (`error`)."""

    bench: str
    figures: list[Figure]
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def ok(self) -> bool:
        """Ran, and missed no target."""
        return not self.failed and all(f.met is not False for f in self.figures)


def conclude(result: BenchResult, header: str) -> int:
    """A benchmark's end: write its result, print `header` and its table; 0 when every target
    is met."""
    write_result(result)
    print(header)
    print(table([result]))
    return 0 if result.ok else 1


def write_result(result: BenchResult, results_dir: Path = RESULTS_DIR) -> Path:
    """`results_dir/<bench>.json` in the shared shape."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.bench}.json"
    path.write_text(json.dumps({"bench": result.bench,
                                "figures": [f.to_json() for f in result.figures],
                                "details": result.details}, indent=2, default=_json_default)
                    + "\n")
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    raise TypeError(f"not JSON: {type(value).__name__}")


def load_figures(bench: str, data: Mapping[str, Any]) -> BenchResult:
    """A results file's content (the shared shape) as a BenchResult."""
    if "figures" not in data:
        raise ValueError(f"{bench}: no `figures` in its results file")
    return BenchResult(bench, [Figure.from_json(f) for f in data["figures"]],
                       dict(data.get("details") or {}))


def read_result(bench: str, results_dir: Path = RESULTS_DIR) -> BenchResult:
    path = results_dir / f"{bench}.json"
    return load_figures(bench, json.loads(path.read_text()))


# ---- the table and latest.json -----------------------------------------------------------------

def fmt(value: float | None) -> str:
    """A number for the table: thousands separated, 3 significant figures below 1,000."""
    if value is None or not math.isfinite(value):
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == 0:
        return "0"
    return f"{value:.3g}"


def _ratio_cell(f: Figure) -> str:
    return "—" if f.ratio is None else f"{f.ratio:.3g}x"


def _target_cell(f: Figure) -> str:
    return "—" if f.target is None else f"{'≥' if f.target_op == '>=' else '≤'} {fmt(f.target)}"


def _met_cell(f: Figure) -> str:
    return "—" if f.met is None else ("yes" if f.met else "NO")


def table(results: Sequence[BenchResult]) -> str:
    """One markdown table of every figure of every benchmark; a failed benchmark is one row
    that says so."""
    out = ["| bench | figure | value | unit | baseline | ratio | target | met |",
           "|---|---|---:|---|---:|---:|---:|---|"]
    for r in results:
        if r.failed:
            out.append(f"| {r.bench} | FAILED: {_one_line(r.error or '')} | — | | — | — | — "
                       f"| NO |")
            continue
        for f in r.figures:
            out.append(f"| {r.bench} | {f.figure} | {fmt(f.value)} | {f.unit} | "
                       f"{fmt(f.baseline)} | {_ratio_cell(f)} | {_target_cell(f)} | "
                       f"{_met_cell(f)} |")
    return "\n".join(out)


def _one_line(text: str, limit: int = 120) -> str:
    line = " ".join(text.split()).replace("|", "/")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {"cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "platform": platform.platform(), "machine": platform.machine(),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}


def latest(results: Sequence[BenchResult], machine_info: Mapping[str, Any]) -> dict[str, Any]:
    """latest.json's content: every figure by benchmark, the failures, the machine."""
    return {
        "machine": dict(machine_info),
        "ok": all(r.ok for r in results),
        "benches": {r.bench: {"status": "failed" if r.failed else ("ok" if r.ok
                                                                   else "target missed"),
                              "error": r.error,
                              "figures": [f.to_json() for f in r.figures]}
                    for r in results},
    }


# ---- plots --------------------------------------------------------------------------------------

def plot_all(results: Sequence[BenchResult], results_dir: Path = RESULTS_DIR) -> list[Path]:
    """PNG plots of what the results hold: latency distributions (queue, reaction),
    throughput against scale (scan, indexer) and requests per role (requests). Returns the
    files written.

    They are drawn in a fresh child process (spawned, not forked), so that no state of the
    caller's process reaches matplotlib: after LiteSVM ran a program that calls through a
    function pointer, the x87 FPU stack is left full, and the next x87 instruction on that
    thread (numpy's scalar floor division in matplotlib's tick locator) gives NaN."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as child:
        return child.submit(_plot_all, list(results), results_dir).result()


def _plot_all(results: Sequence[BenchResult], results_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    by_name = {r.bench: r for r in results if not r.failed}
    written: list[Path] = []
    queue = by_name.get("queue")
    if queue is not None and "latencies_ms" in queue.details:
        written.append(_plot_latencies(queue.details["latencies_ms"],
                                       "queue: enqueue to start (ms)",
                                       results_dir / "queue_latency.png"))
    reaction = by_name.get("reaction")
    if reaction is not None:
        runs = [run for run in reaction.details.get("scales", []) if "reactions_s" in run]
        if runs:  # the largest scale's reaction times, fleet vs naive keeper
            run = max(runs, key=lambda r: int(r.get("positions", 0)))
            written.append(_plot_latencies(
                {name: [v * 1000 for v in values if v is not None]
                 for name, values in run["reactions_s"].items()},
                f"reaction, {int(run.get('positions', 0)):,} positions: price write to "
                "liquidation landed (ms)", results_dir / "reaction_latency.png",
                share_of="positions liquidated"))
        written.append(_plot_bars(reaction.figures, "reaction: fleet vs naive keeper",
                                  results_dir / "reaction.png"))
    requests = by_name.get("requests")
    if requests is not None and "windows" in requests.details:
        written.append(_plot_requests(requests.details["windows"],
                                      f"RPC requests per minute per role, hosted profile at "
                                      f"{requests.details.get('rps', 0):g} req/s",
                                      results_dir / "requests.png"))
    for bench, key, title in (("scan", "scales", "scan: positions judged per second"),
                              ("indexer", "scales", "indexer catch-up: events per second")):
        r = by_name.get(bench)
        if r is not None and key in r.details:
            written.append(_plot_scales(r.details[key], title, results_dir / f"{bench}.png"))
    return written


def _plot_latencies(series: Mapping[str, Sequence[float]], title: str, path: Path, *,
                    share_of: str = "jobs started") -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in series.items():
        ordered = sorted(v for v in values if math.isfinite(v))
        if not ordered:
            continue
        share = [(i + 1) / len(ordered) for i in range(len(ordered))]
        ax.step(ordered, share, where="post", label=f"{name} (n={len(ordered)})")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log)")
    ax.set_ylabel(f"share of {share_of} within")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_bars(figures: Sequence[Figure], title: str, path: Path) -> Path:
    import matplotlib.pyplot as plt

    rows = [f for f in figures if f.value is not None]
    fig, ax = plt.subplots(figsize=(8, 1 + 0.5 * max(1, len(rows))))
    ys = range(len(rows))
    ax.barh([y + 0.2 for y in ys], [f.value or 0.0 for f in rows], height=0.4, label="fleet")
    ax.barh([y - 0.2 for y in ys], [f.baseline or 0.0 for f in rows], height=0.4,
            label="baseline")
    ax.set_yticks(list(ys), [f"{f.figure} ({f.unit})" for f in rows], fontsize=7)
    ax.set_xscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_requests(windows: Mapping[str, Mapping[str, float]], title: str, path: Path) -> Path:
    """`windows`: {"rest"|"crash": {role: requests per minute}, ...}: a bar per role and
    window."""
    import matplotlib.pyplot as plt

    roles = sorted(set(windows.get("rest", {})) | set(windows.get("crash", {})))
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = range(len(roles))
    for offset, window in ((-0.2, "rest"), (0.2, "crash")):
        ax.bar([x + offset for x in xs], [windows.get(window, {}).get(r, 0.0) for r in roles],
               width=0.4, label="at rest" if window == "rest" else "during the crash")
    ax.set_xticks(list(xs), roles)
    ax.set_ylabel("requests per minute")
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_scales(scales: Sequence[Mapping[str, Any]], title: str, path: Path) -> Path:
    """`scales`: [{"n": size, "value": per second, "baseline": per second}, ...]."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ns = [s["n"] for s in scales]
    ax.plot(ns, [s["value"] for s in scales], marker="o", label="real path")
    ax.plot(ns, [s["baseline"] for s in scales], marker="s", label="naive baseline")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("size")
    ax.set_ylabel("per second (log)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
