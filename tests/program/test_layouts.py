"""program/layouts.py against the IDL's decoder and the C header: a record written with the
numpy layout decodes, field by field, to what was written; sizes are the header's."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from anchorpy.coder.accounts import AccountsCoder
from hypothesis import given
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from program import layouts
from program.idl.anchor import load_idl

HEADER = Path(__file__).parents[2] / "program" / "src" / "generated" / "accounts.h"
CODER = AccountsCoder(load_idl())
u64, i64 = st.integers(0, 2**64 - 1), st.integers(-(2**63), 2**63 - 1)
keys = st.binary(min_size=32, max_size=32)


def space(name: str) -> int:
    found = re.search(rf"#define {name}_SPACE (\d+)", HEADER.read_text())
    assert found, name
    return int(found.group(1))


def test_the_sizes_are_the_headers() -> None:
    assert layouts.POSITION.itemsize == space("POSITION")
    assert layouts.PERP_MARKET.itemsize == space("PERP_MARKET")
    assert layouts.CONFIG.itemsize == space("CONFIG")


@given(market=keys, owner=keys, size=u64, entry=u64, collateral=u64, reserve=u64,
       snapshot=i64, loss=u64, opened_at=i64, side=st.integers(0, 2), bump=st.integers(0, 255))
def test_a_position_record_decodes_as_written(market: bytes, owner: bytes, size: int,
                                              entry: int, collateral: int, reserve: int,
                                              snapshot: int, loss: int, opened_at: int,
                                              side: int, bump: int) -> None:
    record = np.zeros(1, dtype=layouts.POSITION)
    record[0] = (layouts.discriminator("Position"), market, owner, size, entry, collateral,
                 reserve, snapshot, loss, opened_at, side, bump)
    p = CODER.decode(record.tobytes())
    assert (p.perp_market, p.owner) == (Pubkey(market), Pubkey(owner))
    assert (p.size, p.entry_price, p.collateral, p.reserve, p.funding_snapshot,
            p.loss_snapshot, p.opened_at, p.side, p.bump) == (
        size, entry, collateral, reserve, snapshot, loss, opened_at, side, bump)
    back = layouts.positions(record.tobytes())[0]
    assert (int(back["size"]), int(back["opened_at"])) == (size, opened_at)


@given(oracle=keys, long_oi=u64, short_oi=u64, funding=i64, bps=st.integers(0, 65535))
def test_a_perp_market_record_decodes_as_written(oracle: bytes, long_oi: int, short_oi: int,
                                                 funding: int, bps: int) -> None:
    record = np.zeros(1, dtype=layouts.PERP_MARKET)
    record["discriminator"] = np.void(layouts.discriminator("PerpMarket"))
    record["oracle"], record["long_oi"], record["short_oi"] = np.void(oracle), long_oi, short_oi
    record["cumulative_funding"], record["maintenance_margin_bps"] = funding, bps
    m = CODER.decode(record.tobytes())
    assert (m.oracle, m.long_oi, m.short_oi, m.cumulative_funding,
            m.maintenance_margin_bps) == (Pubkey(oracle), long_oi, short_oi, funding, bps)
