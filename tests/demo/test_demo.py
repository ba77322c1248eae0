"""The README's first command, shortened: `keepernet demo` starts its servers, the localnet and
the four roles, and its summary matches the chain (exit 0) with every kind of keeper work done,
against a validator's RPC and against a hosted provider's limits."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# a hosted provider's limits (chain/localnet/hosted.py) with the getProgramAccounts cap above
# the demo's largest answer (every Position account: 2 markets of 100)
HOSTED = ["--profile", "hosted", "--rps", "50", "--gpa-cap", "500"]


def test_the_demo_runs_and_its_summary_matches_the_chain() -> None:
    """The whole demo, under a hosted provider's limits: the same keepers and scenario as
    without them (the profile changes only what the localnet allows), so one run shows both;
    `make bench` runs it again under the profile (bench.requests) and the default demo is what
    README's quick start runs."""
    # not pytest's tmp_path: as root, PostgreSQL runs as `postgres`, which must reach the folder
    data = Path(tempfile.mkdtemp(prefix="keepernet-demo-"))
    data.chmod(0o755)
    try:
        done = subprocess.run([sys.executable, "-m", "workers.cli", "demo", "--duration", "40",
                               "--positions", "100", "--data", str(data), *HOSTED],
                              capture_output=True, text=True, timeout=300, check=False)
        indexer = data / "logs" / "indexer.log"
        indexer_log = indexer.read_text(errors="replace") if indexer.exists() else ""
    finally:
        shutil.rmtree(data, ignore_errors=True)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    # the provider's limits were met: the indexer's batches were refused
    assert "profile hosted: 50 requests/s per client" in out
    assert "endpoint refuses JSON-RPC batches" in indexer_log
    assert "checked against the chain: every event indexed once, none missing" in out
    counts = {m[0]: (int(m[1]), int(m[2]))
              for m in re.findall(r"^(\w[\w ]+?)\s+(\d+)\s+(\d+)$", out, re.MULTILINE)}
    for line in ("markets approved", "markets rejected", "markets finalized", "funding updates",
                 "liquidations", "config changes applied"):
        indexed, on_chain = counts[line]
        assert indexed == on_chain > 0, (line, out)
    # one market on each kind of oracle, liquidations in both
    for kind in ("legacy Pyth", "PriceUpdateV2"):
        indexed, on_chain = counts[f"liquidations on {kind}"]
        assert indexed == on_chain > 0, (kind, out)
    assert counts["markets finalized"] == (2, 2)
    # the seeding applies one change itself and leaves the second to the governance keepers
    assert counts["config changes applied"] == (2, 2)
    assert out.count("t=") >= 10  # the progress lines


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workers.cli", "demo", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_bad_demo_options_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    for args, says in ((["--positions", "0"], "must be between 1 and 500000, not 0"),
                       (["--duration", "-5"], "must be greater than 0"),
                       (["--data", str(tmp_path / "a-file" / "demo")],
                        "cannot keep the demo's data in")):
        done = demo(*args)
        assert done.returncode == 2 and says in done.stderr, (args, done.stderr)


def test_a_data_folder_postgres_cannot_reach_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root's PostgreSQL runs as another user")
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    done = demo("--data", str(closed / "demo"))
    assert done.returncode == 2
    assert f"cannot reach {closed / 'demo'}" in done.stderr and "chmod o+x" in done.stderr
