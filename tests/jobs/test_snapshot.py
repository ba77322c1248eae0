"""snapshot_accounts against the real localnet and a real PostgreSQL: the markets,
perp_markets and positions tables hold exactly the chain's accounts, a second run changes
nothing, and a snapshot read earlier never turns a row back.

The expected rows are read from the chain independently of jobs/snapshot.py, through anchorpy's
own `program.account[...].all()`, and mapped field by field here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from chain.client import Endpoint, RpcClient
from demo.servers import free_port_pair
from jobs.outcome import Outcome
from jobs.snapshot import read_kind, snapshot_accounts
from store.accounts import write_snapshot
from tests.support.chain_world import World, world
from tests.support.localnet import create_market
from tests.support.markets import STAKE, proposal
from tests.support.perp_world import open_positions

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRICE = 100_000_000
LONG, SHORT = 1, 2
Rows = dict[str, dict[str, Any]]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    """Two proposed markets (one voted on), a perp market, and two positions open on it."""
    async with world() as got:
        await proposal(got, 1, likes=2, dislikes=1)
        await proposal(got, 2, likes=0)
        await open_positions(got)
        yield got


def _time(unix_s: int) -> datetime | None:
    return None if unix_s == 0 else datetime.fromtimestamp(unix_s, UTC)


async def chain_rows(w: World) -> dict[str, Rows]:
    """The chain's accounts as the tables should hold them (without updated_slot)."""
    accounts = w.keepers[0].program.account
    markets = {str(a.public_key): {
        "id": m.id, "creator": str(m.creator), "state": m.state, "question": m.question,
        "likes": m.likes, "dislikes": m.dislikes, "yes_reserve": m.yes_reserve,
        "no_reserve": m.no_reserve, "collateral": Decimal(m.collateral),
        "proposed_outcome": m.proposed_outcome, "final_outcome": m.final_outcome,
        "trading_ends_at": _time(m.trading_ends_at),
        "proposal_ends_at": _time(m.proposal_ends_at),
        "dispute_ends_at": _time(m.dispute_ends_at)}
        for a in await accounts["Market"].all() for m in [a.account]}
    perp_markets = {str(a.public_key): {
        "id": p.id, "oracle": str(p.oracle), "long_oi": Decimal(p.long_oi),
        "short_oi": Decimal(p.short_oi), "cumulative_funding": Decimal(p.cumulative_funding),
        "last_funding_ts": _time(p.last_funding_ts)}
        for a in await accounts["PerpMarket"].all() for p in [a.account]}
    positions = {str(a.public_key): {
        "perp_market": str(p.perp_market), "owner": str(p.owner), "side": p.side,
        "size": Decimal(p.size), "entry_price": Decimal(p.entry_price),
        "collateral": Decimal(p.collateral)}
        for a in await accounts["Position"].all() for p in [a.account]}
    return {"markets": markets, "perp_markets": perp_markets, "positions": positions}


async def stored_rows(pool: asyncpg.Pool) -> tuple[dict[str, Rows], dict[str, int]]:
    """What the tables hold (without updated_slot), and each row's updated_slot by address."""
    tables: dict[str, Rows] = {}
    slots: dict[str, int] = {}
    async with pool.acquire() as conn:
        for table in ("markets", "perp_markets", "positions"):
            rows = [dict(r) for r in await conn.fetch(f"SELECT * FROM {table}")]
            slots |= {r["address"]: r.pop("updated_slot") for r in rows}
            tables[table] = {r.pop("address"): r for r in rows}
    return tables, slots


async def test_the_tables_hold_exactly_the_chains_accounts(w: World,
                                                           pool: asyncpg.Pool) -> None:
    k = w.keepers[0]
    before = await w.direct.get_slot()
    assert await snapshot_accounts(k.rpc, pool, k.program) == Outcome.SUCCESS
    stored, slots = await stored_rows(pool)
    expected = await chain_rows(w)
    assert stored == expected
    assert len(expected["markets"]) == 2 and len(expected["perp_markets"]) == 1
    assert sum(p["size"] > 0 for p in expected["positions"].values()) == 2
    assert all(slot >= before.value for slot in slots.values())

    # again: the same rows
    assert await snapshot_accounts(k.rpc, pool, k.program) == Outcome.SUCCESS
    again, _ = await stored_rows(pool)
    assert again == expected


