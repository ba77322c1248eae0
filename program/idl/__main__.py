"""`python -m program.idl [--check]`: write the generated IDL and C headers, or check them."""

import sys

from program.idl.generate import ROOT, stale, write


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        old = stale()
        for path in old:
            print(f"stale: {path.relative_to(ROOT.parent)} (run `make idl`)", file=sys.stderr)
        return 1 if old else 0
    if argv:
        print("usage: python -m program.idl [--check]", file=sys.stderr)
        return 2
    for path in write():
        print(f"wrote {path.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
