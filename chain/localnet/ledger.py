"""The chain state around a `ProgramSvm`: a wall-time slot clock and the history LiteSVM lacks.

LiteSVM executes transactions but keeps no blocks: no slot clock, no transaction history by
address, no list of accounts to scan. `Ledger` adds what a JSON-RPC node needs:

- a slot every 400 ms (`slot_seconds`) with unix time advancing with it, written into the
  LiteSVM clock, and a new blockhash per slot, each valid for 150 slots as on a cluster;
- transactions submitted between slots executed when the next slot is produced, as a leader
  does, and commitment levels that follow the slots: a slot is processed when produced,
  confirmed one slot later and finalized `finalize_slots` (32) later; accounts read at a
  commitment are as they were at that commitment's slot;
- the blocks produced (slot, parent, blockhash, time, transactions);
- every transaction sent through it, with slot, block time, error, logs (exactly as LiteSVM
  returns them, `Program data:` lines included), compute units, fee, lamport and token
  balances, and the addresses its lookup tables loaded;
- the SlotHashes sysvar, which LiteSVM leaves at genesis: creating an address lookup table
  needs a recent slot in it;
- the clock, the blockhashes and SlotHashes kept here and written into LiteSVM only before a
  transaction runs (SlotHashes only before one that may read it): LiteSVM's sysvar writes
  take time in proportion to its accounts (about 80 ms at a million), too long to pay on
  every slot; a read of either sysvar is answered from here;
- signatures per address, newest first, every address ever touched, and their live accounts
  by owner (chain/localnet/account_index.py), so `getProgramAccounts` costs what it finds;
- `time_travel` for tests, and listeners that the WebSocket server turns into notifications.

Everything runs on the event loop's thread: LiteSVM calls are fast, in-process calls.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import math
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from solders.account import Account
from solders.address_lookup_table_account import ID as LOOKUP_TABLE_PROGRAM
from solders.address_lookup_table_account import AddressLookupTable
from solders.hash import Hash
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.sysvar import CLOCK, SLOT_HASHES
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata
from solders.transaction_status import TransactionErrorFieldless, TransactionErrorType

from chain.localnet.account_index import AccountIndex, Filter
from chain.localnet.token_state import mint, token_account
from program.svm import ProgramSvm

SLOT_SECONDS = 0.4
FINALIZE_SLOTS = 32  # slots after which a slot is rooted, as on a cluster
COMMITMENTS = ("processed", "confirmed", "finalized")
# a blockhash's life, in blocks as a validator counts it (its block height's, so a time
# travel, one block over many slots, does not end it)
BLOCKHASH_VALID_BLOCKS = 150
RECENT_FEE_SLOTS = 150  # the slots getRecentPrioritizationFees covers
SYSVAR_OWNER = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")
SLOT_HASHES_KEPT = 512  # entries of the SlotHashes sysvar, as the runtime keeps
STATUS_CACHE_SLOTS = 300  # how far back getSignatureStatuses looks without history search
LAMPORTS_PER_SIGNATURE = 5_000
COMPUTE_BUDGET_PROGRAM = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
DEFAULT_UNITS_PER_INSTRUCTION = 200_000
MAX_COMPUTE_UNITS = 1_400_000
_SET_UNIT_LIMIT, _SET_UNIT_PRICE = 2, 3


@dataclass(frozen=True)
class TokenBalance:
    """A token account's balance in a transaction's meta, before or after it."""

    account_index: int
    mint: Pubkey
    owner: Pubkey
    program_id: Pubkey
    amount: int
    decimals: int


class Rejected(Exception):
    """A transaction that never reached a block (bad blockhash, duplicate); `err` is the
    runtime's error, as a validator's preflight would report it."""

    def __init__(self, err: TransactionErrorType, logs: Sequence[str] = (),
                 units: int = 0) -> None:
        self.err = err
        self.logs = list(logs)
        self.units = units
        super().__init__(str(err))


@dataclass(frozen=True)
class TxRecord:
    """One transaction in the history."""

    signature: Signature
    tx: VersionedTransaction
    slot: int
    block_time: int
    err: TransactionErrorType | None
    logs: list[str]
    compute_units: int
    fee: int
    account_keys: list[Pubkey]  # the message's, then those loaded from lookup tables
    pre_balances: list[int]
    post_balances: list[int]
    unit_price: int  # micro-lamports per compute unit, from a SetComputeUnitPrice
    inner_instructions: list[list[tuple[int, list[int], bytes, int | None]]] = field(
        default_factory=list)  # per instruction: (program index, accounts, data, stack height)
    pre_token_balances: list[TokenBalance] = field(default_factory=list)
    post_token_balances: list[TokenBalance] = field(default_factory=list)
    loaded_writable: list[Pubkey] = field(default_factory=list)
    loaded_readonly: list[Pubkey] = field(default_factory=list)


@dataclass(frozen=True)
class Block:
    """A produced slot."""

    slot: int
    parent_slot: int  # the previous produced slot (-1 before the first)
    blockhash: Hash
    block_time: int
    height: int  # blocks produced before it


@dataclass(frozen=True)
class Simulation:
    """What a transaction would do, changing nothing."""

    err: TransactionErrorType | None
    logs: list[str]
    units: int
    post_accounts: dict[Pubkey, Account]
    return_data: tuple[Pubkey, bytes] | None


def compute_budget(message: Message | MessageV0) -> tuple[int, int]:
    """(unit limit, unit price in micro-lamports) that the message's compute-budget
    instructions set, with the runtime's defaults."""
    keys = message.account_keys
    limit: int | None = None
    price = 0
    others = 0
    for ix in message.instructions:
        data = bytes(ix.data)
        if keys[ix.program_id_index] != COMPUTE_BUDGET_PROGRAM:
            others += 1
        elif data[:1] == bytes([_SET_UNIT_LIMIT]) and len(data) >= 5:
            limit = struct.unpack_from("<I", data, 1)[0]
        elif data[:1] == bytes([_SET_UNIT_PRICE]) and len(data) >= 9:
            price = struct.unpack_from("<Q", data, 1)[0]
    if limit is None:
        limit = others * DEFAULT_UNITS_PER_INSTRUCTION
    return min(limit, MAX_COMPUTE_UNITS), price


