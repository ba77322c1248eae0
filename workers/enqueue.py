"""An operator's enqueue (`keepernet enqueue JOB [ADDRESS]`), checked before anything is queued:
the job's name, the number of arguments, the address (base58), that the chain holds an
account of the job's kind there and, for apply_config, that a change is pending and its
timelock has passed (a run that could only end `not_needed` would keep its result under the
planners' id for KEEP_RESULT_S and hold the reconciler's enqueue of the change back that
long). The job is then enqueued under the same id the planners use
(`jobs.registry`), its stage computed from the account just read, so a job an operator asks
for is the very job a planner would queue, never a second one. Each job's target (its kind,
whether it may be left out) and stage are the registry's:

    job                 its argument             the stage, from the account
    index_events        none                     none
    snapshot_accounts   none                     none
    scan_positions      a PerpMarket, optional   none
    liquidate_position  a Position               its opened_at
    update_funding      a PerpMarket             its last_funding_ts
    tally_votes         a Market                 none
    finalize_market     a Market                 its state
    apply_config        the PendingConfig,       its proposed_at
                        optional (the deployment's own when left out)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from anchorpy import Program
from arq.connections import ArqRedis, create_pool
from arq.constants import in_progress_key_prefix, result_key_prefix
from solders.pubkey import Pubkey

from chain.client import RpcClient, anchor_program
from fleet.redis import apply_socket_options, redis_settings
from fleet.serializer import job_deserializer, job_serializer
from fleet.settings import Settings
from jobs.config_plan import ConfigAction, PendingConfigView, apply_step
from jobs.deps import read_raw_snapshot
from jobs.errors import Permanent
from jobs.registry import APPLY_CONFIG, UnknownJob, enqueue, job_id, job_named
from jobs.stages import stage_of
from program.addresses import pending_config_pda

# the kinds whose deployment's own account stands in for a target left out (from the program
# id); an optional target of another kind left out means every such account
DEPLOYMENT_DEFAULTS: dict[str, Callable[[Pubkey], Pubkey]] = {
    "PendingConfig": pending_config_pda}


def _utc(unix_s: int) -> str:
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def config_not_due(pending: PendingConfigView, now: int) -> str | None:
    """Why apply_config on `pending` would not apply it at chain time `now` (None: it would)."""
    if apply_step(pending, now) == ConfigAction.APPLY:
        return None
    if not pending.pending:
        return "no config change is pending"
    return (f"the timelock runs until {_utc(pending.effective_at)} "
            f"({pending.effective_at - now} s from the chain's clock)")


# job -> why its target account, decoded, at chain time `now`, makes the job pointless now
NOT_DUE: dict[str, Callable[[Any, int], str | None]] = {APPLY_CONFIG.name: config_not_due}


class Refused(Permanent, ValueError):
    """The request is wrong: the message says what, and nothing is enqueued."""


@dataclass(frozen=True)
class Request:
    """A job and the account it acts on (None for a job that takes none)."""

    job: str
    target: Pubkey | None


def parse_request(job: str, args: Sequence[str]) -> Request:
    """The job and its address from the command line; Refused for an unknown job, a wrong number
    of arguments or an address that is not a base58 public key."""
    try:
        target = job_named(job).target
    except UnknownJob as e:
        raise Refused(str(e)) from None
    if target is None:
        if args:
            raise Refused(f"{job} takes no argument, but got {len(args)}: {' '.join(args)}")
        return Request(job, None)
    if len(args) > 1 or (not args and not target.optional):
        wanted = f"{'at most ' if target.optional else ''}one argument, the {target.kind}'s " \
                 f"address"
        raise Refused(f"{job} takes {wanted}, but got {len(args)}")
    if not args:
        return Request(job, None)
    try:
        return Request(job, Pubkey.from_string(args[0]))
    except ValueError:
        raise Refused(f"{job}: not a base58 public key: {args[0]!r}") from None


def account_kind(program: Program, data: bytes) -> str | None:
    """The IDL's name of the account whose data is `data`, or None when no IDL account starts
    with its first eight bytes."""
    for kind, discriminator in program.coder.accounts.acc_name_to_discriminator.items():
        if data[:8] == discriminator:
            return str(kind)
    return None


async def checked_stage(rpc: RpcClient, program: Program, request: Request) -> int | None:
    """Read the request's target and return the job's stage; Refused when there is no account
    there, it is not the program's, it is not the job's kind, or the job has nothing to do
    (`NOT_DUE`). RpcUnavailable passes up."""
    target = job_named(request.job).target
    if request.target is None or target is None:
        return None
    clock, (account,) = await read_raw_snapshot(rpc, request.target)
    if account is None:
        raise Refused(f"{request.job}: no account at {request.target}: expected a {target.kind}")
    if account.owner != program.program_id:
        raise Refused(f"{request.job}: the account at {request.target} is not the program's "
                      f"(owned by {account.owner}): expected a {target.kind}")
    data = bytes(account.data)
    kind = account_kind(program, data)
    if kind != target.kind:
        found = "an account of no kind the IDL knows" if kind is None else f"a {kind}"
        raise Refused(f"{request.job}: {request.target} is {found}, not a {target.kind}")
    decoded = program.coder.accounts.decode(data)
    not_due = NOT_DUE.get(request.job)
    why = None if not_due is None else not_due(decoded, clock.unix_timestamp)
    if why is not None:
        raise Refused(f"{request.job}: {why}")
    return stage_of(request.job, decoded)


class Fate(StrEnum):
    """What became of an enqueue: the job is queued now, or its id already is queued, running,
    or done with its result still kept (arq refuses the id until the result expires)."""

    ENQUEUED = "enqueued"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True)
class Enqueued:
    """The job's id and what became of it."""

    job_id: str
    fate: Fate


