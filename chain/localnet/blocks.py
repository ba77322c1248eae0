"""The localnet's block methods: getBlock, getBlocks, getBlocksWithLimit, getBlockTime,
getFirstAvailableBlock, minimumLedgerSlot, getBlockCommitment, getBlockProduction and
getInflationReward (staking rewards are block data on a validator), in the
shapes and with the errors of Agave's `rpc/src/rpc.rs`.

A block is a slot the ledger produced (`Ledger.blocks`); slots a time travel jumps over are
skipped, as a leader's missed slots are. Block height is the slot, as everywhere in the
localnet. Like a validator, history is served at confirmed or finalized (the default) only.
"""

from __future__ import annotations

from typing import Any

from solders.message import MessageV0

from chain.localnet.cluster import identity
from chain.localnet.ledger import Block, Ledger, TxRecord
from chain.localnet.parsed import parsed_transaction
from chain.localnet.rpc import (
    UNSUPPORTED_TRANSACTION_VERSION,
    Handler,
    Rpc,
    RpcError,
    _at_least_confirmed,
    _config,
    _int,
    _param,
    _pubkey,
    encode_data,
    invalid_params,
    transaction_meta,
    ui_transaction,
)

MAX_GET_BLOCKS_RANGE = 500_000
# Agave's custom error codes
BLOCK_NOT_AVAILABLE = -32004
SLOT_SKIPPED = -32007
TRANSACTION_DETAILS = ("full", "signatures", "none", "accounts")


def methods(rpc: Rpc) -> dict[str, Handler]:
    """The block methods over `rpc`'s ledger, for its dispatch table."""
    blocks = Blocks(rpc)
    return {
        "getBlock": blocks.get_block,
        "getBlocks": blocks.get_blocks,
        "getBlocksWithLimit": blocks.get_blocks_with_limit,
        "getBlockTime": blocks.get_block_time,
        "getFirstAvailableBlock": lambda params: blocks.first_slot(),
        "minimumLedgerSlot": lambda params: blocks.first_slot(),
        "getBlockCommitment": blocks.get_block_commitment,
        "getBlockProduction": blocks.get_block_production,
        "getInflationReward": blocks.get_inflation_reward,
    }


