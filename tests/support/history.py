"""The chain's events derived independently of jobs/indexing.py, and the indexer's store
checked against them."""

from __future__ import annotations

import json
from typing import Any, Protocol

import asyncpg
from anchorpy import EventParser
from anchorpy.program.common import Event
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Finalized
from solders.pubkey import Pubkey

from chain.localnet import Localnet
from store.events import Cursor, read_cursor


class ChainReader(Protocol):
    """A localnet and a client reading its history."""

    @property
    def net(self) -> Localnet: ...

    @property
    def client(self) -> AsyncClient: ...


# (name, signature, event_index, data) with Pubkeys as strings: what the store must hold
Expected = list[tuple[str, str, int, dict[str, Any]]]


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Pubkey) else value


async def chain_events(chain: ChainReader) -> Expected:
    """Every event of every successful program transaction, oldest first."""
    client, program_id = chain.client, chain.net.program_id
    newest_first: list[Any] = []
    before = None
    while True:
        page = (await client.get_signatures_for_address(program_id, before=before, limit=1000,
                                                        commitment=Finalized)).value
        newest_first += page
        if len(page) < 1000:
            break
        before = page[-1].signature
    parser = EventParser(program_id, chain.net.protocol.chain.program.coder)
    out: Expected = []
    for info in reversed(newest_first):
        tx = (await client.get_transaction(info.signature, commitment=Finalized,
                                           max_supported_transaction_version=0)).value
        assert tx is not None and tx.transaction.meta is not None
        if tx.transaction.meta.err is not None:
            assert info.err is not None
            continue
        events: list[Event] = []
        parser.parse_logs(tx.transaction.meta.log_messages or [], events.append)
        out += [(e.name, str(info.signature), i,
                 {k: _plain(v) for k, v in vars(e.data).items()})
                for i, e in enumerate(events)]
    return out


async def stored_events(pool: asyncpg.Pool) -> Expected:
    """The stored events, as (name, signature, event index, data)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT name, signature, event_index, slot, data::text AS data "
                                "FROM events")
    return [(r["name"], r["signature"], r["event_index"], json.loads(r["data"])) for r in rows]


def by_key(events: Expected) -> list[tuple[str, str, int, dict[str, Any]]]:
    return sorted(events, key=lambda e: (e[1], e[2]))


async def assert_exactly_the_chain(chain: ChainReader, pool: asyncpg.Pool) -> Expected:
    expected = await chain_events(chain)
    stored = await stored_events(pool)
    assert len(stored) == len(expected)
    assert by_key(stored) == by_key(expected)
    async with pool.acquire() as conn:
        cursor = await read_cursor(conn)
    newest_ok = next(s for s in (await chain.client.get_signatures_for_address(
        chain.net.program_id, limit=1000, commitment=Finalized)).value if s.err is None)
    assert cursor == Cursor(str(newest_ok.signature), newest_ok.slot)
    return expected