async def enqueue_request(redis: ArqRedis, request: Request, stage: int | None) -> Enqueued:
    """Enqueue the request under its deterministic id; when arq refuses the id, say why."""
    args = () if request.target is None else (str(request.target),)
    the_id = job_id(request.job, request.target, stage)
    job = await enqueue(redis, request.job, *args, stage=stage)
    if job is not None:
        return Enqueued(the_id, Fate.ENQUEUED)
    if await redis.exists(result_key_prefix + the_id):
        return Enqueued(the_id, Fate.DONE)
    if await redis.exists(in_progress_key_prefix + the_id):
        return Enqueued(the_id, Fate.RUNNING)
    return Enqueued(the_id, Fate.QUEUED)


def describe(enqueued: Enqueued) -> str:
    """What the command prints: the id alone when it was enqueued now."""
    if enqueued.fate is Fate.ENQUEUED:
        return enqueued.job_id
    if enqueued.fate is Fate.DONE:
        return f"already done: {enqueued.job_id} (its result is still kept)"
    return f"already {enqueued.fate}: {enqueued.job_id}"



async def run_enqueue(settings: Settings, request: Request) -> Enqueued:
    """Check the request's target on the settings' RPC, then enqueue it on their Redis.
    Refused, RpcUnavailable (no endpoint answered) and Redis's errors pass up; nothing is
    enqueued unless every check passed."""
    target = job_named(request.job).target
    default = None if target is None else DEPLOYMENT_DEFAULTS.get(target.kind)
    if request.target is None and target is not None and target.optional and default is not None:
        request = replace(request, target=default(settings.program_id))
    stage = None
    if request.target is not None:
        rpc = RpcClient(settings.rpc, timeout_s=settings.rpc_timeout_s,
                        deadline_s=settings.rpc_deadline_s)
        try:
            stage = await checked_stage(rpc, anchor_program(rpc, settings.program_id), request)
        finally:
            await rpc.close()
    redis = await create_pool(redis_settings(settings), job_serializer=job_serializer,
                              job_deserializer=job_deserializer)
    try:
        await apply_socket_options(redis, settings)
        return await enqueue_request(redis, request, stage)
    finally:
        await redis.aclose()
