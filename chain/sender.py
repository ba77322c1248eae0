"""Sending one intent so that it lands at most once.

An `Intent` builds its instructions from the chain's current state, or says there is nothing
left to do. `Sender.send` simulates them to size the compute-unit limit, prices compute units
from configuration or from recent prioritization fees (a capped percentile), signs, sends, and
rebroadcasts the same signed transaction until it is confirmed or its blockhash expires. Only
then does it ask the intent again — which re-reads the state the transaction was meant to
change — before signing anew, so a transaction that landed late is never doubled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.signature import Signature
from solders.transaction import Transaction

from chain.client import RpcClient
from program.errors import describe

MAX_COMPUTE_UNITS = 1_400_000


class Intent(Protocol):
    """Something to make true on chain."""

    async def instructions(self) -> Sequence[Instruction] | None:
        """The instructions that make it true, from the chain's state now; None when it
        already is."""


@dataclass(frozen=True)
class Landed:
    signature: Signature
    slot: int


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
    reason: str


SendResult = Landed | AlreadyDone | Refused | Expired | GaveUp


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


class Sender:
    """Sends intents for one fee payer."""

    def __init__(self, rpc: RpcClient, payer: Keypair, *, fees: FeePolicy | None = None,
                 rebroadcast_s: float = 1.0, attempts: int = 3) -> None:
        self.rpc = rpc
        self.payer = payer
        self.fees = fees or FeePolicy()
        self.rebroadcast_s = rebroadcast_s
        self.attempts = attempts

    async def send(self, intent: Intent, signers: Sequence[Keypair] = ()) -> SendResult:
        """Make the intent true at most once; see the module's docstring."""
        for attempt in range(1, self.attempts + 1):
            ixs = await intent.instructions()
            if ixs is None:
                return AlreadyDone()
            blockhash, last_valid_height = await self._blockhash()
            simulated = await self._simulate(ixs, signers, blockhash)
            if isinstance(simulated, Refused):
                return simulated
            tx = self._sign(await self._with_budget(ixs, simulated), signers, blockhash)
            outcome = await self._until_confirmed_or_expired(tx, last_valid_height)
            if outcome is not None:
                return outcome
            # Expired: only the next round's fresh look at the state decides whether to sign
            # again, so a transaction that landed at the last moment is not sent twice.
            if attempt == self.attempts:
                return Expired(attempt)
        return GaveUp("no attempt was made")

    # ---- steps --------------------------------------------------------------------------------
    async def _blockhash(self) -> tuple[Hash, int]:
        resp = await self.rpc.call("get_latest_blockhash")
        return resp.value.blockhash, resp.value.last_valid_block_height

    def _sign(self, ixs: Sequence[Instruction], signers: Sequence[Keypair],
              blockhash: Hash) -> Transaction:
        message = Message.new_with_blockhash(list(ixs), self.payer.pubkey(), blockhash)
        keys = [self.payer, *[s for s in signers if s.pubkey() != self.payer.pubkey()]]
        return Transaction(keys, message, blockhash)

    async def _simulate(self, ixs: Sequence[Instruction], signers: Sequence[Keypair],
                        blockhash: Hash) -> int | Refused:
        """The compute units the instructions use, or the program's refusal."""
        budget = [set_compute_unit_limit(MAX_COMPUTE_UNITS), *ixs]
        resp = await self.rpc.call("simulate_transaction", self._sign(budget, signers,
                                                                      blockhash))
        value = resp.value
        if value.err is not None:
            return Refused(describe(value.err), tuple(value.logs or ()))
        return int(value.units_consumed or 0)

    async def _with_budget(self, ixs: Sequence[Instruction], units: int) -> list[Instruction]:
        limit = min(MAX_COMPUTE_UNITS, max(1, int(units * self.fees.limit_margin)))
        price = self.fees.fixed_micro_lamports
        if price is None:
            resp = await self.rpc.call("get_recent_prioritization_fees")
            price = percentile_fee([f.prioritization_fee for f in resp.value],
                                   self.fees.percentile, self.fees.cap_micro_lamports)
        budget = [set_compute_unit_limit(limit)]
        if price:
            budget.append(set_compute_unit_price(price))
        return [*budget, *ixs]

    async def _until_confirmed_or_expired(self, tx: Transaction,
                                          last_valid_height: int) -> SendResult | None:
        """Broadcast until the transaction's fate is known; None when its blockhash expired
        and it did not land."""
        signature = tx.signatures[0]
        opts = TxOpts(skip_preflight=True, max_retries=0)
        while True:
            try:
                await self.rpc.call("send_raw_transaction", bytes(tx), opts)
            except RPCException as e:  # the node refused it outright
                return Refused(str(e))
            sent_at = time.monotonic()
            while time.monotonic() - sent_at < self.rebroadcast_s:
                status = (await self.rpc.call("get_signature_statuses", [signature],
                                              search_transaction_history=True)).value[0]
                if status is not None and status.confirmation_status is not None:
                    if status.err is not None:
                        return Refused(describe(status.err))
                    return Landed(signature, status.slot)
                height = (await self.rpc.call("get_block_height")).value
                if height > last_valid_height:
                    return None
                await asyncio.sleep(min(0.2, self.rebroadcast_s))
