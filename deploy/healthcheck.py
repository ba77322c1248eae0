"""The image's HEALTHCHECK: probe what the container's command serves.

    python /opt/keepernet/healthcheck.py

One image runs every command, so the check reads the command from PID 1's arguments (Docker
runs the health check beside it, in the same PID namespace):

- `keepernet worker ROLE`: GET /healthz on 127.0.0.1:$KEEPERNET_METRICS_PORT (200 when
  healthy; 503 naming the failing checks); with the port 0 (no metrics server) there is
  nothing to ask, and the check passes.
- `keepernet localnet [--port N]`: JSON-RPC `getHealth` on 127.0.0.1:N must answer "ok".
- anything else (`migrate`, `enqueue`, `status`, `--help`): a one-shot command serves
  nothing; the check passes while it runs.

Exit 0 healthy, 1 unhealthy (the reason on stderr, which `docker inspect` shows).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path

TIMEOUT_S = 4.0
DEFAULT_METRICS_PORT = "9400"
DEFAULT_LOCALNET_PORT = "8899"


def command_of(cmdline: list[str]) -> list[str]:
    """The arguments after the `keepernet` executable: PID 1 is it, or a wrapper that execs it
    (with_localnet_keys.py) or an init (`docker run --init`) that names it."""
    for i, arg in enumerate(cmdline):
        if Path(arg).name == "keepernet":
            return cmdline[i + 1:]
    return []


def option(args: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.partition("=")[2]
    return default


def probe_worker() -> None:
    port = os.environ.get("KEEPERNET_METRICS_PORT", DEFAULT_METRICS_PORT)
    if int(port) == 0:
        return
    # urlopen raises on a 503: the failing checks are in its body
    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=TIMEOUT_S).close()


def probe_localnet(args: list[str]) -> None:
    port = option(args, "--port", DEFAULT_LOCALNET_PORT)
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getHealth"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}", body,
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        answer = json.load(response)
    if answer.get("result") != "ok":
        raise RuntimeError(f"getHealth answered {answer}")


def main() -> int:
    raw = Path("/proc/1/cmdline").read_bytes()
    args = command_of([a.decode() for a in raw.split(b"\0") if a])
    subcommand = args[0] if args else ""
    try:
        if subcommand == "worker":
            probe_worker()
        elif subcommand == "localnet":
            probe_localnet(args)
    except Exception as e:
        print(f"unhealthy: keepernet {subcommand}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
