"""What a wheelhouse lacks for another interpreter: `scripts/container-host wheelhouse` uses it.

    python deploy/wheelhouse_missing.py DIR PYTHON_VERSION

`pip wheel` resolves the dependencies for the interpreter running it, markers included; an
image's interpreter may be another patch release (Debian bookworm's python3 is 3.11.2, and
redis wants async-timeout below 3.11.3). This prints, one a line, every requirement of a wheel
in DIR whose marker holds on PYTHON_VERSION and that no wheel in DIR provides, for `pip wheel`
to add; nothing when the wheelhouse is complete.
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename


def requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    return [Requirement(r) for r in metadata.get_all("Requires-Dist") or []]


def missing(folder: Path, python_version: str) -> list[str]:
    wheels = sorted(folder.glob("*.whl"))
    present = {canonicalize_name(parse_wheel_filename(w.name)[0]) for w in wheels}
    environment = {"python_full_version": python_version,
                   "python_version": ".".join(python_version.split(".")[:2]),
                   "extra": ""}
    wanted: set[str] = set()
    for wheel in wheels:
        for requirement in requirements(wheel):
            holds = requirement.marker is None or requirement.marker.evaluate(environment)
            if holds and canonicalize_name(requirement.name) not in present:
                requirement.marker = None
                wanted.add(str(requirement))
    return sorted(wanted)


def main() -> int:
    folder, python_version = Path(sys.argv[1]), sys.argv[2]
    for line in missing(folder, python_version):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
