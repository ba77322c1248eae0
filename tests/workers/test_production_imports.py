"""Production code loads none of the test runtime: no module the keepers import pulls in
`program.svm` (the in-process SVM), the LiteSVM deployer or `solders.litesvm`.

Each check runs in a fresh interpreter, so that what this test process has already imported
cannot hide an import. `solders.litesvm` is blocked there (as in a solders built without
LiteSVM): solders' own `__init__` tries it and carries on without it, while any of ours that
imports it fails to import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLE_MODULES = ["workers.indexer", "workers.liquidator", "workers.funding",
                "workers.governance", "workers.cli"]
PRODUCTION_PACKAGES = ["chain", "fleet", "jobs", "metrics", "patches", "program", "store",
                       "workers"]
# the test runtime itself, and what only the `keepernet localnet` and `demo` commands import
# (late, inside the command)
TEST_RUNTIME = ["program.svm", "program.local", "program.toolchain.deploy", "chain.localnet",
                "demo"]

CHECK = """
import importlib, json, pkgutil, sys

sys.modules["solders.litesvm"] = None  # an import of it raises ImportError
modules, packages, exempt = json.loads(sys.argv[1])

def production(package):
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__, package + "."):
        if info.name.endswith(".__main__") or any(
                info.name == e or info.name.startswith(e + ".") for e in exempt):
            continue
        yield info.name
        if info.ispkg:
            yield from production(info.name)

for name in [*modules, *(m for p in packages for m in production(p))]:
    importlib.import_module(name)
loaded = [m for m in ("solders.litesvm", *exempt) if sys.modules.get(m) is not None]
print(json.dumps(loaded))
"""


def loaded_test_runtime(modules: list[str], packages: list[str] | None = None) -> list[str]:
    """Which of the test runtime's modules are loaded once `modules` and every production
    module of `packages` are imported in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", CHECK, json.dumps([modules, packages or [], TEST_RUNTIME])],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize("module", ROLE_MODULES)
def test_a_roles_module_loads_no_test_runtime(module: str) -> None:
    assert loaded_test_runtime([module]) == []


def test_no_production_module_loads_the_test_runtime() -> None:
    assert loaded_test_runtime([], PRODUCTION_PACKAGES) == []


def test_the_check_sees_the_test_runtime_when_it_is_imported() -> None:
    # program.local is the test runtime: importing it must fail the check, or the checks above
    # prove nothing
    with pytest.raises(AssertionError, match=r"import of solders\.litesvm halted"):
        loaded_test_runtime(["program.local"])
