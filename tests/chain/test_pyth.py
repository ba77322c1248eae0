"""chain.pyth writes price accounts that pythclient parses to the same values, and reads them
back itself."""

from __future__ import annotations

import base64
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pythclient.pythaccounts import (
    ACCOUNT_HEADER_BYTES,
    PythAccountType,
    PythPriceAccount,
    PythPriceStatus,
    PythPriceType,
    _parse_header,
)
from pythclient.solana import SolanaPublicKey

from chain.pyth import (
    PRICE_ACCOUNT_SIZE,
    PRICE_HEAD_SIZE,
    PriceAccount,
    PriceStatus,
    decode,
    price_account,
)

KEY = SolanaPublicKey(bytes(range(32)))  # the price account's own key: any will do
I64_MIN, I64_MAX, U64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1

keys = st.binary(min_size=32, max_size=32)
accounts = st.builds(
    PriceAccount,
    # pythclient computes raw * 10**exponent as a Python number: keep that cheap
    exponent=st.integers(-40, 40),
    price=st.integers(I64_MIN, I64_MAX) | st.sampled_from([I64_MIN, I64_MAX, 0, 1, -1]),
    confidence=st.integers(0, U64_MAX) | st.sampled_from([0, U64_MAX]),
    status=st.sampled_from(PriceStatus),
    publish_slot=st.integers(0, U64_MAX),
    product_account=keys,
    next_price_account=keys | st.just(bytes(32)),
    timestamp=st.integers(I64_MIN, I64_MAX),
)


def parse(data: bytes) -> PythPriceAccount:
    """What PythAccount.update_with_rpc_response does with account data, without its catch-all
    (which logs a parse error and leaves the account unset)."""
    type_, size, version = _parse_header(data, 0, key=KEY)
    assert (type_, version) == (PythAccountType.PRICE, 2)
    acct = PythPriceAccount(KEY, None)  # no RPC client needed
    acct.update_from(data[:size], version=version, offset=ACCOUNT_HEADER_BYTES)
    return acct


def check_parsed(acct: PythPriceAccount, x: PriceAccount) -> None:
    info = acct.aggregate_price_info
    assert info is not None
    assert acct.price_type == PythPriceType.PRICE
    assert acct.exponent == x.exponent == info.exponent
    assert info.raw_price == x.price
    assert info.raw_confidence_interval == x.confidence
    assert info.price_status == PythPriceStatus(int(x.status))
    assert info.pub_slot == x.publish_slot
    assert acct.valid_slot == acct.last_slot == acct.prev_slot == x.publish_slot
    assert acct.product_account_key == SolanaPublicKey(x.product_account)
    expected_next = None if x.next_price_account == bytes(32) else x.next_price_account
    assert acct.next_price_account_key == (expected_next and SolanaPublicKey(expected_next))
    assert acct.timestamp == acct.prev_timestamp == x.timestamp
    assert acct.price_components == []


@settings(max_examples=300, deadline=None)
@given(accounts)
def test_pythclient_parses_encode(x: PriceAccount) -> None:
    data = x.encode()
    assert len(data) == PRICE_ACCOUNT_SIZE == 3312
    check_parsed(parse(data), x)


@settings(max_examples=300, deadline=None)
@given(accounts)
def test_decode_inverts_encode(x: PriceAccount) -> None:
    assert decode(x.encode()) == x
    assert decode(x.encode()[:PRICE_HEAD_SIZE]) == x  # the program reads no further


@given(accounts)
def test_offsets_the_program_reads(x: PriceAccount) -> None:
    """The offsets oracle.h reads, pinned independently of chain.pyth's own struct layout."""
    data = x.encode()
    assert struct.unpack_from("<IIII", data, 0) == (0xA1B2C3D4, 2, 3, PRICE_HEAD_SIZE)
    assert struct.unpack_from("<i", data, 20) == (x.exponent,)
    assert struct.unpack_from("<qQIIQ", data, 208) == (
        x.price, x.confidence, x.status, 0, x.publish_slot)  # fmt: skip


def test_full_rpc_path() -> None:
    """pythclient's own entry point, on what an RPC node would return."""
    x = price_account(64_250_123_456, slot=77, status=PriceStatus.HALTED)
    acct = PythPriceAccount(KEY, None)
    value = {"lamports": 1, "data": [base64.b64encode(x.encode()).decode(), "base64"]}
    acct.update_with_rpc_response(80, value)
    check_parsed(acct, x)
    assert acct.aggregate_price_status == PythPriceStatus.HALTED


def test_status_numbers_match_pythclient() -> None:
    assert {s.name: s.value for s in PriceStatus} == {s.name: s.value for s in PythPriceStatus}


@pytest.mark.parametrize(
    ("price_e6", "exponent", "raw"),
    [
        (64_250_123_456, -8, 6_425_012_345_600),
        (64_250_123_456, -6, 64_250_123_456),
        (64_250_123_000, -3, 64_250_123),
        (1, -12, 1_000_000),
        (5_000_000, 0, 5),
        (7_000_000_000_000, 6, 7),
    ],
)
def test_price_account_converts_exactly(price_e6: int, exponent: int, raw: int) -> None:
    x = price_account(price_e6, exponent=exponent, conf_bps=25, slot=9)
    assert (x.exponent, x.price, x.publish_slot, x.status) == (
        exponent, raw, 9, PriceStatus.TRADING)  # fmt: skip
    assert x.confidence == raw * 25 // 10_000
    assert x.confidence * 10_000 <= 25 * raw < (x.confidence + 1) * 10_000


def test_price_account_refuses_inexact() -> None:
    with pytest.raises(ValueError, match="multiple"):
        price_account(64_250_123_456, exponent=-2, slot=1)
    with pytest.raises(ValueError, match="conf_bps"):
        price_account(1, conf_bps=-1, slot=1)


@pytest.mark.parametrize(
    "fields",
    [
        {"exponent": 1 << 31},
        {"price": I64_MAX + 1},
        {"price": I64_MIN - 1},
        {"confidence": -1},
        {"confidence": U64_MAX + 1},
        {"publish_slot": -1},
        {"status": 5},
        {"product_account": bytes(31)},
    ],
)
def test_price_account_refuses_out_of_range(fields: dict[str, int | bytes]) -> None:
    base: dict[str, int | bytes] = {
        "exponent": -8, "price": 1, "confidence": 0, "status": 1, "publish_slot": 0}  # fmt: skip
    with pytest.raises(ValueError):
        PriceAccount(**{**base, **fields})  # type: ignore[arg-type]


def test_int_status_becomes_the_enum() -> None:
    x = PriceAccount(exponent=-8, price=1, confidence=0, status=2, publish_slot=0)  # type: ignore[arg-type]
    assert x.status is PriceStatus.HALTED


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, value)
    return bytes(buf)


GOOD = price_account(1_000_000, slot=1).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (GOOD[: PRICE_HEAD_SIZE - 1], "need 240"),
        (patched(GOOD, 0, "<I", 0xA1B2C3D5), "magic"),
        (patched(GOOD, 4, "<I", 1), "version"),
        (patched(GOOD, 8, "<I", 2), "type"),
        (patched(GOOD, 12, "<I", PRICE_HEAD_SIZE - 1), "size"),
        (patched(GOOD, 12, "<I", PRICE_ACCOUNT_SIZE + 1), "size"),
        (patched(GOOD, 224, "<I", 5), "PriceStatus"),
    ],
)
def test_decode_refuses(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode(data)