async def test_an_older_snapshot_never_overwrites_a_newer_one(w: World,
                                                              pool: asyncpg.Pool) -> None:
    k = w.keepers[0]
    market = w.net.deployment.market(w.net.users[0].key, 2)
    old = await read_kind(k.rpc, k.program, "Market")
    # a read at a slot shows that slot's end on a cluster, but the localnet's live state: the
    # vote goes into a later slot, so the two snapshots do not share one
    while (await w.direct.get_slot()).value <= old.slot:
        await asyncio.sleep(0.05)
    voter = w.net.users[0]
    await w.send([w.net.client.vote_proposal(voter.key, market, True, stake=STAKE,
                                             voter_token=voter.token)], voter.kp)
    assert await snapshot_accounts(k.rpc, pool, k.program) == Outcome.SUCCESS
    newer, newer_slots = await stored_rows(pool)
    assert newer["markets"][str(market)]["likes"] == STAKE

    async with pool.acquire() as conn:
        await write_snapshot(conn, [old])
    after, after_slots = await stored_rows(pool)
    assert after == newer == await chain_rows(w)
    assert after_slots == newer_slots
    assert old.slot < after_slots[str(market)]


async def test_creators_sharing_a_market_id_are_both_stored(w: World,
                                                            pool: asyncpg.Pool) -> None:
    """A market's address is ["market", creator, id]: two creators may both use an id (users[0]
    has a market 1 already), and an id may be any u64."""
    net, k = w.net, w.keepers[0]
    for creator in net.users[1:3]:
        await w.send([create_market(net, creator, 1), create_market(net, creator, 2**64 - 1)],
                     creator.kp)
    assert await snapshot_accounts(k.rpc, pool, k.program) == Outcome.SUCCESS
    stored, _ = await stored_rows(pool)
    assert stored == await chain_rows(w)
    ids = sorted((m["creator"], m["id"]) for m in stored["markets"].values())
    assert [i for _, i in ids].count(1) == 3 and [i for _, i in ids].count(2**64 - 1) == 2
    for creator in net.users[1:3]:
        for market_id in (1, 2**64 - 1):
            market = str(net.deployment.market(creator.key, market_id))
            assert stored["markets"][market]["id"] == market_id
            assert stored["markets"][market]["creator"] == str(creator.key)

    # the next run upserts the same rows again
    assert await snapshot_accounts(k.rpc, pool, k.program) == Outcome.SUCCESS
    assert (await stored_rows(pool))[0] == stored


async def test_a_perp_market_id_past_i64_is_stored(w: World, pool: asyncpg.Pool) -> None:
    """A perp market's id is any u64: the largest one is stored as it is on chain."""
    k = w.keepers[0]
    perp, _ = await open_positions(w, perp_id=2**64 - 1)
    assert await snapshot_accounts(k.rpc, pool, k.program) == Outcome.SUCCESS
    stored, _ = await stored_rows(pool)
    assert stored == await chain_rows(w)
    assert stored["perp_markets"][str(perp)]["id"] == 2**64 - 1


async def test_an_unreachable_database_is_a_retry(w: World) -> None:
    k = w.keepers[0]
    nowhere = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{free_port_pair()}/x",
                                        min_size=0, max_size=1)
    try:
        assert await snapshot_accounts(k.rpc, nowhere, k.program) == Outcome.RETRY
    finally:
        await nowhere.close()


async def test_an_unreachable_rpc_is_a_retry(w: World, pool: asyncpg.Pool) -> None:
    rpc = RpcClient([Endpoint("down", f"http://127.0.0.1:{free_port_pair()}")], timeout_s=0.2,
                    deadline_s=0.5)
    try:
        assert await snapshot_accounts(rpc, pool, w.keepers[0].program) == Outcome.RETRY
    finally:
        await rpc.close()
    stored, _ = await stored_rows(pool)
    assert stored == {"markets": {}, "perp_markets": {}, "positions": {}}
