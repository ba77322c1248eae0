"""WebSocket subscriptions that follow the slots and their commitments: logsSubscribe,
programSubscribe, rootSubscribe, signatureSubscribe, blockSubscribe and slotsUpdatesSubscribe,
with their unsubscribes, in the shapes of Agave's `rpc/src/rpc_subscriptions.rs`.

A transaction's logs and signature are notified once its slot reaches the subscription's
commitment (finalized unless told, as a validator): on each new slot the slots that newly
reached each level are walked. A program account change is likewise notified once its slot
reaches the subscription's commitment, as accountSubscribe's is, with the account as that
level sees it (direct writes are seen at every commitment at once, so notified at once).

blockSubscribe is answered as a validator started with --rpc-pubsub-enable-block-subscription
answers it: each block once it reaches the commitment (confirmed or finalized), in getBlock's
shapes. slotsUpdatesSubscribe tells a slot's bank created when the slot begins, completed and
frozen when the next begins (the localnet's slots have no shreds to receive), then its
optimistic confirmation and its root.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey
from solders.signature import Signature

from chain.localnet.blocks import TRANSACTION_DETAILS, encode_block
from chain.localnet.ledger import COMMITMENTS, Block, Ledger, TxRecord
from chain.localnet.rpc import (
    UNSUPPORTED_TRANSACTION_VERSION,
    RpcError,
    _at_least_confirmed,
    _filter,
    encode_account,
    error_json,
    invalid_params,
)

Notify = Callable[[Any, int, str, Any], None]  # (connection, subscription id, method, result)
KINDS = ("logs", "program", "root", "signature", "block", "slotsUpdates")
BLOCK_ENCODINGS = ("json", "jsonParsed", "base58", "base64")


def commitment_level(config: dict[str, Any]) -> str:
    """The subscription's commitment, normalized; finalized by default."""
    value = config.get("commitment", "finalized")
    aliases = {"recent": "processed", "single": "confirmed", "singleGossip": "confirmed",
               "max": "finalized", "root": "finalized"}
    value = aliases.get(value, value)
    if value not in COMMITMENTS:
        raise invalid_params(f"unknown commitment {value!r}")
    return str(value)


@dataclass
class Subscription:
    id: int
    kind: str
    connection: Any
    commitment: str
    config: dict[str, Any] = field(default_factory=dict)
    mentions: Pubkey | None = None  # logs, block: the address a transaction must mention
    program: Pubkey | None = None
    filters: list[Callable[[bytes], bool]] = field(default_factory=list)
    signature: Signature | None = None
    # program: (slot, address) of changes not yet seen at the commitment, oldest first
    pending: list[tuple[int, Pubkey]] = field(default_factory=list)


