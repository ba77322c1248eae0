"""The indexer's decisions, apart from I/O: what to fetch, in which batches, and what a
transaction's logs say.

- `next_before` and `pending_signatures` plan a backfill from the pages of
  `getSignaturesForAddress` (newest first, paged backwards with `before`, stopping at the
  stored cursor): the signatures still to index, oldest first, failed transactions left out
  (their effects were rolled back, and so were their events).
- `batches` cuts them into batches written one transaction each; a batch's last signature
  becomes the cursor, so a run stopped anywhere resumes after the last written batch.
- `decode_logs` and `transaction_events` turn a transaction's log lines into its events,
  decoded with anchorpy's `EventParser` over the IDL, as JSON-safe dicts.

JSON representation of event data: field names as anchorpy gives them (snake_case: `is_buy`,
`perp_market`); public keys as base-58 strings; integers stay JSON integers, exactly, whatever
their size (u64, i64). JSON has no integer limit, Python's `json` and PostgreSQL's `jsonb`
(which stores numbers as `numeric`) keep them exact, so `(data->>'amount')::numeric` is the
on-chain value. (A reader that parses JSON numbers as doubles, JavaScript say, must not.)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from anchorpy import EventParser, Idl
from anchorpy.coder.coder import Coder
from anchorpy.program.common import Event
from solders.pubkey import Pubkey

from store.events import Cursor, EventRow

# what getSignaturesForAddress gives at most per call (Solana's limit)
MAX_SIGNATURES_PER_PAGE = 1000


@dataclass(frozen=True)
class SignatureInfo:
    """One entry of getSignaturesForAddress."""

    signature: str
    slot: int
    failed: bool = False
    block_time: int | None = None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> SignatureInfo:
        return cls(signature=str(item["signature"]), slot=int(item["slot"]),
                   failed=item.get("err") is not None, block_time=item.get("blockTime"))


def next_before(page: Sequence[SignatureInfo], limit: int, cursor: str | None) -> str | None:
    """Where the walk backwards goes on after `page` (the `before` of the next call), or None
    when it is over: the page is short (the address's history is exhausted, or the node stopped
    at `until`) or reaches the cursor."""
    if len(page) < limit or any(s.signature == cursor for s in page):
        return None
    return page[-1].signature


def pending_signatures(pages: Iterable[Sequence[SignatureInfo]],
                       cursor: str | None) -> list[SignatureInfo]:
    """The signatures newer than `cursor` (all of them without one) in chain order, oldest
    first, failed transactions left out. `pages` are newest first, each newest first, as the
    walk backwards fetched them; anything at or after the cursor in them is ignored, so a node
    that does not honour `until` costs nothing but bandwidth. A signature listed twice (pages
    that overlap) is kept once."""
    newest_first: list[SignatureInfo] = []
    seen: set[str] = set()
    for page in pages:
        for info in page:
            if info.signature == cursor:
                return _oldest_first(newest_first)
            if info.signature not in seen:
                seen.add(info.signature)
                newest_first.append(info)
    return _oldest_first(newest_first)


def _oldest_first(newest_first: list[SignatureInfo]) -> list[SignatureInfo]:
    return [s for s in reversed(newest_first) if not s.failed]


def batches(signatures: Sequence[SignatureInfo], size: int) -> list[list[SignatureInfo]]:
    """`signatures` (oldest first) in consecutive batches of at most `size`."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    return [list(signatures[i:i + size]) for i in range(0, len(signatures), size)]


def batch_cursor(batch: Sequence[SignatureInfo]) -> Cursor:
    """The cursor once `batch` is written: its last (newest) signature."""
    last = batch[-1]
    return Cursor(last.signature, last.slot)


# ---- decoding -----------------------------------------------------------------------------------

class DecodedEvent(NamedTuple):
    """One event of a transaction: its place among the transaction's events, its IDL name and
    its fields as JSON-safe data."""

    event_index: int
    name: str
    data: dict[str, Any]


# the IDL program/svm.py loads too (not imported from there: it brings the SVM stack)
IDL_PATH = Path(__file__).resolve().parents[1] / "program" / "idl" / "keepernet.json"


@functools.cache
def _coder() -> Coder:
    return Coder(Idl.from_json(IDL_PATH.read_text()))


def event_parser(program_id: Pubkey) -> EventParser:
    """anchorpy's EventParser for the program's IDL at `program_id`."""
    return EventParser(program_id, _coder())


def json_safe(value: Any) -> Any:
    """An event field as JSON: Pubkeys as base-58 strings, integers exact, structs (dataclasses)
    as dicts of their fields, enums by name, bytes as lists of integers."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Pubkey):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return list(value)
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    # anchorpy's IDL enums are borsh-construct enum variants: dataclass-like with `index`
    kind = getattr(type(value), "kind", None)
    if isinstance(kind, str):
        fields = {k: json_safe(v) for k, v in vars(value).items() if not k.startswith("_")}
        return {kind: fields} if fields else kind
    raise TypeError(f"no JSON form for an event field of type {type(value).__name__}: {value!r}")


def decode_logs(parser: EventParser, logs: Sequence[str]) -> list[DecodedEvent]:
    """The program's events in a transaction's log lines, in order. Only `Program data:` lines
    logged while the program itself executes count (not a CPI callee's lines)."""
    if not logs:
        return []
    found: list[Event] = []
    parser.parse_logs(list(logs), found.append)
    out = []
    for index, event in enumerate(found):
        data = json_safe(event.data)
        if not isinstance(data, dict):
            raise TypeError(f"event {event.name} decoded to {data!r}, not a struct")
        out.append(DecodedEvent(index, event.name, data))
    return out


def transaction_events(parser: EventParser, signature: str,
                       transaction: Mapping[str, Any]) -> list[EventRow]:
    """The events of one getTransaction result (JSON encoding) as rows to store; none for a
    failed transaction (its logs may show events emitted before it failed, all rolled back)."""
    meta = transaction.get("meta") or {}
    if meta.get("err") is not None:
        return []
    block_time = transaction.get("blockTime")
    when = None if block_time is None else datetime.fromtimestamp(int(block_time), UTC)
    slot = int(transaction["slot"])
    return [EventRow(signature, e.event_index, slot, when, e.name, e.data)
            for e in decode_logs(parser, meta.get("logMessages") or [])]

