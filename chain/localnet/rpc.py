"""Solana JSON-RPC 2.0 over a `Ledger`: request dispatch, encodings, validator error codes.

`Rpc.handle(body)` takes the raw bytes of an HTTP request (one request or a batch) and returns
the response object to serialize, or None when nothing is owed (a batch of notifications).
Shapes, encodings and error codes follow what a validator answers, so any Solana client works
unchanged. Bad requests get JSON-RPC errors; nothing a client sends raises out of `handle`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import base58
import orjson
import zstandard
from based58 import b58encode  # base58's output, in Rust: 7x faster on instruction data
from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.rpc.responses import RpcSimulateTransactionResult
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorType

from chain.localnet.account_index import DataSize, Filter, Memcmp
from chain.localnet.ledger import (
    BLOCKHASH_VALID_BLOCKS,
    Ledger,
    Rejected,
    TokenBalance,
    TxRecord,
    fee_for,
)
from chain.localnet.parsed import (
    address_table_lookups,
    parsed_inner_instructions,
    parsed_transaction,
)
from chain.localnet.token_state import parsed_account_data, ui_token_amount
from chain.pyth import read_aggregate
from program.local import PYTH_PROGRAM

T = TypeVar("T")

SOLANA_CORE_VERSION = "2.1.21"
FEATURE_SET = 4_140_108_451
MAX_RESULTS = 1000
U64_MAX = 2**64 - 1
GENESIS_HASH = Hash.hash(b"keepernet localnet")

# JSON-RPC error codes, as a validator uses them
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SEND_TRANSACTION_PREFLIGHT_FAILURE = -32002
SIGNATURE_VERIFICATION_FAILURE = -32003
UNSUPPORTED_TRANSACTION_VERSION = -32015
MIN_CONTEXT_SLOT_NOT_REACHED = -32016


class RpcError(Exception):
    """An error answered to the client: code, message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(message)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            out["data"] = self.data
        return out


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"Invalid params: {message}")


def error_json(err: TransactionErrorType | None) -> Any:
    """A transaction error as a validator writes it, e.g. {"InstructionError":[0,{"Custom":1}]}."""
    if err is None:
        return None
    # solders serializes TransactionError exactly as the validator does; borrow it
    return json.loads(RpcSimulateTransactionResult(err=err).to_json())["err"]


def describe_error(err: Any) -> str:
    """The human message of a preflight failure, as a validator words it."""
    if isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        if isinstance(inner, dict) and "Custom" in inner:
            what = f"custom program error: {inner['Custom']:#x}"
        else:
            what = str(inner)
        return f"Error processing Instruction {index}: {what}"
    return str(err)


# ---- JSON ---------------------------------------------------------------------------------------
_LONG_DIGITS = re.compile(rb"[0-9]{20}")


def loads(body: bytes) -> Any:
    """Parse JSON as the standard parser does, with orjson where that gives the same: orjson
    reads integers beyond 64 bits as floats (so a body with a 20-digit run goes to the
    standard parser) and refuses what is not UTF-8. Raises ValueError on invalid JSON."""
    if _LONG_DIGITS.search(body) is None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


