"""The indexer's decisions, apart from I/O: what to fetch, in which batches, and what a
transaction's logs say.

- `next_before` and `pending_signatures` plan a backfill from the pages of
  `getSignaturesForAddress` (newest first, paged backwards with `before`, stopping at the
  stored cursor): the signatures still to index, oldest first, failed transactions left out
  (their effects were rolled back, and so were their events).
- `batches` cuts them into batches written one transaction each; a batch's last signature
  becomes the cursor, so a run stopped anywhere resumes after the last written batch.
- `decode_logs` and `transaction_events` turn a transaction's log lines into its events, as
  anchorpy's `EventParser` over the IDL reads them (the same walk of the logs, fixed layouts
  decoded with `struct`, anchorpy's coder for anything else; `decode_logs_anchorpy` is the
  reference the tests hold it to), as JSON-safe dicts.

JSON representation of event data: field names as anchorpy gives them (snake_case: `is_buy`,
`perp_market`); public keys as base-58 strings; integers stay JSON integers, exactly, whatever
their size (u64, i64). JSON has no integer limit, Python's `json` and PostgreSQL's `jsonb`
(which stores numbers as `numeric`) keep them exact, so `(data->>'amount')::numeric` is the
on-chain value. (A reader that parses JSON numbers as doubles, JavaScript say, must not.)
"""

from __future__ import annotations

import binascii
import dataclasses
import functools
import struct
from base64 import b64decode
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple

from anchorpy import EventParser
from anchorpy.coder.coder import Coder
from anchorpy.program.common import Event
from solders.pubkey import Pubkey

from program.idl import generate, spec
from program.idl.anchor import load_idl
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


@functools.cache
def _coder() -> Coder:
    return Coder(load_idl())


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


# ---- the fast path: the program's own log walk and fixed layouts -------------------------------
# anchorpy's EventParser walks the logs with a list copy per line and decodes each event through
# construct (~50 µs an event). `decode_logs` walks them the same way, step for step, and decodes
# each event from its IDL layout with `struct`; anything the fast decoder does not take exactly
# (a type it lacks, a bool byte other than 0 or 1, a string that is not UTF-8, a length that
# does not add up) goes to anchorpy's coder, so the answer is always anchorpy's.
PROGRAM_LOG, PROGRAM_DATA = "Program log: ", "Program data: "
_STRUCT_OF = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q", "i8": "b", "i16": "h", "i32": "i",
              "i64": "q", "bool": "B", "publicKey": "32s"}
_U32 = struct.Struct("<I")

FieldDecoder = Callable[[bytes, int], tuple[Any, int]]


@dataclass(frozen=True)
class _Layout:
    """One event's fields: all fixed-size (`whole` unpacks them at once) or a list of steps."""

    name: str
    fields: tuple[tuple[str, str], ...]  # (snake_case name, IDL type)
    whole: struct.Struct | None  # when every field has a fixed size

    @functools.cached_property
    def _names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)

    @functools.cached_property
    def _keys(self) -> tuple[str, ...]:
        return tuple(name for name, ty in self.fields if ty == "publicKey")

    @functools.cached_property
    def _bools(self) -> tuple[str, ...]:
        return tuple(name for name, ty in self.fields if ty == "bool")

    def decode(self, data: bytes) -> dict[str, Any] | None:
        """The event's fields as JSON-safe data, or None when this cannot decode it exactly."""
        if self.whole is not None:
            if len(data) != 8 + self.whole.size:
                return None
            out = dict(zip(self._names, self.whole.unpack_from(data, 8), strict=True))
            for name in self._keys:
                out[name] = str(Pubkey.from_bytes(out[name]))
            for name in self._bools:
                if out[name] > 1:
                    return None
                out[name] = out[name] == 1
            return out
        return self._decode_steps(data)

    def _decode_steps(self, data: bytes) -> dict[str, Any] | None:
        offset, out = 8, {}
        for name, ty in self.fields:
            if ty == "string":
                if offset + 4 > len(data):
                    return None
                (length,) = _U32.unpack_from(data, offset)
                end = offset + 4 + length
                if end > len(data):
                    return None
                try:
                    out[name] = data[offset + 4:end].decode("utf-8")
                except UnicodeDecodeError:
                    return None
                offset = end
                continue
            one = struct.Struct("<" + _STRUCT_OF[ty])
            if offset + one.size > len(data):
                return None
            (value,) = one.unpack_from(data, offset)
            offset += one.size
            if ty == "publicKey":
                value = str(Pubkey.from_bytes(value))
            elif ty == "bool":
                if value > 1:
                    return None
                value = value == 1
            out[name] = value
        return out if offset == len(data) else None


