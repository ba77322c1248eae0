"""Fixtures of the program's tests: the program built, a fresh World (tests/support/
program_world.py) and a creator's wallet in it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from program.local import Wallet as User
from program.svm import SO_PATH
from tests.support.program_world import ROOT, World, deploy_world


@pytest.fixture(scope="session", autouse=True)
def built_program() -> Path:
    """The program, rebuilt if a source changed (make is a no-op otherwise)."""
    subprocess.run(["make", "-s", "program"], cwd=ROOT, check=True)
    return SO_PATH


@pytest.fixture
def world() -> Iterator[World]:
    yield deploy_world()


@pytest.fixture
def creator(world: World) -> User:
    return world.user()
