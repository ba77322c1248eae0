"""Pyth price accounts (version 2, the layout `pythclient` parses): writing and reading them.

Tests and the localnet's price publisher write accounts with `PriceAccount.encode`; keepers
and the localnet read them back with `decode`, without pythclient on hot paths. The program
reads the same account with `oracle_price_e6` (program/src/state/oracle.h).

Layout (little-endian; offsets as pythclient's `_parse_header`, `PythPriceAccount.update_from`
and `PythPriceInfo.deserialise` read them)::

      0  u32 magic 0xa1b2c3d4        112  product account key [32]
      4  u32 version 2               144  next price account key [32]
      8  u32 account type 3 (price)  176  previous slot u64, price i64, conf u64, timestamp i64
     12  u32 size in use             208  aggregate price i64
     16  u32 price type 1 (price)    216  aggregate confidence u64
     20  i32 exponent                224  aggregate status u32 (1 = trading)
     24  u32 components, u32 quoters 228  corporate action u32
     32  u64 last slot, valid slot   232  aggregate publish slot u64
     48  EMA price, EMA confidence   240  publisher components, 96 bytes each, up to 32
     96  i64 timestamp, u8 min publishers, i8 message sent, u8 max latency, i8, i32

Prices are raw integers: the value is `price * 10**exponent` quote units per base unit, and
the confidence interval is in the same raw units.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

MAGIC = 0xA1B2C3D4
VERSION = 2
ACCOUNT_TYPE_PRICE = 3
PRICE_TYPE_PRICE = 1

PRICE_HEAD_SIZE = 240
"""Bytes before the publisher components: everything the program reads."""
COMPONENT_SIZE = 96
MAX_COMPONENTS = 32
PRICE_ACCOUNT_SIZE = PRICE_HEAD_SIZE + MAX_COMPONENTS * COMPONENT_SIZE  # 3312
"""Size of a full v2 price account, as the Pyth oracle program allocates it."""

PRICE_DECIMALS = 6
"""Decimals of the program's prices (PRICE_PRECISION)."""
BPS = 10_000

_HEADER = struct.Struct("<IIII")  # magic, version, account type, size in use
_PRICE_HEAD = struct.Struct("<IiII")  # at 16: price type, exponent, components, quoters
_AGGREGATE = struct.Struct("<qQIIQ")  # at 208: price, confidence, status, corporate action, slot
_OFF_PRICE_HEAD = 16
_OFF_SLOTS = 32  # last slot, valid slot
_OFF_EMA = 48  # six i64: EMA price value, numerator, denominator, then the same for confidence
_OFF_TIMESTAMP = 96
_OFF_PRODUCT = 112
_OFF_NEXT = 144
_OFF_PREVIOUS = 176
_OFF_AGGREGATE = 208

_I32 = (-(1 << 31), (1 << 31) - 1)
_I64 = (-(1 << 63), (1 << 63) - 1)
_U64 = (0, (1 << 64) - 1)


class PriceStatus(IntEnum):
    """A Pyth price status, numbered as pythclient's `PythPriceStatus`."""

    UNKNOWN = 0
    TRADING = 1
    HALTED = 2
    AUCTION = 3
    IGNORED = 4


def _check_range(name: str, value: int, bounds: tuple[int, int]) -> None:
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} {value} outside [{bounds[0]}, {bounds[1]}]")


@dataclass(frozen=True)
class PriceAccount:
    """One Pyth v2 price account with its aggregate price and no publisher components.

    `price` and `confidence` are raw integers scaled by 10**exponent. `encode` also writes
    the fields a Pyth reader expects to be consistent: the last and valid slots are the
    publish slot, and the EMA and previous-price fields repeat the aggregate.
    """

    exponent: int
    price: int
    confidence: int
    status: PriceStatus
    publish_slot: int
    product_account: bytes = bytes(32)
    next_price_account: bytes = bytes(32)  # zero: the last price account of its product
    timestamp: int = 0  # unix seconds of the aggregate

    def __post_init__(self) -> None:
        _check_range("exponent", self.exponent, _I32)
        _check_range("price", self.price, _I64)
        _check_range("confidence", self.confidence, _U64)
        _check_range("publish_slot", self.publish_slot, _U64)
        _check_range("timestamp", self.timestamp, _I64)
        # an int status becomes the enum; ValueError for one pythclient cannot name
        object.__setattr__(self, "status", PriceStatus(self.status))
        for name in ("product_account", "next_price_account"):
            if len(getattr(self, name)) != 32:
                raise ValueError(f"{name} must be 32 bytes")

    def encode(self) -> bytes:
        """The full account data, PRICE_ACCOUNT_SIZE bytes."""
        buf = bytearray(PRICE_ACCOUNT_SIZE)
        _HEADER.pack_into(buf, 0, MAGIC, VERSION, ACCOUNT_TYPE_PRICE, PRICE_HEAD_SIZE)
        _PRICE_HEAD.pack_into(buf, _OFF_PRICE_HEAD, PRICE_TYPE_PRICE, self.exponent, 0, 0)
        struct.pack_into("<QQ", buf, _OFF_SLOTS, self.publish_slot, self.publish_slot)
        # EMA value, numerator, denominator (1) for the price, then for the confidence; the
        # confidence is a u64 and the EMA an i64, so it is capped rather than wrapped
        ema_conf = min(self.confidence, _I64[1])
        struct.pack_into("<6q", buf, _OFF_EMA, self.price, self.price, 1, ema_conf, ema_conf, 1)
        struct.pack_into("<q", buf, _OFF_TIMESTAMP, self.timestamp)
        buf[_OFF_PRODUCT:_OFF_NEXT] = self.product_account
        buf[_OFF_NEXT:_OFF_PREVIOUS] = self.next_price_account
        previous = (self.publish_slot, self.price, self.confidence, self.timestamp)
        struct.pack_into("<QqQq", buf, _OFF_PREVIOUS, *previous)
        aggregate = (self.price, self.confidence, int(self.status), 0, self.publish_slot)
        _AGGREGATE.pack_into(buf, _OFF_AGGREGATE, *aggregate)
        return bytes(buf)


