"""The price trigger's refresh period, from its book alone (no servers)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
from solders.keypair import Keypair

from jobs.liquidation_plan import LONG, PositionBook
from program import layouts
from workers.price_trigger import PriceTrigger


def book(n: int) -> PositionBook:
    market = Keypair().pubkey()
    records = np.zeros(n, dtype=layouts.POSITION)
    records["perp_market"], records["side"], records["size"] = np.void(bytes(market)), LONG, 1
    return PositionBook.from_records(
        {market: SimpleNamespace(oracle=Keypair().pubkey(), pyth_program=Keypair().pubkey(),
                                 cumulative_funding=0, cumulative_funding_short=0,
                                 funding_remainder=0,
                                 last_accrual_ts=0, funding_interval_secs=3_600,
                                 max_funding_bps=10, long_oi=n, short_oi=0,
                                 maintenance_margin_bps=500, max_oracle_staleness_slots=25,
                                 max_oracle_conf_bps=200)},
        [Keypair().pubkey() for _ in range(n)], records)


def test_a_large_book_is_refreshed_less_often() -> None:
    unused: Any = None
    trigger = PriceTrigger(chain=unused, liquidate=unused, fleet=unused, ws_url="")
    assert trigger.refresh_period_s() == trigger.book_refresh_s == 2.0
    trigger.book = book(1_000)
    assert trigger.refresh_period_s() == 2.0
    trigger.book = book(100_000)
    assert len(trigger.book) == 100_000
    assert trigger.refresh_period_s() == 20.0
