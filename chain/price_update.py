"""Pyth Solana Receiver PriceUpdateV2 accounts: writing and reading them.

Tests and the price publisher write accounts with `PriceUpdate.encode`; keepers read them
back with `decode`. The program reads the same account with `price_update_quote_e6`
(program/src/state/price_update.h); the receiver's own IDL (npm
`@pythnetwork/pyth-solana-receiver`) decodes what `encode` writes (tests/chain).

Layout (Anchor, Borsh, little-endian)::

      0  discriminator [34, 241, 35, 99, 157, 126, 244, 205]
      8  write_authority [32]
     40  verification_level: u8 tag, 0 Partial { num_signatures: u8 } or 1 Full
         price_message (offsets for Full; one byte later for Partial):
     41  feed_id [32]        89  exponent i32         109  ema_price i64
     73  price i64           93  publish_time i64     117  ema_conf u64
     81  conf u64           101  prev_publish_time i64
    125  posted_slot u64 (126 for Partial)

The receiver allocates 134 bytes, room for Partial's extra byte; a Full update leaves the last
one zero.

Pull accounts live wherever their poster created them; the push oracle program keeps one
account per shard and feed at a PDA of its own (`push_feed_address`), owned by the receiver.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from solders.pubkey import Pubkey

from chain.pyth import raw_quote

DISCRIMINATOR = bytes([34, 241, 35, 99, 157, 126, 244, 205])
ACCOUNT_SIZE = 134
FEED_ID_LEN = 32

PUSH_ORACLE_PROGRAM = Pubkey.from_string("pythWSnswVUd12oZpeFP8e9CVaEqJg25g1Vtc2biRsT")
"""Pyth's push oracle program: it keeps sponsored feeds current at fixed addresses."""

_MESSAGE = struct.Struct("<32sqQiqqqQ")  # feed_id, price, conf, exponent, times, EMA
_SLOT = struct.Struct("<Q")
_OFF_AUTHORITY = 8
_OFF_LEVEL = 40


class Verification(IntEnum):
    """The verification_level enum's tags."""

    PARTIAL = 0
    FULL = 1


@dataclass(frozen=True)
class PriceUpdate:
    """A PriceUpdateV2 account's fields. `num_signatures` counts only for Partial.

    Prices are raw integers: the value is `price * 10**exponent` quote per base unit, and the
    confidence is in the same raw units."""

    feed_id: bytes
    price: int
    conf: int
    exponent: int
    publish_time: int
    posted_slot: int
    prev_publish_time: int = 0
    ema_price: int = 0
    ema_conf: int = 0
    write_authority: bytes = bytes(32)
    verification: Verification = Verification.FULL
    num_signatures: int = 0

    def encode(self) -> bytes:
        """The account's 134 bytes, as the receiver writes them."""
        if len(self.feed_id) != FEED_ID_LEN or len(self.write_authority) != 32:
            raise ValueError("feed_id and write_authority are 32 bytes")
        level = bytes([self.verification])
        if self.verification == Verification.PARTIAL:
            level += bytes([self.num_signatures])
        body = (DISCRIMINATOR + self.write_authority + level
                + _MESSAGE.pack(self.feed_id, self.price, self.conf, self.exponent,
                                self.publish_time, self.prev_publish_time, self.ema_price,
                                self.ema_conf)
                + _SLOT.pack(self.posted_slot))
        return body.ljust(ACCOUNT_SIZE, b"\0")

    @classmethod
    def decode(cls, data: bytes) -> PriceUpdate:
        """The fields of a PriceUpdateV2 account; ValueError for anything else (short,
        another discriminator, an unknown verification tag)."""
        if len(data) < ACCOUNT_SIZE:
            raise ValueError(f"{len(data)} bytes, a PriceUpdateV2 is {ACCOUNT_SIZE}")
        if data[:8] != DISCRIMINATOR:
            raise ValueError("not a PriceUpdateV2 account (discriminator)")
        tag = data[_OFF_LEVEL]
        if tag not in (Verification.PARTIAL, Verification.FULL):
            raise ValueError(f"unknown verification level {tag}")
        verification = Verification(tag)
        signatures = data[_OFF_LEVEL + 1] if verification == Verification.PARTIAL else 0
        at = _OFF_LEVEL + 1 + (verification == Verification.PARTIAL)
        feed, price, conf, exponent, publish, prev, ema, ema_conf = _MESSAGE.unpack_from(data, at)
        (slot,) = _SLOT.unpack_from(data, at + _MESSAGE.size)
        return cls(feed_id=feed, price=price, conf=conf, exponent=exponent,
                   publish_time=publish, posted_slot=slot, prev_publish_time=prev,
                   ema_price=ema, ema_conf=ema_conf,
                   write_authority=data[_OFF_AUTHORITY:_OFF_LEVEL], verification=verification,
                   num_signatures=signatures)


def push_feed_address(feed_id: bytes, shard_id: int = 0) -> Pubkey:
    """Where the push oracle keeps `feed_id`'s PriceUpdateV2 for `shard_id`: the PDA of seeds
    [shard_id as u16 little-endian, feed_id] under the push oracle program (Pyth's
    `get_price_feed_address`, pyth-push-oracle's sdk.rs)."""
    if len(feed_id) != FEED_ID_LEN or not 0 <= shard_id < 2**16:
        raise ValueError("a feed id is 32 bytes and a shard id a u16")
    address, _ = Pubkey.find_program_address([shard_id.to_bytes(2, "little"), feed_id],
                                             PUSH_ORACLE_PROGRAM)
    return address


def price_update(price_e6: int, *, feed_id: bytes, publish_time: int, slot: int,
                 exponent: int = -8, conf_bps: int = 10) -> PriceUpdate:
    """A fully verified update of `feed_id` quoting `price_e6` (6 decimals) at `exponent`
    (converted exactly, ValueError otherwise), with a confidence of `conf_bps` basis points,
    published at unix time `publish_time` and posted at `slot`."""
    raw, conf = raw_quote(price_e6, exponent, conf_bps)
    return PriceUpdate(feed_id=feed_id, price=raw, conf=conf, exponent=exponent,
                       publish_time=publish_time, posted_slot=slot,
                       prev_publish_time=publish_time, ema_price=raw, ema_conf=conf)
