"""program/accounts.py, the typed accounts generated from the spec, against the IDL's decoder:
any bytes of any account kind decode to the same values anchorpy reads, and data of no kind or
too short fails as anchorpy's does. (tests/program/test_idl.py fails when the checked-in module
is not what the spec generates.)"""

from __future__ import annotations

import struct

import pytest
from anchorpy import Idl
from anchorpy.coder.accounts import AccountsCoder
from hypothesis import given
from hypothesis import strategies as st

from program import accounts
from program.idl.generate import IDL_PATH, account_layout, account_space
from program.idl.spec import INTERFACE, QUESTION_MAX_LEN, Struct

CODER = AccountsCoder(Idl.from_json(IDL_PATH.read_text()))


def account_data(s: Struct, draw: st.DrawFn) -> bytes:
    """Random data of account `s`: random fields, a valid string in the last one."""
    data = bytearray(accounts.BY_KIND[s.name].DISCRIMINATOR)
    data += draw(st.binary(min_size=account_space(s) - 8, max_size=account_space(s) - 8))
    last, offset = account_layout(s)[-1]
    if last.ty == "string":
        text = draw(st.text(max_size=QUESTION_MAX_LEN // 4)).encode()
        data[offset:offset + 4 + len(text)] = struct.pack("<I", len(text)) + text
    return bytes(data)


@st.composite
def any_account(draw: st.DrawFn) -> bytes:
    return account_data(draw(st.sampled_from(INTERFACE.accounts)), draw)


def test_every_account_of_the_spec_has_its_class() -> None:
    assert [t.KIND for t in accounts.ACCOUNT_TYPES] == [s.name for s in INTERFACE.accounts]
    for t in accounts.ACCOUNT_TYPES:
        assert CODER.acc_name_to_discriminator[t.KIND] == t.DISCRIMINATOR


@given(data=any_account())
def test_an_account_decodes_to_what_anchorpy_reads(data: bytes) -> None:
    typed = accounts.decode(data)
    anchored = CODER.decode(data)
    assert type(anchored).__name__ == typed.KIND
    spec = next(s for s in INTERFACE.accounts if s.name == typed.KIND)
    for f in spec.fields:
        expected = getattr(anchored, f.name)
        assert getattr(typed, f.name) == (tuple(expected) if f.count else expected), f.name
        assert type(getattr(typed, f.name)) is (tuple if f.count else type(expected)), f.name
    assert type(typed).from_bytes(data) == typed


def test_data_of_no_kind_fails_as_anchorpy_does() -> None:
    data = b"\x01" * 300
    with pytest.raises(KeyError):
        CODER.decode(data)
    with pytest.raises(accounts.UnknownAccount):
        accounts.decode(data)
    with pytest.raises(accounts.UnknownAccount, match="not a Market"):
        accounts.Market.from_bytes(accounts.Shares.DISCRIMINATOR + data)


@pytest.mark.parametrize("s", INTERFACE.accounts, ids=lambda s: s.name)
def test_data_too_short_fails(s: Struct) -> None:
    short = accounts.BY_KIND[s.name].DISCRIMINATOR + b"\x00" * 8
    with pytest.raises(struct.error):
        accounts.decode(short)
    with pytest.raises(struct.error):
        accounts.decode(b"\x00" * 7)


def test_a_string_past_the_data_fails() -> None:
    market = next(s for s in INTERFACE.accounts if s.name == "Market")
    _, offset = account_layout(market)[-1]
    data = bytearray(accounts.Market.DISCRIMINATOR + b"\x00" * (account_space(market) - 8))
    data[offset:offset + 4] = struct.pack("<I", len(data))
    with pytest.raises(struct.error, match="runs past"):
        accounts.decode(bytes(data))
