"""Node with the JavaScript clients scripts/setup installs beside the virtualenv
(@coral-xyz/anchor and @solana/web3.js in `.venv/anchor-ts`)."""

from __future__ import annotations

import os
from pathlib import Path

ANCHOR_TS = Path(__file__).resolve().parents[2] / ".venv" / "anchor-ts" / "node_modules"


def node_env() -> dict[str, str]:
    """The environment with scripts/setup's packages on node's path (and any NODE_PATH
    already set)."""
    env = os.environ.copy()
    env["NODE_PATH"] = os.pathsep.join(p for p in (str(ANCHOR_TS), env.get("NODE_PATH")) if p)
    return env
