"""Sending one intent so that it lands at most once.

An `Intent` builds its instructions from the chain's current state, or says there is nothing
left to do. `Sender.send` simulates them to size the compute-unit limit, prices compute units
from configuration or from recent prioritization fees (a capped percentile), signs, sends, and
rebroadcasts the same signed transaction until it is confirmed or its blockhash expires. Only
then — after one last look at its status — does it ask the intent again, which re-reads the
state the transaction was meant to change, before signing anew, so a transaction that landed
late is never doubled.

A caller that knows its instructions' compute units (`send(..., units=)`: a liquidation found
at a price just notified, whose budget bench-cu measures) skips the first attempt's
simulation and round trips: it signs under the blockhash read within TRUSTED_BLOCKHASH_AGE_S
and prices units at the fee last worked out within FEE_REUSE_S (`keep_fresh` reads both in
the background, so that such a send waits for neither). The program still judges
the transaction; later attempts simulate as any other. A caller that must hand many such
transactions to the node at once signs each with `presign` (no round trip, no await) and
hands it over with `broadcast` before anything else, then `send(..., presigned=)` follows it
as its first attempt.

When no endpoint answers (`RpcUnavailable`) it gives up, naming the transaction still in flight
if there is one: whoever retries must let that one's blockhash expire or re-read the state.

Right before each signing it asks the current task's fence (`fenced(check)`, a context
variable: fleet/context.py sets the try's lease check there), and signs nothing when the
fence says no or cannot answer (`Fenced`): a holder frozen or cut off past its lease must not
act on a target another holder has taken over. `presign` asks no fence: its caller signs in
the same step as it learns that it may (fleet/fast_path.py, as its leases are taken), and a
transaction so signed is handed over only within PRESIGNED_SEND_WITHIN_S of its signing: a
process paused in between (its lease may have passed on meanwhile) signs anew, fenced.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Protocol, TypeGuard, TypeVar

import structlog
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.rpc.responses import GetLatestBlockhashResp
from solders.signature import Signature
from solders.transaction import Transaction
from solders.transaction_status import (
    TransactionConfirmationStatus,
    TransactionErrorFieldless,
    TransactionStatus,
)

from chain.client import RpcClient, RpcUnavailable
from metrics.trigger_to_send import handed_to_node
from program.errors import describe

MAX_COMPUTE_UNITS = 1_400_000
SEND_OPTS = TxOpts(skip_preflight=True, max_retries=0)  # the node broadcasts, this rebroadcasts
SEND_CONFIG = {"encoding": "base64", "skipPreflight": True, "maxRetries": 0}  # the same, as JSON
# a presigned transaction not handed over this soon after its signing never is: the fence its
# signer checked (a lease of LEASE_TTL_S, 1.5 s) may no longer hold
PRESIGNED_SEND_WITHIN_S = 0.25
# A blockhash one endpoint gave may be unknown to the one that simulates (it lags): take a
# fresh one this many times before giving up.
BLOCKHASH_TRIES = 3
# A blockhash is valid for 150 blocks: sends within a slot of each other share one.
BLOCKHASH_REUSE_S = 0.4
# An unsimulated send takes one this old (it still has most of a minute to land), and
# `keep_fresh` reads one (and the fee) this often so that such a send never waits for a read.
TRUSTED_BLOCKHASH_AGE_S = 20.0
BLOCKHASH_REFRESH_S = 5.0
FEE_REUSE_S = 10.0  # an unsimulated send's compute-unit price: the last worked out this recently
# how long this sender remembers the signatures it made: longer than a blockhash lives
# (150 blocks), after which the same transaction could not land anyway
SIGNED_MEMORY_S = 120.0
NEW_BLOCKHASH_WAIT_S = 0.05  # between looks for a blockhash other than one already used
NEW_BLOCKHASH_LOOKS = 100
MAX_FEE_ACCOUNTS = 128  # getRecentPrioritizationFees takes at most this many addresses
MAX_STATUSES_PER_REQUEST = 256  # getSignatureStatuses takes at most this many signatures
LANDED = (TransactionConfirmationStatus.Confirmed, TransactionConfirmationStatus.Finalized)

log = structlog.get_logger(__name__)
T = TypeVar("T")


class Intent(Protocol):
    """Something to make true on chain."""

    async def instructions(self) -> Sequence[Instruction] | None:
        """The instructions that make it true, from the chain's state now; None when it
        already is."""


@dataclass(frozen=True)
class Landed:
    signature: Signature
    slot: int
    confirmed_after_s: float = 0.0  # from the transaction's first broadcast


@dataclass(frozen=True)
class AlreadyDone:
    """The state was already what the intent wanted (possibly thanks to an earlier send)."""


@dataclass(frozen=True)
class Refused:
    """The program refused it; `error` is the IDL name when it is one of the program's."""

    error: str
    logs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expired:
    """Every blockhash it was signed with expired without the transaction landing."""

    attempts: int