class Blocks:
    """Block queries over one Rpc's ledger."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self.ledger = rpc.ledger

    def first_slot(self) -> int:
        self.ledger.tick()
        return self.ledger.blocks[0].slot

    def _newest(self, config: dict[str, Any]) -> int:
        return int(self.rpc._context(_at_least_confirmed(config))["slot"])

    def _block(self, slot: int, newest: int) -> Block:
        block = self.ledger.block(slot) if slot <= newest else None
        if block is not None:
            return block
        if self.ledger.blocks[0].slot <= slot <= newest:
            raise RpcError(SLOT_SKIPPED, f"Slot {slot} was skipped, or missing due to ledger "
                                         "jump to recent snapshot")
        raise RpcError(BLOCK_NOT_AVAILABLE, f"Block not available for slot {slot}")

    def get_block(self, params: list[Any]) -> dict[str, Any]:
        slot = _int(_param(params, 0, "slot"), "slot")
        # the old form passes the encoding alone
        config = {"encoding": params[1]} if len(params) > 1 and isinstance(params[1], str) \
            else _config(params, 1)
        block = self._block(slot, self._newest(config))
        return encode_block(self.ledger, block, self.ledger.transactions_in(slot), config)

    def get_inflation_reward(self, params: list[Any]) -> list[None]:
        """Each address's staking reward for an epoch, after a validator's checks: the epoch
        (the last complete one unless told) is paid in the first block of the next, which
        must be at the commitment. No address has a reward: the localnet pays none."""
        addresses = _param(params, 0, "addresses")
        if not isinstance(addresses, list):
            raise invalid_params("addresses must be an array")
        for address in addresses:
            _pubkey(address)
        config = _config(params, 1)
        per_epoch = self.ledger.epoch_info()[2]
        epoch = config.get("epoch")
        if epoch is None:
            epoch = max(self.rpc._slot([config], 0) // per_epoch - 1, 0)
        paid_in = (_int(epoch, "epoch") + 1) * per_epoch
        newest = self._newest(config)
        if not self.ledger.blocks_between(paid_in - 1, newest):
            raise RpcError(BLOCK_NOT_AVAILABLE, f"Block not available for slot {paid_in}")
        return [None] * len(addresses)

    def _range(self, start: int, end: int) -> list[int]:
        if end < start:
            return []
        if end - start > MAX_GET_BLOCKS_RANGE:
            raise invalid_params(f"Slot range too large; max {MAX_GET_BLOCKS_RANGE}")
        return [b.slot for b in self.ledger.blocks if start <= b.slot <= end]

    def get_blocks(self, params: list[Any]) -> list[int]:
        start = _int(_param(params, 0, "start slot"), "start slot")
        # [start, end?, config?]: the end may be left out or null
        end_param = params[1] if len(params) > 1 and not isinstance(params[1], dict) else None
        config = next((p for p in params[1:3] if isinstance(p, dict)), {})
        newest = self._newest(config)
        end = newest if end_param is None else min(_int(end_param, "end slot"), newest)
        return self._range(start, end)

    def get_blocks_with_limit(self, params: list[Any]) -> list[int]:
        start = _int(_param(params, 0, "start slot"), "start slot")
        limit = _int(_param(params, 1, "limit"), "limit")
        if limit > MAX_GET_BLOCKS_RANGE:
            raise invalid_params(f"Limit too large; max {MAX_GET_BLOCKS_RANGE}")
        newest = self._newest(_config(params, 2))
        return [b.slot for b in self.ledger.blocks if start <= b.slot <= newest][:limit]

    def get_block_time(self, params: list[Any]) -> int:
        slot = _int(_param(params, 0, "slot"), "slot")
        return self._block(slot, self.ledger.slot).block_time

    def get_block_commitment(self, params: list[Any]) -> dict[str, Any]:
        slot = _int(_param(params, 0, "slot"), "slot")
        self.ledger.tick()
        stake = identity().stake
        commitment: list[int] | None = None
        if self.ledger.block(slot) is not None and self.ledger.confirmations(slot) is not None:
            # stake that voted on the block at each lockout depth: all of it at its depth
            commitment = [0] * (self.ledger.finalize_slots + 1)
            commitment[self.ledger.confirmations(slot) or 0] = stake
        return {"commitment": commitment, "totalStake": stake}

    def get_block_production(self, params: list[Any]) -> dict[str, Any]:
        config = _config(params, 0)
        context = self.rpc._context(config)
        span = config.get("range") or {}
        first = _int(span.get("firstSlot", self.ledger.epoch_info(context["slot"])[0]
                              * self.ledger.epoch_info()[2]), "firstSlot")
        last = _int(span.get("lastSlot", context["slot"]), "lastSlot")
        if last < first:
            raise invalid_params("lastSlot must be greater than or equal to firstSlot")
        produced = len(self._range(first, min(last, context["slot"])))
        leader = str(identity().node)
        wanted = config.get("identity")
        by_identity = {} if wanted not in (None, leader) \
            else {leader: [last - first + 1, produced]}
        return {"context": context, "value": {
            "byIdentity": by_identity, "range": {"firstSlot": first, "lastSlot": last}}}


def encode_block(ledger: Ledger, block: Block, records: list[TxRecord],
                 config: dict[str, Any]) -> dict[str, Any]:
    """`block` with `records` as its transactions, as getBlock answers it for `config`
    (encoding, transactionDetails, rewards, maxSupportedTransactionVersion)."""
    encoding = config.get("encoding", "json")
    if encoding not in ("json", "jsonParsed", "base64", "base58"):
        raise invalid_params(f"unsupported encoding: {encoding}")
    details = config.get("transactionDetails", "full")
    if details not in TRANSACTION_DETAILS:
        raise invalid_params(f"unsupported transactionDetails: {details}")
    max_version = config.get("maxSupportedTransactionVersion")
    parent = ledger.block(block.parent_slot)
    out: dict[str, Any] = {
        "blockHeight": block.height,
        "blockTime": block.block_time,
        "blockhash": str(block.blockhash),
        "parentSlot": max(block.parent_slot, 0),
        "previousBlockhash": str(block.blockhash if parent is None else parent.blockhash),
    }
    if details == "signatures":
        out["signatures"] = [str(r.signature) for r in records]
    elif details in ("full", "accounts"):
        transactions = []
        for record in records:
            is_v0 = isinstance(record.tx.message, MessageV0)
            if is_v0 and max_version is None:
                raise RpcError(UNSUPPORTED_TRANSACTION_VERSION,
                               "Transaction version (0) is not supported by the requesting "
                               "client. Please try the request again with the following "
                               "configuration parameter: \"maxSupportedTransactionVersion\": 0")
            transaction: Any
            if encoding == "json":
                transaction = ui_transaction(record.tx)
            elif encoding == "jsonParsed":
                transaction = parsed_transaction(record)
            else:
                transaction = encode_data(bytes(record.tx), encoding)
            entry: dict[str, Any] = {
                "transaction": transaction,
                "meta": transaction_meta(record, parsed=encoding == "jsonParsed")}
            if max_version is not None:
                entry["version"] = 0 if is_v0 else "legacy"
            transactions.append(entry)
        out["transactions"] = transactions
    if config.get("rewards", True):
        out["rewards"] = []
    return out
