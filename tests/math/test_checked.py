"""program/src/math/checked.h on the host: every helper against Python integers.

probe.c (built with -DMATH_PROBE_HOST and loaded with ctypes) passes every operand and result
as u64 words, since ctypes has no 128-bit integers.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.checked_math import (
    BITS,
    BPF_CFLAGS,
    BY_NAME,
    EDGES,
    I64_MAX,
    I64_MIN,
    MATH_SRC,
    OPS,
    PROBE_C,
    Op,
    boundary_vectors,
    edge_vectors,
    expected_words,
    probe_op_codes,
    random_vectors,
)
from tests.support.host_probe import HostProbe

OP_IDS = [op.name for op in OPS]


def check(probe: HostProbe, op: Op, args: tuple[int, ...]) -> bool:
    ok, words = probe.run(op, args)
    want_ok, want = expected_words(op, args)
    assert (ok, words) == (want_ok, want), (
        f"{op.name}{tuple(hex(a) for a in args)}: got ok={ok} {[hex(w) for w in words]}, "
        f"want ok={want_ok} {[hex(w) for w in want]} (= {op.ref(*args)!r})"
    )
    return ok


def test_op_table_matches_probe() -> None:
    codes = probe_op_codes()
    assert codes.pop("nop") == 0
    assert codes.pop("count") == len(OPS) + 1
    assert codes == {op.name: op.code for op in OPS}


@pytest.mark.parametrize("name", OP_IDS)
def test_boundaries(host_probe: HostProbe, name: str) -> None:
    op = BY_NAME[name]
    results = [check(host_probe, op, v) for v in boundary_vectors(op)]
    assert results, "no boundary vectors"
    if name not in ("u128_mul64", "u128_isqrt"):  # the two helpers that cannot fail
        assert any(results) and not all(results), "boundaries should straddle success/failure"


@pytest.mark.parametrize("name", OP_IDS)
def test_edge_grid(host_probe: HostProbe, name: str) -> None:
    op = BY_NAME[name]
    for v in edge_vectors(op):
        check(host_probe, op, v)


@pytest.mark.parametrize("name", OP_IDS)
def test_seeded_random(host_probe: HostProbe, name: str) -> None:
    """Log-uniform magnitudes and extreme 32-bit limb patterns (long division corrections)."""
    op = BY_NAME[name]
    for v in random_vectors(op, 4000, seed=1):
        check(host_probe, op, v)


def st_value(kind: str) -> st.SearchStrategy[int]:
    """Edge values, log-uniform magnitudes and powers of two +-1 (no flatmap: it is slow)."""
    bits = BITS[kind]
    top = (1 << bits) - 1
    magnitude = st.one_of(
        st.tuples(st.integers(0, top), st.integers(0, bits)).map(lambda t: t[0] >> t[1]),
        st.tuples(st.integers(0, bits - 1), st.integers(-1, 1)).map(
            lambda t: min(max((1 << t[0]) + t[1], 0), top)
        ),
    )
    if kind == "i64":
        signed = st.tuples(magnitude, st.booleans()).map(lambda t: -t[0] - 1 if t[1] else t[0])
        return st.one_of(st.sampled_from(EDGES[kind]), signed)
    return st.one_of(st.sampled_from(EDGES[kind]), magnitude)


@pytest.mark.parametrize("name", OP_IDS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_hypothesis(host_probe: HostProbe, name: str, data: st.DataObject) -> None:
    op = BY_NAME[name]
    args = tuple(data.draw(st_value(k), label=k) for k in op.args)
    check(host_probe, op, args)


@settings(max_examples=300, deadline=None)
@given(
    b=st_value("u128").filter(bool),
    c=st_value("u128").filter(bool),
    up=st.booleans(),
    delta=st.integers(-2, 2),
)
def test_mul_div_u128_near_overflow(host_probe: HostProbe, b: int, c: int, up: bool,
                                    delta: int) -> None:  # fmt: skip
    """a chosen so that a*b/c sits at the 2^128 limit: exercises the 256-bit path."""
    top = (1 << 128) - 1
    a = (top * c) // b if up else ((top + 1) * c - 1) // b
    a = min(max(a + delta, 0), top)
    check(host_probe, BY_NAME["u128_mul_div_ceil" if up else "u128_mul_div_floor"], (a, b, c))


@settings(max_examples=300, deadline=None)
@given(b=st_value("u64"), c=st_value("u64"), neg=st.booleans(), delta=st.integers(-2, 2))
def test_mul_div_i64_near_range(host_probe: HostProbe, b: int, c: int, neg: bool,
                                delta: int) -> None:  # fmt: skip
    """a at the edge of the i64 range for a*b/c, both signs and both roundings."""
    if b == 0 or c == 0:
        return
    a = (I64_MAX + 1) * c // b
    a = -a if neg else a
    a = min(max(a + delta, I64_MIN), I64_MAX)
    for name in ("i64_mul_div_floor", "i64_mul_div_ceil"):
        check(host_probe, BY_NAME[name], (a, b, c))


def test_no_undefined_behaviour(host_probe: HostProbe) -> None:
    """UBSan (when available) saw no undefined shift or signed overflow in any helper."""
    if host_probe.ubsan_log is None:
        pytest.skip("host compiler without -fsanitize=undefined")
    rng = random.Random(7)
    for op in OPS:
        vecs = list(boundary_vectors(op)) + list(edge_vectors(op))
        for v in rng.sample(vecs, min(len(vecs), 500)):
            check(host_probe, op, v)
    reports = list(host_probe.ubsan_log.parent.glob(host_probe.ubsan_log.name + "*"))
    assert not reports, "\n".join(p.read_text() for p in reports)


# ---------------------------------------------------------------- build hygiene

# every public helper wrapped in a real (not inlined) function: on BPF this proves no helper
# needs a stack argument, a wide return or a refused libcall, whatever the inliner decides
STANDALONE = """
#include "checked.h"
#define W __attribute__((noinline))
W bool t1(u64 a, u64 b, u64 *o) { return u64_add(a, b, o) && u64_sub(a, b, o) && u64_mul(a, b, o); }
W bool t2(u64 a, i64 b, u64 *o) { return u64_add_i64(a, b, o); }
W bool t3(u64 a, u64 b, u64 c, u64 *o) { return u64_mul_div_floor(a, b, c, o); }
W bool t4(u64 a, u64 b, u64 c, u64 *o) { return u64_mul_div_ceil(a, b, c, o); }
W bool t5(i64 a, i64 b, i64 *o) { return i64_add(a, b, o) && i64_sub(a, b, o) && i64_mul(a, b, o); }
W bool t6(i64 a, i64 b, i64 *o) {
    return i64_neg(a, o) && i64_div_floor(a, b, o) && i64_div_trunc(a, b, o);
}
W bool t7(i64 a, u64 b, u64 c, i64 *o) { return i64_mul_div_floor(a, b, c, o); }
W bool t8(i64 a, u64 b, u64 c, i64 *o) { return i64_mul_div_ceil(a, b, c, o); }
W bool t9(u128 a, u128 b, u128 *o) {
    return u128_add(a, b, o) && u128_sub(a, b, o) && u128_mul(a, b, o);
}
W void t10(u64 a, u64 b, u128 *o) { u128_mul64(a, b, o); }
W bool t11(u128 a, u128 b, u128 *q) { return u128_divmod(a, b, q, NULL); }
W bool t12(const u128 *a, const u128 *b, u128 *q, u128 *r) { return u128_divmod(*a, *b, q, r); }
W bool t13(u128 a, u64 *o) { return u128_to_u64(a, o); }
W bool t14(const u128 *a, const u128 *b, const u128 *c, u128 *o) {
    return u128_mul_div_floor(*a, *b, *c, o);
}
W bool t15(const u128 *a, const u128 *b, const u128 *c, u128 *o) {
    return u128_mul_div_ceil(*a, *b, *c, o);
}
W void t16(u128 n, u64 *o) { u128_isqrt(n, o); }
"""


def compile_ok(cmd: list[str]) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0 and not res.stderr, f"{' '.join(cmd)}\n{res.stderr}"
    return res.stdout


@pytest.mark.parametrize("cc", ["gcc", "clang-19"])
def test_host_build_is_warning_free(tmp_path: Path, cc: str) -> None:
    if shutil.which(cc) is None:
        pytest.fail(f"{cc} is not installed (`make setup` installs clang-19)")
    src = tmp_path / "standalone.c"
    src.write_text(STANDALONE)
    flags = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wconversion", "-c"]
    compile_ok([cc, *flags, f"-I{MATH_SRC}", str(src), "-o", str(tmp_path / "s.o")])
    compile_ok([cc, *flags, "-DMATH_PROBE_HOST", str(PROBE_C), "-o", str(tmp_path / "p.o")])


@pytest.mark.parametrize("opt", ["-O2", "-O0", "-Os", "-O3"])
def test_bpf_build_has_no_libcalls(tmp_path: Path, opt: str) -> None:
    """At every optimisation level (-O3's argument promotion once made a helper take 7
    registers) the helpers compile for BPF and call nothing but the probe's two syscalls."""
    clang, nm = shutil.which("clang-19"), shutil.which("llvm-nm-19")
    if clang is None or nm is None:
        pytest.fail("clang-19 / llvm-nm-19 are not installed: `make setup` installs them")
    src = tmp_path / "standalone.c"
    src.write_text(STANDALONE)
    flags = [f for f in BPF_CFLAGS if f != "-O2"] + [opt, f"-I{MATH_SRC}", "-c"]
    for c, o in ((src, tmp_path / "s.o"), (PROBE_C, tmp_path / "p.o")):
        compile_ok([clang, *flags, str(c), "-o", str(o)])
    undefined = compile_ok([nm, "-u", str(tmp_path / "s.o")]).split()
    assert undefined == [], f"standalone helpers call out: {undefined}"
    undefined = compile_ok([nm, "-u", str(tmp_path / "p.o")]).split()
    assert sorted(u for u in undefined if u != "U") == [
        "sol_remaining_compute_units",
        "sol_set_return_data",
    ]
