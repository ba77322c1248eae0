"""Command line: `python -m program.toolchain -o out.so a.o b.o [-e entrypoint] [-v]`.

Errors go to stderr as `sbfld: error: ...` with exit status 1, and no output is
left behind, so make does not mistake a stale program for a fresh one.
"""

import argparse
import contextlib
import sys
from pathlib import Path
from typing import NoReturn

from program.toolchain.errors import LinkError
from program.toolchain.link import ENTRYPOINT, link_files

PROG = "sbfld"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{PROG}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Link the objects named in `argv`; return the exit status."""
    parser = _Parser(prog=PROG, description="Link clang -target bpf -mcpu=v2 objects into a "
                     "Solana SBPF v0 program.")
    parser.add_argument("objects", nargs="+", type=Path, help="relocatable .o files")
    parser.add_argument("-o", dest="output", type=Path, required=True, help="output .so")
    parser.add_argument("-e", dest="entry", default=ENTRYPOINT,
                        help=f"entry point symbol (default {ENTRYPOINT})")
    parser.add_argument("-v", dest="verbose", action="store_true", help="print a summary")
    args = parser.parse_args(argv)
    try:
        report = link_files(args.objects, args.output, args.entry)
    except LinkError as e:
        with contextlib.suppress(OSError):
            args.output.unlink(missing_ok=True)
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    if args.verbose:
        print(f"{PROG}: {args.output}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
