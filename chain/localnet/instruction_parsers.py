"""Instructions of well-known programs decoded as Agave's transaction-status parsers do.

`parse_instruction(program_id, accounts, data)` gives `{program, parsed}` for the system,
SPL token (base instructions, both token programs), associated token account, memo and address
lookup table programs, or None where a validator answers the instruction partially decoded:
other programs (compute budget included: Agave has no parser for it), token-2022 extension
instructions, and data or accounts a parser refuses. Field names are Agave's.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from solders.address_lookup_table_account import ID as LOOKUP_TABLE_PROGRAM
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM
from spl.memo.constants import MEMO_PROGRAM_ID
from spl.token.constants import (
    ASSOCIATED_TOKEN_PROGRAM_ID,
    TOKEN_2022_PROGRAM_ID,
    TOKEN_PROGRAM_ID,
)

from chain.localnet.token_state import ui_token_amount

MEMO_V1_PROGRAM_ID = Pubkey.from_string("Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo")
_AUTHORITY_TYPES = ("mintTokens", "freezeAccount", "accountOwner", "closeAccount")


class NotParsable(Exception):
    """The instruction is not one the program's parser knows, or lacks accounts."""


class _Reader:
    """Little-endian fields read off instruction data, as bincode and the token program
    pack them."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise NotParsable("data too short")
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack("<Q", self.take(8))[0])

    def pubkey(self) -> str:
        return str(Pubkey(self.take(32)))

    def string(self) -> str:
        """A bincode string: u64 length, then UTF-8."""
        try:
            return self.take(self.u64()).decode()
        except UnicodeDecodeError as e:
            raise NotParsable("seed is not UTF-8") from e

    def option_pubkey(self) -> str | None:
        """The token program's COption<Pubkey> in instruction data: a one-byte tag."""
        tag = self.u8()
        if tag > 1:
            raise NotParsable("bad option tag")
        return self.pubkey() if tag else None


def _need(accounts: list[str], count: int) -> None:
    if len(accounts) < count:
        raise NotParsable("instruction lacks accounts")


def _named(accounts: list[str], *names: str) -> dict[str, Any]:
    _need(accounts, len(names))
    return dict(zip(names, accounts, strict=False))


# ---- system ---------------------------------------------------------------------------------
def _system(data: bytes, accounts: list[str]) -> dict[str, Any]:
    r = _Reader(data)
    tag = r.u32()
    kind: str
    info: dict[str, Any]
    if tag == 0:
        kind, info = "createAccount", _named(accounts, "source", "newAccount")
        info |= {"lamports": r.u64(), "space": r.u64(), "owner": r.pubkey()}
    elif tag == 1:
        kind, info = "assign", _named(accounts, "account") | {"owner": r.pubkey()}
    elif tag == 2:
        kind, info = "transfer", _named(accounts, "source", "destination")
        info["lamports"] = r.u64()
    elif tag == 3:
        kind, info = "createAccountWithSeed", _named(accounts, "source", "newAccount")
        info |= {"base": r.pubkey(), "seed": r.string(), "lamports": r.u64(),
                 "space": r.u64(), "owner": r.pubkey()}
    elif tag == 4:
        kind, info = "advanceNonce", _named(accounts, "nonceAccount", "recentBlockhashesSysvar",
                                            "nonceAuthority")
    elif tag == 5:
        kind, info = "withdrawFromNonce", _named(
            accounts, "nonceAccount", "destination", "recentBlockhashesSysvar", "rentSysvar",
            "nonceAuthority")
        info["lamports"] = r.u64()
    elif tag == 6:
        kind, info = "initializeNonce", _named(accounts, "nonceAccount",
                                               "recentBlockhashesSysvar", "rentSysvar")
        info["nonceAuthority"] = r.pubkey()
    elif tag == 7:
        kind, info = "authorizeNonce", _named(accounts, "nonceAccount", "nonceAuthority")
        info["newAuthorized"] = r.pubkey()
    elif tag == 8:
        kind, info = "allocate", _named(accounts, "account") | {"space": r.u64()}
    elif tag == 9:
        _need(accounts, 2)
        kind, info = "allocateWithSeed", {"account": accounts[0], "base": r.pubkey(),
                                          "seed": r.string(), "space": r.u64(),
                                          "owner": r.pubkey()}
    elif tag == 10:
        _need(accounts, 2)
        kind, info = "assignWithSeed", {"account": accounts[0], "base": r.pubkey(),
                                        "seed": r.string(), "owner": r.pubkey()}
    elif tag == 11:
        kind, info = "transferWithSeed", _named(accounts, "source", "sourceBase", "destination")
        info |= {"lamports": r.u64(), "sourceSeed": r.string(), "sourceOwner": r.pubkey()}
    elif tag == 12:
        kind, info = "upgradeNonce", _named(accounts, "nonceAccount")
    else:
        raise NotParsable(f"system instruction {tag}")
    return {"type": kind, "info": info}


