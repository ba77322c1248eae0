"""The IDL and C-header generator, pure: no SVM."""

from __future__ import annotations

import hashlib
import re

import pytest
from anchorpy.coder.accounts import _account_discriminator
from anchorpy.coder.common import _sighash
from anchorpy.coder.event import _event_discriminator
from pyheck import snake as anchorpy_snake

from program.idl import generate
from program.idl.generate import LayoutError, account_layout, account_space, camel
from program.idl.spec import CONFIG as CONFIG_ACCOUNT
from program.idl.spec import INTERFACE, MARKET, PENDING_CONFIG, SHARES, VOTE, F, Struct


def sha8(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:8]


def c_defines(header: str, prefix: str) -> dict[str, int]:
    """`#define <prefix>_NAME 0x...ULL` constants of a generated header."""
    return {name: int(value, 16) for name, value in
            re.findall(rf"#define ({prefix}_\w+) (0x[0-9a-f]{{16}})ULL", header)}


def all_names() -> set[str]:
    """Every snake_case name the spec gives an instruction, account, argument or field."""
    names = {ix.name for ix in INTERFACE.instructions}
    names |= {a.name for ix in INTERFACE.instructions for a in ix.accounts}
    names |= {f.name for ix in INTERFACE.instructions for f in ix.args}
    names |= {f.name for s in (*INTERFACE.accounts, *INTERFACE.types, *INTERFACE.events)
              for f in s.fields}
    return names


# ---- discriminators -------------------------------------------------------------------------
def test_discriminator_is_sha256_prefix() -> None:
    assert generate.discriminator("global", "buy") == sha8("global:buy")
    assert generate.discriminator("account", "Market") == sha8("account:Market")
    assert generate.discriminator("event", "Traded") == sha8("event:Traded")


def test_discriminators_match_anchorpy() -> None:
    for ix in INTERFACE.instructions:
        # anchorpy hashes the snake_case form of the IDL's camelCase name
        assert generate.discriminator("global", ix.name) == _sighash(
            anchorpy_snake(camel(ix.name)))
    for s in INTERFACE.accounts:
        assert generate.discriminator("account", s.name) == _account_discriminator(s.name)
    for s in INTERFACE.events:
        assert generate.discriminator("event", s.name) == _event_discriminator(s.name)


def test_c_discriminators_are_little_endian() -> None:
    cases = [
        (generate.instructions_h(INTERFACE), "IX", "global",
         [(ix.name, ix.name) for ix in INTERFACE.instructions]),
        (generate.accounts_h(INTERFACE), "DISC", "account",
         [(s.name, generate.snake(s.name)) for s in INTERFACE.accounts]),
        (generate.events_h(INTERFACE), "EVENT", "event",
         [(s.name, generate.snake(s.name)) for s in INTERFACE.events]),
    ]
    for header, prefix, namespace, names in cases:
        expected = {f"{prefix}_{c_name.upper()}": int.from_bytes(sha8(f"{namespace}:{name}"),
                                                                 "little")
                    for name, c_name in names}
        assert c_defines(header, prefix) == expected


# ---- names ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("snake_name", "expected"), [
    ("buy", "buy"),
    ("trading_ends_at", "tradingEndsAt"),
    ("max_oracle_conf_bps", "maxOracleConfBps"),
    ("is_buy", "isBuy"),
])
def test_camel(snake_name: str, expected: str) -> None:
    assert camel(snake_name) == expected


def test_camel_round_trips_through_anchorpy() -> None:
    """anchorpy turns IDL names back into snake_case: it must get the spec's names."""
    for name in all_names():
        assert anchorpy_snake(camel(name)) == name, name


def test_upper_and_snake() -> None:
    assert generate.upper("MarketCreated") == "MARKET_CREATED"
    assert generate.upper("trade_fee_bps") == "TRADE_FEE_BPS"
    assert generate.snake("ConfigParams") == "config_params"


# ---- account layouts ------------------------------------------------------------------------
def test_layout_refuses_misaligned_field() -> None:
    bad = Struct("Bad", (F("flag", "u8"), F("amount", "u64")))
    with pytest.raises(LayoutError, match=r"Bad\.amount at offset 9 "):
        account_layout(bad)


def test_layout_refuses_string_before_last() -> None:
    bad = Struct("Bad", (F("name", "string", max_len=8), F("bump", "u8")))
    with pytest.raises(LayoutError, match="must be the last field"):
        account_layout(bad)


def test_layout_refuses_nested_struct() -> None:
    with pytest.raises(LayoutError, match="primitives and strings only"):
        account_layout(Struct("Bad", (F("params", "ConfigParams"),)))


def test_layout_offsets_follow_the_discriminator() -> None:
    offsets = {f.name: off for f, off in account_layout(SHARES)}
    assert offsets == {"market": 8, "owner": 40, "yes": 72, "no": 80, "bump": 88}
    assert dict((f.name, off) for f, off in account_layout(MARKET))["question"] == 344


@pytest.mark.parametrize(("struct", "space"), [
    (CONFIG_ACCOUNT, 528), (MARKET, 552), (SHARES, 96), (VOTE, 88), (PENDING_CONFIG, 440),
])
def test_account_space(struct: Struct, space: int) -> None:
    assert account_space(struct) == space


def test_account_space_rounds_up_to_eight() -> None:
    assert account_space(Struct("One", (F("x", "u8"),))) == 16
    assert account_space(Struct("Text", (F("s", "string", max_len=3),))) == 16
    assert account_space(Struct("Exact", (F("x", "u64"),))) == 16


def test_generated_struct_sizes_are_asserted() -> None:
    header = generate.accounts_h(INTERFACE)
    for s in INTERFACE.accounts:
        assert f'_Static_assert(sizeof({s.name}) == {account_space(s)}, ' in header
        assert f"#define {generate.upper(s.name)}_SPACE {account_space(s)}" in header


# ---- IDL ------------------------------------------------------------------------------------
def test_idl_spells_names_in_camel_case() -> None:
    idl = generate.idl(INTERFACE)
    create = next(ix for ix in idl["instructions"] if ix["name"] == "createMarket")
    assert [a["name"] for a in create["args"]] == ["marketId", "question", "tradingEndsAt"]
    assert create["accounts"][0] == {"name": "creator", "isMut": True, "isSigner": True}
    assert idl["errors"][0] == {"code": 6000, "name": "Unauthorized",
                                "msg": "The signer is not allowed to do this"}
