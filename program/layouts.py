"""The program's Position and PerpMarket layouts as numpy record types, for reading or writing
many accounts at once: the liquidator's book of every open position and the localnet's
seeding, where decoding each account with the IDL costs ~50 µs (half a second per 10,000).

They mirror program/src/generated/accounts.h (little-endian, C struct padding);
tests/program/test_layouts.py checks them against the IDL's decoder and the header's sizes.
"""

from __future__ import annotations

import hashlib

import numpy as np


def discriminator(account: str) -> bytes:
    """An account type's first 8 bytes: Anchor's sha256("account:<Name>")."""
    return hashlib.sha256(f"account:{account}".encode()).digest()[:8]


POSITION = np.dtype([
    ("discriminator", "V8"), ("perp_market", "V32"), ("owner", "V32"), ("size", "<u8"),
    ("entry_price", "<u8"), ("collateral", "<u8"), ("funding_snapshot", "<i8"),
    ("opened_at", "<i8"), ("side", "u1"), ("bump", "u1"), ("padding", "V6"),
])
PERP_MARKET = np.dtype([
    ("discriminator", "V8"), ("id", "<u8"), ("oracle", "V32"), ("funding_interval_secs", "<i8"),
    ("long_oi", "<u8"), ("short_oi", "<u8"), ("cumulative_funding", "<i8"),
    ("last_funding_ts", "<i8"), ("initial_margin_bps", "<u2"), ("maintenance_margin_bps", "<u2"),
    ("liquidation_fee_bps", "<u2"), ("taker_fee_bps", "<u2"), ("max_funding_bps", "<u2"),
    ("bump", "u1"), ("padding", "V5"),
])


def positions(data: bytes) -> np.ndarray:
    """Position accounts' data, concatenated, as records (a view: no copy)."""
    return np.frombuffer(data, dtype=POSITION)