# ---- SPL token ------------------------------------------------------------------------------
def _signers(info: dict[str, Any], accounts: list[str], index: int, single: str,
             multisig: str) -> dict[str, Any]:
    """The authority at `index`, or a multisig and its signers after it (Agave's
    parse_signers)."""
    if len(accounts) > index + 1:
        info[multisig] = accounts[index]
        info["signers"] = accounts[index + 1:]
    else:
        info[single] = accounts[index]
    return info


def _token(data: bytes, accounts: list[str]) -> dict[str, Any]:
    r = _Reader(data)
    tag = r.u8()
    kind: str
    info: dict[str, Any]
    names: tuple[str, ...]
    if tag in (0, 20):  # InitializeMint, InitializeMint2
        names = ("mint", "rentSysvar") if tag == 0 else ("mint",)
        _need(accounts, len(names))
        info = {"mint": accounts[0], "decimals": r.u8(), "mintAuthority": r.pubkey()}
        freeze = r.option_pubkey()
        if tag == 0:
            info["rentSysvar"] = accounts[1]
        if freeze is not None:
            info["freezeAuthority"] = freeze
        kind = "initializeMint" if tag == 0 else "initializeMint2"
    elif tag == 1:
        kind, info = "initializeAccount", _named(accounts, "account", "mint", "owner",
                                                 "rentSysvar")
    elif tag in (16, 18):  # InitializeAccount2, InitializeAccount3
        names = ("account", "mint", "rentSysvar") if tag == 16 else ("account", "mint")
        info = _named(accounts, *names) | {"owner": r.pubkey()}
        kind = "initializeAccount2" if tag == 16 else "initializeAccount3"
    elif tag in (2, 19):  # InitializeMultisig, InitializeMultisig2
        first_signer = 2 if tag == 2 else 1
        _need(accounts, first_signer + 1)
        info = {"multisig": accounts[0], "signers": accounts[first_signer:], "m": r.u8()}
        if tag == 2:
            info["rentSysvar"] = accounts[1]
        kind = "initializeMultisig" if tag == 2 else "initializeMultisig2"
    elif tag in _AMOUNT_INSTRUCTIONS:
        kind, names, single, multisig = _AMOUNT_INSTRUCTIONS[tag]
        _need(accounts, len(names) + 1)
        info = dict(zip(names, accounts, strict=False)) | {"amount": str(r.u64())}
        _signers(info, accounts, len(names), single, multisig)
    elif tag in _CHECKED_INSTRUCTIONS:
        kind, names, single, multisig = _CHECKED_INSTRUCTIONS[tag]
        _need(accounts, len(names) + 1)
        amount, decimals = r.u64(), r.u8()
        info = dict(zip(names, accounts, strict=False)) | {
            "tokenAmount": ui_token_amount(amount, decimals)}
        _signers(info, accounts, len(names), single, multisig)
    elif tag in _PLAIN_INSTRUCTIONS:
        kind, names, single, multisig = _PLAIN_INSTRUCTIONS[tag]
        _need(accounts, len(names) + 1)
        info = _signers(dict(zip(names, accounts, strict=False)), accounts, len(names),
                        single, multisig)
    elif tag == 6:
        _need(accounts, 2)
        authority_type = r.u8()
        if authority_type >= len(_AUTHORITY_TYPES):
            raise NotParsable("token-2022 authority type")
        owned = "account" if authority_type >= 2 else "mint"
        info = {owned: accounts[0], "authorityType": _AUTHORITY_TYPES[authority_type],
                "newAuthority": r.option_pubkey()}
        kind = "setAuthority"
        _signers(info, accounts, 1, "authority", "multisigAuthority")
    elif tag in (17, 22):
        kind = "syncNative" if tag == 17 else "initializeImmutableOwner"
        info = _named(accounts, "account")
    elif tag == 21:
        kind, info = "getAccountDataSize", _named(accounts, "mint")
        if len(data) > 1:  # token-2022 extension types: not parsed here
            raise NotParsable("extension types")
    elif tag == 23:
        kind, info = "amountToUiAmount", _named(accounts, "mint") | {"amount": str(r.u64())}
    elif tag == 24:
        try:
            ui_amount = data[1:].decode()
        except UnicodeDecodeError as e:
            raise NotParsable("ui amount is not UTF-8") from e
        kind, info = "uiAmountToAmount", _named(accounts, "mint") | {"uiAmount": ui_amount}
    else:
        raise NotParsable(f"token instruction {tag}")
    return {"type": kind, "info": info}


