"""Start a command with the bundled localnet's keys: docker-compose's worker entrypoint.

    python with_localnet_keys.py --keys DIR [--keypair NAME] COMMAND...

waits for DIR/program.json (the localnet writes its keypairs there on its first start), sets
KEEPERNET_PROGRAM_ID to the program's public key and, with --keypair, KEEPERNET_KEYPAIR to
DIR/NAME.json (unless either is already set), then execs COMMAND (`keepernet worker
liquidator`). Against a real cluster it is not needed: set KEEPERNET_RPC_URLS,
KEEPERNET_PROGRAM_ID and KEEPERNET_KEYPAIR and run `keepernet worker ROLE` directly.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

WAIT_FOR_KEYS_S = 120.0


def run(keys: Path, keypair: str | None, command: list[str]) -> int:
    from chain.keys import load_keypair  # the image's own code: the same checks as a worker's

    if not command:
        print("with_localnet_keys: no command to run", file=sys.stderr)
        return 2
    program = keys / "program.json"
    deadline = time.monotonic() + WAIT_FOR_KEYS_S
    while not program.exists():
        if time.monotonic() > deadline:
            print(f"with_localnet_keys: no {program} after {WAIT_FOR_KEYS_S:.0f} s: is the "
                  f"localnet running with this keys folder?", file=sys.stderr)
            return 2
        time.sleep(1.0)
    if not os.environ.get("KEEPERNET_PROGRAM_ID"):
        os.environ["KEEPERNET_PROGRAM_ID"] = str(load_keypair(program).pubkey())
    if keypair is not None and not os.environ.get("KEEPERNET_KEYPAIR"):
        os.environ["KEEPERNET_KEYPAIR"] = str(keys / f"{keypair}.json")
    os.execvp(command[0], command)  # does not return


def main() -> int:
    parser = argparse.ArgumentParser(prog="with_localnet_keys",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=Path, required=True)
    parser.add_argument("--keypair", default=None,
                        help="the keys folder's keypair to sign with (keeper-1, keeper-2)")
    parser.add_argument("exec", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    return run(args.keys, args.keypair, args.exec)


if __name__ == "__main__":
    sys.exit(main())
