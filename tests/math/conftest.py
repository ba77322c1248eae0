"""Fixtures: probe.c built for the host (ctypes) and for SBF (LiteSVM)."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.math.model import (
    BPF_CFLAGS,
    HOST_CFLAGS,
    PROBE_C,
    REPO,
    SENTINEL,
    WORDS_IN,
    WORDS_OUT,
    Op,
    encode,
)


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if res.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{res.stdout}{res.stderr}")
    return res


class HostProbe:
    """probe.c's math_probe() compiled for the host, called through ctypes."""

    def __init__(self, path: Path, ubsan_log: Path | None) -> None:
        self.ubsan_log = ubsan_log  # UBSan report prefix, None without the sanitizer
        self.lib = ctypes.CDLL(str(path))
        self.fn = self.lib.math_probe
        p64 = ctypes.POINTER(ctypes.c_uint64)
        self.fn.argtypes = [ctypes.c_uint64, p64, p64, p64]
        self.fn.restype = ctypes.c_uint64
        self.inp = (ctypes.c_uint64 * WORDS_IN)()
        self.out = (ctypes.c_uint64 * WORDS_OUT)()
        self.cu = ctypes.c_uint64()

    def run(self, op: Op, args: tuple[int, ...]) -> tuple[bool, list[int]]:
        self.inp[:] = encode(op, args)
        self.out[:] = [SENTINEL] * WORDS_OUT
        ok = self.fn(op.code, self.inp, self.out, ctypes.byref(self.cu))
        assert ok in (0, 1), f"probe returned {ok} for {op.name}"
        return bool(ok), list(self.out)


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
