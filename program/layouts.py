"""The program's Position and PerpMarket layouts as numpy record types, for reading or writing
many accounts at once: the liquidator's book of every open position and the localnet's
seeding, where decoding each account with the IDL costs ~50 µs (half a second per 10,000).

They are made from the interface's one definition (program/idl/spec.py) as the C header
program/src/generated/accounts.h lays it out: the 8-byte discriminator, then the fields with
C's alignment and trailing padding; tests/program/test_layouts.py checks them against the
IDL's decoder and the header's sizes.
"""

from __future__ import annotations

import numpy as np

from program.idl import generate, spec

_NUMPY_TYPES = {"u8": "u1", "bool": "u1", "u16": "<u2", "u32": "<u4", "u64": "<u8",
                "i64": "<i8", "publicKey": "V32"}


def discriminator(account: str) -> bytes:
    """An account type's first 8 bytes: Anchor's sha256("account:<Name>")."""
    return generate.discriminator("account", account)


def record(struct: spec.Struct) -> np.dtype:
    """The numpy record type of the account `struct` as stored on chain."""
    return np.dtype([("discriminator", "V8"),
                     *((f.name, _NUMPY_TYPES[f.ty], (f.count,)) if f.count
                       else (f.name, _NUMPY_TYPES[f.ty]) for f in struct.fields)], align=True)


def offset(layout: np.dtype, field: str) -> int:
    """Where `field` starts in a record of `layout` (for the node's memcmp filters)."""
    if layout.fields is None:
        raise TypeError(f"{layout} is not a record type")
    return int(layout.fields[field][1])


POSITION = record(spec.POSITION)
PERP_MARKET = record(spec.PERP_MARKET)
CONFIG = record(spec.CONFIG)


def positions(data: bytes) -> np.ndarray:
    """Position accounts' data, concatenated, as records (a view: no copy)."""
    return np.frombuffer(data, dtype=POSITION)