class SlotSubscriptions:
    """The subscriptions above for every connection; `notify` sends one notification."""

    def __init__(self, ledger: Ledger, notify: Notify, next_id: Callable[[], int]) -> None:
        self.ledger = ledger
        self._notify = notify
        self._next_id = next_id
        self._subs: dict[int, Subscription] = {}
        self._reached = {c: ledger.slot for c in COMMITMENTS}  # newest slot notified per level
        self._root = ledger.slot - ledger.finalize_slots
        ledger.slot_listeners.append(self._slot)
        ledger.account_listeners.append(self._accounts_changed)
        ledger.tx_listeners.append(self._landed)

    def close(self) -> None:
        self.ledger.slot_listeners.remove(self._slot)
        self.ledger.account_listeners.remove(self._accounts_changed)
        self.ledger.tx_listeners.remove(self._landed)

    def _landed(self, record: TxRecord) -> None:
        # executed within a slot already produced (an airdrop): processed now; the slot walk
        # below takes the rest
        if record.slot <= self._reached["processed"]:
            self._transaction(record, "processed")

    # ---- requests -----------------------------------------------------------------------------
    def subscribe(self, connection: Any, kind: str, params: list[Any]) -> int:
        """Add a `kind` subscription from its request params; its id."""
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        config = {k: v for k, v in config.items() if v is not None}
        sub = Subscription(self._next_id(), kind, connection, commitment_level(config), config)
        if kind == "logs":
            self._logs_filter(sub, params[0] if params else None)
        elif kind == "program":
            sub.program = _pubkey(params[0] if params else None)
            sub.filters = [_filter(f) for f in config.get("filters") or []]
        elif kind == "signature":
            sub.signature = _signature(params[0] if params else None)
        elif kind == "block":
            self._block_filter(sub, params[0] if params else None)
        self._subs[sub.id] = sub
        if kind == "signature":  # after the answer, which the connection queues first
            asyncio.get_running_loop().call_soon(self._signature_now, sub)
        return sub.id

    def unsubscribe(self, connection: Any, kind: str, params: list[Any]) -> bool:
        sub_id = params[0] if params else None
        found = self._subs.get(sub_id) if isinstance(sub_id, int) else None
        if found is None or found.connection is not connection or found.kind != kind:
            raise invalid_params("Invalid subscription id.")
        del self._subs[found.id]
        return True

    def drop(self, connection: Any) -> None:
        """Forget a closed connection's subscriptions."""
        for sub_id in [s.id for s in self._subs.values() if s.connection is connection]:
            del self._subs[sub_id]

    @staticmethod
    def _logs_filter(sub: Subscription, spec: Any) -> None:
        if spec in ("all", "allWithVotes"):
            return  # the localnet has no vote transactions: both are every transaction
        if isinstance(spec, dict) and isinstance(spec.get("mentions"), list):
            if len(spec["mentions"]) != 1:
                raise invalid_params("Invalid Request: Only 1 address supported")
            sub.mentions = _pubkey(spec["mentions"][0])
            return
        raise invalid_params("Invalid filter")

    @staticmethod
    def _block_filter(sub: Subscription, spec: Any) -> None:
        _at_least_confirmed(sub.config)
        if sub.config.get("encoding", "base64") not in BLOCK_ENCODINGS:
            raise invalid_params(f"unsupported encoding: {sub.config['encoding']}")
        if sub.config.get("transactionDetails", "full") not in TRANSACTION_DETAILS:
            raise invalid_params("unsupported transactionDetails: "
                                 f"{sub.config['transactionDetails']}")
        if spec == "all":
            return
        if isinstance(spec, dict) and "mentionsAccountOrProgram" in spec:
            sub.mentions = _pubkey(spec["mentionsAccountOrProgram"])
            return
        raise invalid_params("Invalid filter")

    def _signature_now(self, sub: Subscription) -> None:
        if sub.id not in self._subs or sub.signature is None:
            return  # unsubscribed or notified meanwhile
        record = self.ledger.transaction(sub.signature)
        if record is not None and self._reached[sub.commitment] >= record.slot:
            self._signature_notify(sub, record)
        elif record is None and self.ledger.is_pending(sub.signature) \
                and sub.config.get("enableReceivedNotification"):
            self._notify(sub.connection, sub.id, "signatureNotification",
                         {"context": {"slot": self.ledger.slot}, "value": "receivedSignature"})

    # ---- notifications ------------------------------------------------------------------------
    def _slot(self, slot: int) -> None:
        if any(sub.kind == "slotsUpdates" for sub in self._subs.values()):
            self._slot_began(slot)
        for commitment in COMMITMENTS:
            newest = self.ledger.commitment_slot(commitment)
            previous = self._reached[commitment]
            self._reached[commitment] = newest
            if newest <= previous:
                continue
            for block in self.ledger.blocks_between(previous, newest):
                for record in self.ledger.transactions_in(block.slot):
                    self._transaction(record, commitment)
                self._block_reached(block, commitment)
        for sub in list(self._subs.values()):
            if sub.kind == "program" and sub.pending:
                self._program_reached(sub)
        root = self._reached["finalized"]
        if root > self._root:
            self._root = root
            for sub in list(self._subs.values()):
                if sub.kind == "root":
                    self._notify(sub.connection, sub.id, "rootNotification", root)

    def _slots_update(self, update: dict[str, Any]) -> None:
        update["timestamp"] = int(time.time() * 1000)  # wall milliseconds, as a validator's
        for sub in list(self._subs.values()):
            if sub.kind == "slotsUpdates":
                self._notify(sub.connection, sub.id, "slotsUpdatesNotification", dict(update))

    def _slot_began(self, slot: int) -> None:
        block = self.ledger.block(slot)
        parent = None if block is None else self.ledger.block(block.parent_slot)
        if parent is not None:  # the parent's bank is done once its child begins
            records = self.ledger.transactions_in(parent.slot)
            failed = sum(r.err is not None for r in records)
            self._slots_update({"type": "completed", "slot": parent.slot})
            self._slots_update({"type": "frozen", "slot": parent.slot, "stats": {
                "numTransactionEntries": len(records),  # one entry per transaction
                "numSuccessfulTransactions": len(records) - failed,
                "numFailedTransactions": failed,
                "maxTransactionsPerEntry": min(len(records), 1)}})
        self._slots_update({"type": "createdBank", "slot": slot,
                            "parent": max(block.parent_slot, 0) if block else slot - 1})

    def _block_reached(self, block: Block, commitment: str) -> None:
        """`block` newly reached `commitment`: tell block subscriptions at it, and slot
        updates of its confirmation or root."""
        if commitment != "processed" and any(s.kind == "slotsUpdates"
                                             for s in self._subs.values()):
            kind = "optimisticConfirmation" if commitment == "confirmed" else "root"
            self._slots_update({"type": kind, "slot": block.slot})
        for sub in list(self._subs.values()):
            if sub.kind == "block" and sub.commitment == commitment:
                self._block_notify(sub, block)

    def _block_notify(self, sub: Subscription, block: Block) -> None:
        records = self.ledger.transactions_in(block.slot)
        if sub.mentions is not None:
            records = [r for r in records if sub.mentions in r.account_keys]
            if not records:
                return  # a validator tells a mentions subscription only of blocks that do
        config = {"encoding": sub.config.get("encoding", "base64"),
                  "transactionDetails": sub.config.get("transactionDetails", "full"),
                  "rewards": sub.config.get("showRewards", False),
                  "maxSupportedTransactionVersion":
                      sub.config.get("maxSupportedTransactionVersion")}
        value: dict[str, Any] = {"slot": block.slot, "block": None, "err": None}
        try:
            value["block"] = encode_block(self.ledger, block, records, config)
        except RpcError as e:
            if e.code != UNSUPPORTED_TRANSACTION_VERSION:
                raise
            value["err"] = {"UnsupportedTransactionVersion": 0}
        self._notify(sub.connection, sub.id, "blockNotification",
                     {"context": {"slot": block.slot}, "value": value})

    def _transaction(self, record: TxRecord, commitment: str) -> None:
        for sub in list(self._subs.values()):
            if sub.commitment != commitment:
                continue
            if sub.kind == "logs" and (sub.mentions is None
                                       or sub.mentions in record.account_keys):
                self._notify(sub.connection, sub.id, "logsNotification", {
                    "context": {"slot": record.slot},
                    "value": {"signature": str(record.signature),
                              "err": error_json(record.err), "logs": record.logs}})
            elif sub.kind == "signature" and sub.signature == record.signature:
                self._signature_notify(sub, record)

    def _signature_notify(self, sub: Subscription, record: TxRecord) -> None:
        del self._subs[sub.id]  # a signature subscription notifies once
        self._notify(sub.connection, sub.id, "signatureNotification",
                     {"context": {"slot": record.slot},
                      "value": {"err": error_json(record.err)}})

    def _accounts_changed(self, addresses: Sequence[Pubkey]) -> None:
        programs = [s for s in self._subs.values() if s.kind == "program"]
        if not programs:
            return
        for address in dict.fromkeys(addresses):
            account = self.ledger.account(address)
            if account is None:
                continue
            for sub in programs:
                if account.owner != sub.program:
                    continue
                if sub.commitment == "processed" or self._seen_at_every_level(address):
                    self._program_notify(sub, address, account, self.ledger.slot)
                else:  # a transaction's write: told when its slot reaches the commitment
                    sub.pending.append((self.ledger.slot, address))

    def _seen_at_every_level(self, address: Pubkey) -> bool:
        # a direct write leaves no before-state: the finalized view already holds it
        before = self.ledger.account(address, self.ledger.commitment_slot("finalized"))
        return _same(before, self.ledger.account(address))

    def _program_reached(self, sub: Subscription) -> None:
        """Notify `sub` of its pending changes whose slot reached its commitment, each
        account once, as of that level's slot."""
        slot = self._reached[sub.commitment]
        due = [address for changed, address in sub.pending if changed <= slot]
        if not due:
            return
        sub.pending = [(changed, a) for changed, a in sub.pending if changed > slot]
        at = None if slot >= self.ledger.slot else slot
        for address in dict.fromkeys(due):
            account = self.ledger.account(address, at)
            if account is not None and account.owner == sub.program:
                self._program_notify(sub, address, account, slot)

    def _program_notify(self, sub: Subscription, address: Pubkey, account: Account,
                        slot: int) -> None:
        if not all(f(bytes(account.data)) for f in sub.filters):
            return
        config = {"encoding": sub.config.get("encoding", "binary"),
                  "dataSlice": sub.config.get("dataSlice")}
        try:
            value = encode_account(account, config)
        except RpcError:  # an encoding it did not know: base64, as jsonParsed falls
            value = encode_account(account, {"encoding": "base64"})
        self._notify(sub.connection, sub.id, "programNotification", {
            "context": {"slot": slot},
            "value": {"pubkey": str(address), "account": value}})


def _same(a: Account | None, b: Account | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.lamports, bytes(a.data), a.owner, a.executable) == \
        (b.lamports, bytes(b.data), b.owner, b.executable)


def _pubkey(value: Any) -> Pubkey:
    try:
        return Pubkey.from_string(value)
    except (TypeError, ValueError) as e:
        raise invalid_params("Invalid pubkey") from e


def _signature(value: Any) -> Signature:
    try:
        return Signature.from_string(value)
    except (TypeError, ValueError) as e:
        raise invalid_params("Invalid signature") from e
