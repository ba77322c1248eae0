"""program/src/state/oracle.h, compiled for the host through a shim and called with ctypes on
price accounts written by chain.pyth."""

from __future__ import annotations

import ctypes
import shutil
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.prices import OracleLimits, OracleRefused, judge
from chain.pyth import PRICE_ACCOUNT_SIZE, PRICE_HEAD_SIZE, PriceAccount, PriceStatus
from program.idl.spec import ERRORS

REPO = Path(__file__).resolve().parents[2]
ORACLE_H = REPO / "program" / "src" / "state" / "oracle.h"
CODE = {e.name: e.code for e in ERRORS}
OK = 0
INVALID = CODE["InvalidOracle"]
NOT_TRADING = CODE["OracleNotTrading"]
STALE = CODE["StaleOracle"]
UNCERTAIN = CODE["OracleTooUncertain"]
I64_MIN, I64_MAX, U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
EXPO_MIN, EXPO_MAX = -18, 6
SENTINEL = 0xA5A5A5A5A5A5A5A5

# five arguments at most, so that the same shim also builds for BPF
SHIM = f"""
#include "{ORACLE_H}"
u64 oracle_probe(const u8 *data, u64 len, const OracleLimits *limits, u64 slot, u64 *out) {{
    return oracle_price_e6(data, len, limits, slot, out);
}}
"""
HOST_CFLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"]
BPF_CFLAGS = [
    "-target", "bpf", "-mcpu=v2", "-O2", "-ffreestanding", "-fno-builtin", "-nostdlib",
    "-std=c11", "-mllvm", "-bpf-stack-size=4096", "-Wall", "-Wextra", "-Werror",
]  # fmt: skip


class Limits(ctypes.Structure):
    _fields_ = [("max_staleness_slots", ctypes.c_uint64), ("max_conf_bps", ctypes.c_uint16)]


