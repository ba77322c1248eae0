"""`snapshot_accounts`: every Market, PerpMarket and Position account of the program, read from
the chain and written into PostgreSQL (store/accounts.py), so that the tables follow the
accounts even where no event says what changed (reserves after a trade, open interest, a
position's collateral).

One run reads each kind with one getProgramAccounts (its discriminator as a filter, the slot it
was read at from the answer's context) and writes all three in one transaction; a row read at a
later slot by another run is kept. Running it again, or two at once, is harmless.
"""

from __future__ import annotations

import asyncpg
import structlog
from anchorpy import Program
from solana.rpc.commitment import Commitment

from chain.client import RpcClient
from jobs.errors import maps_errors
from jobs.outcome import Outcome
from jobs.registry import SNAPSHOT_ACCOUNTS
from program.accounts import BY_KIND
from store.accounts import PROJECTIONS, KindSnapshot, write_snapshot

DEFAULT_COMMITMENT = "confirmed"

log = structlog.get_logger(__name__)


async def read_kind(rpc: RpcClient, program: Program, kind: str, *,
                    commitment: str = DEFAULT_COMMITMENT) -> KindSnapshot:
    """Every `kind` account of `program`, decoded, and the slot it was read at."""
    slot, accounts = await rpc.program_accounts_at(program, BY_KIND[kind],
                                                   commitment=Commitment(commitment))
    return KindSnapshot(kind, slot, [(str(address), account) for address, account in accounts])


@maps_errors(SNAPSHOT_ACCOUNTS)
async def snapshot_accounts(rpc: RpcClient, pool: asyncpg.Pool, program: Program, *,
                            commitment: str = DEFAULT_COMMITMENT) -> Outcome:
    """Read every Market, PerpMarket and Position of `program` and upsert them (see the module
    docstring). `success` once written, `retry` when an endpoint or the database is
    unreachable, `failed` when a node refuses the request or an account cannot be decoded."""
    snapshot = [await read_kind(rpc, program, kind, commitment=commitment)
                for kind in PROJECTIONS]
    async with pool.acquire() as conn:
        await write_snapshot(conn, snapshot)
    log.info("snapshot_accounts.done", **{s.kind: len(s.accounts) for s in snapshot})
    return Outcome.SUCCESS