class Aggregate(NamedTuple):
    """What the program reads of a price account; status is the raw number."""

    exponent: int
    price: int
    confidence: int
    status: int
    publish_slot: int


def read_aggregate(data: bytes) -> Aggregate:
    """The fields the program reads, after the format checks it makes first. Raises
    ValueError for data that is not a v2 price account (too short, wrong magic, version or
    type, a size in use below the aggregate or beyond the data)."""
    if len(data) < PRICE_HEAD_SIZE:
        raise ValueError(f"price account data is {len(data)} bytes, need {PRICE_HEAD_SIZE}")
    magic, version, account_type, size = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise ValueError(f"wrong magic {magic:#010x}")
    if version != VERSION:
        raise ValueError(f"unsupported version {version}")
    if account_type != ACCOUNT_TYPE_PRICE:
        raise ValueError(f"account type {account_type} is not a price account")
    if not PRICE_HEAD_SIZE <= size <= len(data):
        raise ValueError(f"size in use {size} outside [{PRICE_HEAD_SIZE}, {len(data)}]")
    _, exponent, _, _ = _PRICE_HEAD.unpack_from(data, _OFF_PRICE_HEAD)
    price, confidence, status, _, publish_slot = _AGGREGATE.unpack_from(data, _OFF_AGGREGATE)
    return Aggregate(exponent, price, confidence, status, publish_slot)


def decode(data: bytes) -> PriceAccount:
    """Read a price account back: the checks and fields the program reads, plus the keys and
    timestamp. Raises ValueError as read_aggregate does, and for a status pythclient does not
    know. The exponent and price values are not judged here."""
    agg = read_aggregate(data)
    (timestamp,) = struct.unpack_from("<q", data, _OFF_TIMESTAMP)
    return PriceAccount(
        exponent=agg.exponent,
        price=agg.price,
        confidence=agg.confidence,
        status=PriceStatus(agg.status),
        publish_slot=agg.publish_slot,
        product_account=bytes(data[_OFF_PRODUCT:_OFF_NEXT]),
        next_price_account=bytes(data[_OFF_NEXT:_OFF_PREVIOUS]),
        timestamp=timestamp,
    )


def price_account(
    price_e6: int,
    *,
    exponent: int = -8,
    conf_bps: int = 10,
    slot: int,
    status: PriceStatus = PriceStatus.TRADING,
) -> PriceAccount:
    """A price account quoting `price_e6` (6 decimals, as the program's prices) at `exponent`,
    converted exactly (ValueError when the exponent cannot carry it), with a confidence of
    `conf_bps` basis points of the price, rounded down, published at `slot`."""
    raw, conf = raw_quote(price_e6, exponent, conf_bps)
    return PriceAccount(exponent=exponent, price=raw, confidence=conf, status=status,
                        publish_slot=slot)


def raw_quote(price_e6: int, exponent: int, conf_bps: int) -> tuple[int, int]:
    """`price_e6` (6 decimals) as a raw price at `exponent`, converted exactly (ValueError
    when the exponent cannot carry it), and a confidence of `conf_bps` basis points of it,
    rounded down: the raw units of both Pyth formats."""
    if conf_bps < 0:
        raise ValueError(f"conf_bps {conf_bps} is negative")
    shift = exponent + PRICE_DECIMALS  # price_e6 = raw * 10**shift
    if shift <= 0:
        raw = price_e6 * 10**-shift
    else:
        raw, rest = divmod(price_e6, 10**shift)
        if rest:
            raise ValueError(f"price_e6 {price_e6} is not a whole multiple of 10^{shift}")
    return raw, abs(raw) * conf_bps // BPS
