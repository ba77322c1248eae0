"""The price trigger judging each market at its own limits (no servers); the chain's time it
accrues funding to, as a pure function and on a localnet whose clock has travelled."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.client import Endpoint, RpcClient, anchor_program
from chain.localnet.seed import PositionSpec
from chain.pyth import price_account
from chain.sender import FeePolicy, Sender
from fleet.price_trigger import ChainTime, PriceTrigger
from jobs.deps import JobDeps
from jobs.liquidation import load_book
from jobs.liquidation_plan import LONG, Candidate, PositionBook
from program import layouts
from program.client import PerpMarketParams
from tests.support.perp_world import PRICE, SIZE, SOLID, perp_market_stub, perp_world

DAY_S = 86_400


def book(n: int, *, oracle: Pubkey | None = None, staleness: Sequence[int] = (25,),
         collateral: int = 0) -> PositionBook:
    """`n` longs of one base unit entered at 100 with `collateral` in each of one market per
    `staleness` limit, all on `oracle`."""
    oracle = oracle or Keypair().pubkey()
    markets = [Keypair().pubkey() for _ in staleness]
    records = np.zeros(n * len(markets), dtype=layouts.POSITION)
    records["perp_market"] = [np.void(bytes(m)) for m in markets for _ in range(n)]
    records["side"], records["size"], records["entry_price"] = LONG, SIZE, PRICE
    records["collateral"] = collateral
    return PositionBook.from_records(
        {m: perp_market_stub(oracle=oracle, max_funding_bps=10, long_oi=n * SIZE,
                             max_oracle_staleness_slots=slots)
         for m, slots in zip(markets, staleness, strict=True)},
        [Keypair().pubkey() for _ in range(len(records))], records)


async def test_each_market_judges_a_shared_oracle_with_its_own_limits() -> None:
    oracle = Keypair().pubkey()
    found: list[Candidate] = []

    async def liquidate(candidates: list[Candidate], fresh: bool) -> int:
        found.extend(candidates)
        return len(candidates)

    fleet: Any = SimpleNamespace(instance="a", members=("a",))
    trigger = PriceTrigger(chain=cast(Any, None), liquidate=liquidate, fleet=fleet, ws_url="",
                           book=book(1, oracle=oracle, staleness=(25, 100)),
                           chain_time=ChainTime(0, time.monotonic()))
    strict, lenient = trigger.book.rules
    # 50 slots old: stale for the market that allows 25, fresh for the one that allows 100
    await trigger.on_price(oracle, price_account(PRICE, slot=1_000).encode(), 1_050)
    assert trigger.refused == {strict: "StaleOracle"}
    assert [c.perp_market for c in found] == [lenient]


def test_the_chains_time_moves_on_by_the_whole_seconds_elapsed() -> None:
    read = ChainTime(unix_timestamp=1_000, monotonic_s=50.0)
    assert read.at(50.0) == 1_000
    assert read.at(50.999) == 1_000
    assert read.at(51.0) == 1_001
    assert read.at(50.0 + DAY_S + 0.5) == 1_000 + DAY_S
    assert read.at(49.0) == 1_000  # never before the time read


async def test_funding_accrues_to_the_chains_time_not_the_wall_clock() -> None:
    """Longs alone pay 100 % of the price an hour: a day on the chain's clock (travelled, the
    wall clock did not move) puts a solid long under maintenance at an unchanged price."""
    params = PerpMarketParams(max_funding_bps=10_000)
    async with perp_world([PositionSpec(LONG, SIZE, SOLID)], params=params,
                          publish_every_s=None) as world:
        rpc = RpcClient([Endpoint("local", world.net.url, max_rps=10_000)])
        keeper = world.net.keepers[0].kp
        deps = JobDeps(rpc=rpc, sender=Sender(rpc, keeper, fees=FeePolicy(fixed_micro_lamports=0)),
                       program=anchor_program(rpc, world.net.program_id),
                       client=world.net.client)
        found: list[Candidate] = []

        async def liquidate(candidates: list[Candidate], fresh: bool) -> int:
            found.extend(candidates)
            return len(candidates)

        fleet: Any = SimpleNamespace(instance="a", members=("a",))
        trigger = PriceTrigger(chain=deps, liquidate=liquidate, fleet=fleet, ws_url="")

        async def a_fresh_price() -> None:
            await world.publisher.publish(0)
            clock, (oracle,) = await deps.raw_snapshot(world.oracle)
            assert oracle is not None
            await trigger.on_price(world.oracle, bytes(oracle.data), clock.slot)

        try:
            trigger.book = await load_book(deps)
            await trigger.read_clock()
            await a_fresh_price()
            assert found == []
            await world.seeder.travel(DAY_S)
            trigger.book = await load_book(deps)
            await trigger.read_clock()
            assert trigger.chain_time is not None
            assert trigger.chain_time.unix_timestamp > time.time() + DAY_S - 60
            await a_fresh_price()
            assert [c.position for c in found] == world.positions
        finally:
            await rpc.close()