class Oracle:
    """oracle_price_e6 on the host. Account data is copied into an 8-byte aligned buffer, as
    the program's input aligns it."""

    def __init__(self, lib: Path) -> None:
        self.fn = ctypes.CDLL(str(lib)).oracle_probe
        self.fn.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.POINTER(Limits),
                            ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint64)]  # fmt: skip
        self.fn.restype = ctypes.c_uint64

    def __call__(
        self, data: bytes, slot: int, max_staleness: int = 100, max_conf_bps: int = 100
    ) -> tuple[int, int | None]:
        """(error code, price_e6 or None); checks the output is untouched on an error."""
        buf = (ctypes.c_uint64 * (len(data) // 8 + 1))()
        ctypes.memmove(buf, data, len(data))
        out = ctypes.c_uint64(SENTINEL)
        limits = Limits(max_staleness, max_conf_bps)
        err = self.fn(buf, len(data), ctypes.byref(limits), slot, ctypes.byref(out))
        if err != OK:
            assert out.value == SENTINEL, "output written on an error"
            return err, None
        return err, out.value


def compile_or_fail(cmd: list[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{res.stdout}{res.stderr}")


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no host C compiler (gcc): install it, e.g. apt install gcc")
    d = tmp_path_factory.mktemp("oracle_host")
    (d / "shim.c").write_text(SHIM)
    compile_or_fail([cc, *HOST_CFLAGS, str(d / "shim.c"), "-o", str(d / "shim.so")])
    return Oracle(d / "shim.so")


def account(
    price: int = 6_425_012_345_600,
    *,
    exponent: int = -8,
    conf: int = 0,
    status: PriceStatus = PriceStatus.TRADING,
    slot: int = 1_000,
) -> PriceAccount:
    """A price account; by default BTC at 64250.123456, trading, published at slot 1000."""
    return PriceAccount(
        exponent=exponent, price=price, confidence=conf, status=status, publish_slot=slot
    )


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, value)
    return bytes(buf)


def expected_e6(price: int, exponent: int) -> int | None:
    """The program's price in Python integers: floor(price * 10^(exponent + 6)), None when the
    program must refuse it as InvalidOracle."""
    if not EXPO_MIN <= exponent <= EXPO_MAX or price <= 0:
        return None
    k = exponent + 6
    e6 = price * 10**k if k >= 0 else price // 10**-k
    return e6 if 0 < e6 <= U64_MAX else None


# ---------------------------------------------------------------- prices


def test_builds_for_bpf_without_calls(tmp_path: Path) -> None:
    """The Makefile's SBF flags, warnings as errors; no libcall or helper call is left."""
    clang, objdump = shutil.which("clang-19"), shutil.which("llvm-objdump-19")
    if clang is None or objdump is None:
        pytest.fail("clang-19 / llvm-objdump-19 are not installed: `make setup` installs them")
    (tmp_path / "shim.c").write_text(SHIM)
    obj = tmp_path / "shim.o"
    compile_or_fail([clang, *BPF_CFLAGS, "-c", str(tmp_path / "shim.c"), "-o", str(obj)])
    dis = subprocess.run([objdump, "-d", "-r", str(obj)], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert " call " not in dis
    assert "r10" not in dis  # no stack use
    relocs = [line.split()[-1] for line in dis.splitlines() if "R_BPF" in line]
    assert set(relocs) <= {".rodata"}  # the powers-of-ten table only


@pytest.mark.parametrize(
    ("price", "exponent", "e6"),
    [
        (6_425_012_345_600, -8, 64_250_123_456),  # BTC at 64250.123456
        (6_425_012_345_699, -8, 64_250_123_456),  # rounds down
        (64_250_123_456, -6, 64_250_123_456),
        (99_999, -5, 999_990),
        (1, 0, 1_000_000),
        (3, 6, 3_000_000_000_000),
        (1_000_000, -12, 1),
        (10**12, -18, 1),  # 10^-6, the smallest price that is not 0
        (I64_MAX, -18, I64_MAX // 10**12),
        (I64_MAX, -6, I64_MAX),
        (U64_MAX // 10**12, 6, U64_MAX // 10**12 * 10**12),  # the largest that scales
    ],
)
def test_price_scaling(oracle: Oracle, price: int, exponent: int, e6: int) -> None:
    assert expected_e6(price, exponent) == e6
    data = account(price, exponent=exponent).encode()
    assert oracle(data, slot=1_000) == (OK, e6)
    assert oracle(data[:PRICE_HEAD_SIZE], slot=1_000) == (OK, e6)


@settings(max_examples=1_000, deadline=None)
@given(
    price=st.integers(I64_MIN, I64_MAX) | st.integers(-3, 3),
    exponent=st.integers(EXPO_MIN - 3, EXPO_MAX + 3),
)
def test_price_scaling_random(oracle: Oracle, price: int, exponent: int) -> None:
    e6 = expected_e6(price, exponent)
    got = oracle(account(price, exponent=exponent).encode(), slot=1_000)
    assert got == ((INVALID, None) if e6 is None else (OK, e6))


@pytest.mark.parametrize(
    ("price", "exponent"),
    [
        (0, -8),
        (-1, -8),
        (-6_425_012_345_600, -8),
        (I64_MIN, -8),
        (999_999, -12),  # positive but 0 with 6 decimals
        (10**12 - 1, -18),
        (U64_MAX // 10**12 + 1, 6),  # beyond a u64 with 6 decimals
        (I64_MAX, 0),
        (1, EXPO_MIN - 1),
        (1, EXPO_MAX + 1),
        (1, -(1 << 31)),
        (1, (1 << 31) - 1),
    ],
)
def test_unusable_price(oracle: Oracle, price: int, exponent: int) -> None:
    assert oracle(account(price, exponent=exponent).encode(), slot=1_000) == (INVALID, None)


# ---------------------------------------------------------------- format


GOOD = account().encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        GOOD[:16],
        GOOD[: PRICE_HEAD_SIZE - 1],  # the publish slot cut short
        patched(GOOD, 0, "<I", 0xA1B2C3D5),
        patched(GOOD, 0, "<I", 0),
        patched(GOOD, 4, "<I", 1),
        patched(GOOD, 4, "<I", 3),
        patched(GOOD, 8, "<I", 1),  # mapping account
        patched(GOOD, 8, "<I", 2),  # product account
        patched(GOOD, 12, "<I", PRICE_HEAD_SIZE - 1),  # size in use below the aggregate
        patched(GOOD, 12, "<I", PRICE_ACCOUNT_SIZE + 1),  # size in use beyond the data
        patched(GOOD, 12, "<I", PRICE_HEAD_SIZE + 1)[:PRICE_HEAD_SIZE],
    ],
)
def test_not_a_price_account(oracle: Oracle, data: bytes) -> None:
    assert oracle(data, slot=1_000) == (INVALID, None)


def test_size_in_use_up_to_the_data(oracle: Oracle) -> None:
    full = patched(GOOD, 12, "<I", PRICE_ACCOUNT_SIZE)  # 32 publishers
    assert oracle(full, slot=1_000) == (OK, 64_250_123_456)


# ---------------------------------------------------------------- status


@pytest.mark.parametrize("status", [s for s in PriceStatus if s != PriceStatus.TRADING])
def test_not_trading(oracle: Oracle, status: PriceStatus) -> None:
    assert oracle(account(status=status).encode(), slot=1_000) == (NOT_TRADING, None)


@pytest.mark.parametrize("raw_status", [5, 0x101, 0xFFFFFFFF])
def test_unknown_status_is_not_trading(oracle: Oracle, raw_status: int) -> None:
    assert oracle(patched(GOOD, 224, "<I", raw_status), slot=1_000) == (NOT_TRADING, None)


# ---------------------------------------------------------------- staleness


# (publish slot, max staleness, slot, the program's verdict)
STALENESS = [
    (1_000, 50, 1_050, OK),  # exactly max_staleness old
    (1_000, 50, 1_051, STALE),
    (1_000, 0, 1_000, OK),
    (1_000, 0, 1_001, STALE),
    (1_000, 50, 999, OK),  # published in the future: fresh
    (1_000, 50, 0, OK),
    (U64_MAX, 0, 0, OK),
    (0, U64_MAX, U64_MAX, OK),  # publish_slot + max overflows: no wrap
    (1, U64_MAX - 1, U64_MAX, OK),
    (0, U64_MAX - 1, U64_MAX, STALE),
    (0, 0, U64_MAX, STALE),
]


@pytest.mark.parametrize(("publish", "max_staleness", "slot", "err"), STALENESS)
def test_staleness(oracle: Oracle, publish: int, max_staleness: int, slot: int, err: int) -> None:
    got = oracle(account(slot=publish).encode(), slot=slot, max_staleness=max_staleness)
    assert got == ((OK, 64_250_123_456) if err == OK else (err, None))


@pytest.mark.parametrize(("publish", "max_staleness", "slot", "err"), STALENESS)
def test_chain_prices_judges_staleness_as_the_program(
    oracle: Oracle, publish: int, max_staleness: int, slot: int, err: int
) -> None:
    """The boundaries the random comparison below reaches only by luck: a price exactly
    max_staleness old is fresh, one slot older is stale, for the keeper as for the program."""
    data = account(slot=publish).encode()
    assert oracle(data, slot=slot, max_staleness=max_staleness)[0] == err
    limits = OracleLimits(max_staleness, max_conf_bps=100)
    if err == OK:
        assert judge(data, limits, slot) == 64_250_123_456
    else:
        with pytest.raises(OracleRefused) as refused:
            judge(data, limits, slot)
        assert CODE[refused.value.error] == err


@settings(max_examples=300, deadline=None)
@given(publish=st.integers(0, U64_MAX), age=st.integers(0, U64_MAX),
       slot=st.integers(0, U64_MAX))  # fmt: skip
def test_staleness_random(oracle: Oracle, publish: int, age: int, slot: int) -> None:
    stale = slot > publish + age
    got, _ = oracle(account(slot=publish).encode(), slot=slot, max_staleness=age)
    assert got == (STALE if stale else OK)


# ---------------------------------------------------------------- confidence


@pytest.mark.parametrize(
    ("price", "conf", "bps", "err"),
    [
        (6_425_000_000_000, 6_425_000_000, 10, OK),  # conf * 10^4 == bps * price
        (6_425_000_000_000, 6_425_000_001, 10, UNCERTAIN),
        (6_425_012_345_600, 6_425_012_345, 10, OK),  # floor of the limit
        (6_425_012_345_600, 6_425_012_346, 10, UNCERTAIN),
        (6_425_012_345_600, 0, 0, OK),
        (6_425_012_345_600, 1, 0, UNCERTAIN),
        (6_425_012_345_600, 6_425_012_345_600 * 65_535 // 10_000, 65_535, OK),
        (I64_MAX, U64_MAX, 65_535, OK),  # 2^64 * 10^4 < 65535 * 2^63
        (I64_MAX, U64_MAX, 20_000, UNCERTAIN),
        (I64_MAX, I64_MAX * 2 + 1, 20_001, OK),
        (10**12, 10**12, 10_000, OK),  # a confidence as wide as the price, at 100%
        (10**12, 10**12 + 1, 10_000, UNCERTAIN),
    ],
)
def test_confidence(oracle: Oracle, price: int, conf: int, bps: int, err: int) -> None:
    x = account(price, exponent=-6, conf=conf)
    got, _ = oracle(x.encode(), slot=1_000, max_conf_bps=bps)
    assert got == err


@settings(max_examples=1_000, deadline=None)
@given(
    price=st.integers(1, I64_MAX) | st.integers(1, 10**6),
    bps=st.integers(0, 65_535),
    delta=st.integers(-3, 3),
    conf=st.integers(0, U64_MAX),
    at_limit=st.booleans(),
)
def test_confidence_random(
    oracle: Oracle, price: int, bps: int, delta: int, conf: int, at_limit: bool
) -> None:
    if at_limit:  # the floor of the limit, a few units either side
        conf = min(max(bps * price // 10_000 + delta, 0), U64_MAX)
    got, _ = oracle(account(price, exponent=-6, conf=conf).encode(), slot=1_000,
                    max_conf_bps=bps)  # fmt: skip
    assert got == (UNCERTAIN if conf * 10_000 > bps * price else OK)


# ---------------------------------------------------------------- order of the checks


@pytest.mark.parametrize(
    ("x", "data_patch", "err"),
    [
        # a format error first, whatever else is wrong
        (account(0, status=PriceStatus.HALTED, slot=0), (0, "<I", 0), INVALID),
        (account(conf=U64_MAX, slot=0, exponent=7), None, INVALID),
        # then the status: a halted feed's zero price or stale slot is not the cause
        (account(0, status=PriceStatus.HALTED), None, NOT_TRADING),
        (account(status=PriceStatus.UNKNOWN, slot=0, conf=U64_MAX), None, NOT_TRADING),
        # then the price value, before staleness and confidence
        (account(-5, slot=0, conf=U64_MAX), None, INVALID),
        # then staleness, then confidence
        (account(slot=0, conf=U64_MAX), None, STALE),
        (account(conf=U64_MAX), None, UNCERTAIN),
    ],
)
def test_order_of_checks(
    oracle: Oracle, x: PriceAccount, data_patch: tuple[int, str, int] | None, err: int
) -> None:
    data = x.encode() if data_patch is None else patched(x.encode(), *data_patch)
    assert oracle(data, slot=1_000) == (err, None)


def test_reads_only_the_fields_it_documents(oracle: Oracle) -> None:
    """Keys, timestamp, EMA and previous price do not change the outcome."""
    x = replace(account(), product_account=b"\x07" * 32, next_price_account=b"\x09" * 32,
                timestamp=-1)  # fmt: skip
    assert oracle(x.encode(), slot=1_000) == (OK, 64_250_123_456)
    noisy = bytearray(x.encode())
    noisy[24:208] = b"\xff" * 184
    assert oracle(bytes(noisy), slot=1_000) == (OK, 64_250_123_456)


# ---------------------------------------------------------------- chain.prices agrees


@settings(max_examples=400, deadline=None)
@given(
    price=st.one_of(st.integers(I64_MIN, I64_MAX), st.integers(1, 10**12)),
    exponent=st.integers(EXPO_MIN - 2, EXPO_MAX + 2),
    conf=st.one_of(st.integers(0, U64_MAX), st.integers(0, 10**10)),
    status=st.sampled_from(list(PriceStatus)),
    publish_slot=st.integers(0, 2_000),
    slot=st.integers(0, 2_000),
    max_staleness=st.integers(0, 500),
    max_conf_bps=st.integers(0, 10_000),
)
def test_chain_prices_judges_as_the_program(
    oracle: Oracle, price: int, exponent: int, conf: int, status: PriceStatus,
    publish_slot: int, slot: int, max_staleness: int, max_conf_bps: int,
) -> None:
    """A keeper's judgement of a price (chain.prices.judge) is the program's, error for error."""
    data = account(price, exponent=exponent, conf=conf, status=status, slot=publish_slot).encode()
    err, price_e6 = oracle(data, slot, max_staleness, max_conf_bps)
    try:
        got = judge(data, OracleLimits(max_staleness, max_conf_bps), slot)
    except OracleRefused as refused:
        assert CODE[refused.error] == err
    else:
        assert (err, price_e6) == (OK, got)