def dumps(value: Any) -> bytes:
    """UTF-8 JSON with orjson; the standard encoder for what orjson refuses (integers beyond
    64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


# ---- parameter parsing --------------------------------------------------------------------------
def _param(params: list[Any], index: int, name: str) -> Any:
    if index >= len(params):
        raise invalid_params(f"missing {name}")
    return params[index]


def _config(params: list[Any], index: int) -> dict[str, Any]:
    if index >= len(params) or params[index] is None:
        return {}
    config = params[index]
    if not isinstance(config, dict):
        raise invalid_params("configuration must be an object")
    # clients send null for options they leave unset
    return {k: v for k, v in config.items() if v is not None}


def _base58(value: Any, parse: Callable[[str], T], what: str) -> T:
    """A base-58 parameter parsed by `parse` (Pubkey/Signature/Hash.from_string)."""
    if not isinstance(value, str):
        raise invalid_params(f"expected a base-58 {what}")
    try:
        return parse(value)
    except ValueError as e:
        raise invalid_params(f"invalid {what} {value!r}") from e


def _pubkey(value: Any) -> Pubkey:
    return _base58(value, Pubkey.from_string, "pubkey")


def _signature(value: Any) -> Signature:
    return _base58(value, Signature.from_string, "signature")


def _hash(value: Any) -> Hash:
    return _base58(value, Hash.from_string, "blockhash")


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_params(f"{name} must be a non-negative integer")
    return value


def _decode_wire(data: Any, encoding: str) -> bytes:
    if not isinstance(data, str):
        raise invalid_params("expected an encoded transaction string")
    try:
        if encoding == "base58":
            return base58.b58decode(data)
        if encoding == "base64":
            return base64.b64decode(data, validate=True)
    except ValueError as e:
        raise invalid_params(f"invalid {encoding}: {e}") from e
    raise invalid_params(f"unsupported encoding: {encoding}")


def _transaction(params: list[Any], config: dict[str, Any]) -> VersionedTransaction:
    raw = _decode_wire(_param(params, 0, "transaction"), config.get("encoding", "base58"))
    try:
        return VersionedTransaction.from_bytes(raw)
    except ValueError as e:
        raise invalid_params(f"failed to deserialize transaction: {e}") from e


# ---- encodings ----------------------------------------------------------------------------------
def encode_data(data: bytes, encoding: str, data_slice: dict[str, Any] | None = None) -> Any:
    """Account data as a validator encodes it; jsonParsed here is the base64 a validator falls
    back to for data it cannot parse."""
    if data_slice is not None:
        offset = _int(data_slice.get("offset", 0), "dataSlice.offset")
        length = _int(data_slice.get("length", 0), "dataSlice.length")
        data = data[offset:offset + length]
    if encoding == "base58":
        return [b58encode(data).decode(), "base58"]
    if encoding == "binary":
        return b58encode(data).decode()
    if encoding in ("base64", "jsonParsed"):
        return [base64.b64encode(data).decode(), "base64"]
    if encoding == "base64+zstd":
        return [base64.b64encode(zstandard.ZstdCompressor().compress(data)).decode(),
                "base64+zstd"]
    raise invalid_params(f"unsupported encoding: {encoding}")


# base58 is most of an account's encoding, and getProgramAccounts' accounts share one owner
_owner_base58 = functools.lru_cache(maxsize=1024)(str)


def encode_account(account: Account, config: dict[str, Any],
                   get_account: Callable[[Pubkey], Account | None] | None = None
                   ) -> dict[str, Any]:
    """An account as getAccountInfo and accountNotification give it. With `get_account` (to
    find a token account's mint), jsonParsed parses token accounts and mints."""
    encoding = config.get("encoding", "binary")
    data = bytes(account.data)
    parsed = None
    if encoding == "jsonParsed":
        if config.get("dataSlice") is not None:
            raise RpcError(INVALID_REQUEST, "Sliced account data can only be encoded using "
                           "binary (base 58) or base64 encoding.")
        if get_account is not None:
            parsed = parsed_account_data(account, get_account)
    return {
        "data": encode_data(data, encoding, config.get("dataSlice")) if parsed is None
        else parsed,
        "executable": account.executable,
        "lamports": account.lamports,
        "owner": _owner_base58(account.owner),
        "rentEpoch": U64_MAX,
        "space": len(data),
    }


def _ui_instruction(program_index: int, accounts: list[int], data: bytes,
                    stack_height: int | None) -> dict[str, Any]:
    return {"programIdIndex": program_index, "accounts": accounts,
            "data": b58encode(data).decode(), "stackHeight": stack_height}


def ui_transaction(tx: VersionedTransaction) -> dict[str, Any]:
    """A transaction in the `json` encoding."""
    message = tx.message
    header = message.header
    ui_message: dict[str, Any] = {
        "accountKeys": [str(k) for k in message.account_keys],
        "header": {"numRequiredSignatures": header.num_required_signatures,
                   "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
                   "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts},
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [_ui_instruction(ix.program_id_index, list(bytes(ix.accounts)),
                                         bytes(ix.data), None)
                         for ix in message.instructions],
    }
    if isinstance(message, MessageV0):
        ui_message["addressTableLookups"] = address_table_lookups(message)
    return {"signatures": [str(s) for s in tx.signatures], "message": ui_message}


def _token_balances(balances: list[TokenBalance]) -> list[dict[str, Any]]:
    return [{"accountIndex": b.account_index, "mint": str(b.mint), "owner": str(b.owner),
             "programId": str(b.program_id), "uiTokenAmount": ui_token_amount(b.amount,
                                                                              b.decimals)}
            for b in balances]


def transaction_meta(record: TxRecord, *, parsed: bool = False) -> dict[str, Any]:
    """The meta of a transaction; `parsed` for the jsonParsed encoding (instructions parsed,
    no loadedAddresses: the accounts list has them)."""
    err = error_json(record.err)
    meta = {
        "err": err,
        "status": {"Ok": None} if err is None else {"Err": err},
        "fee": record.fee,
        "preBalances": record.pre_balances,
        "postBalances": record.post_balances,
        "innerInstructions": parsed_inner_instructions(record) if parsed else [
            {"index": i, "instructions": [_ui_instruction(*ix) for ix in inner]}
            for i, inner in enumerate(record.inner_instructions) if inner],
        "logMessages": record.logs,
        "preTokenBalances": _token_balances(record.pre_token_balances),
        "postTokenBalances": _token_balances(record.post_token_balances),
        "rewards": [],
        "loadedAddresses": {"writable": [str(k) for k in record.loaded_writable],
                            "readonly": [str(k) for k in record.loaded_readonly]},
        "computeUnitsConsumed": record.compute_units,
    }
    if parsed:
        del meta["loadedAddresses"]
    return meta


# ---- the dispatcher -----------------------------------------------------------------------------
Handler = Callable[[list[Any]], Any]


MAX_SET_ACCOUNTS = 2_000  # entries per keepernet_setAccounts request (under 1 MB of JSON)


class Rpc:
    """The JSON-RPC methods over one ledger."""

    def __init__(self, ledger: Ledger, faucet: Keypair) -> None:
        self.ledger = ledger
        self.faucet = faucet
        self.methods: dict[str, Handler] = {
            "getAccountInfo": self.get_account_info,
            "getMultipleAccounts": self.get_multiple_accounts,
            "getProgramAccounts": self.get_program_accounts,
            "getLatestBlockhash": self.get_latest_blockhash,
            "isBlockhashValid": self.is_blockhash_valid,
            "sendTransaction": self.send_transaction,
            "simulateTransaction": self.simulate_transaction,
            "getSignatureStatuses": self.get_signature_statuses,
            "getSignaturesForAddress": self.get_signatures_for_address,
            "getTransaction": self.get_transaction,
            "getSlot": lambda params: self._slot(params, 0),
            "getBlockHeight": self.get_block_height,
            "getBalance": self.get_balance,
            "requestAirdrop": self.request_airdrop,
            "getMinimumBalanceForRentExemption": self.get_minimum_balance,
            "getRecentPrioritizationFees": self.get_recent_prioritization_fees,
            "getHealth": lambda params: "ok",
            "getVersion": lambda params: {"solana-core": SOLANA_CORE_VERSION,
                                          "feature-set": FEATURE_SET},
            "getEpochInfo": self.get_epoch_info,
            "getGenesisHash": lambda params: str(GENESIS_HASH),
            "getFeeForMessage": self.get_fee_for_message,
            "keepernet_timeTravel": self.time_travel,
            "keepernet_setPriceAccount": self.set_price_account,
            "keepernet_setAccounts": self.set_accounts,
        }
        # imported here: the token, block and cluster methods build on this module's helpers
        from chain.localnet import blocks, cluster
        from chain.localnet.tokens import TokenQueries
        self.methods |= TokenQueries(self).methods
        self.methods |= blocks.methods(self)
        self.methods |= cluster.methods(self)

    # ---- protocol -----------------------------------------------------------------------------
    def handle(self, body: bytes) -> Any:
        """The response to an HTTP body: an object, a list for a batch, or None."""
        try:
            request = loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error_response(None, RpcError(PARSE_ERROR, "Parse error"))
        if isinstance(request, list):
            if not request:
                return _error_response(None, RpcError(INVALID_REQUEST, "Invalid request"))
            responses = [r for r in (self.call(item) for item in request) if r is not None]
            return responses or None
        return self.call(request)

    def call(self, request: Any) -> dict[str, Any] | None:
        """Answer one request object."""
        if (not isinstance(request, dict) or request.get("jsonrpc") != "2.0"
                or not isinstance(request.get("method"), str)):
            request_id = request.get("id") if isinstance(request, dict) else None
            return _error_response(request_id, RpcError(INVALID_REQUEST, "Invalid request"))
        request_id = request.get("id")
        handler = self.methods.get(request["method"])
        params = request.get("params", [])
        try:
            if handler is None:
                raise RpcError(METHOD_NOT_FOUND, "Method not found")
            if not isinstance(params, list):
                raise invalid_params("params must be an array")
            result = handler(params)
        except RpcError as e:
            return _error_response(request_id, e)
        except Exception as e:  # a bug here must not take the node down; report it
            return _error_response(request_id, RpcError(INTERNAL_ERROR, f"Internal error: {e}"))
        if "id" not in request:
            return None  # a notification
        return {"jsonrpc": "2.0", "result": result, "id": request_id}

    def _context(self, config: dict[str, Any]) -> dict[str, Any]:
        slot = self.ledger.commitment_slot(config.get("commitment"))
        min_slot = config.get("minContextSlot")
        if isinstance(min_slot, int) and min_slot > slot:
            raise RpcError(MIN_CONTEXT_SLOT_NOT_REACHED, "Minimum context slot has not been "
                           "reached", {"contextSlot": slot})
        return {"slot": slot, "apiVersion": SOLANA_CORE_VERSION}

    def at_slot(self, config: dict[str, Any]) -> int | None:
        """The slot whose state a read at the config's commitment sees; None for the newest."""
        slot = self.ledger.commitment_slot(config.get("commitment"))
        return None if slot >= self.ledger.slot else slot

    def _with_context(self, config: dict[str, Any], value: Any) -> dict[str, Any]:
        return {"context": self._context(config), "value": value}

    def _slot(self, params: list[Any], config_index: int) -> int:
        return int(self._context(_config(params, config_index))["slot"])

    # ---- accounts -----------------------------------------------------------------------------
    def _account_or_none(self, address: Pubkey, config: dict[str, Any]) -> Any:
        account = self.ledger.account(address, self.at_slot(config))
        return None if account is None else encode_account(account, config, self.ledger.account)

    def get_account_info(self, params: list[Any]) -> Any:
        address = _pubkey(_param(params, 0, "pubkey"))
        config = _config(params, 1)
        return self._with_context(config, self._account_or_none(address, config))

    def get_multiple_accounts(self, params: list[Any]) -> Any:
        addresses = _param(params, 0, "pubkeys")
        if not isinstance(addresses, list) or len(addresses) > 100:
            raise invalid_params("pubkeys must be an array of at most 100 keys")
        config = _config(params, 1)
        keys = [_pubkey(a) for a in addresses]
        return self._with_context(config, [self._account_or_none(k, config) for k in keys])

    def get_program_accounts(self, params: list[Any]) -> Any:
        program_id = _pubkey(_param(params, 0, "program id"))
        config = _config(params, 1)
        filters = [_filter(f) for f in config.get("filters") or []]
        found = [{"pubkey": str(address),
                  "account": encode_account(account, config, self.ledger.account)}
                 for address, account in self.ledger.program_accounts(
                     program_id, self.at_slot(config), filters)]
        return self._with_context(config, found) if config.get("withContext") else found

    def get_balance(self, params: list[Any]) -> Any:
        address = _pubkey(_param(params, 0, "pubkey"))
        config = _config(params, 1)
        return self._with_context(config, self.ledger.balance(address, self.at_slot(config)))

    def get_minimum_balance(self, params: list[Any]) -> int:
        size = _int(_param(params, 0, "data length"), "data length")
        return int(self.ledger.svm.minimum_balance_for_rent_exemption(size))

    # ---- blockhashes and fees -----------------------------------------------------------------
    def get_latest_blockhash(self, params: list[Any]) -> Any:
        config = _config(params, 0)
        context = self._context(config)
        block = self.ledger.block(context["slot"])
        if block is None or not self.ledger.is_blockhash_valid(block.blockhash):
            # time travel jumps past a blockhash's life in one slot: give the newest
            blockhash, last_valid = self.ledger.latest_blockhash()
        else:
            blockhash, last_valid = block.blockhash, block.height + BLOCKHASH_VALID_BLOCKS
        return {"context": context, "value": {"blockhash": str(blockhash),
                                              "lastValidBlockHeight": last_valid}}

    def is_blockhash_valid(self, params: list[Any]) -> Any:
        blockhash = _hash(_param(params, 0, "blockhash"))
        return self._with_context(_config(params, 1), self.ledger.is_blockhash_valid(blockhash))

    def get_fee_for_message(self, params: list[Any]) -> Any:
        raw = _decode_wire(_param(params, 0, "message"), "base64")
        message: Message | MessageV0
        try:
            message = MessageV0.from_bytes(raw[1:]) if raw[:1] == b"\x80" \
                else Message.from_bytes(raw)
        except ValueError as e:
            raise invalid_params(f"failed to deserialize message: {e}") from e
        config = _config(params, 1)
        valid = self.ledger.is_blockhash_valid(message.recent_blockhash)
        return self._with_context(config, fee_for(message) if valid else None)

    def get_recent_prioritization_fees(self, params: list[Any]) -> list[dict[str, int]]:
        addresses = params[0] if params and params[0] is not None else []
        if not isinstance(addresses, list) or len(addresses) > 128:
            raise invalid_params("addresses must be an array of at most 128 keys")
        keys = [_pubkey(a) for a in addresses]
        self.ledger.tick()
        return [{"slot": slot, "prioritizationFee": fee}
                for slot, fee in self.ledger.prioritization_fees(keys)]

    # ---- transactions -------------------------------------------------------------------------
    def send_transaction(self, params: list[Any]) -> str:
        config = _config(params, 1)
        tx = _transaction(params, config)
        if not all(tx.verify_with_results()):
            raise RpcError(SIGNATURE_VERIFICATION_FAILURE,
                           "Transaction signature verification failure")
        signature = tx.signatures[0]
        if not config.get("skipPreflight", False):
            if self.ledger.transaction(signature) is not None:
                self._preflight_failure("AlreadyProcessed", [], 0)
            simulation = self.ledger.simulate(tx)
            if simulation.err is not None:
                self._preflight_failure(error_json(simulation.err), simulation.logs,
                                        simulation.units)
        # as a validator: the signature is returned at once, even if the transaction never
        # lands; it executes when the next slot is produced
        with contextlib.suppress(Rejected):
            self.ledger.submit(tx)
        return str(signature)

    @staticmethod
    def _preflight_failure(err: Any, logs: list[str], units: int) -> None:
        data = {"err": err, "logs": logs, "accounts": None, "unitsConsumed": units,
                "returnData": None, "innerInstructions": None, "replacementBlockhash": None}
        raise RpcError(SEND_TRANSACTION_PREFLIGHT_FAILURE,
                       f"Transaction simulation failed: {describe_error(err)}", data)

    def simulate_transaction(self, params: list[Any]) -> Any:
        config = _config(params, 1)
        tx = _transaction(params, config)
        if config.get("sigVerify") and not all(tx.verify_with_results()):
            raise RpcError(SIGNATURE_VERIFICATION_FAILURE,
                           "Transaction signature verification failure")
        replacement = None
        if config.get("replaceRecentBlockhash"):
            if config.get("sigVerify"):
                raise invalid_params("sigVerify may not be used with replaceRecentBlockhash")
            blockhash, last_valid = self.ledger.latest_blockhash()
            tx = _with_blockhash(tx, blockhash)
            replacement = {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid}
        simulation = self.ledger.simulate(tx)
        accounts = None
        wanted = config.get("accounts")
        if isinstance(wanted, dict):
            account_config = {"encoding": wanted.get("encoding", "base64")}
            accounts = []
            for address in wanted.get("addresses", []):
                key = _pubkey(address)
                account = simulation.post_accounts.get(key) or self.ledger.account(key)
                accounts.append(None if account is None
                                else encode_account(account, account_config))
        return_data = None if simulation.return_data is None else {
            "programId": str(simulation.return_data[0]),
            "data": [base64.b64encode(simulation.return_data[1]).decode(), "base64"]}
        return self._with_context(config, {
            "err": error_json(simulation.err), "logs": simulation.logs, "accounts": accounts,
            "unitsConsumed": simulation.units, "returnData": return_data,
            "innerInstructions": None, "replacementBlockhash": replacement})

    def get_signature_statuses(self, params: list[Any]) -> Any:
        signatures = _param(params, 0, "signatures")
        if not isinstance(signatures, list) or len(signatures) > 256:
            raise invalid_params("signatures must be an array of at most 256 signatures")
        config = _config(params, 1)
        search = bool(config.get("searchTransactionHistory", False))
        values: list[dict[str, Any] | None] = []
        for s in signatures:
            record = self.ledger.status(_signature(s), search_history=search)
            if record is None:
                values.append(None)
                continue
            err = error_json(record.err)
            values.append({"slot": record.slot,
                           "confirmations": self.ledger.confirmations(record.slot), "err": err,
                           "status": {"Ok": None} if err is None else {"Err": err},
                           "confirmationStatus": self.ledger.commitment_of(record.slot)})
        return self._with_context(config, values)

    def get_signatures_for_address(self, params: list[Any]) -> list[dict[str, Any]]:
        address = _pubkey(_param(params, 0, "address"))
        config = _config(params, 1)
        newest = self._context(_at_least_confirmed(config))["slot"]
        limit = config.get("limit") or MAX_RESULTS
        if _int(limit, "limit") > MAX_RESULTS or limit < 1:
            raise invalid_params(f"limit must be between 1 and {MAX_RESULTS}")
        before = config.get("before")
        until = config.get("until")
        records = self.ledger.signatures_for(
            address, before=None if before is None else _signature(before),
            until=None if until is None else _signature(until), limit=limit)
        return [{"signature": str(r.signature), "slot": r.slot, "err": error_json(r.err),
                 "memo": None, "blockTime": r.block_time,
                 "confirmationStatus": self.ledger.commitment_of(r.slot)}
                for r in records if r.slot <= newest]

    def get_transaction(self, params: list[Any]) -> Any:
        signature = _signature(_param(params, 0, "signature"))
        # the old form passes the encoding alone
        config = {"encoding": params[1]} if len(params) > 1 and isinstance(params[1], str) \
            else _config(params, 1)
        record = self.ledger.transaction(signature)
        if record is None or record.slot > self._context(_at_least_confirmed(config))["slot"]:
            return None
        max_version = config.get("maxSupportedTransactionVersion")
        is_v0 = isinstance(record.tx.message, MessageV0)
        if is_v0 and max_version is None:
            raise RpcError(UNSUPPORTED_TRANSACTION_VERSION,
                           "Transaction version (0) is not supported by the requesting client. "
                           "Please try the request again with the following configuration "
                           "parameter: \"maxSupportedTransactionVersion\": 0")
        encoding = config.get("encoding", "json")
        if encoding == "json":
            transaction: Any = ui_transaction(record.tx)
        elif encoding == "jsonParsed":
            transaction = parsed_transaction(record)
        elif encoding in ("base64", "base58"):
            transaction = encode_data(bytes(record.tx), encoding)
        else:
            raise invalid_params(f"unsupported encoding: {encoding}")
        out: dict[str, Any] = {"slot": record.slot, "transaction": transaction,
                               "meta": transaction_meta(record,
                                                        parsed=encoding == "jsonParsed"),
                               "blockTime": record.block_time}
        if max_version is not None:
            out["version"] = 0 if is_v0 else "legacy"
        return out

    def request_airdrop(self, params: list[Any]) -> str:
        address = _pubkey(_param(params, 0, "pubkey"))
        lamports = _int(_param(params, 1, "lamports"), "lamports")
        blockhash, _ = self.ledger.latest_blockhash()
        message = Message.new_with_blockhash(
            [transfer(TransferParams(from_pubkey=self.faucet.pubkey(), to_pubkey=address,
                                     lamports=lamports))], self.faucet.pubkey(), blockhash)
        tx = VersionedTransaction(message, [self.faucet])
        try:
            record = self.ledger.send(tx)
        except Rejected as e:
            raise RpcError(INTERNAL_ERROR, f"airdrop failed: {e}") from e
        if record.err is not None:
            raise RpcError(INTERNAL_ERROR, f"airdrop failed: {error_json(record.err)}")
        return str(record.signature)

    # ---- cluster ------------------------------------------------------------------------------
    def get_block_height(self, params: list[Any]) -> int:
        return self._height(self._slot(params, 0))

    def _height(self, slot: int) -> int:
        """The block height at `slot` (a produced slot, as commitments give): blocks before
        it, skipped slots and time travel not counted."""
        block = self.ledger.block(slot)
        return block.height if block is not None else self.ledger.blocks[-1].height

    def get_epoch_info(self, params: list[Any]) -> dict[str, int]:
        slot = self._slot(params, 0)
        epoch, index, per_epoch = self.ledger.epoch_info(slot)
        return {"absoluteSlot": slot, "blockHeight": self._height(slot),
                "epoch": epoch, "slotIndex": index, "slotsInEpoch": per_epoch,
                "transactionCount": self.ledger.transaction_count}

    def time_travel(self, params: list[Any]) -> dict[str, int]:
        """keepernet_timeTravel [{"seconds": n} | {"slots": n}]: move the clock forward."""
        config = _config(params, 0)
        seconds = config.get("seconds", 0)
        slots = config.get("slots", 0)
        if (isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0
                or (not seconds and not slots)):
            raise invalid_params('expected {"seconds": n} or {"slots": n}, n > 0')
        slot = self.ledger.time_travel(seconds=seconds, slots=_int(slots, "slots"))
        return {"slot": slot, "unixTimestamp": self.ledger.block_time}

    def set_price_account(self, params: list[Any]) -> dict[str, int]:
        """keepernet_setPriceAccount [address, base64 data]: write a Pyth price account owned
        by the Pyth program, the localnet's stand-in for Pyth's publishers (chain/publisher.py).
        Only well-formed price accounts are taken."""
        address = _pubkey(_param(params, 0, "address"))
        encoded = _param(params, 1, "data")
        try:
            data = base64.b64decode(encoded, validate=True)
            read_aggregate(data)
        except (TypeError, ValueError) as e:
            raise invalid_params(f"not a price account: {e}") from None
        lamports = self.ledger.svm.minimum_balance_for_rent_exemption(len(data))
        self.ledger.set_account(address, Account(lamports=lamports, data=data,
                                                 owner=PYTH_PROGRAM, executable=False))
        return {"slot": self.ledger.slot}


    def set_accounts(self, params: list[Any]) -> dict[str, int]:
        """keepernet_setAccounts [[address, base64 data, owner], ...]: write accounts directly,
        rent-exempt — a local validator's cheat code, for seeding what would take thousands of
        transactions (the benchmarks' 100,000 positions). At most MAX_SET_ACCOUNTS at once;
        nothing is written unless every entry is well-formed."""
        entries = _param(params, 0, "accounts")
        if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_SET_ACCOUNTS:
            raise invalid_params(f"expected a list of 1 to {MAX_SET_ACCOUNTS} "
                                 f"[address, base64 data, owner] entries")
        accounts: list[tuple[Pubkey, Account]] = []
        for i, entry in enumerate(entries, start=1):
            if not isinstance(entry, list) or len(entry) != 3:
                raise invalid_params(f"entry {i}: expected [address, base64 data, owner]")
            address, owner = _pubkey(entry[0]), _pubkey(entry[2])
            try:
                data = base64.b64decode(entry[1], validate=True)
            except (TypeError, ValueError) as e:
                raise invalid_params(f"entry {i}: data is not base64: {e}") from None
            lamports = self.ledger.svm.minimum_balance_for_rent_exemption(len(data))
            accounts.append((address, Account(lamports=lamports, data=data, owner=owner,
                                              executable=False)))
        self.ledger.set_accounts(accounts)
        return {"slot": self.ledger.slot, "written": len(accounts)}


def _at_least_confirmed(config: dict[str, Any]) -> dict[str, Any]:
    """A validator answers history methods at confirmed or finalized only."""
    if config.get("commitment") in ("processed", "recent"):
        raise invalid_params("Method does not support commitment below `confirmed`")
    return config


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        request_id = None
    return {"jsonrpc": "2.0", "error": error.to_json(), "id": request_id}


def _filter(spec: Any) -> Filter:
    """A getProgramAccounts filter: memcmp (base58 or base64 bytes) or dataSize."""
    if not isinstance(spec, dict) or len(spec) != 1:
        raise invalid_params(f"invalid filter {spec!r}")
    if "dataSize" in spec:
        return DataSize(_int(spec["dataSize"], "dataSize"))
    memcmp = spec.get("memcmp")
    if not isinstance(memcmp, dict):
        raise invalid_params(f"invalid filter {spec!r}")
    offset = _int(memcmp.get("offset"), "memcmp.offset")
    return Memcmp(offset, _decode_wire(memcmp.get("bytes"), memcmp.get("encoding", "base58")))


def _with_blockhash(tx: VersionedTransaction, blockhash: Hash) -> VersionedTransaction:
    """`tx` with its blockhash replaced, signatures kept (simulation only)."""
    m = tx.message
    message: Message | MessageV0
    if isinstance(m, MessageV0):
        message = MessageV0(m.header, m.account_keys, blockhash, m.instructions,
                            m.address_table_lookups)
    else:
        message = Message.new_with_compiled_instructions(
            m.header.num_required_signatures, m.header.num_readonly_signed_accounts,
            m.header.num_readonly_unsigned_accounts, m.account_keys, blockhash, m.instructions)
    return VersionedTransaction.populate(message, tx.signatures)