@functools.cache
def _layouts() -> dict[bytes, _Layout]:
    """The fast layouts of the interface's events whose fields are all of types it knows, by
    discriminator (from program/idl/spec.py, whence the IDL is generated)."""
    out = {}
    for event in spec.EVENTS:
        fields = tuple((f.name, f.ty) for f in event.fields)
        if not all(ty in _STRUCT_OF or ty == "string" for _, ty in fields):
            continue
        whole = None
        if all(ty != "string" for _, ty in fields):
            whole = struct.Struct("<" + "".join(_STRUCT_OF[ty] for _, ty in fields))
        out[generate.discriminator("event", event.name)] = _Layout(event.name, fields, whole)
    return out


def _event(parser: EventParser, encoded: str) -> tuple[str, dict[str, Any]] | None:
    """(name, JSON-safe data) of one logged event, or None where anchorpy finds none."""
    try:
        data = b64decode(encoded)
    except binascii.Error:
        return None
    layout = _layouts().get(data[:8])
    if layout is not None:
        fields = layout.decode(data)
        if fields is not None:
            return layout.name, fields
    event = parser.coder.events.parse(data)
    if event is None:
        return None
    fields = json_safe(event.data)
    if not isinstance(fields, dict):
        raise TypeError(f"event {event.name} decoded to {fields!r}, not a struct")
    return event.name, fields


def decode_logs(parser: EventParser, logs: Sequence[str]) -> list[DecodedEvent]:
    """The program's events in a transaction's log lines, in order. Only `Program data:` lines
    logged while the program itself executes count (not a CPI callee's lines).

    The walk is anchorpy's `EventParser.parse_logs`, step for step (the same stack of
    invocations, the same lines taken as events, the same errors on malformed logs), without
    its copy of the list per line; each event is decoded as `_event` says."""
    if not logs:
        return []
    program = str(parser.program_id)
    invoke = f"Program {program} invoke"
    try:
        stack = [logs[0].split("Program ")[1].split(" invoke [")[0]]
    except IndexError as e:
        raise ValueError("Could not find program invocation log line") from e
    out: list[DecodedEvent] = []
    for log in logs[1:]:
        if stack and stack[-1] == program:
            prefix = (PROGRAM_DATA if log.startswith(PROGRAM_DATA)
                      else PROGRAM_LOG if log.startswith(PROGRAM_LOG) else None)
            if prefix is not None:
                found = _event(parser, log[len(prefix):])
                if found is not None:
                    out.append(DecodedEvent(len(out), *found))
                continue
        # anchorpy's handle_system_log: the text before the first ":" is "Program X success"
        # (pop), starts with "Program <this program> invoke" (push it), or holds "invoke"
        # (push a CPI); the substring tests only skip the lines that can be none of these
        start = log.partition(":")[0]
        if "success" in start:
            words = start.split(" ")
            if len(words) == 3 and words[0] == "Program" and words[2] == "success":
                stack.pop()
                continue
        if "invoke" in start:
            stack.append(program if start.startswith(invoke) else "cpi")
    return out


def decode_logs_anchorpy(parser: EventParser, logs: Sequence[str]) -> list[DecodedEvent]:
    """`decode_logs` through anchorpy alone: the reference the fast path is tested against."""
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
    """The events of one getTransaction result (only its meta, slot and block time are read)
    as rows to store; none for a failed transaction (its logs may show events emitted before it
    failed, all rolled back)."""
    meta = transaction.get("meta") or {}
    if meta.get("err") is not None:
        return []
    block_time = transaction.get("blockTime")
    when = None if block_time is None else datetime.fromtimestamp(int(block_time), UTC)
    slot = int(transaction["slot"])
    return [EventRow(signature, e.event_index, slot, when, e.name, e.data)
            for e in decode_logs(parser, meta.get("logMessages") or [])]

