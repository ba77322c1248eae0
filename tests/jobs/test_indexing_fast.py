"""The fast event decoding (`decode_logs`) is anchorpy's (`decode_logs_anchorpy`), exactly:
the same events, indices and JSON data, and the same errors, on any event of the IDL and on any
sequence of log lines, well-formed or not."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from solders.keypair import Keypair

from jobs.indexing import decode_logs, decode_logs_anchorpy, event_parser
from program.idl.generate import IDL_PATH

PROGRAM = Keypair().pubkey()
OTHER = Keypair().pubkey()
PARSER = event_parser(PROGRAM)
EVENTS = json.loads(IDL_PATH.read_text())["events"]
RANGES = {"u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1),
          "u64": (0, 2**64 - 1), "i8": (-(2**7), 2**7 - 1), "i16": (-(2**15), 2**15 - 1),
          "i32": (-(2**31), 2**31 - 1), "i64": (-(2**63), 2**63 - 1)}
FORMATS = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q", "i8": "b", "i16": "h", "i32": "i",
           "i64": "q"}


def field_bytes(ty: str) -> st.SearchStrategy[bytes]:
    """Borsh bytes of one field of IDL type `ty`, written independently of both decoders;
    now and then a value a strict decoder must refuse (a bool byte of 2, bad UTF-8)."""
    if ty in RANGES:
        lo, hi = RANGES[ty]
        return st.integers(lo, hi).map(lambda v: struct.pack("<" + FORMATS[ty], v))
    if ty == "bool":
        return st.sampled_from([b"\x00", b"\x01", b"\x01", b"\x00", b"\x02", b"\xff"])
    if ty == "publicKey":
        return st.binary(min_size=32, max_size=32)
    if ty == "string":
        text = st.text(max_size=40).map(lambda s: s.encode())
        raw = st.one_of(text, text, st.binary(max_size=10))
        return raw.map(lambda b: struct.pack("<I", len(b)) + b)
    raise AssertionError(f"an IDL event field type the test lacks: {ty}")


@st.composite
def event_bytes(draw: st.DrawFn) -> bytes:
    event = draw(st.sampled_from(EVENTS))
    body = b"".join(draw(field_bytes(f["type"])) for f in event["fields"])
    data = hashlib.sha256(f"event:{event['name']}".encode()).digest()[:8] + body
    cut = draw(st.sampled_from(["whole"] * 6 + ["short", "long"]))
    if cut == "short":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif cut == "long":
        data += draw(st.binary(min_size=1, max_size=8))
    return data


def data_line(data: bytes) -> str:
    return "Program data: " + base64.b64encode(data).decode()


def outcome(decode: Any, logs: list[str]) -> Any:
    try:
        return decode(PARSER, logs)
    except Exception as e:  # the same exception type, or the same answer
        return type(e)


@settings(max_examples=600, deadline=None)
@given(st.lists(event_bytes(), min_size=1, max_size=4))
def test_every_event_of_the_idl_decodes_as_anchorpy_decodes_it(events: list[bytes]) -> None:
    logs = [f"Program {PROGRAM} invoke [1]", *map(data_line, events),
            f"Program {PROGRAM} consumed 5000 of 200000 compute units",
            f"Program {PROGRAM} success"]
    assert outcome(decode_logs, logs) == outcome(decode_logs_anchorpy, logs)


def lines() -> st.SearchStrategy[str]:
    program = st.sampled_from([str(PROGRAM), str(OTHER), "11111111111111111111111111111111"])
    return st.one_of(
        st.builds(lambda p, d: f"Program {p} invoke [{d}]", program, st.integers(1, 4)),
        st.builds(lambda p: f"Program {p} success", program),
        st.builds(lambda p: f"Program {p} failed: custom program error: 0x1770", program),
        st.builds(lambda p: f"Program {p} consumed 100 of 200000 compute units", program),
        event_bytes().map(data_line),
        st.binary(max_size=20).map(data_line),
        st.binary(max_size=20).map(lambda b: "Program log: " + base64.b64encode(b).decode()),
        st.sampled_from(["Program log: Instruction: Deposit", "Program data: not base64!",
                         "Program log: nothing", "Log truncated", "", "Program",
                         "Program data: ", "invoke"]),
        st.text(max_size=30))


@settings(max_examples=600, deadline=None)
@given(st.lists(lines(), max_size=14))
def test_any_log_sequence_gives_what_anchorpy_gives(logs: list[str]) -> None:
    assert outcome(decode_logs, logs) == outcome(decode_logs_anchorpy, logs)


@settings(max_examples=300, deadline=None)
@given(st.lists(lines(), max_size=14))
def test_inside_the_programs_own_invocation_too(body: list[str]) -> None:
    logs = [f"Program {PROGRAM} invoke [1]", *body, f"Program {PROGRAM} success"]
    assert outcome(decode_logs, logs) == outcome(decode_logs_anchorpy, logs)


def test_event_json_keeps_integers_beyond_64_bits_exact() -> None:
    from store.events import _json

    for data in ({"b": 1, "a": "é", "n": 2**64 - 1}, {"big": 2**70, "neg": -(2**64)}):
        assert json.loads(_json(data)) == data

