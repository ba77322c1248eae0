"""The `keepernet` command: `keepernet localnet [--port N] [--keys DIR]`.

argparse exits with status 2 and a usage message on unknown or bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_KEYS = Path(".keepernet/localnet-keys")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    # the WebSocket server takes the next port
    if not 1 <= port <= 65534:
        raise argparse.ArgumentTypeError(f"port must be between 1 and 65534, not {port}")
    return port


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="keepernet", description="Keepernet keeper network.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    localnet = commands.add_parser(
        "localnet", help="serve Solana JSON-RPC (port) and WebSocket (port + 1) over LiteSVM "
                         "with the program deployed")
    localnet.add_argument("--port", type=_port, default=8899,
                          help="JSON-RPC port; WebSocket on the next one (default 8899)")
    localnet.add_argument("--keys", type=Path, default=DEFAULT_KEYS,
                          help=f"keypair folder, loaded or created (default {DEFAULT_KEYS})")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "localnet":
        from chain.localnet import serve  # imported late: the SVM stack is heavy

        try:
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(serve(args.port, args.keys))
        except OSError as e:  # the port is taken, say
            print(f"keepernet localnet: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
