"""probe.c's math_probe() built for the host, called through ctypes."""

from __future__ import annotations

import ctypes
from pathlib import Path

from tests.support.checked_math import SENTINEL, WORDS_IN, WORDS_OUT, Op, encode


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
