"""Fixtures: probe.c built for the host (ctypes) and for SBF (LiteSVM)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.checked_math import (
    BPF_CFLAGS,
    HOST_CFLAGS,
    PROBE_C,
    REPO,
)
from tests.support.host_probe import HostProbe


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if res.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{res.stdout}{res.stderr}")
    return res


@pytest.fixture(scope="session")
def host_probe(tmp_path_factory: pytest.TempPathFactory) -> HostProbe:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no host C compiler (gcc): install it, e.g. apt install gcc")
    d = tmp_path_factory.mktemp("math_host")
    lib = d / "probe_host.so"
    # UBSan catches undefined shifts and signed overflow in the helpers; its reports go to
    # files checked by test_no_undefined_behaviour (options are read when libubsan loads)
    log: Path | None = d / "ubsan"
    os.environ["UBSAN_OPTIONS"] = f"log_path={log}:print_stacktrace=1"
    res = subprocess.run([cc, *HOST_CFLAGS, "-fsanitize=undefined", str(PROBE_C), "-o", str(lib)],
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:  # no libubsan here: plain build
        log = None
        run([cc, *HOST_CFLAGS, str(PROBE_C), "-o", str(lib)])
    return HostProbe(lib, log)


@pytest.fixture(scope="session")
def probe_so(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    clang = shutil.which("clang-19")
    if clang is None:
        pytest.fail("clang-19 is not installed: `make setup` installs it")
    d = tmp_path_factory.mktemp("math_sbf")
    obj, so = d / "probe.o", d / "probe.so"
    run([clang, *BPF_CFLAGS, "-c", str(PROBE_C), "-o", str(obj)])
    run([sys.executable, "-m", "program.toolchain", "-o", str(so), str(obj)], cwd=REPO)
    return so.read_bytes()
