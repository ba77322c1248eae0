"""What the chain jobs need, and what they share: reading accounts with the chain's clock,
sending an intent that re-plans from the chain before every signing, and turning what the
Sender reports into an `Outcome`."""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from anchorpy import Program
from arq.connections import ArqRedis
from solders.account import Account
from solders.instruction import Instruction
from solders.pubkey import Pubkey
from solders.sysvar import CLOCK

from chain.client import RpcClient
from chain.sender import (
    AlreadyDone,
    Expired,
    Fenced,
    GaveUp,
    Landed,
    Presigned,
    Refused,
    Sender,
    SendResult,
)
from jobs.errors import ErrorPolicy, Permanent, maps_errors, refusal_outcome
from jobs.outcome import Outcome
from metrics.sends import record_send
from program.accounts import Config, ProgramAccount, decode
from program.client import Client

# the Clock sysvar: slot u64, epoch_start_timestamp i64, epoch u64, leader_schedule_epoch u64,
# unix_timestamp i64
_CLOCK_SLOT = struct.Struct("<Q")
_CLOCK_UNIX_TIMESTAMP = struct.Struct("<q")
_CLOCK_UNIX_TIMESTAMP_OFFSET = 32
A = TypeVar("A", bound=ProgramAccount)


@dataclass(frozen=True)
class ChainClock:
    """The Clock sysvar's slot and unix time: what the program's clock_now sees."""

    slot: int
    unix_timestamp: int


async def read_raw_snapshot(rpc: RpcClient,
                            *addresses: Pubkey) -> tuple[ChainClock, list[Account | None]]:
    """The chain's clock and the raw accounts at `addresses` (None where there is no account),
    read in one getMultipleAccounts so that they are of one slot."""
    resp = await rpc.call("get_multiple_accounts", [CLOCK, *addresses])
    clock, *accounts = resp.value
    if clock is None:
        raise ValueError("the node has no Clock sysvar")
    data = bytes(clock.data)
    (slot,) = _CLOCK_SLOT.unpack_from(data, 0)
    (now,) = _CLOCK_UNIX_TIMESTAMP.unpack_from(data, _CLOCK_UNIX_TIMESTAMP_OFFSET)
    return ChainClock(int(slot), int(now)), list(accounts)


@dataclass(frozen=True)
class JobDeps:
    """The context of a chain job: the RPC endpoints, the keeper's Sender, the anchorpy
    Program (decoding), the instruction builder of the deployment, the token account the
    keeper's rewards are paid to when configured (None: derived, see jobs/reward_token.py),
    and the worker's arq Redis, through which jobs queue jobs (None outside a worker)."""

    rpc: RpcClient
    sender: Sender
    program: Program
    client: Client
    reward_token: Pubkey | None = None
    queue: ArqRedis | None = None

    async def raw_snapshot(self, *addresses: Pubkey) -> tuple[ChainClock, list[Account | None]]:
        """The chain's clock and the raw accounts at `addresses` (see `read_raw_snapshot`)."""
        return await read_raw_snapshot(self.rpc, *addresses)

    def decode(self, account: Account | None) -> ProgramAccount | None:
        """An account decoded into its class (program/accounts.py); None for no account."""
        return None if account is None else decode(bytes(account.data))

    async def snapshot(self, *addresses: Pubkey) -> tuple[int, list[ProgramAccount | None]]:
        """The chain's unix time and the accounts at `addresses` decoded (None
        where there is no account), read in one getMultipleAccounts so that they are of
        one slot."""
        clock, accounts = await self.raw_snapshot(*addresses)
        return clock.unix_timestamp, [self.decode(a) for a in accounts]


class MissingAccount(Permanent):
    """The job's target (or the Config) is not on chain: nothing a retry will fix."""


Step = Sequence[Instruction] | Outcome
Planner = Callable[[], Awaitable[Step]]


class Replanning:
    """An Intent whose instructions come from `planner` — a fresh read of the chain and the
    pure plan — every time the Sender asks, so a retry after an expired blockhash sees what
    landed meanwhile and sends nothing twice. `first` is the plan the job already made (used
    for the first ask only; None: every ask plans). `last` is the outcome of the last plan
    that said not to send."""

    def __init__(self, planner: Planner, first: Sequence[Instruction] | None) -> None:
        self._planner = planner
        self._first: Sequence[Instruction] | None = first
        self.last: Outcome = Outcome.ALREADY_DONE

    async def instructions(self) -> Sequence[Instruction] | None:
        if self._first is not None:
            step: Step = self._first
            self._first = None
        else:
            step = await self._planner()
        if isinstance(step, Outcome):
            self.last = step
            return None
        return step


def sent_outcome(result: SendResult, intent: Replanning) -> Outcome:
    """What the Sender's result means for the job."""
    if isinstance(result, Landed):
        return Outcome.SUCCESS
    if isinstance(result, AlreadyDone):
        return intent.last
    if isinstance(result, Refused):
        return refusal_outcome(result.error)
    # Fenced: the target's lease was lost before signing; a retry re-takes it or finds the
    # work done by whoever took it over
    if isinstance(result, Expired | GaveUp | Fenced):
        return Outcome.RETRY
    raise TypeError(f"not a send result: {result!r}")


OnRefused = Callable[[str], Awaitable[None]]


async def run_planned(deps: JobDeps, job: ErrorPolicy, planner: Planner,
                      on_refused: OnRefused | None = None, *,
                      first: Sequence[Instruction] | None = None,
                      units: int | None = None, presigned: Presigned | None = None) -> Outcome:
    """Plan; when the plan is to send, send it as a `Replanning` intent and map the result,
    calling `on_refused` with the error name when the program refused it. An error on the way
    is `job`'s outcome for it (jobs/errors.py: an endpoint that does not answer is `retry`, a
    missing account `failed`). With `first` (instructions the caller built from what it
    knows, with their compute `units`), the first send is those, unread and unsimulated (the
    transaction `presigned` when signed already from `first`); the planner plans any later
    one."""
    return await maps_errors(job)(_plan_and_send)(deps, planner, on_refused, first, units,
                                                  presigned)


async def _plan_and_send(deps: JobDeps, planner: Planner, on_refused: OnRefused | None,
                         first: Sequence[Instruction] | None, units: int | None,
                         presigned: Presigned | None) -> Outcome:
    step = first if first is not None else await planner()
    if isinstance(step, Outcome):
        return step
    # (a presigned transaction is the first attempt: the intent plans from the second on)
    intent = Replanning(planner, step if presigned is None else None)
    result = await deps.sender.send(intent, units=units if first is not None else None,
                                    presigned=presigned)
    record_send(instruction_name(deps.program, step), result)
    if isinstance(result, Refused) and on_refused is not None:
        await on_refused(result.error)
    return sent_outcome(result, intent)


def instruction_name(program: Program, ixs: Sequence[Instruction]) -> str:
    """The IDL name of the program's last instruction in `ixs` ("unknown" if none is)."""
    names = program.coder.instruction.sighash_to_name
    for ix in reversed(ixs):
        if ix.program_id == program.program_id:
            return str(names.get(bytes(ix.data[:8]), "unknown"))
    return "unknown"


async def read_account(deps: JobDeps, address: Pubkey, kind: type[A]) -> tuple[int, A, Config]:
    """The chain's unix time, the `kind` account at `address` and the Config, of one slot."""
    now, (account, config) = await deps.snapshot(address, deps.client.d.config)
    if not isinstance(account, kind):
        raise MissingAccount(f"no {kind.KIND} account at {address}")
    if not isinstance(config, Config):
        raise MissingAccount("the program's Config account is missing")
    return now, account, config

