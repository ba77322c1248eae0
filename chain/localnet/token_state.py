"""SPL token accounts and mints as a validator's account-decoder reads them.

Decodes the base state of token and mint accounts of both token programs (spl-token and
spl-token-2022), gives amounts in the `UiTokenAmount` shape (uiAmountString formatted from the
integer, as Agave's `real_number_string_trimmed`, never through a float), and turns accounts
into `jsonParsed` data. Token-2022 accounts with extensions are not parsed (their extensions
would be missing): they fall back to base64, as a validator does for what it cannot parse.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

TOKEN_PROGRAMS = {TOKEN_PROGRAM_ID: "spl-token", TOKEN_2022_PROGRAM_ID: "spl-token-2022"}
ACCOUNT_LEN = 165
MINT_LEN = 82
MULTISIG_LEN = 355
# token-2022 puts an account-type byte right after the 165 bytes of an account's base state
_ACCOUNT_TYPE_OFFSET = 165
_TYPE_MINT, _TYPE_ACCOUNT = 1, 2
_STATES = ("uninitialized", "initialized", "frozen")


@dataclass(frozen=True)
class TokenAccount:
    """The base state of a token account."""

    mint: Pubkey
    owner: Pubkey
    amount: int
    delegate: Pubkey | None
    state: int  # 0 uninitialized, 1 initialized, 2 frozen
    native_reserve: int | None  # rent-exempt reserve of a wrapped-SOL account
    delegated_amount: int
    close_authority: Pubkey | None


@dataclass(frozen=True)
class Mint:
    """The base state of a mint."""

    mint_authority: Pubkey | None
    supply: int
    decimals: int
    is_initialized: bool
    freeze_authority: Pubkey | None


def _coption_key(data: bytes, offset: int) -> Pubkey | None:
    return Pubkey(data[offset + 4:offset + 36]) if data[offset:offset + 4] != b"\0\0\0\0" \
        else None


def _kind(account: Account) -> int | None:
    """_TYPE_ACCOUNT or _TYPE_MINT for a token program's account of that kind, else None.
    Token-2022 tells the kind of an extended account by its type byte."""
    if account.owner not in TOKEN_PROGRAMS:
        return None
    size = len(account.data)
    if size == ACCOUNT_LEN:
        return _TYPE_ACCOUNT
    if size == MINT_LEN:
        return _TYPE_MINT
    if account.owner == TOKEN_2022_PROGRAM_ID and size > _ACCOUNT_TYPE_OFFSET \
            and size != MULTISIG_LEN:
        kind = account.data[_ACCOUNT_TYPE_OFFSET]
        return kind if kind in (_TYPE_MINT, _TYPE_ACCOUNT) else None
    return None


def token_account(account: Account | None) -> TokenAccount | None:
    """The token account's state, or None if `account` is not an initialized token account."""
    if account is None or _kind(account) != _TYPE_ACCOUNT:
        return None
    data = bytes(account.data)
    state = data[108]
    if state == 0 or state >= len(_STATES):
        return None
    amount, = struct.unpack_from("<Q", data, 64)
    native = struct.unpack_from("<Q", data, 113)[0] if data[109:113] != b"\0\0\0\0" else None
    return TokenAccount(Pubkey(data[:32]), Pubkey(data[32:64]), amount, _coption_key(data, 72),
                        state, native, struct.unpack_from("<Q", data, 121)[0],
                        _coption_key(data, 129))


def mint(account: Account | None) -> Mint | None:
    """The mint's state, or None if `account` is not an initialized mint."""
    if account is None or _kind(account) != _TYPE_MINT:
        return None
    data = bytes(account.data)
    if not data[45]:
        return None
    return Mint(_coption_key(data, 0), struct.unpack_from("<Q", data, 36)[0], data[44], True,
                _coption_key(data, 46))


def ui_amount_string(amount: int, decimals: int) -> str:
    """The amount in whole tokens, trailing zeros trimmed (Agave's real_number_string_trimmed)."""
    if not decimals:
        return str(amount)
    digits = str(amount).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}".rstrip("0").rstrip(".")


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    """A `UiTokenAmount`: {amount, decimals, uiAmount, uiAmountString}."""
    return {"amount": str(amount), "decimals": decimals, "uiAmount": amount / 10**decimals,
            "uiAmountString": ui_amount_string(amount, decimals)}


def parsed_account_data(account: Account,
                        get_account: Callable[[Pubkey], Account | None]) -> Any | None:
    """`jsonParsed` data of a token account or mint ({program, parsed: {type, info}, space}),
    or None when the account-decoder would not parse it (the caller falls back to base64).
    `get_account` finds a token account's mint, for its decimals."""
    program = TOKEN_PROGRAMS.get(account.owner)
    if program is None or len(account.data) > ACCOUNT_LEN:  # extensions: not parsed
        return None
    info: dict[str, Any]
    state = token_account(account)
    if state is not None:
        token_mint = mint(get_account(state.mint))
        if token_mint is None:  # a validator needs the mint's decimals to parse
            return None
        kind, info = "account", token_account_info(state, token_mint.decimals)
    else:
        mint_state = mint(account)
        if mint_state is None:
            return None
        kind, info = "mint", mint_info(mint_state)
    return {"program": program, "parsed": {"type": kind, "info": info},
            "space": len(account.data)}


def token_account_info(state: TokenAccount, decimals: int) -> dict[str, Any]:
    """A `UiTokenAccount`; optional fields absent when unset, as a validator skips them."""
    info: dict[str, Any] = {"isNative": state.native_reserve is not None,
                            "mint": str(state.mint), "owner": str(state.owner),
                            "state": _STATES[state.state],
                            "tokenAmount": ui_token_amount(state.amount, decimals)}
    if state.delegate is not None:
        info["delegate"] = str(state.delegate)
        info["delegatedAmount"] = ui_token_amount(state.delegated_amount, decimals)
    if state.native_reserve is not None:
        info["rentExemptReserve"] = ui_token_amount(state.native_reserve, decimals)
    if state.close_authority is not None:
        info["closeAuthority"] = str(state.close_authority)
    return info


def mint_info(state: Mint) -> dict[str, Any]:
    """A `UiMint`: authorities are null when unset."""
    return {"decimals": state.decimals, "freezeAuthority": _optional(state.freeze_authority),
            "isInitialized": state.is_initialized,
            "mintAuthority": _optional(state.mint_authority), "supply": str(state.supply)}


def _optional(key: Pubkey | None) -> str | None:
    return None if key is None else str(key)
