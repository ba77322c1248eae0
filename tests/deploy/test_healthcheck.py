"""deploy/healthcheck.py: which command PID 1 runs, and what is probed for it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def healthcheck() -> ModuleType:
    # a script copied into the image, not a package module
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_is_found_behind_the_interpreter_or_an_init() -> None:
    command_of = healthcheck().command_of
    venv = "/opt/keepernet/.venv/bin"
    assert command_of(["/usr/bin/python3", f"{venv}/keepernet", "worker", "indexer"]) == [
        "worker", "indexer"]
    assert command_of(["/sbin/docker-init", "--", "keepernet", "localnet", "--port", "9000"]) == [
        "localnet", "--port", "9000"]
    # a process that names no keepernet: nothing to probe
    assert command_of(["python", "/opt/keepernet/with_localnet_keys.py", "--keys", "k"]) == []


def test_the_localnet_port_is_read_in_either_spelling() -> None:
    option = healthcheck().option
    assert option(["localnet", "--port", "9000"], "--port", "8899") == "9000"
    assert option(["localnet", "--port=9001"], "--port", "8899") == "9001"
    assert option(["localnet", "--host", "0.0.0.0"], "--port", "8899") == "8899"
