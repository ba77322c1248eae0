"""Fixtures for the toolchain tests: compiling C snippets with the project's clang flags."""

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.support.toolchain import CLANG, cflags

Compile = Callable[..., Path]


@pytest.fixture
def cc(tmp_path: Path) -> Compile:
    """cc(source, name="prog", mcpu="v2", stack_size=4096, extra=()) -> path of the .o."""

    def compile_c(source: str, name: str = "prog", mcpu: str = "v2", stack_size: int = 4096,
                  extra: Sequence[str] = ()) -> Path:
        src = tmp_path / f"{name}.c"
        obj = tmp_path / f"{name}.o"
        src.write_text(source)
        cmd = [CLANG, *cflags(mcpu, stack_size), *extra, "-c", str(src), "-o", str(obj)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            pytest.fail(f"clang failed on {name}.c:\n{done.stderr}")
        return obj

    return compile_c


@pytest.fixture
def cc_refused(tmp_path: Path) -> Callable[..., str]:
    """cc_refused(source, ...) -> clang's stderr; fails the test if clang compiles it."""

    def compile_refused(source: str, mcpu: str = "v2", stack_size: int = 4096) -> str:
        src = tmp_path / "refused.c"
        src.write_text(source)
        # a backend crash (some refusals are one) would leave reproducers in /tmp
        cmd = [CLANG, *cflags(mcpu, stack_size), "-fno-crash-diagnostics", "-c", str(src),
               "-o", str(tmp_path / "r.o")]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            pytest.fail("clang compiled a snippet expected to be refused")
        return done.stderr

    return compile_refused