@dataclass(frozen=True)
class GaveUp:
    """No endpoint answered. `in_flight` is the transaction sent whose fate is unknown (its
    blockhash may still be valid), None when nothing was sent."""

    reason: str
    in_flight: Signature | None = None


@dataclass(frozen=True)
class Fenced:
    """The fence said no (or could not answer) right before a signing: nothing more was sent.
    `in_flight` is a transaction sent earlier in this call whose fate is unknown, if any."""

    in_flight: Signature | None = None


SendResult = Landed | AlreadyDone | Refused | Expired | GaveUp | Fenced

Fence = Callable[[], Awaitable[bool]]
# whether the current task may still sign (its job's lease still its own): set per task, so a
# Sender shared by concurrent jobs asks each job's own
_fence: ContextVar[Fence | None] = ContextVar("keepernet_signing_fence", default=None)


@contextlib.contextmanager
def fenced(check: Fence) -> Iterator[None]:
    """Within the block (and the tasks it starts), every signing of this task's sends first
    awaits `check()` and signs only when it is True."""
    token = _fence.set(check)
    try:
        yield
    finally:
        _fence.reset(token)


async def may_sign() -> bool:
    """The current task's fence: True when none is set; False when it says no or fails."""
    check = _fence.get()
    if check is None:
        return True
    try:
        return await check()
    except Exception:  # e.g. Redis away: whether the lease is still ours is unknown
        return False


@dataclass
class Presigned:
    """A transaction signed ahead of its send (`Sender.presign`): `ixs` the intent's first
    instructions (without the compute budget), and the broadcast handing it to the node, once
    started (`Sender.broadcast`)."""

    ixs: list[Instruction]
    tx: Transaction
    last_valid_height: int
    signed_at: float  # time.monotonic()
    broadcast: asyncio.Future[bool] | None = None  # whether it handed the transaction over


@dataclass
class _Flight:
    """The transaction of one `send` that may still land."""

    signature: Signature | None = None


@dataclass(frozen=True)
class FeePolicy:
    """How compute units are paid for: a fixed price, or a percentile of recent fees, capped."""

    fixed_micro_lamports: int | None = None
    percentile: int = 75
    cap_micro_lamports: int = 1_000_000
    limit_margin: float = 1.2  # the compute-unit limit is the simulation's units times this


