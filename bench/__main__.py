"""Every benchmark, one table: `python -m bench [--quick] [--only NAME ...]`.

Runs cu, scan, indexer, queue, reaction and requests, each as a child process
(`python -m bench.<name>`) that writes bench/results/<name>.json; a child that fails or writes
nothing is reported as failed and the others still run. Then prints one table of every figure
and the demo's summary under the hosted profile (bench.requests runs the demo there), writes
bench/results/latest.json (every figure, the machine) and draws the plots beside it
(bench/report.py). `--quick` is passed to the benchmarks that take it (smaller sizes; reaction
with 1,000 positions). Exit status 1 when a benchmark failed or missed a target.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence

from bench.report import (
    RESULTS_DIR,
    BenchResult,
    latest,
    load_figures,
    machine,
    plot_all,
    table,
)

BENCHES = ("cu", "scan", "indexer", "queue", "reaction", "requests")
QUICK_ARGS: dict[str, list[str]] = {
    "scan": ["--quick"], "indexer": ["--quick"], "queue": ["--quick"],
    "reaction": ["--positions", "1000"],
}
TIMEOUT_S = 1800.0


def run_bench(name: str, args: Sequence[str]) -> BenchResult:
    """`python -m bench.<name> <args>` in a child; its results file read back (a child that
    exits non-zero but wrote its figures has missed a target: the figures say which)."""
    path = RESULTS_DIR / f"{name}.json"
    path.unlink(missing_ok=True)
    started = time.monotonic()
    print(f"== bench.{name} {' '.join(args)}", flush=True)
    try:
        done = subprocess.run([sys.executable, "-m", f"bench.{name}", *args],
                              timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return BenchResult(name, [], error=f"timed out after {TIMEOUT_S:.0f} s")
    print(f"== bench.{name}: exit {done.returncode} in {time.monotonic() - started:.0f} s",
          flush=True)
    if not path.exists():
        return BenchResult(name, [], error=f"exit status {done.returncode}, no {path.name}")
    try:
        return load_figures(name, json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as e:
        return BenchResult(name, [], error=f"unreadable {path.name}: {e}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes where offered")
    parser.add_argument("--only", nargs="+", choices=BENCHES, help="these benchmarks only")
    args = parser.parse_args(argv)
    results = []
    for name in args.only or BENCHES:
        results.append(run_bench(name, QUICK_ARGS.get(name, []) if args.quick else []))
    print()
    print(table(results))
    for r in results:
        if r.details.get("demo_summary"):
            print(f"\nbench.{r.bench}: the demo under the hosted profile, checked against the "
                  f"chain:\n{r.details['demo_summary']}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.json").write_text(json.dumps(latest(results, machine()), indent=2)
                                             + "\n")
    for path in plot_all(results):
        print(f"plot: {path.relative_to(RESULTS_DIR.parent.parent)}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
