"""Queueing `post_price` the moment a job meets a pull oracle stale, rather than at the
reconciler's next pass: a liquidation or a funding update refused as stale is retried soon,
and should find the account posted by then.

The jobs that read oracles (`scan_positions`, `liquidate_position`, `update_funding`) call
`request_posts` with the markets whose oracle the program refuses (or would) as stale. It
queues only where the worker gave the job its Redis queue (`JobDeps.queue`), and only the
posts `jobs.due` finds due (a pull account, old by its market's limits), under the ids the
reconciler gives them, so a market's post is queued once whoever asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import structlog
from solders.pubkey import Pubkey

from chain.prices import OracleLimits
from jobs.deps import JobDeps
from jobs.due import read_posts_due
from jobs.registry import enqueue

# the program's refusals of an oracle that a fresher post cures (chain/prices.py)
STALE = frozenset({"StaleOracle", "StalePublishTime"})

log = structlog.get_logger(__name__)


async def request_posts(deps: JobDeps,
                        stale: Iterable[tuple[Pubkey, Pubkey, OracleLimits]]) -> int:
    """Queue `post_price` for each perp market of `stale` (the market, its oracle and the
    limits it copied) whose pull oracle is due a post; how many were not queued already.
    Nothing without a queue (a job run outside a worker)."""
    if deps.queue is None:
        return 0
    due = await read_posts_due(deps, stale)
    queued = await asyncio.gather(*(enqueue(deps.queue, d.job, str(d.target), stage=d.stage)
                                    for d in due))
    count = sum(job is not None for job in queued)
    if due:
        log.info("stale pull oracles: posts requested", due=len(due), queued=count)
    return count
