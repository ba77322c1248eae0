"""The indexer's planning and decoding, without servers."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from jobs.indexing import (
    DecodedEvent,
    SignatureInfo,
    _coder,
    batch_cursor,
    batches,
    decode_logs,
    event_parser,
    json_safe,
    next_before,
    pending_signatures,
    transaction_events,
)
from store.events import Cursor

PROGRAM = Keypair().pubkey()
OTHER = Keypair().pubkey()
U64_MAX = 2**64 - 1
I64_MIN = -(2**63)


def sig(n: int, *, failed: bool = False) -> SignatureInfo:
    return SignatureInfo(f"sig{n}", slot=100 + n, failed=failed, block_time=1_700_000_000 + n)


def newest_first(*ns: int, failed: tuple[int, ...] = ()) -> list[SignatureInfo]:
    return [sig(n, failed=n in failed) for n in ns]


# ---- planning -----------------------------------------------------------------------------------
def test_signature_info_from_rpc_json() -> None:
    ok = SignatureInfo.from_json({"signature": "abc", "slot": 7, "err": None, "memo": None,
                                  "blockTime": 1234, "confirmationStatus": "finalized"})
    assert ok == SignatureInfo("abc", 7, failed=False, block_time=1234)
    bad = SignatureInfo.from_json({"signature": "def", "slot": 8,
                                   "err": {"InstructionError": [0, {"Custom": 6003}]}})
    assert bad.failed and bad.block_time is None


def test_next_before_pages_on_until_the_history_or_the_cursor_ends() -> None:
    full = newest_first(9, 8, 7)
    assert next_before(full, 3, None) == "sig7"
    assert next_before(full, 3, "sig2") == "sig7"
    assert next_before(full, 4, None) is None  # a short page: nothing older
    assert next_before(full, 3, "sig8") is None  # the cursor is in it
    assert next_before([], 3, None) is None


def test_pending_signatures_are_oldest_first_up_to_the_cursor_without_failures() -> None:
    pages = [newest_first(9, 8, 7), newest_first(6, 5, 4, failed=(5,)), newest_first(3, 2, 1)]
    assert [s.signature for s in pending_signatures(pages, "sig3")] == [
        "sig4", "sig6", "sig7", "sig8", "sig9"]
    assert [s.signature for s in pending_signatures(pages, None)] == [
        f"sig{n}" for n in (1, 2, 3, 4, 6, 7, 8, 9)]
    assert pending_signatures(pages, "sig9") == []
    assert pending_signatures([], None) == []
    assert pending_signatures([newest_first(2, 1, failed=(1, 2))], None) == []


def test_pending_signatures_keep_a_repeated_signature_once() -> None:
    pages = [newest_first(5, 4, 3), newest_first(3, 2)]  # overlapping pages
    assert [s.signature for s in pending_signatures(pages, None)] == [
        "sig2", "sig3", "sig4", "sig5"]


def test_batches_are_consecutive_and_end_at_their_cursor() -> None:
    todo = pending_signatures([newest_first(7, 6, 5, 4, 3, 2, 1)], None)
    cut = batches(todo, 3)
    assert [[s.signature for s in b] for b in cut] == [
        ["sig1", "sig2", "sig3"], ["sig4", "sig5", "sig6"], ["sig7"]]
    assert [batch_cursor(b) for b in cut] == [
        Cursor("sig3", 103), Cursor("sig6", 106), Cursor("sig7", 107)]
    assert batches([], 5) == []
    assert batches(todo, 100) == [todo]
    with pytest.raises(ValueError, match="at least 1"):
        batches(todo, 0)


# ---- decoding -----------------------------------------------------------------------------------
def event_bytes(name: str, **fields: Any) -> bytes:
    coder = _coder().events
    discriminator = next(d for d, n in coder.discriminators.items() if n == name)
    struct = coder.layouts[name].subcon.subcon  # Renamed(_DataclassStruct(CStruct))
    return discriminator + struct.build(fields)


def data_line(name: str, **fields: Any) -> str:
    return "Program data: " + base64.b64encode(event_bytes(name, **fields)).decode()


def invoke(program: Pubkey, *inner: str, depth: int = 1) -> list[str]:
    return [f"Program {program} invoke [{depth}]", *inner,
            f"Program {program} consumed 1000 of 200000 compute units",
            f"Program {program} success"]


MARKET, TRADER = Keypair().pubkey(), Keypair().pubkey()
TRADED = {"market": MARKET, "trader": TRADER, "outcome": 1, "is_buy": True, "amount": U64_MAX,
          "shares": 12345, "fee": 0, "yes_reserve": 2**63, "no_reserve": 1}
FUNDING = {"perp_market": MARKET, "rate_ppm": -7, "intervals": 2, "price": 100_000_000,
           "cumulative_funding": I64_MIN, "cumulative_funding_short": -1,
           "last_funding_ts": 1_700_000_000, "long_oi": 0, "short_oi": U64_MAX}


def as_json(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Pubkey) else v for k, v in fields.items()}


def test_decode_logs_gives_each_event_its_index_and_exact_json_data() -> None:
    logs = invoke(PROGRAM, "Program log: Instruction: Buy", data_line("Traded", **TRADED),
                  data_line("FundingUpdated", **FUNDING))
    events = decode_logs(event_parser(PROGRAM), logs)
    assert events == [DecodedEvent(0, "Traded", as_json(TRADED)),
                      DecodedEvent(1, "FundingUpdated", as_json(FUNDING))]
    # through JSON text and back, the big and negative integers stay exact
    again = json.loads(json.dumps(events[1].data))
    assert again["short_oi"] == U64_MAX and again["cumulative_funding"] == I64_MIN
    assert events[0].data["market"] == str(MARKET)


def test_decode_logs_ignores_other_programs_lines_and_counts_across_instructions() -> None:
    logs = ["Program ComputeBudget111111111111111111111111111111 invoke [1]",
            "Program ComputeBudget111111111111111111111111111111 success",
            # another program's data line, in its own instruction and in a CPI from ours
            *invoke(OTHER, data_line("Traded", **TRADED)),
            f"Program {PROGRAM} invoke [1]",
            data_line("Traded", **TRADED),
            *invoke(OTHER, data_line("FundingUpdated", **FUNDING), depth=2),
            f"Program {PROGRAM} success",
            *invoke(PROGRAM, data_line("FundingUpdated", **FUNDING))]
    events = decode_logs(event_parser(PROGRAM), logs)
    assert [(e.event_index, e.name) for e in events] == [(0, "Traded"), (1, "FundingUpdated")]
    assert decode_logs(event_parser(PROGRAM), []) == []
    assert decode_logs(event_parser(PROGRAM), invoke(PROGRAM, "Program log: nothing")) == []


def test_transaction_events_from_get_transaction_json() -> None:
    tx = {"slot": 321, "blockTime": 1_700_000_123, "transaction": {},
          "meta": {"err": None, "logMessages": invoke(PROGRAM, data_line("Traded", **TRADED))}}
    rows = transaction_events(event_parser(PROGRAM), "sigA", tx)
    assert len(rows) == 1
    row = rows[0]
    assert (row.signature, row.event_index, row.slot, row.name) == ("sigA", 0, 321, "Traded")
    assert row.block_time == datetime(2023, 11, 14, 22, 15, 23, tzinfo=UTC)
    assert row.data == as_json(TRADED)
    # a failed transaction's events were rolled back with it
    failed = {**tx, "meta": {**tx["meta"], "err": {"InstructionError": [0, {"Custom": 6003}]}}}
    assert transaction_events(event_parser(PROGRAM), "sigB", failed) == []
    no_time = {**tx, "blockTime": None}
    assert transaction_events(event_parser(PROGRAM), "sigC", no_time)[0].block_time is None
    no_logs = {"slot": 1, "blockTime": None, "meta": {"err": None, "logMessages": None}}
    assert transaction_events(event_parser(PROGRAM), "sigD", no_logs) == []


class Side(Enum):
    LONG = 0


@dataclasses.dataclass
class Inner:
    key: Pubkey
    raw: bytes


def test_json_safe_shapes() -> None:
    key = Keypair().pubkey()
    value = {"a": [Inner(key, b"\x01\x02")], "b": (U64_MAX, -1), "c": Side.LONG, "d": None,
             "e": True}
    assert json_safe(value) == {"a": [{"key": str(key), "raw": [1, 2]}], "b": [U64_MAX, -1],
                                "c": "LONG", "d": None, "e": True}
    with pytest.raises(TypeError, match="no JSON form"):
        json_safe(1.5)