def percentile_fee(fees: Sequence[int], percentile: int, cap: int) -> int:
    """The `percentile`th recent prioritization fee (nearest rank), at most `cap`."""
    if not fees:
        return 0
    ranked = sorted(fees)
    rank = max(0, min(len(ranked) - 1, (percentile * len(ranked) + 99) // 100 - 1))
    return min(ranked[rank], cap)


def writable_accounts(ixs: Sequence[Instruction], limit: int = MAX_FEE_ACCOUNTS) -> list[Pubkey]:
    """The accounts the instructions write, in order, at most `limit` (the RPC method takes
    128): recent fees for locking them are what this transaction competes with."""
    out: dict[Pubkey, None] = {}
    for ix in ixs:
        for meta in ix.accounts:
            if meta.is_writable:
                out[meta.pubkey] = None
    return list(out)[:limit]


class Sender:
    """Sends intents for one fee payer."""

    def __init__(self, rpc: RpcClient, payer: Keypair, *, fees: FeePolicy | None = None,
                 rebroadcast_s: float = 1.0, attempts: int = 3) -> None:
        self.rpc = rpc
        self.payer = payer
        self.fees = fees or FeePolicy()
        self.rebroadcast_s = rebroadcast_s
        self.attempts = attempts
        self._latest: asyncio.Future[GetLatestBlockhashResp] | None = None
        self._latest_at = 0.0
        self._fee: asyncio.Future[int] | None = None  # the last percentile fee worked out
        self._fee_at = 0.0
        # signatures made by earlier sends, oldest first, with when they were made
        self._signed: OrderedDict[Signature, float] = OrderedDict()
        self._statuses = _StatusLooks(rpc)
        self._broadcasts: set[asyncio.Future[None]] = set()  # under way (kept referenced)

    async def send(self, intent: Intent, signers: Sequence[Keypair] = (), *,
                   units: int | None = None, presigned: Presigned | None = None) -> SendResult:
        """Make the intent true at most once; see the module's docstring. With `units`, the
        intent's first instructions are sent unsimulated with that compute-unit limit; with
        `presigned`, the first attempt is that transaction (its broadcast picked up if
        started) and the intent is asked for instructions from the second on."""
        flight = _Flight()
        try:
            return await self._send(intent, signers, flight, units, presigned)
        except RpcUnavailable as e:
            return GaveUp(str(e), flight.signature)

    def presign(self, ixs: Sequence[Instruction], units: int) -> Presigned | None:
        """`ixs` with a budget of `units` signed now, with no round trip and no fence asked
        (the caller's to have checked just before): under the blockhash and at the fee kept at
        hand (`keep_fresh`); None when either is not at hand fresh enough, or when this very
        transaction was made before."""
        now = time.monotonic()
        read = self._latest
        if not _reusable(read, self._latest_at, TRUSTED_BLOCKHASH_AGE_S) or not read.done():
            return None
        price = self.fees.fixed_micro_lamports
        if price is None:
            fee = self._fee
            if not _reusable(fee, self._fee_at, FEE_REUSE_S) or not fee.done():
                return None
            price = fee.result()
        latest = read.result().value
        tx = self._sign([*self._budget(units, price), *ixs], (), latest.blockhash)
        if self._made_before(tx.signatures[0]):
            return None
        self._remember(tx.signatures[0])
        return Presigned(list(ixs), tx, latest.last_valid_block_height, now)

    def broadcast(self, presigned: Sequence[Presigned]) -> None:
        """Hand `presigned` to the node now, all in one request (a JSON-RPC batch, or a
        request each where the endpoint refuses batches), in a task of its own; each one's
        `send` awaits its answer. One not handed over within PRESIGNED_SEND_WITHIN_S of its
        signing never is."""
        loop = asyncio.get_running_loop()
        for p in presigned:
            p.broadcast = loop.create_future()
            # (retrieved here too, for a send that never comes to await it)
            p.broadcast.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._broadcasts.add(task := asyncio.ensure_future(self._hand_over_all(presigned)))
        task.add_done_callback(self._broadcasts.discard)

    async def _hand_over_all(self, presigned: Sequence[Presigned]) -> None:
        answered: dict[int, bool | BaseException] = {}
        try:
            now = time.monotonic()
            fresh = []
            for i, p in enumerate(presigned):
                if now - p.signed_at > PRESIGNED_SEND_WITHIN_S:
                    log.warning("a transaction signed ahead was not handed over in time: "
                                "signed anew", signature=str(p.tx.signatures[0]))
                    answered[i] = False
                else:
                    fresh.append(i)
            if fresh:
                # a price notification's liquidations: the keeper's share ends for each
                handed_to_node(times=len(fresh))
                calls = [[base64.b64encode(bytes(presigned[i].tx)).decode(), SEND_CONFIG]
                         for i in fresh]
                try:
                    if len(calls) == 1:
                        try:
                            answers = [await self.rpc.request("sendTransaction", calls[0])]
                        except RPCException as e:
                            answers = [e]
                    else:
                        answers = await self.rpc.request_batch("sendTransaction", calls,
                                                               errors=True)
                except Exception as e:  # no endpoint answered: each send decides
                    answers = [e] * len(fresh)
                for i, answer in zip(fresh, answers, strict=True):
                    answered[i] = answer if isinstance(answer, BaseException) else True
        finally:
            for i, p in enumerate(presigned):
                if p.broadcast is not None and not p.broadcast.done():
                    # (cancelled on the way: maybe handed over, so its status decides)
                    outcome = answered.get(i, True)
                    if isinstance(outcome, BaseException):
                        p.broadcast.set_exception(outcome)
                    else:
                        p.broadcast.set_result(outcome)

    async def _hand_over(self, tx: Transaction) -> None:
        handed_to_node()  # a price notification's liquidation: the keeper's share ends
        await self.rpc.call("send_raw_transaction", bytes(tx), SEND_OPTS)

    async def keep_fresh(self, fee_accounts: Sequence[Pubkey] = ()) -> None:
        """Read the latest blockhash, and the fee to lock `fee_accounts` (those the sends to
        come all write) unless the price is fixed, every BLOCKHASH_REFRESH_S until cancelled,
        so that an unsimulated send finds both (a failed read is tried again at the next
        period)."""
        while True:
            try:
                await self._blockhash(fresh=True)
                if fee_accounts and self.fees.fixed_micro_lamports is None:
                    await self._read_fee(fee_accounts)
            except Exception as e:  # no endpoint, or a node's error: a send reads for itself
                log.warning("blockhash or fee not kept fresh: tried again",
                            retry_in_s=BLOCKHASH_REFRESH_S, error=f"{type(e).__name__}: {e}")
            await asyncio.sleep(BLOCKHASH_REFRESH_S)

    async def _send(self, intent: Intent, signers: Sequence[Keypair], flight: _Flight,
                    units: int | None, presigned: Presigned | None) -> SendResult:
        for attempt in range(1, self.attempts + 1):
            if attempt == 1 and presigned is not None:  # the intent's first instructions
                if presigned.broadcast is None:
                    self.broadcast([presigned])
                outcome = await self._until_confirmed_or_expired(
                    presigned.tx, presigned.last_valid_height, flight, presigned.broadcast)
            else:
                ixs = await intent.instructions()
                if ixs is None:
                    return AlreadyDone()
                signed = await self._signed_anew(ixs, signers, attempt, units, flight)
                if not isinstance(signed, tuple):
                    return signed
                tx, last_valid_height = signed
                outcome = await self._until_confirmed_or_expired(tx, last_valid_height, flight)
            if outcome is not None:
                return outcome
            # Expired: only the next round's fresh look at the state decides whether to sign
            # again, so a transaction that landed at the last moment is not sent twice.
            if attempt == self.attempts:
                return Expired(attempt)
        return GaveUp("no attempt was made")

    async def _signed_anew(self, ixs: Sequence[Instruction], signers: Sequence[Keypair],
                           attempt: int, units: int | None,
                           flight: _Flight) -> tuple[Transaction, int] | SendResult:
        """Attempt `attempt`'s transaction of `ixs`, budgeted, signed once the fence allows,
        with its last valid height; or why nothing was signed."""
        if attempt == 1 and units is not None:
            blockhash, last_valid_height = await self._blockhash(
                max_age_s=TRUSTED_BLOCKHASH_AGE_S)
            budgeted = [*self._budget(units, await self._recent_fee(ixs)), *ixs]
        else:
            sent = await self._simulated(ixs, signers, attempt)
            if not isinstance(sent, tuple):
                return sent
            budgeted, blockhash, last_valid_height = sent
        if not await may_sign():  # checked last, after every round trip before the send
            return Fenced(flight.signature)
        tx = self._sign(budgeted, signers, blockhash)
        while self._made_before(tx.signatures[0]):
            # the very transaction an earlier send made (the same instructions, as a
            # second funding update of a late market is, under the same blockhash): the
            # node would drop it as already processed and the old one's status would
            # read as this one landing. Asked again after each wait: a concurrent send of
            # the same instructions may have taken the new blockhash meanwhile.
            blockhash, last_valid_height = await self._blockhash_other_than(blockhash)
            tx = self._sign(budgeted, signers, blockhash)
        self._remember(tx.signatures[0])  # no await since the check: none can interleave
        return tx, last_valid_height

    async def _simulated(self, ixs: Sequence[Instruction], signers: Sequence[Keypair],
                         attempt: int) -> tuple[list[Instruction], Hash, int] | SendResult:
        """`ixs` with their compute budget sized by a simulation, and the blockhash simulated
        under (a fresh one after the first attempt) with its last valid height; the refusal,
        or giving up when no endpoint knew its own blockhash."""
        for tried in range(BLOCKHASH_TRIES):
            # a new one after an expiry, or when the simulating node did not know it
            blockhash, last_valid_height = await self._blockhash(
                fresh=tried > 0 or attempt > 1)
            simulated = await self._simulate(ixs, signers, blockhash)
            if simulated is not None:
                break
        else:
            return GaveUp(f"the endpoints did not know their own blockhash "
                          f"{BLOCKHASH_TRIES} times")
        if isinstance(simulated, Refused):
            return simulated
        limit = min(MAX_COMPUTE_UNITS, max(1, int(simulated * self.fees.limit_margin)))
        price = self.fees.fixed_micro_lamports
        if price is None:
            price = await self._read_fee(writable_accounts(ixs))
        return [*self._budget(limit, price), *ixs], blockhash, last_valid_height

    # ---- steps --------------------------------------------------------------------------------
    async def _blockhash(self, *, fresh: bool = False,
                         max_age_s: float = BLOCKHASH_REUSE_S) -> tuple[Hash, int]:
        """The latest blockhash and its last valid block height: one read shared by the sends
        of `max_age_s` (a burst of liquidations asks once), a new one when `fresh`."""
        read = self._latest
        if fresh or not _reusable(read, self._latest_at, max_age_s):
            read = self._latest = asyncio.ensure_future(self.rpc.call("get_latest_blockhash"))
            self._latest_at = time.monotonic()
        resp = await asyncio.shield(read)
        return resp.value.blockhash, resp.value.last_valid_block_height

    async def _blockhash_other_than(self, used: Hash) -> tuple[Hash, int]:
        """A fresh blockhash other than `used`, waiting for the next block if need be."""
        for _ in range(NEW_BLOCKHASH_LOOKS):
            blockhash, last_valid_height = await self._blockhash(fresh=True)
            if blockhash != used:
                return blockhash, last_valid_height
            await asyncio.sleep(NEW_BLOCKHASH_WAIT_S)
        raise RpcUnavailable(f"no blockhash other than {used} in "
                             f"{NEW_BLOCKHASH_LOOKS * NEW_BLOCKHASH_WAIT_S:g} s")

    def _made_before(self, signature: Signature) -> bool:
        now = time.monotonic()
        while self._signed and next(iter(self._signed.values())) < now - SIGNED_MEMORY_S:
            self._signed.popitem(last=False)
        return signature in self._signed

    def _remember(self, signature: Signature) -> None:
        self._signed[signature] = time.monotonic()
        self._signed.move_to_end(signature)

    def _sign(self, ixs: Sequence[Instruction], signers: Sequence[Keypair],
              blockhash: Hash) -> Transaction:
        message = Message.new_with_blockhash(list(ixs), self.payer.pubkey(), blockhash)
        keys = [self.payer, *[s for s in signers if s.pubkey() != self.payer.pubkey()]]
        return Transaction(keys, message, blockhash)

    async def _simulate(self, ixs: Sequence[Instruction], signers: Sequence[Keypair],
                        blockhash: Hash) -> int | Refused | None:
        """The compute units the instructions use, or the program's refusal; None when the
        simulating node does not know the blockhash."""
        budget = [set_compute_unit_limit(MAX_COMPUTE_UNITS), *ixs]
        resp = await self.rpc.call("simulate_transaction", self._sign(budget, signers,
                                                                      blockhash))
        value = resp.value
        if value.err == TransactionErrorFieldless.BlockhashNotFound:
            return None
        if value.err is not None:
            return Refused(describe(value.err), tuple(value.logs or ()))
        return int(value.units_consumed or 0)

    def _budget(self, limit: int, price: int) -> list[Instruction]:
        budget = [set_compute_unit_limit(limit)]
        if price:
            budget.append(set_compute_unit_price(price))
        return budget

    async def _read_fee(self, accounts: Sequence[Pubkey]) -> int:
        """The capped percentile of the fees paid lately to lock `accounts`, kept for
        unsimulated sends."""
        read = asyncio.ensure_future(self._percentile_fee(accounts))
        self._fee, self._fee_at = read, time.monotonic()
        return await asyncio.shield(read)

    async def _recent_fee(self, ixs: Sequence[Instruction]) -> int:
        """An unsimulated send's price: the fixed one, else the last fee worked out within
        FEE_REUSE_S (the accounts every liquidation of a market writes weigh the same), else
        one read now."""
        if self.fees.fixed_micro_lamports is not None:
            return self.fees.fixed_micro_lamports
        read = self._fee
        if not _reusable(read, self._fee_at, FEE_REUSE_S):
            return await self._read_fee(writable_accounts(ixs))
        return await asyncio.shield(read)

    async def _percentile_fee(self, accounts: Sequence[Pubkey]) -> int:
        recent = await self.rpc.request("getRecentPrioritizationFees",
                                        [[str(a) for a in accounts]])
        return percentile_fee([int(f["prioritizationFee"]) for f in recent],
                              self.fees.percentile, self.fees.cap_micro_lamports)

    async def _until_confirmed_or_expired(
            self, tx: Transaction, last_valid_height: int, flight: _Flight,
            broadcast: asyncio.Future[bool] | None = None) -> SendResult | None:
        """Broadcast until the transaction's fate is known (its first broadcast `broadcast`,
        when started already); None when its blockhash expired and it did not land, or when
        `broadcast` did not hand it over."""
        signature = tx.signatures[0]
        first_sent = time.monotonic()
        while True:
            try:
                if broadcast is not None:
                    started, broadcast = broadcast, None
                    if not await started:
                        return None
                else:
                    await self._hand_over(tx)
            except RPCException as e:
                if flight.signature != signature:  # the first send: refused outright
                    return Refused(str(e))
                # a rebroadcast refused ("already processed", say): the first send may have
                # landed, so its status decides
            flight.signature = signature
            sent_at = time.monotonic()
            while time.monotonic() - sent_at < self.rebroadcast_s:
                status, height = await self._statuses.look(signature)
                landed = _landed(signature, status)
                if landed is not None:
                    return self._timed(landed, first_sent)
                if height > last_valid_height:
                    # it can no longer land; it may have landed since the look (a later one
                    # reads the status after this height)
                    landed = _landed(signature, (await self._statuses.look(signature))[0])
                    flight.signature = None
                    return None if landed is None else self._timed(landed, first_sent)
                await asyncio.sleep(min(0.2, self.rebroadcast_s))

    @staticmethod
    def _timed(landed: Landed | Refused, first_sent: float) -> Landed | Refused:
        """A landing with its confirmation time from the first broadcast."""
        if isinstance(landed, Landed):
            return replace(landed, confirmed_after_s=time.monotonic() - first_sent)
        return landed


def _reusable(read: asyncio.Future[T] | None, started_at: float,
              max_age_s: float) -> TypeGuard[asyncio.Future[T]]:
    """Whether a shared read (started at `started_at`, time.monotonic()) may serve a caller
    now: started within `max_age_s` and not failed (it may still be under way)."""
    return (read is not None and time.monotonic() - started_at <= max_age_s
            and not (read.done() and read.exception() is not None))


def _landed(signature: Signature, status: TransactionStatus | None) -> Landed | Refused | None:
    """What became of the transaction, None while it is not confirmed."""
    if status is None or status.confirmation_status not in LANDED:
        return None  # unknown, or only processed: a fork may still drop it
    if status.err is not None:
        return Refused(describe(status.err))
    return Landed(signature, status.slot)


Look = tuple[TransactionStatus | None, int]  # a signature's status, and the block height


class _StatusLooks:
    """Every look at a transaction's status taken at once shares one getSignatureStatuses
    and one getBlockHeight (read after the statuses): a burst of sends waiting for their
    transactions costs two requests a poll, not two each (against a provider's rate limit,
    the difference between a crash's liquidations landing and waiting)."""

    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc
        self._asked: dict[Signature, list[asyncio.Future[Look]]] = {}
        self._reading: asyncio.Task[None] | None = None

    async def look(self, signature: Signature) -> Look:
        """`signature`'s status and the block height, both read after this call."""
        answer: asyncio.Future[Look] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(signature, []).append(answer)
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._read(), name="signature statuses")
        return await answer

    async def _read(self) -> None:
        while self._asked:  # those asked during a read wait for the next
            asked, self._asked = self._asked, {}
            signatures = list(asked)
            try:
                statuses: list[TransactionStatus | None] = []
                for start in range(0, len(signatures), MAX_STATUSES_PER_REQUEST):
                    statuses += (await self.rpc.call(
                        "get_signature_statuses",
                        signatures[start:start + MAX_STATUSES_PER_REQUEST],
                        search_transaction_history=True)).value
                height = int((await self.rpc.call("get_block_height")).value)
            except Exception as e:  # each send waiting meets it (RpcUnavailable: gives up)
                for answers in asked.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(e)
                continue
            for answers, status in zip(asked.values(), statuses, strict=True):
                for answer in answers:
                    if not answer.done():  # its send may have been cancelled
                        answer.set_result((status, height))