# tag: (type, leading account names, authority field, multisig authority field)
_TokenLayout = tuple[str, tuple[str, ...], str, str]
_AMOUNT_INSTRUCTIONS: dict[int, _TokenLayout] = {
    3: ("transfer", ("source", "destination"), "authority", "multisigAuthority"),
    4: ("approve", ("source", "delegate"), "owner", "multisigOwner"),
    7: ("mintTo", ("mint", "account"), "mintAuthority", "multisigMintAuthority"),
    8: ("burn", ("account", "mint"), "authority", "multisigAuthority"),
}
_CHECKED_INSTRUCTIONS: dict[int, _TokenLayout] = {
    12: ("transferChecked", ("source", "mint", "destination"), "authority",
         "multisigAuthority"),
    13: ("approveChecked", ("source", "mint", "delegate"), "owner", "multisigOwner"),
    14: ("mintToChecked", ("mint", "account"), "mintAuthority", "multisigMintAuthority"),
    15: ("burnChecked", ("account", "mint"), "authority", "multisigAuthority"),
}
_PLAIN_INSTRUCTIONS: dict[int, _TokenLayout] = {
    5: ("revoke", ("source",), "owner", "multisigOwner"),
    9: ("closeAccount", ("account", "destination"), "owner", "multisigOwner"),
    10: ("freezeAccount", ("account", "mint"), "freezeAuthority", "multisigFreezeAuthority"),
    11: ("thawAccount", ("account", "mint"), "freezeAuthority", "multisigFreezeAuthority"),
}


# ---- associated token account, memo, lookup tables ------------------------------------------
def _associated_token(data: bytes, accounts: list[str]) -> dict[str, Any]:
    if len(data) > 1 or (data and data[0] > 2):
        raise NotParsable("associated token instruction")
    tag = data[0] if data else 0
    if tag == 2:
        return {"type": "recoverNested", "info": _named(
            accounts, "nestedSource", "nestedMint", "destination", "nestedOwner", "ownerMint",
            "wallet", "tokenProgram")}
    return {"type": "createIdempotent" if tag else "create", "info": _named(
        accounts, "source", "account", "wallet", "mint", "systemProgram", "tokenProgram")}


def _memo(data: bytes, accounts: list[str]) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as e:
        raise NotParsable("memo is not UTF-8") from e


def _lookup_table(data: bytes, accounts: list[str]) -> dict[str, Any]:
    r = _Reader(data)
    tag = r.u32()
    info: dict[str, Any]
    if tag == 0:
        kind = "createLookupTable"
        info = _named(accounts, "lookupTableAccount", "lookupTableAuthority", "payerAccount",
                      "systemProgram") | {"recentSlot": r.u64(), "bumpSeed": r.u8()}
    elif tag == 1:
        kind, info = "freezeLookupTable", _named(accounts, "lookupTableAccount",
                                                 "lookupTableAuthority")
    elif tag == 2:
        kind = "extendLookupTable"
        info = _named(accounts[:2], "lookupTableAccount", "lookupTableAuthority")
        if len(accounts) >= 4:  # the payer and system program come only when it grows
            info |= {"payerAccount": accounts[2], "systemProgram": accounts[3]}
        info["newAddresses"] = [r.pubkey() for _ in range(r.u64())]
    elif tag == 3:
        kind, info = "deactivateLookupTable", _named(accounts, "lookupTableAccount",
                                                     "lookupTableAuthority")
    elif tag == 4:
        kind, info = "closeLookupTable", _named(accounts, "lookupTableAccount",
                                                "lookupTableAuthority", "recipient")
    else:
        raise NotParsable(f"lookup table instruction {tag}")
    return {"type": kind, "info": info}


_Parser = Callable[[bytes, list[str]], Any]
PARSERS: dict[Pubkey, tuple[str, _Parser]] = {
    SYSTEM_PROGRAM: ("system", _system),
    TOKEN_PROGRAM_ID: ("spl-token", _token),
    TOKEN_2022_PROGRAM_ID: ("spl-token", _token),  # Agave names both "spl-token"
    ASSOCIATED_TOKEN_PROGRAM_ID: ("spl-associated-token-account", _associated_token),
    MEMO_PROGRAM_ID: ("spl-memo", _memo),
    MEMO_V1_PROGRAM_ID: ("spl-memo", _memo),
    LOOKUP_TABLE_PROGRAM: ("address-lookup-table", _lookup_table),
}


def parse_instruction(program_id: Pubkey, accounts: list[str],
                      data: bytes) -> dict[str, Any] | None:
    """{program, parsed} for an instruction a validator parses, else None."""
    entry = PARSERS.get(program_id)
    if entry is None:
        return None
    program, parser = entry
    try:
        return {"program": program, "parsed": parser(data, accounts)}
    except NotParsable:
        return None
