"""Pyth's accumulator update data ("PNAU"), the binary Hermes serves: parsing it, and the
Wormhole VAA and price feed messages it carries.

The layout (big-endian), as Pyth's own parser reads it (`parseAccumulatorUpdateData`, npm
`@pythnetwork/price-service-sdk`; the receiver program's `AccumulatorUpdateData`)::

    magic "PNAU" | major 1 | minor | trailing header size n | n bytes | update type 0 (Wormhole
    Merkle) | VAA size u16 | VAA | update count u8 | per update: message size u16, message,
    proof count u8, proof count x 20-byte keccak160 hashes

The VAA: version u8 | guardian set index u32 | signature count u8 | 66 bytes per signature
(guardian index, 65-byte secp256k1 signature) | body. A price feed message: variant 0 | feed
id [32] | price i64 | conf u64 | exponent i32 | publish_time i64 | prev_publish_time i64 |
ema_price i64 | ema_conf u64.

pythclient has a parser (`price_feeds.parse_accumulator_update`) but checks neither the magic
nor the lengths, and silently returns short slices from truncated data: a keeper about to pay
for a transaction wants a refusal instead, so this module parses, strictly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from chain.price_update import PriceUpdate

MAGIC = b"PNAU"
MAJOR_VERSION = 1
WORMHOLE_MERKLE = 0  # the only update type Pyth serves
PROOF_HASH_LEN = 20  # keccak160

VAA_SIGNATURE_LEN = 66
VAA_SIGNATURES_AT = 6  # after version u8, guardian set index u32, signature count u8
# how many guardian signatures Pyth's SDK keeps in a VAA posted atomically (`trimSignatures`):
# all of them would not fit in one transaction with the price update
REDUCED_SIGNATURES = 5

PRICE_FEED_MESSAGE = 0
_PRICE_MESSAGE = struct.Struct(">B32sqQiqqqQ")


@dataclass(frozen=True)
class MerkleUpdate:
    """One price update: a message and its Merkle proof against the VAA's root."""

    message: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True)
class AccumulatorUpdate:
    """A VAA and the updates it proves."""

    vaa: bytes
    updates: tuple[MerkleUpdate, ...]


class _Reader:
    """Reads `data` front to back; ValueError when it runs short."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ValueError(f"truncated: {n} bytes wanted at {self.at} of {len(self.data)}")
        chunk = self.data[self.at:self.at + n]
        self.at += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")


def parse(data: bytes) -> AccumulatorUpdate:
    """The VAA and updates of accumulator update data; ValueError for anything else (another
    magic, major version or update type, a length past the end, bytes left over)."""
    r = _Reader(data)
    if r.take(4) != MAGIC:
        raise ValueError("not accumulator update data (magic)")
    if (major := r.u8()) != MAJOR_VERSION:
        raise ValueError(f"accumulator update major version {major}, not {MAJOR_VERSION}")
    r.u8()  # minor: later minors only add to the trailing header, skipped whole
    r.take(r.u8())
    if (kind := r.u8()) != WORMHOLE_MERKLE:
        raise ValueError(f"accumulator update type {kind}, not Wormhole Merkle")
    vaa = r.take(r.u16())
    updates = []
    for _ in range(r.u8()):
        message = r.take(r.u16())
        proof = tuple(r.take(PROOF_HASH_LEN) for _ in range(r.u8()))
        updates.append(MerkleUpdate(message, proof))
    if r.at != len(data):
        raise ValueError(f"{len(data) - r.at} bytes after the last update")
    return AccumulatorUpdate(vaa, tuple(updates))


def guardian_set_index(vaa: bytes) -> int:
    """The index of the guardian set that signed `vaa`."""
    if len(vaa) < VAA_SIGNATURES_AT:
        raise ValueError("a VAA is longer than its header")
    return int.from_bytes(vaa[1:5], "big")


def trim_signatures(vaa: bytes, n: int = REDUCED_SIGNATURES) -> bytes:
    """`vaa` with only its first `n` signatures, as Pyth's SDK posts one atomically; the
    receiver then records the update as Partial unless `n` reaches the guardians' quorum."""
    count = vaa[VAA_SIGNATURES_AT - 1] if len(vaa) >= VAA_SIGNATURES_AT else 0
    end = VAA_SIGNATURES_AT + count * VAA_SIGNATURE_LEN
    if len(vaa) < end:
        raise ValueError("a VAA shorter than its signatures")
    if n > count:
        raise ValueError(f"{n} signatures wanted of a VAA with {count}")
    return (vaa[:VAA_SIGNATURES_AT - 1] + bytes([n])
            + vaa[VAA_SIGNATURES_AT:VAA_SIGNATURES_AT + n * VAA_SIGNATURE_LEN] + vaa[end:])


def price_message(message: bytes, posted_slot: int) -> PriceUpdate:
    """The fully verified PriceUpdateV2 the receiver writes from a price feed message, as
    posted at `posted_slot`; ValueError for another message."""
    if len(message) < _PRICE_MESSAGE.size or message[0] != PRICE_FEED_MESSAGE:
        raise ValueError("not a price feed message")
    (_, feed, price, conf, exponent, publish, prev, ema, ema_conf) = \
        _PRICE_MESSAGE.unpack_from(message)
    return PriceUpdate(feed_id=feed, price=price, conf=conf, exponent=exponent,
                       publish_time=publish, posted_slot=posted_slot, prev_publish_time=prev,
                       ema_price=ema, ema_conf=ema_conf)
