"""The RPC misbehaving: the keepers' first endpoint is a proxy answering at random with 429
and Retry-After, 500, stalls past the timeout and reset connections; the second is dead; the
third is sound. The governance worker still tallies every market due and the indexer stores
exactly the chain's events, through the endpoint that answers."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from chain.client import Endpoint, RpcClient
from demo.report import chain_events
from jobs.governance_plan import MarketState
from store.migrate import migrate
from tests.support.chain_world import World, world
from tests.support.chaos import Chaos, Forward, Reset, Stall, Status, dead_url
from tests.support.keepers import Fleet, keeper_env, keypair_file, stored_events
from tests.support.markets import proposal, state

MARKETS = 4
WITHIN_S = 90
MISCHIEF = [Status(429, retry_after=1), Status(500), Stall(3), Reset()]


@pytest_asyncio.fixture
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


def schedule(proxy: Chaos, requests: int, seed: int = 11) -> None:
    """One action per request: each kind of mischief once first, then every other request
    misbehaves in a random way."""
    rng = random.Random(seed)
    proxy.script(*MISCHIEF, *(rng.choice(MISCHIEF) if rng.random() < 0.5 else Forward()
                              for _ in range(requests)))


async def test_the_fleet_works_through_the_endpoint_that_answers(
        w: World, redis_url: str, pg_database: str, tmp_path: Path) -> None:
    await migrate(pg_database)
    keypair = keypair_file(w.net.keepers[0].kp, tmp_path)
    markets = [await proposal(w, 60 + i, likes=3, closed=True) for i in range(MARKETS)]
    rpc = RpcClient([Endpoint("direct", w.net.url, max_rps=10_000)])
    fleet = Fleet()
    async with Chaos(w.net.url) as proxy:
        schedule(proxy, 3000)
        urls = f"chaos={proxy.url}, dead={dead_url()}, sound={w.net.url}"
        env = keeper_env(rpc_urls=urls, database_url=pg_database, redis_url=redis_url,
                         program_id=w.net.program_id, keypair=keypair, RPC_TIMEOUT_S="1")
        try:
            await fleet.start("governance", env)
            await fleet.start("indexer", env)
            deadline = time.monotonic() + WITHIN_S
            while [await state(w, m) for m in markets] != [MarketState.APPROVED] * MARKETS:
                assert time.monotonic() < deadline, "not every market was tallied"
                await asyncio.sleep(0.5)
            # the tallies' events too, once finalized: the indexer reads at finalized, and a
            # tally finalized after this read would be stored but missing here
            await w.finalized()
            on_chain = await chain_events(rpc, w.net.program_id)
            while set(await stored_events(pg_database)) != on_chain:
                assert time.monotonic() < deadline, "the indexer did not catch up"
                await asyncio.sleep(0.5)
            events = await stored_events(pg_database)
        finally:
            await fleet.stop_all()
            await rpc.close()
        mischief = {a: proxy.count(action=a) for a in ("status 429", "status 500", "stall",
                                                       "reset")}
    assert len(events) == len(set(events))
    # the chaos did happen (how much of it depends on how soon the work is done: a failing
    # endpoint rests, and the others take the calls meanwhile)
    assert mischief["status 429"] >= 1 and sum(mischief.values()) >= 2, mischief
