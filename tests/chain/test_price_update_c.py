"""The program's PriceUpdateV2 reader (program/src/state/price_update.h) on the host, against
the keepers' judgement of the same bytes (chain.prices with a PriceUpdateV2 market's limits).

A boundary table that both must meet, error for error, then random accounts where they must
agree on every verdict and every quote.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.price_update import PriceUpdate, Verification
from chain.prices import OracleLimits, OracleRefused, judge, judge_quote
from program.client import OracleKind
from program.idl.spec import ERRORS

REPO = Path(__file__).resolve().parents[2]
PRICE_UPDATE_H = REPO / "program" / "src" / "state" / "price_update.h"
CODE = {e.name: e.code for e in ERRORS}
OK = 0
I64_MIN, I64_MAX, U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1
SENTINEL = 0xA5A5A5A5A5A5A5A5
FEED = bytes(range(1, 33))
OTHER_FEED = bytes(range(2, 34))

# the arguments in one struct: the probe is called through ctypes with a pointer
SHIM = f"""
#include "{PRICE_UPDATE_H}"
typedef struct {{
    const u8 *data; u64 len; const u8 *feed_id; OracleLimits limits; u64 slot; i64 now;
    i64 max_age_secs;
}} Probe;
u64 price_update_probe(const Probe *p, OracleQuote *q) {{
    return price_update_quote_e6(p->data, p->len, p->feed_id, &p->limits, p->slot, p->now,
                                 p->max_age_secs, q);
}}
"""
HOST_CFLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"]


class Limits(ctypes.Structure):
    _fields_ = [("max_staleness_slots", ctypes.c_uint64), ("max_conf_bps", ctypes.c_uint16)]


class Probe(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_uint64),
                ("feed_id", ctypes.c_char_p), ("limits", Limits), ("slot", ctypes.c_uint64),
                ("now", ctypes.c_int64), ("max_age_secs", ctypes.c_int64)]  # fmt: skip


class Quote(ctypes.Structure):
    _fields_ = [("price", ctypes.c_uint64), ("conf", ctypes.c_uint64),
                ("publish_slot", ctypes.c_uint64)]  # fmt: skip


class Reader:
    """price_update_quote_e6 on the host; the data at an 8-byte aligned address as in the
    program's input (the fields themselves sit at odd offsets)."""

    def __init__(self, lib: Path) -> None:
        self.fn = ctypes.CDLL(str(lib)).price_update_probe
        self.fn.argtypes = [ctypes.POINTER(Probe), ctypes.POINTER(Quote)]
        self.fn.restype = ctypes.c_uint64

    def __call__(self, data: bytes, limits: OracleLimits, slot: int,
                 now: int) -> tuple[int, tuple[int, int] | None]:
        """(error code, (price, conf) or None); checks the quote is untouched on an error."""
        buf = (ctypes.c_uint64 * (len(data) // 8 + 1))()
        ctypes.memmove(buf, data, len(data))
        probe = Probe(ctypes.cast(buf, ctypes.c_void_p), len(data), limits.feed_id,
                      Limits(limits.max_staleness_slots, limits.max_conf_bps), slot, now,
                      limits.max_age_secs)
        q = Quote(SENTINEL, SENTINEL, SENTINEL)
        err = self.fn(ctypes.byref(probe), ctypes.byref(q))
        if err != OK:
            assert (q.price, q.conf, q.publish_slot) == (SENTINEL,) * 3, "written on an error"
            return err, None
        return err, (q.price, q.conf)


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Reader:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.fail("no host C compiler (gcc): install it, e.g. apt install gcc")
    d = tmp_path_factory.mktemp("price_update_host")
    (d / "shim.c").write_text(SHIM)
    res = subprocess.run([cc, *HOST_CFLAGS, str(d / "shim.c"), "-o", str(d / "shim.so")],
                         capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        pytest.fail(f"the shim does not build:\n{res.stderr}")
    return Reader(d / "shim.so")


LIMITS = OracleLimits(25, 200, OracleKind.PRICE_UPDATE_V2, FEED, 60)
SLOT, NOW = 1_000, 1_700_000_000
# BTC at 64250.123456 with a 0.5 % confidence (the limit 2 %), posted at SLOT, published at NOW
BASE = PriceUpdate(feed_id=FEED, price=6_425_012_345_600, conf=32_125_061_728, exponent=-8,
                   publish_time=NOW, posted_slot=SLOT)


def truncated(update: PriceUpdate) -> bytes:
    return update.encode()[:-1]


def tagged(tag: int) -> bytes:
    data = bytearray(BASE.encode())
    data[40] = tag
    return bytes(data)


# (case, account bytes, slot, now, the error both must give or None)
BOUNDARIES: list[tuple[str, bytes, int, int, str | None]] = [
    ("fresh", BASE.encode(), SLOT, NOW, None),
    ("truncated", truncated(BASE), SLOT, NOW, "InvalidOracle"),
    ("legacy discriminator", b"\xd4\xc3\xb2\xa1" + BASE.encode()[4:], SLOT, NOW,
     "InvalidOracle"),
    ("partial", replace(BASE, verification=Verification.PARTIAL, num_signatures=3).encode(),
     SLOT, NOW, "OracleNotFullyVerified"),
    ("unknown tag", tagged(2), SLOT, NOW, "InvalidOracle"),
    ("other feed", replace(BASE, feed_id=OTHER_FEED).encode(), SLOT, NOW, "OracleFeedMismatch"),
    ("exponent -18", replace(BASE, exponent=-18, price=10**13).encode(), SLOT, NOW, None),
    ("exponent -19", replace(BASE, exponent=-19).encode(), SLOT, NOW, "InvalidOracle"),
    ("exponent 7", replace(BASE, exponent=7, price=1, conf=0).encode(), SLOT, NOW,
     "InvalidOracle"),
    ("zero price", replace(BASE, price=0).encode(), SLOT, NOW, "InvalidOracle"),
    ("negative price", replace(BASE, price=-1).encode(), SLOT, NOW, "InvalidOracle"),
    ("scales to zero", replace(BASE, price=99, conf=0).encode(), SLOT, NOW, "InvalidOracle"),
    ("posted 25 slots ago", BASE.encode(), SLOT + 25, NOW, None),
    ("posted 26 slots ago", BASE.encode(), SLOT + 26, NOW, "StaleOracle"),
    ("posted ahead", BASE.encode(), SLOT - 5, NOW, None),
    ("published 60 s ago", BASE.encode(), SLOT, NOW + 60, None),
    ("published 61 s ago", BASE.encode(), SLOT, NOW + 61, "StalePublishTime"),
    ("published ahead", BASE.encode(), SLOT, NOW - 100, None),
    ("published at i64 min", replace(BASE, publish_time=I64_MIN).encode(), SLOT, I64_MAX,
     "StalePublishTime"),
    ("stale by both: slots first", BASE.encode(), SLOT + 26, NOW + 61, "StaleOracle"),
    ("conf at the limit", replace(BASE, conf=128_500_246_912).encode(), SLOT, NOW, None),
    ("conf past the limit", replace(BASE, conf=128_500_246_913).encode(), SLOT, NOW,
     "OracleTooUncertain"),
]


@pytest.mark.parametrize(("case", "data", "slot", "now", "error"), BOUNDARIES,
                         ids=[b[0] for b in BOUNDARIES])  # fmt: skip
def test_boundaries(reader: Reader, case: str, data: bytes, slot: int, now: int,
                    error: str | None) -> None:
    """Each refusal by its own name, for the program and for the keepers alike."""
    err, quote = reader(data, LIMITS, slot, now)
    assert err == (OK if error is None else CODE[error]), case
    try:
        got = judge(data, LIMITS, slot, now)
    except OracleRefused as refused:
        assert refused.error == error, case
    else:
        assert error is None and quote is not None and got == quote[0], case


def test_quote_scales_like_the_legacy_reader(reader: Reader) -> None:
    """Price rounded down and confidence rounded up to 6 decimals."""
    err, quote = reader(BASE.encode(), LIMITS, SLOT, NOW)
    assert (err, quote) == (OK, (64_250_123_456, 321_250_618))


@settings(max_examples=400, deadline=None)
@given(
    price=st.one_of(st.integers(I64_MIN, I64_MAX), st.integers(1, 10**12)),
    exponent=st.integers(-20, 8),
    conf=st.one_of(st.integers(0, U64_MAX), st.integers(0, 10**10)),
    verification=st.sampled_from(list(Verification)),
    own_feed=st.booleans(),
    posted_slot=st.integers(0, 2_000),
    slot=st.integers(0, 2_000),
    publish_time=st.one_of(st.integers(I64_MIN, I64_MAX), st.integers(0, 2_000)),
    now=st.one_of(st.integers(I64_MIN, I64_MAX), st.integers(0, 2_000)),
    max_staleness=st.integers(0, 500),
    max_conf_bps=st.integers(0, 10_000),
    max_age=st.integers(1, 3_600),
    truncate=st.booleans(),
)
def test_chain_prices_judges_as_the_program(
    reader: Reader, price: int, exponent: int, conf: int, verification: Verification,
    own_feed: bool, posted_slot: int, slot: int, publish_time: int, now: int,
    max_staleness: int, max_conf_bps: int, max_age: int, truncate: bool,
) -> None:
    """chain.prices.judge_quote's verdict and quote are the program's, error for error (the
    program's own bound on price + conf aside: that is perp_quote's, tested with it)."""
    update = PriceUpdate(feed_id=FEED if own_feed else OTHER_FEED, price=price, conf=conf,
                         exponent=exponent, publish_time=publish_time, posted_slot=posted_slot,
                         verification=verification, num_signatures=2)
    data = update.encode()[:-1] if truncate else update.encode()
    limits = OracleLimits(max_staleness, max_conf_bps, OracleKind.PRICE_UPDATE_V2, FEED, max_age)
    err, quote = reader(data, limits, slot, now)
    try:
        got = judge_quote(data, limits, slot, now)
    except OracleRefused as refused:
        if refused.error == "InvalidOracle" and err == OK:
            assert quote is not None and "beyond the bound" in str(refused)
        else:
            assert CODE[refused.error] == err
    else:
        assert err == OK and quote == (got.price, got.conf)
