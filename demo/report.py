"""What the demo shows: a progress line while the fleet works, and at the end a summary from
PostgreSQL checked against the chain itself.

The check reads the program's whole transaction history from the localnet (not through the
indexer's cursor) and decodes its events; the stored events must be exactly those, and the
summary's counts are the chain's counts of the same events.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from redis.asyncio import Redis
from solders.pubkey import Pubkey

from chain.client import RpcClient
from jobs.indexing import decode_logs, event_parser
from jobs.registry import ROLES, queue_name

# the summary's lines: (label, event name)
SUMMARY = (
    ("markets approved", "MarketApproved"),
    ("markets rejected", "MarketRejected"),
    ("markets finalized", "MarketFinalized"),
    ("funding updates", "FundingUpdated"),
    ("liquidations", "PositionLiquidated"),
    ("config changes applied", "ConfigApplied"),
)
PAGE = 1000
FETCH_AT_ONCE = 64


@dataclass(frozen=True)
class Progress:
    """One progress line's figures."""

    seconds: float
    slot: int
    events: Counter[str]
    queued: dict[str, int]

    def line(self) -> str:
        counts = " ".join(f"{label.split()[-1]} {self.events[name]}"
                          for label, name in SUMMARY)
        queues = " ".join(f"{role} {n}" for role, n in self.queued.items())
        return (f"t={self.seconds:5.0f}s slot {self.slot:>6} | events indexed "
                f"{sum(self.events.values()):>6} | {counts} | queued: {queues}")


async def stored_counts(pool: asyncpg.Pool) -> Counter[str]:
    rows = await pool.fetch("SELECT name, count(*) AS n FROM events GROUP BY name")
    return Counter({r["name"]: int(r["n"]) for r in rows})


async def progress(seconds: float, rpc: RpcClient, pool: asyncpg.Pool,
                   redis: Redis) -> Progress:
    slot = int(await rpc.request("getSlot", []))
    queued = {role: int(await redis.zcard(queue_name(role))) for role in ROLES}
    return Progress(seconds, slot, await stored_counts(pool), queued)


async def chain_events(rpc: RpcClient, program_id: Pubkey, *,
                       with_markets: bool = False) -> set[tuple[str, int, str]]:
    """(signature, event index, name) of every event in the program's history; with
    `with_markets`, a liquidation's name carries its perp market after a colon (`summary`
    counts them per oracle kind)."""
    signatures: list[str] = []
    before: str | None = None
    while True:
        options: dict[str, object] = {"limit": PAGE}
        if before is not None:
            options["before"] = before
        page = await rpc.request("getSignaturesForAddress", [str(program_id), options])
        signatures += [item["signature"] for item in page if item.get("err") is None]
        if len(page) < PAGE:
            break
        before = page[-1]["signature"]
    parser = event_parser(program_id)

    async def events_of(signature: str) -> set[tuple[str, int, str]]:
        tx = await rpc.request("getTransaction", [signature, {
            "encoding": "json", "maxSupportedTransactionVersion": 0}])
        logs = (tx.get("meta") or {}).get("logMessages") or []
        return {(signature, e.event_index,
                 _named(e.name, e.data) if with_markets else e.name)
                for e in decode_logs(parser, logs)}

    found: set[tuple[str, int, str]] = set()
    for start in range(0, len(signatures), FETCH_AT_ONCE):
        for events in await asyncio.gather(*map(events_of,
                                                signatures[start:start + FETCH_AT_ONCE])):
            found |= events
    return found


LIQUIDATED = "PositionLiquidated"


def _named(name: str, data: Mapping[str, Any]) -> str:
    """An event's name, and for a liquidation its perp market: so that the check against the
    chain covers which market each liquidation was in, as well as how many there were."""
    return f"{name}:{data['perp_market']}" if name == LIQUIDATED else name


def _counts(named: Iterable[str]) -> Counter[str]:
    return Counter(n.partition(":")[0] for n in named)


@dataclass(frozen=True)
class Summary:
    stored: Counter[str]
    on_chain: Counter[str]
    missing: int  # on chain, not stored
    extra: int  # stored, not on chain
    # liquidations per label of their market's oracle kind: (indexed, on chain)
    liquidations_by_kind: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def confirmed(self) -> bool:
        return self.missing == 0 and self.extra == 0

    def text(self) -> str:
        rows = [("events", sum(self.stored.values()), sum(self.on_chain.values())),
                *((label, self.stored[name], self.on_chain[name]) for label, name in SUMMARY),
                *((f"liquidations on {kind}", indexed, on_chain)
                  for kind, (indexed, on_chain) in self.liquidations_by_kind.items())]
        width = max(len(label) for label, _, _ in rows) + 2  # one column of labels
        lines = [f"{'':<{width}}{'indexed':>10}{'on chain':>10}",
                 *(f"{label:<{width}}{indexed:>10}{on_chain:>10}"
                   for label, indexed, on_chain in rows)]
        verdict = ("checked against the chain: every event indexed once, none missing"
                   if self.confirmed else
                   f"CHECK FAILED: {self.missing} events on chain not indexed, {self.extra} "
                   f"indexed events not on chain")
        return "\n".join([*lines, verdict])


async def summary(rpc: RpcClient, pool: asyncpg.Pool, program_id: Pubkey,
                  kinds: Mapping[Pubkey, str] | None = None) -> Summary:
    """The stored events against the chain's, and the liquidations in the perp markets of
    `kinds` (market -> its oracle kind's label) per label."""
    on_chain = await chain_events(rpc, program_id, with_markets=True)
    rows = await pool.fetch("SELECT signature, event_index, name, data FROM events")
    stored = {(r["signature"], int(r["event_index"]),
               _named(r["name"], json.loads(r["data"]) if isinstance(r["data"], str)
                      else r["data"])) for r in rows}
    by_kind: dict[str, tuple[int, int]] = {}
    for market, kind in (kinds or {}).items():
        named = f"{LIQUIDATED}:{market}"
        indexed, chained = by_kind.get(kind, (0, 0))
        by_kind[kind] = (indexed + sum(n == named for *_, n in stored),
                         chained + sum(n == named for *_, n in on_chain))
    return Summary(_counts(n for *_, n in stored), _counts(n for *_, n in on_chain),
                   len(on_chain - stored), len(stored - on_chain), by_kind)
