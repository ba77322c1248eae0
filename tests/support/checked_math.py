"""Python reference for program/src/math/checked.h, the probe encoding, and test vectors.

The C side is exercised through program/src/math/probe.c: built for the host and loaded with
ctypes (test_checked.py) and built for SBF and run in LiteSVM (test_checked_svm.py). Both use
the op table, the word encoding and the vectors defined here.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MATH_SRC = REPO / "program" / "src" / "math"
PROBE_C = MATH_SRC / "probe.c"
CHECKED_H = MATH_SRC / "checked.h"

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
M128 = (1 << 128) - 1
I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)
SENTINEL = 0xA5A5A5A5A5A5A5A5
WORDS_IN = 6  # three u128 operands as (lo, hi)
WORDS_OUT = 4  # v0 lo, v0 hi, v1 lo, v1 hi

# the Makefile's SBF flags
BPF_CFLAGS = [
    "-target", "bpf", "-mcpu=v2", "-O2", "-ffreestanding", "-fno-builtin", "-nostdlib",
    "-std=c11", "-mllvm", "-bpf-stack-size=4096", "-Wall", "-Wextra", "-Werror",
]  # fmt: skip
HOST_CFLAGS = [
    "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-DMATH_PROBE_HOST",
]  # fmt: skip

Result = int | tuple[int, int] | None  # None = the helper must fail


def _fits(v: int, lo: int, hi: int) -> int | None:
    return v if lo <= v <= hi else None


def _floor_div(n: int, d: int) -> int | None:
    return None if d == 0 else n // d


def _ceil_div(n: int, d: int) -> int | None:
    return None if d == 0 else -((-n) // d)


def _trunc_div(n: int, d: int) -> int | None:
    if d == 0:
        return None
    q = abs(n) // abs(d)
    return -q if (n < 0) != (d < 0) else q


def _opt(v: int | None, lo: int, hi: int) -> int | None:
    return None if v is None else _fits(v, lo, hi)


def _divmod(x: int, y: int) -> tuple[int, int] | None:
    return None if y == 0 else divmod(x, y)


@dataclass(frozen=True)
class Op:
    name: str
    code: int
    args: tuple[str, ...]  # "u64", "i64" or "u128" per operand
    out: str  # "u64", "i64", "u128" or "divmod"
    ref: Callable[..., Result]


OPS: list[Op] = [
    Op("u64_add", 1, ("u64", "u64"), "u64", lambda a, b: _fits(a + b, 0, M64)),
    Op("u64_sub", 2, ("u64", "u64"), "u64", lambda a, b: _fits(a - b, 0, M64)),
    Op("u64_mul", 3, ("u64", "u64"), "u64", lambda a, b: _fits(a * b, 0, M64)),
    Op("u64_add_i64", 4, ("u64", "i64"), "u64", lambda a, b: _fits(a + b, 0, M64)),
    Op("u64_mul_div_floor", 5, ("u64",) * 3, "u64",
       lambda a, b, c: _opt(_floor_div(a * b, c), 0, M64)),
    Op("u64_mul_div_ceil", 6, ("u64",) * 3, "u64",
       lambda a, b, c: _opt(_ceil_div(a * b, c), 0, M64)),
    Op("i64_add", 7, ("i64", "i64"), "i64", lambda a, b: _fits(a + b, I64_MIN, I64_MAX)),
    Op("i64_sub", 8, ("i64", "i64"), "i64", lambda a, b: _fits(a - b, I64_MIN, I64_MAX)),
    Op("i64_mul", 9, ("i64", "i64"), "i64", lambda a, b: _fits(a * b, I64_MIN, I64_MAX)),
    Op("i64_neg", 10, ("i64",), "i64", lambda a: _fits(-a, I64_MIN, I64_MAX)),
    Op("i64_div_floor", 11, ("i64", "i64"), "i64",
       lambda a, b: _opt(_floor_div(a, b), I64_MIN, I64_MAX)),
    Op("i64_div_trunc", 12, ("i64", "i64"), "i64",
       lambda a, b: _opt(_trunc_div(a, b), I64_MIN, I64_MAX)),
    Op("i64_mul_div_floor", 13, ("i64", "u64", "u64"), "i64",
       lambda a, b, c: _opt(_floor_div(a * b, c), I64_MIN, I64_MAX)),
    Op("i64_mul_div_ceil", 14, ("i64", "u64", "u64"), "i64",
       lambda a, b, c: _opt(_ceil_div(a * b, c), I64_MIN, I64_MAX)),
    Op("u128_add", 15, ("u128", "u128"), "u128", lambda a, b: _fits(a + b, 0, M128)),
    Op("u128_sub", 16, ("u128", "u128"), "u128", lambda a, b: _fits(a - b, 0, M128)),
    Op("u128_mul", 17, ("u128", "u128"), "u128", lambda a, b: _fits(a * b, 0, M128)),
    Op("u128_mul64", 18, ("u64", "u64"), "u128", lambda a, b: a * b),
    Op("u128_divmod", 19, ("u128", "u128"), "divmod", _divmod),
    Op("u128_div", 20, ("u128", "u128"), "u128", lambda a, b: _floor_div(a, b)),
    Op("u128_to_u64", 21, ("u128",), "u64", lambda a: _fits(a, 0, M64)),
    Op("u128_mul_div_floor", 22, ("u128",) * 3, "u128",
       lambda a, b, c: _opt(_floor_div(a * b, c), 0, M128)),
    Op("u128_mul_div_ceil", 23, ("u128",) * 3, "u128",
       lambda a, b, c: _opt(_ceil_div(a * b, c), 0, M128)),
    Op("u128_isqrt", 24, ("u128",), "u64", lambda a: math.isqrt(a)),
]  # fmt: skip
BY_NAME = {op.name: op for op in OPS}
NOP_CODE = 0


def probe_op_codes() -> dict[str, int]:
    """OP_* enum of probe.c, to keep the table above honest."""
    text = PROBE_C.read_text()
    body = re.search(r"enum \{(.*?)\};", text, re.S)
    assert body is not None
    names = re.findall(r"OP_([A-Z0-9_]+)", body.group(1))
    return {n.lower(): i for i, n in enumerate(names)}


# ---------------------------------------------------------------- encoding


def encode(op: Op, args: tuple[int, ...]) -> list[int]:
    """The six input words of one vector."""
    assert len(args) == len(op.args)
    words = [0] * WORDS_IN
    for i, (kind, v) in enumerate(zip(op.args, args, strict=True)):
        lo, hi = {"u64": (0, M64), "i64": (I64_MIN, I64_MAX), "u128": (0, M128)}[kind]
        assert lo <= v <= hi, (op.name, args)
        v &= M128
        words[2 * i], words[2 * i + 1] = v & M64, v >> 64
    return words


def expected_words(op: Op, args: tuple[int, ...]) -> tuple[bool, list[int]]:
    """(ok, output words) the probe must produce, starting from SENTINEL words."""
    res = op.ref(*args)
    out = [SENTINEL] * WORDS_OUT
    if res is None:
        return False, out
    if op.out == "divmod":
        assert isinstance(res, tuple)
        q, r = res
        out = [q & M64, q >> 64, r & M64, r >> 64]
    else:
        assert isinstance(res, int)
        if op.out == "u128":
            out[0], out[1] = res & M64, res >> 64
        else:
            out[0] = res & M64
    return True, out


# ---------------------------------------------------------------- vectors

EDGE_U64 = sorted(
    {0, 1, 2, 3, 7, 10, 10**4, 10**6, 10**9, 10**12, 10**18}
    | {(1 << k) + d for k in (31, 32, 33, 62, 63) for d in (-1, 0, 1)}
    | {M64, M64 - 1, M32 * M32, 3037000499, 3037000500, 4294967296 * 4294967295}
)
EDGE_I64 = sorted(
    {0, 1, -1, 2, -2, 3, -3, 10**6, -(10**6), I64_MAX, I64_MAX - 1, I64_MIN, I64_MIN + 1}
    | {s * ((1 << k) + d) for s in (1, -1) for k in (31, 32, 62) for d in (-1, 0, 1)}
    | {3037000499, -3037000499, 3037000500, -3037000500}
)
EDGE_U128 = sorted(
    set(EDGE_U64)
    | {(1 << k) + d for k in (64, 65, 95, 96, 127) for d in (-1, 0, 1)}
    | {M128, M128 - 1, M64 * M64, (M64 + 1) * M64, 10**36, 10**38}
)
EDGES = {"u64": EDGE_U64, "i64": EDGE_I64, "u128": EDGE_U128}
BITS = {"u64": 64, "i64": 63, "u128": 128}
# 32-bit limbs that steer long division into its correction steps
LIMBS = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF]


def random_value(rng: random.Random, kind: str) -> int:
    """Log-uniform magnitude, edge values and extreme limb patterns, mixed."""
    bits = BITS[kind]
    pick = rng.random()
    if pick < 0.2:
        return rng.choice(EDGES[kind])
    if pick < 0.45:
        n = bits // 32 if kind != "i64" else 2
        v = 0
        for _ in range(n):
            v = (v << 32) | (rng.choice(LIMBS) if rng.random() < 0.7 else rng.getrandbits(32))
        v >>= rng.choice([0, 0, 0, 1, 32, 64 if bits == 128 else 1])
    else:
        v = rng.getrandbits(rng.randint(0, bits))
    if kind == "i64":
        v &= I64_MAX
        if rng.random() < 0.5:
            v = -v - (1 if v == I64_MAX and rng.random() < 0.5 else 0)
    return v


def boundary_vectors(op: Op) -> Iterator[tuple[int, ...]]:
    """Largest inputs that succeed and smallest that overflow, per op."""
    n = op.name
    small = [1, 2, 3, 7, 10, 10**4, 10**6, 10**9, M32, 1 << 32, (1 << 32) + 1, 10**12]
    if n == "u64_add":
        for k in (0, 1, 2, 1 << 32, 1 << 63, M64):
            yield M64 - k, k
            if k:
                yield M64 - k + 1, k
    elif n == "u64_sub":
        for k in (0, 1, 1 << 32, 1 << 63, M64):
            yield k, k
            yield k, k + 1 if k < M64 else k
    elif n == "u64_add_i64":
        for k in (1, 2, 1 << 32, I64_MAX):
            yield M64 - k, k
            yield M64 - k + 1, k
            yield k, -k
            yield k - 1, -k
        yield 1 << 63, I64_MIN
        yield (1 << 63) - 1, I64_MIN
    elif n in ("u64_mul", "u128_mul"):
        top = M64 if n == "u64_mul" else M128
        for k in [*small, M64, 1 << 63, 1 << 64, (1 << 64) + 1, 1 << 100, top]:
            if k <= top:
                yield top // k, k
                if top // k + 1 <= top:
                    yield top // k + 1, k
                    yield k, top // k + 1
    elif n in ("u64_mul_div_floor", "u64_mul_div_ceil", "u128_mul_div_floor",
               "u128_mul_div_ceil"):  # fmt: skip
        top = M64 if n.startswith("u64") else M128
        up = n.endswith("ceil")
        cs = [1, 3, 10**6, M32, 1 << 32, (1 << 63) + 1, M64, top]
        if top == M128:
            cs += [1 << 64, (1 << 64) + 1, 10**30, (1 << 127) + 3, M128]
        for c in cs:
            for b in [1, 2, 10**4, 10**9, M32, (1 << 32) + 5, 1 << 63, M64, top, top // 3]:
                # largest a with a*b/c (rounded) <= top
                a = (top * c) // b if up else ((top + 1) * c - 1) // b
                for aa in (a, a + 1):
                    if aa <= top:
                        yield aa, b, c
        yield top, top, top
        yield top, top, top - 1
        yield top, top, 0
        yield 0, 0, 0
    elif n in ("i64_mul_div_floor", "i64_mul_div_ceil"):
        up = n.endswith("ceil")
        for c in (1, 3, 10**6, M32, 1 << 32, M64):
            for b in (1, 7, 10**9, M32, 1 << 63, M64):
                # a*b/c rounded within [I64_MIN, I64_MAX]
                hi = (I64_MAX * c) // b if up else ((I64_MAX + 1) * c - 1) // b
                lo = -(((1 << 63) * c) // b) if not up else -((((1 << 63) + 1) * c - 1) // b)
                for a in (hi, hi + 1, lo, lo - 1):
                    if I64_MIN <= a <= I64_MAX:
                        yield a, b, c
        yield I64_MIN, 1, 1
        yield I64_MIN, M64, M64
        yield I64_MIN, 1, 0
    elif n == "i64_mul":
        for k in (1, 2, 3, 7, M32, 1 << 32, 3037000499, 3037000500):
            for sa, sb in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                for a in (I64_MAX // k, I64_MAX // k + 1, (1 << 63) // k, (1 << 63) // k + 1):
                    if a <= I64_MAX:
                        yield sa * a, sb * k
        yield I64_MIN, -1
        yield I64_MIN, 1
        yield -1, I64_MIN
        yield I64_MIN, 0
    elif n in ("i64_add", "i64_sub"):
        s = 1 if n == "i64_add" else -1
        for k in (1, 2, 1 << 32, I64_MAX):
            yield I64_MAX - k, s * k
            yield I64_MAX - k + 1, s * k
            yield I64_MIN + k, -s * k
            yield I64_MIN + k - 1, -s * k
        yield 0, I64_MIN
        yield -1, I64_MIN
    elif n in ("i64_div_floor", "i64_div_trunc"):
        for a in (I64_MIN, I64_MIN + 1, I64_MAX, -7, 7, -1, 0, 1, -6, 6):
            for b in (-1, 1, -2, 2, 3, -3, 0, I64_MIN, I64_MAX, 7, -7):
                yield a, b
    elif n == "u128_isqrt":
        for r in (1, 2, M32, 1 << 32, 3037000499, M64 >> 1, 1 << 63, M64 - 1, M64,
                  (1 << 48) + 7, 10**18):  # fmt: skip
            for v in (r * r - 1, r * r, r * r + 1, r * r + 2 * r, (r + 1) * (r + 1) - 1):
                if 0 <= v <= M128:
                    yield (v,)
        for k in range(0, 129):
            yield ((1 << k) - 1 if k else 0,)
            if k < 128:
                yield (1 << k,)
    elif n in ("u128_divmod", "u128_div"):
        for a in (M128, 1 << 127, M64 * M64, 1 << 64, M64, (M64 + 1) * M64 + M64 - 1):
            for b in (1, 2, M32, 1 << 32, M64, 1 << 64, (1 << 64) + 1, 1 << 127, M128, a, 0):
                yield a, b
        yield M128, M128 - 1
        yield M128 - 1, M128
    elif n == "u128_to_u64":
        yield (M64,)
        yield (M64 + 1,)
    elif n == "u128_mul64":
        yield M64, M64
        yield M64, 1 << 32
    elif n in ("u128_add", "u128_sub"):
        for k in (0, 1, M64, 1 << 64, 1 << 127, M128):
            yield (M128 - k, k) if n == "u128_add" else (k, k)
            if n == "u128_add" and k:
                yield M128 - k + 1, k
            if n == "u128_sub" and k < M128:
                yield k, k + 1
    elif n == "i64_neg":
        for a in (I64_MIN, I64_MIN + 1, I64_MAX, 0, -1, 1):
            yield (a,)


def edge_vectors(op: Op) -> Iterator[tuple[int, ...]]:
    """All combinations of edge values for 1- and 2-operand ops, a sample for 3."""
    if len(op.args) <= 2:
        pools = [EDGES[k] for k in op.args]
        if len(pools) == 1:
            yield from ((v,) for v in pools[0])
        else:
            yield from ((a, b) for a in pools[0] for b in pools[1])
    else:
        rng = random.Random(op.code)
        pools = [EDGES[k] for k in op.args]
        for _ in range(400):
            yield tuple(rng.choice(p) for p in pools)


def random_vectors(op: Op, n: int, seed: int = 0) -> list[tuple[int, ...]]:
    rng = random.Random(seed * 1000 + op.code)
    return [tuple(random_value(rng, k) for k in op.args) for _ in range(n)]
