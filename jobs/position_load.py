"""The open positions read in partitions: one `getProgramAccounts` per side and per prefix of
the position's owner, so that no single answer exceeds what a hosted provider caps.

A Position's address is the PDA of (perp market, owner), so owners are as many as positions
and their leading bytes spread them evenly: 256 partitions (one owner byte) put a million
positions at about 2,000 per side per answer, 65,536 (two bytes) at about 8. Each answer's
accounts are decoded into numpy records on a worker thread (`asyncio.to_thread`): decoding a
large book on the event loop stalled it for about 0.45 s per 100,000 positions. Before that,
each answer is parsed in the helper process (chain/answer_process.py), which sends back only
its addresses and data as two blobs: parsing the answers on the loop stalled it too.
"""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
from based58 import b58encode
from solders.pubkey import Pubkey

from chain.answer_process import AccountsBlob, accounts_blob
from jobs.deps import JobDeps
from jobs.liquidation_plan import LONG, SHORT
from program import layouts

MARKET_OFFSET = layouts.offset(layouts.POSITION, "perp_market")
OWNER_OFFSET = layouts.offset(layouts.POSITION, "owner")
SIDE_OFFSET = layouts.offset(layouts.POSITION, "side")
PARTITIONS = (1, 256, 65_536)  # no owner byte, one, two
# answers asked at once: enough to keep the node busy, few enough not to trip a rate limit
# in a burst (each still waits for its endpoint's turn)
IN_FLIGHT = 8


def owner_prefixes(partitions: int) -> list[bytes]:
    """The owner prefix of each partition: none for 1, each byte for 256, each pair of bytes
    for 65,536."""
    if partitions not in PARTITIONS:
        raise ValueError(f"partitions must be one of {PARTITIONS}, not {partitions}")
    width = PARTITIONS.index(partitions)
    return [bytes(p) for p in itertools.product(range(256), repeat=width)]


def _memcmp(offset: int, value: bytes) -> dict[str, object]:
    return {"memcmp": {"offset": offset, "bytes": b58encode(value).decode(),
                       "encoding": "base58"}}


def _decode(blob: AccountsBlob) -> tuple[list[Pubkey], np.ndarray]:
    """An answer's accounts as (addresses, POSITION records), in its order."""
    if len(blob.data) != blob.count * layouts.POSITION.itemsize:
        raise ValueError(f"a Position answer of {blob.count} accounts has {len(blob.data)} "
                         f"bytes of data, not {layouts.POSITION.itemsize} each")
    keys = [Pubkey(blob.addresses[i:i + 32]) for i in range(0, len(blob.addresses), 32)]
    return keys, layouts.positions(blob.data)


async def load_positions(deps: JobDeps, perp_market: Pubkey | None = None, *,
                         partitions: int = 1) -> tuple[list[Pubkey], np.ndarray]:
    """The open positions (of `perp_market`, or all) as (addresses, POSITION records), read
    in `partitions` owner partitions per side."""
    prefixes = owner_prefixes(partitions)
    gate = asyncio.Semaphore(IN_FLIGHT)
    wire = [_memcmp(0, layouts.discriminator("Position")),
            *([] if perp_market is None else [_memcmp(MARKET_OFFSET, bytes(perp_market))]),
            {"dataSize": layouts.POSITION.itemsize}]

    async def partition(side: int, prefix: bytes) -> tuple[list[Pubkey], np.ndarray]:
        by_owner = [_memcmp(OWNER_OFFSET, prefix)] if prefix else []
        async with gate:
            answer = await deps.rpc.request("getProgramAccounts", [
                str(deps.program.program_id),
                {"encoding": "base64", "commitment": deps.rpc.commitment,
                 "filters": [*wire, _memcmp(SIDE_OFFSET, bytes([side])), *by_owner]}],
                reduce=accounts_blob)
        return await asyncio.to_thread(_decode, answer)

    parts = await asyncio.gather(*(partition(side, prefix)
                                   for side in (LONG, SHORT) for prefix in prefixes))
    return await asyncio.to_thread(_joined, parts)


def _joined(parts: list[tuple[list[Pubkey], np.ndarray]]) -> tuple[list[Pubkey], np.ndarray]:
    """The partitions' answers as one (addresses, records)."""
    keys = [key for part_keys, _ in parts for key in part_keys]
    records = np.concatenate([records for _, records in parts]) if parts \
        else np.zeros(0, layouts.POSITION)
    return keys, records
