"""Transactions in the `jsonParsed` encoding, as a validator gives them.

The message lists its accounts as objects ({pubkey, writable, signer, source}: "transaction"
for the message's own keys, "lookupTable" for those its lookup tables loaded), has no header,
and gives each instruction parsed ({program, programId, parsed, stackHeight}) where Agave has a
parser for it (see `instruction_parsers`), else partially decoded ({programId, accounts, data,
stackHeight}); inner instructions likewise. The meta leaves `loadedAddresses` out, the
accounts list having them.
"""

from __future__ import annotations

from typing import Any

from based58 import b58encode
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey

from chain.localnet.instruction_parsers import parse_instruction
from chain.localnet.ledger import TxRecord

BPF_UPGRADEABLE_LOADER = Pubkey.from_string("BPFLoaderUpgradeab1e11111111111111111111111")


def ui_instruction(keys: list[Pubkey], program_index: int, accounts: list[int], data: bytes,
                   stack_height: int | None) -> dict[str, Any]:
    """One instruction, parsed or partially decoded."""
    program_id = keys[program_index]
    account_keys = [str(keys[i]) for i in accounts]
    parsed = parse_instruction(program_id, account_keys, data)
    if parsed is not None:
        return {"program": parsed["program"], "programId": str(program_id),
                "parsed": parsed["parsed"], "stackHeight": stack_height}
    return {"programId": str(program_id), "accounts": account_keys,
            "data": b58encode(data).decode(), "stackHeight": stack_height}


def _writable(message: Message | MessageV0, index: int, static_count: int,
              loaded_writable: int, called: set[int]) -> bool:
    """Whether the account at `index` is writable, as a validator reports it: by the header
    (or the lookup it came from), with programs the transaction calls demoted unless the
    upgradeable loader is among the keys."""
    header = message.header
    if index >= static_count:
        writable = index < static_count + loaded_writable
    elif index < header.num_required_signatures:
        writable = index < header.num_required_signatures - header.num_readonly_signed_accounts
    else:
        writable = index < static_count - header.num_readonly_unsigned_accounts
    if writable and index in called:
        return BPF_UPGRADEABLE_LOADER in message.account_keys
    return writable


def address_table_lookups(message: MessageV0) -> list[dict[str, Any]]:
    """A v0 message's lookups, as both json encodings give them."""
    return [{"accountKey": str(lookup.account_key),
             "writableIndexes": list(bytes(lookup.writable_indexes)),
             "readonlyIndexes": list(bytes(lookup.readonly_indexes))}
            for lookup in message.address_table_lookups]


def parsed_account_keys(record: TxRecord) -> list[dict[str, Any]]:
    """The accounts of the transaction, its lookup tables' included, as objects."""
    message = record.tx.message
    static_count = len(message.account_keys)
    signers = message.header.num_required_signatures
    called = {ix.program_id_index for ix in message.instructions}
    return [{"pubkey": str(key),
             "writable": _writable(message, i, static_count, len(record.loaded_writable),
                                   called),
             "signer": i < signers,
             "source": "transaction" if i < static_count else "lookupTable"}
            for i, key in enumerate(record.account_keys)]


def parsed_transaction(record: TxRecord) -> dict[str, Any]:
    """The transaction in the `jsonParsed` encoding."""
    message = record.tx.message
    keys = record.account_keys
    ui_message: dict[str, Any] = {
        "accountKeys": parsed_account_keys(record),
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [ui_instruction(keys, ix.program_id_index, list(bytes(ix.accounts)),
                                        bytes(ix.data), None)
                         for ix in message.instructions],
    }
    if isinstance(message, MessageV0):
        ui_message["addressTableLookups"] = address_table_lookups(message)
    return {"signatures": [str(s) for s in record.tx.signatures], "message": ui_message}


def parsed_inner_instructions(record: TxRecord) -> list[dict[str, Any]]:
    """meta.innerInstructions in the `jsonParsed` encoding."""
    keys = record.account_keys
    return [{"index": i, "instructions": [ui_instruction(keys, *ix) for ix in inner]}
            for i, inner in enumerate(record.inner_instructions) if inner]
