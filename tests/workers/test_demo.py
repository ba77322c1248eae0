"""The README's first command, shortened: `keepernet demo` starts its servers, the localnet and
the four roles, and its summary matches the chain (exit 0) with every kind of keeper work done."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def test_the_demo_runs_and_its_summary_matches_the_chain() -> None:
    # not pytest's tmp_path: as root, PostgreSQL runs as `postgres`, which must reach the folder
    data = Path(tempfile.mkdtemp(prefix="keepernet-demo-"))
    data.chmod(0o755)
    try:
        done = subprocess.run([sys.executable, "-m", "workers.cli", "demo", "--duration", "40",
                               "--positions", "100", "--data", str(data)],
                              capture_output=True, text=True, timeout=300, check=False)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "checked against the chain: every event indexed once, none missing" in out
    counts = {m[0]: (int(m[1]), int(m[2]))
              for m in re.findall(r"^(\w[\w ]+?)\s+(\d+)\s+(\d+)$", out, re.MULTILINE)}
    for line in ("markets approved", "markets rejected", "markets finalized", "funding updates",
                 "liquidations"):
        indexed, on_chain = counts[line]
        assert indexed == on_chain > 0, (line, out)
    assert counts["markets finalized"] == (2, 2)
    assert out.count("t=") >= 10  # the progress lines
