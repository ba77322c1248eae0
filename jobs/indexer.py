"""`index_events`: the program's events from the chain into PostgreSQL, never a gap, never a
duplicate, resumable.

One run: take the indexer's advisory lock (another run holding it is doing this work: the
outcome is `already_done`); read the cursor; walk getSignaturesForAddress backwards from the
newest signature until the cursor (`until`, paging with `before`); fetch the new transactions
with getTransaction, TRANSACTIONS_PER_REQUEST calls in each JSON-RPC batch request and a
bounded number of requests at a time, the next batch while the current one is written; write
each batch oldest first — events, projections and the cursor in one PostgreSQL transaction,
the cursor moved only from where this run found it. A run stopped anywhere (cancelled, killed,
the database gone) has written whole batches only, and the next run walks back to its cursor
and goes on from there.

Reads use `finalized` commitment by default: an event is never indexed from a block that could
still be dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from solders.pubkey import Pubkey

from chain.client import RpcClient
from jobs.errors import Retryable, maps_errors
from jobs.indexing import (
    MAX_SIGNATURES_PER_PAGE,
    SignatureInfo,
    batch_cursor,
    batches,
    event_parser,
    next_before,
    pending_signatures,
    transaction_events,
)
from jobs.outcome import Outcome
from jobs.registry import INDEX_EVENTS
from metrics import definitions as metric
from store.events import Cursor, EventRow, read_cursor, write_batch

DEFAULT_BATCH_SIZE = 200
DEFAULT_CONCURRENCY = 16  # JSON-RPC requests in flight
# getTransaction calls per JSON-RPC batch request: a request's overhead (HTTP, the client's
# and the node's dispatch) was most of the indexer's time with one call per request
TRANSACTIONS_PER_REQUEST = 20
# the advisory lock's key: a fixed 64-bit number of Keepernet's own ("kpindexr" in ASCII)
LOCK_KEY = int.from_bytes(b"kpindexr", "big")

log = structlog.get_logger(__name__)


class TransactionMissing(Retryable):
    """getTransaction had nothing for a signature getSignaturesForAddress listed (an endpoint
    behind the others, say): try again later rather than leave a gap."""


async def index_events(rpc: RpcClient, pool: asyncpg.Pool, program_id: Pubkey, *,
                       batch_size: int = DEFAULT_BATCH_SIZE,
                       concurrency: int = DEFAULT_CONCURRENCY,
                       page_limit: int = MAX_SIGNATURES_PER_PAGE,
                       commitment: str = "finalized") -> Outcome:
    """Index every transaction of `program_id` since the stored cursor (see the module
    docstring). `success` when batches were written, `not_needed` when there was nothing
    new, `already_done` when another run holds the lock, `retry` when an endpoint or the
    database failed on the way (whole batches kept), `failed` when a node refuses a request
    or an event cannot be decoded."""
    if batch_size < 1 or concurrency < 1 or not 1 <= page_limit <= MAX_SIGNATURES_PER_PAGE:
        raise ValueError("batch_size and concurrency must be positive, page_limit 1..1000")
    return await _locked_index(rpc, pool, program_id, batch_size, concurrency, page_limit,
                               commitment)


@maps_errors(INDEX_EVENTS)
async def _locked_index(rpc: RpcClient, pool: asyncpg.Pool, program_id: Pubkey,
                        batch_size: int, concurrency: int, page_limit: int,
                        commitment: str) -> Outcome:
    async with pool.acquire() as lock_conn:
        if not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            log.info("index_events.locked")
            return Outcome.ALREADY_DONE
        try:
            return await _index(rpc, pool, program_id, batch_size, concurrency, page_limit,
                                commitment)
        finally:
            # a connection that broke took the lock with it; asyncpg's reset on release
            # (pg_advisory_unlock_all) covers the rest
            with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await lock_conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def _index(rpc: RpcClient, pool: asyncpg.Pool, program_id: Pubkey, batch_size: int,
                 concurrency: int, page_limit: int, commitment: str) -> Outcome:
    async with pool.acquire() as conn:
        cursor = await read_cursor(conn)
    todo = await _new_signatures(rpc, program_id, cursor, page_limit, commitment)
    if not todo:
        return Outcome.NOT_NEEDED
    parser = event_parser(program_id)
    limit = asyncio.Semaphore(concurrency)
    # base64: the transaction itself is not read (only meta and slot), and its JSON form costs
    # the node and this parser most of an answer
    config = {"encoding": "base64", "maxSupportedTransactionVersion": 0,
              "commitment": commitment}

    async def fetch(chunk: Sequence[SignatureInfo]) -> list[EventRow]:
        async with limit:
            txs = await rpc.request_batch("getTransaction",
                                          [[info.signature, config] for info in chunk])
        rows = []
        for info, tx in zip(chunk, txs, strict=True):
            if tx is None:
                raise TransactionMissing(f"getTransaction {info.signature}: not found")
            rows += transaction_events(parser, info.signature, tx)
        return rows

    async def fetch_batch(batch: Sequence[SignatureInfo]) -> list[EventRow]:
        per_chunk = await asyncio.gather(*(
            fetch(batch[i:i + TRANSACTIONS_PER_REQUEST])
            for i in range(0, len(batch), TRANSACTIONS_PER_REQUEST)))
        return [row for rows in per_chunk for row in rows]

    planned = batches(todo, batch_size)
    previous = None if cursor is None else cursor.signature
    written = 0
    upcoming: asyncio.Task[list[EventRow]] | None = asyncio.create_task(fetch_batch(planned[0]))
    try:
        for i, batch in enumerate(planned):
            assert upcoming is not None
            rows = await upcoming
            # fetch the next batch while this one is written
            upcoming = (asyncio.create_task(fetch_batch(planned[i + 1]))
                        if i + 1 < len(planned) else None)
            new_cursor = batch_cursor(batch)
            async with pool.acquire() as conn:
                await write_batch(conn, rows, new_cursor, previous=previous)
            previous = new_cursor.signature
            written += len(rows)
            metric.indexer_events.inc(len(rows))
    finally:
        if upcoming is not None:
            upcoming.cancel()
            await asyncio.wait([upcoming])  # its outcome is moot; this task's own stands
    log.info("index_events.done", transactions=len(todo), events=written,
             batches=len(planned), cursor=previous)
    return Outcome.SUCCESS


async def _new_signatures(rpc: RpcClient, program_id: Pubkey, cursor: Cursor | None,
                          page_limit: int, commitment: str) -> list[SignatureInfo]:
    """The program's signatures after `cursor`, oldest first, failed ones left out."""
    until = None if cursor is None else cursor.signature
    pages: list[list[SignatureInfo]] = []
    before: str | None = None
    while True:
        config: dict[str, Any] = {"limit": page_limit, "commitment": commitment}
        if before is not None:
            config["before"] = before
        if until is not None:
            config["until"] = until
        answer = await rpc.request("getSignaturesForAddress", [str(program_id), config])
        page = [SignatureInfo.from_json(item) for item in answer]
        pages.append(page)
        before = next_before(page, page_limit, until)
        if before is None:
            return pending_signatures(pages, until)