def fee_for(message: Message | MessageV0, budget: tuple[int, int] | None = None) -> int:
    """The fee a validator charges: per signature plus the priority fee. `budget` is the
    message's `compute_budget` where the caller has it already."""
    limit, price = compute_budget(message) if budget is None else budget
    priority = math.ceil(price * limit / 1_000_000)
    return message.header.num_required_signatures * LAMPORTS_PER_SIGNATURE + priority


def is_writable(message: Message | MessageV0, index: int) -> bool:
    """Whether the message may write its `index`-th static key (the header's rule; legacy
    messages lack `is_maybe_writable`)."""
    header = message.header
    signed = header.num_required_signatures
    if index < signed:
        return index < signed - header.num_readonly_signed_accounts
    return index < len(message.account_keys) - header.num_readonly_unsigned_accounts


def _inner(inner: Any) -> tuple[int, list[int], bytes, int | None]:
    ix = inner.instruction()
    # the stubs lack stack_height; the JSON has it
    stack_height = json.loads(inner.to_json()).get("stackHeight")
    return ix.program_id_index, list(bytes(ix.accounts)), bytes(ix.data), stack_height


class Ledger:
    """A slot clock and history around a ProgramSvm; see the module docstring."""

    def __init__(self, chain: ProgramSvm, *, clock: Callable[[], float] = time.monotonic,
                 unix_start: int | None = None, slot_seconds: float = SLOT_SECONDS,
                 finalize_slots: int = FINALIZE_SLOTS) -> None:
        if slot_seconds <= 0 or finalize_slots < 1:
            raise ValueError("slot_seconds must be > 0 and finalize_slots >= 1")
        self.slot_seconds = slot_seconds
        self.finalize_slots = finalize_slots
        self.chain = chain
        self.svm = chain.svm
        # Signatures are checked by the RPC layer (so simulations may skip them), blockhash
        # ages here: LiteSVM alone accepts only its latest blockhash.
        self.svm.with_sigverify(False)
        self.svm.with_blockhash_check(False)
        self._clock = clock
        self._started = clock()
        self._travelled = 0.0  # seconds added by time_travel
        self._ticking = False  # a slot is being produced
        # the sysvars as of the current slot, written into LiteSVM when a transaction needs
        # them (`_sync_sysvars`); LiteSVM's own blockhash never moves
        self._sysvar_clock = self.svm.get_clock()
        self._slot_hashes: list[tuple[int, Hash]] = list(self.svm.get_slot_hashes())
        self._blockhash = self.svm.latest_blockhash()
        self._sysvar_lamports = {a: self.svm.get_balance(a) or 1 for a in (CLOCK, SLOT_HASHES)}
        self._clock_synced = self._slot_hashes_synced = True
        self._slot0 = int(self._sysvar_clock.slot) + 1
        self._unix0 = int(time.time()) if unix_start is None else unix_start
        self.slot = -1
        self.block_time = self._unix0
        # blockhash -> its block's height
        self._blockhashes: OrderedDict[Hash, int] = OrderedDict()
        self._txs: dict[Signature, TxRecord] = {}
        self._by_address: dict[Pubkey, list[TxRecord]] = {}
        self._by_slot: dict[int, list[TxRecord]] = {}
        # every address seen, with the order it was first seen in
        self._touched: dict[Pubkey, int] = {}
        # the live accounts among them, by owner; kept current wherever the ledger changes an
        # account (transactions, direct writes, new addresses, the sysvars each slot writes)
        self._index = AccountIndex()
        self._pending: dict[Signature, VersionedTransaction] = {}  # run when the next slot is
        self.blocks: list[Block] = []  # every slot produced, oldest first
        # per address written by a transaction in an unrooted slot: (slot, state before the
        # slot), so reads at confirmed/finalized see the account as it was then
        self._journal: dict[Pubkey, list[tuple[int, Account | None]]] = {}
        self._journal_order: list[tuple[int, Pubkey]] = []  # to forget entries once rooted
        self.slot_listeners: list[Callable[[int], None]] = []
        self.account_listeners: list[Callable[[Sequence[Pubkey]], None]] = []
        self.tx_listeners: list[Callable[[TxRecord], None]] = []
        self.track([chain.program_id, chain.payer.pubkey()])
        self.tick()
        self.genesis_slot = self.slot  # the first block, unless `end_genesis` moves it

    # ---- clock --------------------------------------------------------------------------------
    def _virtual_elapsed(self) -> float:
        return self._clock() - self._started + self._travelled

    def seconds_to_next_slot(self) -> float:
        """Wall seconds until the next slot is due."""
        return self.slot_seconds - self._virtual_elapsed() % self.slot_seconds

    def tick(self) -> bool:
        """Catch the slot up with wall time; True if it moved. On a new slot the clock moves
        and a new blockhash appears. A listener's call while a slot is being produced moves
        nothing (each nested tick would produce another slot)."""
        elapsed = self._virtual_elapsed()
        slot = self._slot0 + int(elapsed / self.slot_seconds)
        if slot <= self.slot or self._ticking:
            return False
        self._ticking = True
        try:
            self._produce(slot, elapsed)
            for listener in list(self.slot_listeners):
                listener(slot)
        finally:
            self._ticking = False
        return True

    def _produce(self, slot: int, elapsed: float) -> None:
        parent = self.slot
        self.slot = slot
        self.block_time = self._unix0 + int(elapsed)
        self._sysvar_clock.slot = slot
        self._sysvar_clock.unix_timestamp = self.block_time
        self._sysvar_clock.epoch = self.epoch_info()[0]
        # a new blockhash as a validator's: a hash chained from the last (LiteSVM's blockhash
        # check is off; the ages are checked here)
        blockhash = self._blockhash = Hash(hashlib.sha256(
            bytes(self._blockhash) + slot.to_bytes(8, "little")).digest())
        height = len(self.blocks)
        self._blockhashes[blockhash] = height
        # the current slot too: a client may create a lookup table for the slot getSlot gave
        # before a new slot begins
        self._slot_hashes = [(slot, blockhash), *self._slot_hashes[:SLOT_HASHES_KEPT - 1]]
        self._clock_synced = self._slot_hashes_synced = False
        self._reindex([a for a in (CLOCK, SLOT_HASHES) if a in self._touched])
        while self._blockhashes:
            oldest, oldest_height = next(iter(self._blockhashes.items()))
            if oldest_height >= height - BLOCKHASH_VALID_BLOCKS:
                break
            del self._blockhashes[oldest]
        self.blocks.append(Block(slot, parent, blockhash, self.block_time, height))
        self._run_pending()
        self._forget_rooted()

    def time_travel(self, *, seconds: float = 0, slots: int = 0) -> int:
        """Move the clock forward by `seconds` and/or `slots` (a slot is `slot_seconds`, so either
        moves both); return the new slot."""
        if seconds < 0 or slots < 0:
            raise ValueError("time travels forward only")
        self._travelled += seconds + slots * self.slot_seconds
        self.tick()
        return self.slot

    def epoch_info(self, slot: int | None = None) -> tuple[int, int, int]:
        """(epoch, slot index, slots in epoch) of `slot`, the current slot by default."""
        per_epoch = self.svm.get_epoch_schedule().slots_per_epoch
        slot = max(self.slot if slot is None else slot, 0)
        return slot // per_epoch, slot % per_epoch, per_epoch

    # ---- blockhashes --------------------------------------------------------------------------
    def latest_blockhash(self) -> tuple[Hash, int]:
        """The newest blockhash and the last block height at which it is valid."""
        self.tick()
        return self._blockhash, self.blocks[-1].height + BLOCKHASH_VALID_BLOCKS

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        self.tick()
        return blockhash in self._blockhashes

    # ---- transactions -------------------------------------------------------------------------
    def simulate(self, tx: VersionedTransaction) -> Simulation:
        """Run `tx` without committing it."""
        self.tick()
        if not self.is_blockhash_valid(tx.message.recent_blockhash):
            return Simulation(TransactionErrorFieldless.BlockhashNotFound, [], 0, {}, None)
        loaded_writable, loaded_readonly = self.loaded_addresses(tx.message)
        self._sync_sysvars(tx.message, [*tx.message.account_keys, *loaded_writable,
                                        *loaded_readonly])
        result = self.svm.simulate_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            meta = result.meta()
            return Simulation(result.err(), list(meta.logs()), meta.compute_units_consumed(),
                              {}, None)
        meta = result.meta()
        ret = meta.return_data()  # type: ignore[attr-defined]  # missing from the stubs
        return_data = None if not bytes(ret.data) else (ret.program_id, bytes(ret.data))
        return Simulation(None, list(meta.logs()), meta.compute_units_consumed(),
                          dict(result.post_accounts()), return_data)

    def submit(self, tx: VersionedTransaction) -> None:
        """Queue `tx` to execute when the next slot is produced, as a leader does with what
        it receives. A signature already processed or queued is dropped, as a validator drops
        a rebroadcast; raises `Rejected` for an expired blockhash."""
        self.tick()
        signature = tx.signatures[0]
        if signature in self._txs or signature in self._pending:
            return
        if tx.message.recent_blockhash not in self._blockhashes:
            raise Rejected(TransactionErrorFieldless.BlockhashNotFound)
        self._pending[signature] = tx

    def _run_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for tx in pending.values():
            with contextlib.suppress(Rejected):  # expired while queued: never lands
                self.send(tx)

    def is_pending(self, signature: Signature) -> bool:
        return signature in self._pending

    def send(self, tx: VersionedTransaction) -> TxRecord:
        """Execute `tx` in the current slot and record it, failed or not. Raises `Rejected`
        if it cannot land at all (expired blockhash, already processed)."""
        self.tick()
        signature = tx.signatures[0]
        if signature in self._txs:
            raise Rejected(TransactionErrorFieldless.AlreadyProcessed)
        message = tx.message
        if message.recent_blockhash not in self._blockhashes:
            raise Rejected(TransactionErrorFieldless.BlockhashNotFound)
        loaded_writable, loaded_readonly = self.loaded_addresses(message)
        keys = [*message.account_keys, *loaded_writable, *loaded_readonly]
        pre = [self.balance(k) for k in keys]
        writable = [k for i, k in enumerate(message.account_keys)
                    if is_writable(message, i)] + loaded_writable
        self._journal_writes(writable)
        programs = {keys[ix.program_id_index] for ix in message.instructions}
        pre_tokens = self._token_balances(keys, programs)
        self._sync_sysvars(message, keys)
        result = self.svm.send_transaction(tx)
        err: TransactionErrorType | None = None
        meta: TransactionMetadata
        if isinstance(result, FailedTransactionMetadata):
            err, meta = result.err(), result.meta()
            if err in (TransactionErrorFieldless.AlreadyProcessed,
                       TransactionErrorFieldless.BlockhashNotFound):
                raise Rejected(err, list(meta.logs()))
        else:
            meta = result
        inner = [[_inner(i) for i in per_ix]
                 for per_ix in meta.inner_instructions()]
        budget = compute_budget(message)
        record = TxRecord(signature, tx, self.slot, self.block_time, err, list(meta.logs()),
                          meta.compute_units_consumed(), fee_for(message, budget), keys, pre,
                          [self.balance(k) for k in keys], budget[1], inner, pre_tokens,
                          self._token_balances(keys, programs), loaded_writable,
                          loaded_readonly)
        self._txs[signature] = record
        self._by_slot.setdefault(self.slot, []).append(record)
        for key in dict.fromkeys(keys):
            self._by_address.setdefault(key, []).append(record)
        self.track(keys)
        # only writable accounts change (reading every key would copy invoked programs' ELFs)
        self._reindex(writable)
        for listener in list(self.tx_listeners):
            listener(record)
        self._changed(keys)
        return record

    def _sync_sysvars(self, message: Message | MessageV0, keys: Sequence[Pubkey]) -> None:
        """Write the clock into LiteSVM, and SlotHashes where the transaction may read it (it
        names the sysvar, or creates a lookup table), if they moved since the last write."""
        if not self._clock_synced:
            self.svm.set_clock(self._sysvar_clock)
            self._clock_synced = True
        if not self._slot_hashes_synced and (SLOT_HASHES in keys or any(
                keys[ix.program_id_index] == LOOKUP_TABLE_PROGRAM
                for ix in message.instructions)):
            self.svm.set_slot_hashes(self._slot_hashes)
            self._slot_hashes_synced = True

    def _sysvar(self, address: Pubkey) -> Account:
        """The Clock or SlotHashes sysvar account as of now (LiteSVM's may lag)."""
        if address == CLOCK:
            data = bytes(self._sysvar_clock)
        else:
            data = struct.pack("<Q", len(self._slot_hashes)) + b"".join(
                struct.pack("<Q", slot) + bytes(blockhash)
                for slot, blockhash in self._slot_hashes)
        return Account(self._sysvar_lamports[address], data, SYSVAR_OWNER, False, 0)

    def loaded_addresses(self, message: Message | MessageV0) -> tuple[list[Pubkey],
                                                                       list[Pubkey]]:
        """(writable, readonly) addresses a v0 message loads from its lookup tables, as the
        tables stand now; empty where a table or index does not resolve (LiteSVM then fails
        the transaction)."""
        writable: list[Pubkey] = []
        readonly: list[Pubkey] = []
        if not isinstance(message, MessageV0):
            return writable, readonly
        for lookup in message.address_table_lookups:
            table = self.account(lookup.account_key)
            try:
                addresses = AddressLookupTable.deserialize(bytes(table.data)).addresses \
                    if table is not None else []
                writable += [addresses[i] for i in bytes(lookup.writable_indexes)]
                readonly += [addresses[i] for i in bytes(lookup.readonly_indexes)]
            except (ValueError, IndexError):
                return [], []
        return writable, readonly

    def _token_balances(self, keys: Sequence[Pubkey],
                        programs: set[Pubkey]) -> list[TokenBalance]:
        """Balances of the token accounts among `keys`. Invoked programs are skipped: reading
        one copies its whole ELF, and a program is never a token account."""
        out = []
        for index, key in enumerate(keys):
            if key in programs:
                continue
            state = token_account(self.svm.get_account(key))
            if state is None:
                continue
            mint_account = self.svm.get_account(state.mint)
            mint_state = mint(mint_account)
            if mint_state is None or mint_account is None:
                continue
            out.append(TokenBalance(index, state.mint, state.owner, mint_account.owner,
                                    state.amount, mint_state.decimals))
        return out

    def transaction(self, signature: Signature) -> TxRecord | None:
        return self._txs.get(signature)

    def status(self, signature: Signature, *, search_history: bool = False) -> TxRecord | None:
        """The transaction if it is in the status cache (recent slots) or, with
        `search_history`, anywhere in the history."""
        record = self._txs.get(signature)
        if record is None or search_history or record.slot >= self.slot - STATUS_CACHE_SLOTS:
            return record
        return None

    def signatures_for(self, address: Pubkey, *, before: Signature | None = None,
                       until: Signature | None = None, limit: int = 1000) -> list[TxRecord]:
        """Transactions touching `address`, newest first, starting after `before` and
        stopping before `until` (both exclusive)."""
        records = self._by_address.get(address, [])
        end = len(records)
        if before is not None:
            end = next((i for i in range(len(records) - 1, -1, -1)
                        if records[i].signature == before), -1)
            if end < 0:
                return []
        out: list[TxRecord] = []
        for i in range(end - 1, -1, -1):
            if records[i].signature == until or len(out) >= limit:
                break
            out.append(records[i])
        return out

    def prioritization_fees(self, addresses: Sequence[Pubkey]) -> list[tuple[int, int]]:
        """(slot, fee) for the last 150 slots: the lowest unit price among the slot's
        transactions that touch all of `addresses` (any transaction if none given), else 0."""
        wanted = set(addresses)
        out = []
        for slot in range(max(self._slot0, self.slot - RECENT_FEE_SLOTS + 1), self.slot + 1):
            prices = [r.unit_price for r in self._by_slot.get(slot, ())
                      if wanted.issubset(r.account_keys)]
            out.append((slot, min(prices) if prices else 0))
        return out

    # ---- commitment ---------------------------------------------------------------------------
    def commitment_slot(self, commitment: str | None) -> int:
        """The newest produced slot at `commitment` (finalized when None, a validator's
        default)."""
        self.tick()
        if commitment in (None, "finalized", "max", "root"):
            target = self.slot - self.finalize_slots
        elif commitment in ("confirmed", "single", "singleGossip"):
            target = self.slot - 1
        else:  # processed, recent
            return self.slot
        index = bisect.bisect_right(self.blocks, target, key=lambda b: b.slot)
        # nothing rooted past genesis yet: a validator's finalized view is its genesis slot,
        # its first root, however recent
        return max(self.blocks[index - 1].slot if index else 0, self.genesis_slot)

    def end_genesis(self) -> None:
        """Make everything so far genesis (the bootstrap's accounts): rooted from the start, as
        a validator's genesis accounts are, however few slots have passed."""
        self.genesis_slot = self.slot

    def _is_rooted(self, slot: int) -> bool:
        return self.slot - slot >= self.finalize_slots or slot <= self.genesis_slot

    def confirmations(self, slot: int) -> int | None:
        """Slots produced since `slot`, None once it is finalized."""
        return None if self._is_rooted(slot) else self.slot - slot

    def commitment_of(self, slot: int) -> str:
        """The highest commitment `slot` has reached."""
        depth = self.slot - slot
        if self._is_rooted(slot):
            return "finalized"
        return "confirmed" if depth >= 1 else "processed"

    def block(self, slot: int) -> Block | None:
        index = bisect.bisect_left(self.blocks, slot, key=lambda b: b.slot)
        if index < len(self.blocks) and self.blocks[index].slot == slot:
            return self.blocks[index]
        return None

    def blocks_between(self, after: int, until: int) -> list[Block]:
        """The blocks produced after slot `after`, up to `until` included."""
        start = bisect.bisect_right(self.blocks, after, key=lambda b: b.slot)
        end = bisect.bisect_right(self.blocks, until, key=lambda b: b.slot)
        return self.blocks[start:end]

    def transactions_in(self, slot: int) -> list[TxRecord]:
        return self._by_slot.get(slot, [])

    def _journal_writes(self, addresses: Sequence[Pubkey]) -> None:
        for address in addresses:
            entries = self._journal.setdefault(address, [])
            if entries and entries[-1][0] == self.slot:
                continue  # the state before this slot is recorded already
            entries.append((self.slot, self.account(address)))
            self._journal_order.append((self.slot, address))

    def _forget_rooted(self) -> None:
        # a write in a finalized slot is seen at every commitment: its before-state is no use
        root = self.slot - self.finalize_slots
        drop = 0
        for slot, address in self._journal_order:
            if slot > root:
                break
            drop += 1
            entries = self._journal.get(address)
            if entries and entries[0][0] == slot:
                entries.pop(0)
                if not entries:
                    del self._journal[address]
        del self._journal_order[:drop]

    # ---- accounts -----------------------------------------------------------------------------
    def track(self, addresses: Iterable[Pubkey]) -> None:
        """Remember addresses for `getProgramAccounts`, indexing those new to the ledger as
        they are now (the bootstrap's airdrop wrote one before the ledger heard of it)."""
        new = [a for a in dict.fromkeys(addresses) if a not in self._touched]
        for a in new:
            self._touched[a] = len(self._touched)
        self._reindex(new)

    def _reindex(self, addresses: Iterable[Pubkey]) -> None:
        for a in addresses:
            self._index.update(a, self.account(a), self._touched[a])

    def addresses(self) -> list[Pubkey]:
        """Every address the ledger has seen."""
        return list(self._touched)

    def account(self, address: Pubkey, at_slot: int | None = None) -> Account | None:
        """The account, or None if it does not exist (no lamports), as a validator sees it:
        now, or as it was at the end of `at_slot` (an unrooted slot)."""
        if at_slot is not None and address in self._journal:
            for slot, before in self._journal[address]:
                if slot > at_slot:
                    return before
        if address in self._sysvar_lamports:
            return self._sysvar(address)
        account = self.svm.get_account(address)
        return None if account is None or account.lamports == 0 else account

    def balance(self, address: Pubkey, at_slot: int | None = None) -> int:
        if at_slot is not None and address in self._journal:
            account = self.account(address, at_slot)
            return 0 if account is None else account.lamports
        # get_balance, not get_account: no copy of the data (a program's is its whole ELF)
        return self.svm.get_balance(address) or 0

    def program_accounts(self, program_id: Pubkey, at_slot: int | None = None,
                         filters: Sequence[Filter] = ()) -> list[tuple[Pubkey, Account]]:
        """Every known live account owned by `program_id` whose data passes every filter (at
        `at_slot`, as `account`), in the order the ledger first saw them."""
        matches = self._index.matches(program_id, filters)
        # the index is the current state; an account written since `at_slot` is journaled,
        # so those (matching now or not) are read as they were and filtered exactly
        # (untracked ones aside: a transaction LiteSVM rejected outright journals its keys)
        journaled = {a for a in self._journal if a in self._touched} \
            if at_slot is not None else set()
        if journaled:
            matches = sorted({*matches, *journaled}, key=self._touched.__getitem__)
        out = []
        for address in matches:
            account: Account | None
            if address in journaled:
                account = self.account(address, at_slot)
                if account is None or account.owner != program_id \
                        or not all(f(bytes(account.data)) for f in filters):
                    continue
            else:
                account = self.account(address)
                if account is None:  # never, the index being current
                    continue
            out.append((address, account))
        return out

    def set_account(self, address: Pubkey, account: Account) -> None:
        """Write an account directly (the price publisher and tests do)."""
        self.set_accounts([(address, account)])

    def set_accounts(self, accounts: Sequence[tuple[Pubkey, Account]]) -> None:
        """Write accounts directly, telling the listeners once."""
        for address, account in accounts:
            self.svm.set_account(address, account)
            # a direct write is no transaction: every commitment sees it at once
            self._journal.pop(address, None)
        addresses = [address for address, _ in accounts]
        self._reindex(dict.fromkeys(a for a in addresses if a in self._touched))
        self.track(addresses)  # indexes the new ones
        self._changed(addresses)

    def _changed(self, addresses: Sequence[Pubkey]) -> None:
        for listener in list(self.account_listeners):
            listener(addresses)

    @property
    def transaction_count(self) -> int:
        return len(self._txs)

