"""What a worker builds once and every job of it uses, and the wrapper that makes a job
function an arq function.

`startup(settings, role, ...)` and `shutdown` are the worker's `on_startup`/`on_shutdown`:
they build the typed `WorkerDeps` (RpcClient, Sender with the keeper's keypair, anchorpy
Program, instruction Client, the link to PostgreSQL — each only when the role needs it) and
keep them in arq's ctx under one key, `DEPS_KEY`; nothing else reads the ctx dict. Start-up also
configures the JSON logs (fleet/logging.py) and, unless the metrics port is 0, starts the
worker's `/metrics` and `/healthz` (fleet/observer.py).

`job_function` turns `run(deps, *json_args) -> Outcome` into the arq function of a job of the
registry (jobs/registry.py) with the job's timeout from the settings, structlog context bound
(role, job, job_id, try), and the outcome's string as the result; an error the run raises
becomes an outcome in one place (jobs/errors.py: `retry` on the job's `retry_on`, a refusal's
named outcome, `failed`); a `retry` outcome is retried by arq (after `RETRY_DEFER_S`) while
tries remain. A job called with arguments acts on its first one, its target (as `job_ids.enqueue`
has it), and holds the target's Redis lease (fleet/lease.py) while it runs, a short one
(`LEASE_TTL_S`) renewed in the background, and checked again right before every signing (the
fencing check, `chain.sender.fenced`): when another run holds it, the try is `already_done` at
once and sends nothing; when the lease lapsed under it (the process frozen or cut off from
Redis for longer than the TTL), it signs nothing more and ends `retry`. Each try is recorded in
`job_runs` (store/job_runs.py) when it starts and when it ends — the chain, not that table, is
the source of truth, so the job never waits for the database: while it is away the writes are
held and written when it returns (fleet/store_link.py) — and in the metrics (metrics/jobs.py:
outcome, duration, queue wait).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import structlog
from anchorpy import Program
from arq import Retry
from arq.connections import ArqRedis
from arq.worker import Function, func
from redis.asyncio import Redis
from solders.pubkey import Pubkey

from chain.client import RpcClient, anchor_program
from chain.sender import Sender, fenced
from fleet.lease import Lease, OnRenew, lease
from fleet.logging import configure_logging
from fleet.observer import Observer
from fleet.redis import apply_socket_options
from fleet.settings import Settings
from fleet.store_link import StoreLink
from jobs.deps import JobDeps
from jobs.errors import Permanent, log_mapped, outcome_of
from jobs.outcome import Outcome
from jobs.registry import Job, job_named
from metrics.health import HealthPolicy
from metrics.jobs import JobTry
from program.client import Client, Deployment
from store import job_runs

DEPS_KEY = "keepernet"
RETRY_DEFER_S = 1.0
# A try's lease on its target lasts this long unless renewed (every third of it, while the try
# runs): a holder that freezes, is cut off or dies loses its claim within this, and whoever
# takes over waits no longer. Short, but several event-loop stalls long.
LEASE_TTL_S = 1.5

log = structlog.get_logger(__name__)


class DepsMissing(Permanent, RuntimeError):
    """A job asked for something its role's worker did not build."""


@dataclass
class WorkerDeps:
    """Everything a worker's jobs share; `chain` (signing) and `store` (PostgreSQL) only
    where the role needs them."""

    role: str
    settings: Settings
    rpc: RpcClient
    chain_deps: JobDeps | None = None
    store: StoreLink | None = None
    queue: ArqRedis | None = None  # arq's Redis, for jobs that enqueue jobs
    background: asyncio.Task[None] | None = None  # the role's own task beside its jobs
    observer: Observer | None = None  # its /metrics and /healthz, and the probes behind them

    @property
    def chain(self) -> JobDeps:
        if self.chain_deps is None:
            raise DepsMissing(f"the {self.role} worker has no signing chain deps")
        return self.chain_deps

    @property
    def pool(self) -> asyncpg.Pool:
        """The database pool; StoreUnavailable (retryable) while PostgreSQL is not reached."""
        if self.store is None:
            raise DepsMissing(f"the {self.role} worker has no database pool")
        return self.store.pool

    async def ready_pool(self) -> asyncpg.Pool:
        """The database pool for a job that cannot work without it: at a worker's start, it
        waits a little for the pool being made; StoreUnavailable as `pool` otherwise."""
        if self.store is None:
            raise DepsMissing(f"the {self.role} worker has no database pool")
        return await self.store.ready_pool()

    @property
    def redis(self) -> ArqRedis:
        if self.queue is None:
            raise DepsMissing(f"the {self.role} worker has no Redis queue")
        return self.queue

    async def close(self) -> None:
        if self.background is not None:
            self.background.cancel()
            await asyncio.gather(self.background, return_exceptions=True)
        if self.observer is not None:
            await self.observer.stop()
        if self.store is not None:
            await self.store.close()
        await self.rpc.close()


async def build_deps(settings: Settings, role: str, *, signs: bool,
                     database: bool) -> WorkerDeps:
    """Build a role's deps: the RPC client always; the keypair, Sender, Program and Client
    (the deployment read from the Config account) when it `signs`; when it needs the
    `database`, the link to it, which reaches it in the background (the worker starts while
    PostgreSQL is away)."""
    rpc = RpcClient(settings.rpc, timeout_s=settings.rpc_timeout_s,
                    deadline_s=settings.rpc_deadline_s, batches=settings.rpc_batches)
    deps = WorkerDeps(role, settings, rpc)
    try:
        if signs:
            keypair = settings.keypair()
            program = anchor_program(rpc, settings.program_id, keypair)
            deployment = await read_deployment(rpc, program, settings)
            deps.chain_deps = JobDeps(rpc=rpc, sender=Sender(rpc, keypair, fees=settings.fees),
                                      program=program, client=Client(program, deployment),
                                      reward_token=settings.liquidator.reward_token_account)
        if database:
            deps.store = StoreLink(settings.database_url)
            deps.store.start()
    except BaseException:
        await deps.close()
        raise
    return deps


async def read_deployment(rpc: RpcClient, program: Program, settings: Settings) -> Deployment:
    """The protocol's addresses, from its Config account on chain."""
    address = Deployment(settings.program_id, Pubkey.default(), Pubkey.default()).config
    account = (await rpc.call("get_account_info", address)).value
    if account is None:
        raise RuntimeError(f"no Config account at {address}: is KEEPERNET_PROGRAM_ID "
                           f"({settings.program_id}) the deployed program?")
    config = program.coder.accounts.decode(bytes(account.data))
    return Deployment(settings.program_id, config.quote_mint, config.vault)


StartupShutdown = Callable[[dict[Any, Any]], Awaitable[None]]


Background = Callable[[WorkerDeps], Coroutine[Any, Any, None]]


def lifecycle(settings: Settings, role: str, *, signs: bool, database: bool,
              health: HealthPolicy, background: Background | None = None
              ) -> tuple[StartupShutdown, StartupShutdown]:
    """The worker's on_startup and on_shutdown; `background(deps)`, if given, runs as a task
    from start-up until shutdown (cancelled before the deps close). Unless the settings' metrics
    port is 0, the worker serves `/metrics` and `/healthz` there, judged by `health`."""

    async def on_startup(ctx: dict[Any, Any]) -> None:
        configure_logging(role)
        await apply_socket_options(ctx["redis"], settings)
        deps = await build_deps(settings, role, signs=signs, database=database)
        deps.queue = ctx["redis"]
        if deps.chain_deps is not None:  # its jobs queue jobs too (jobs/price_request.py)
            deps.chain_deps = replace(deps.chain_deps, queue=deps.queue)
        try:
            if settings.metrics_port:
                deps.observer = Observer(
                    role, health, rpc=deps.rpc, redis=deps.queue, store=deps.store,
                    wallet=deps.chain.sender.payer.pubkey() if signs else None)
                await deps.observer.start(settings.metrics_port)
        except BaseException:
            await deps.close()
            raise
        if background is not None:
            deps.background = asyncio.create_task(background(deps), name=f"{role} background")
        ctx[DEPS_KEY] = deps
        log.info("worker started", role=role, metrics_port=settings.metrics_port or None)

    async def on_shutdown(ctx: dict[Any, Any]) -> None:
        deps = ctx.pop(DEPS_KEY, None)
        if isinstance(deps, WorkerDeps):
            await deps.close()
        log.info("worker stopped", role=role)

    return on_startup, on_shutdown


def deps_of(ctx: dict[Any, Any]) -> WorkerDeps:
    deps = ctx.get(DEPS_KEY)
    if not isinstance(deps, WorkerDeps):
        raise DepsMissing("the worker's on_startup did not run: no deps in its ctx")
    return deps


Run = Callable[..., Awaitable[Outcome]]


def job_function(job: Job, run: Run, settings: Settings) -> Function:
    """`run(deps, *json_args)` as the arq function of `job` (see the module docstring): its
    tries and result keeping from the registry, its timeout from the settings, structlog
    context bound, the target's lease held, the try recorded in job_runs, the outcome's string
    returned."""
    name = job.name

    async def arq_job(ctx: dict[Any, Any], *args: Any) -> str:
        deps = deps_of(ctx)
        job_try = int(ctx.get("job_try", 1))
        outcome = await run_try(deps, ctx["redis"], run, name, str(ctx.get("job_id")), job_try,
                                list(args), JobTry.of(deps.role, name, ctx))
        if outcome is Outcome.RETRY and job_try < job.tries:
            raise Retry(defer=RETRY_DEFER_S)
        return str(outcome)

    arq_job.__qualname__ = arq_job.__name__ = name
    return func(arq_job, name=name, timeout=settings.timeouts.of(name), max_tries=job.tries,
                keep_result=job.keep_result_s)


async def run_try(deps: WorkerDeps, redis: Redis, run: Run, name: str, job_id: str,
                  job_try: int, args: list[Any], recorded: JobTry, *,
                  on_renew: OnRenew | None = None, taken: Lease | None = None) -> Outcome:
    """Try `job_try` of the job `name` (id `job_id`): `run(deps, *args)` with structlog
    context bound, the target's lease held and renewed (`on_renew` called as it is taken and
    at each renewal; `taken` when taken already), every signing fenced by it (`already_done`
    at once when another run holds it), the try recorded in job_runs and in the metrics
    (`recorded`); its outcome."""
    tried = _Try(deps, job_id, job_try, name, args)
    recorded.start()
    outcome = Outcome.FAILED  # unless the try comes to an outcome
    with structlog.contextvars.bound_contextvars(role=deps.role, job=name, job_id=job_id,
                                                 **{"try": job_try}):
        try:
            if args:
                async with lease(redis, name, args[0], LEASE_TTL_S, on_renew=on_renew,
                                 taken=taken) as held:
                    if held is None:
                        log.info("job skipped: another run holds its target's lease",
                                 outcome=str(Outcome.ALREADY_DONE))
                        await tried.skipped(Outcome.ALREADY_DONE)
                        outcome = Outcome.ALREADY_DONE
                        return outcome
                    with fenced(held.still_held):
                        outcome = await tried.run(run)
            else:
                outcome = await tried.run(run)
        finally:
            recorded.finish(str(outcome))
        log.info("job done", outcome=str(outcome))
    return outcome


@dataclass
class _Try:
    """One try of a job, run and recorded in job_runs (when the role has a database) as a row
    of its own, `run_id`."""

    deps: WorkerDeps
    job_id: str
    try_: int
    job: str
    args: list[Any]
    run_id: UUID = field(default_factory=uuid4)

    async def run(self, run: Run) -> Outcome:
        store = self.deps.store
        if store is None:
            return await self.outcome(run)
        # the start is recorded beside the work, not before it: a liquidation does not wait
        # for the database; the end is recorded once the start is, so that it follows it
        at = datetime.now(UTC)
        started = asyncio.create_task(store.record("started", lambda pool: job_runs.started(
            pool, self.run_id, self.job_id, self.try_, self.deps.role, self.job, self.args,
            at)))
        try:
            outcome = await self.outcome(run)
        except Exception:
            await self._finished(store, started, Outcome.FAILED)
            raise
        # (cancelled by arq's timeout, the try stays unfinished: the reconciler takes it up)
        await self._finished(store, started, outcome)
        return outcome

    async def outcome(self, run: Run) -> Outcome:
        """`run`'s outcome, an error the error model knows mapped to one (jobs/errors.py);
        any other error is raised."""
        try:
            return await run(self.deps, *self.args)
        except Exception as e:
            outcome = outcome_of(e, job_named(self.job).retry_on)
            if outcome is None:
                raise
            log_mapped("job error", e, outcome)
            return outcome

    async def _finished(self, store: StoreLink, started: asyncio.Task[None],
                        outcome: Outcome) -> None:
        await started
        at = datetime.now(UTC)
        await store.record("finished", lambda pool: job_runs.finished(
            pool, self.run_id, str(outcome), at))

    async def skipped(self, outcome: Outcome) -> None:
        if self.deps.store is not None:
            await self.deps.store.record("skipped", lambda pool: job_runs.skipped(
                pool, self.run_id, self.job_id, self.try_, self.deps.role, self.job,
                self.args, str(outcome)))


def on_target(job: Callable[[JobDeps, Pubkey], Awaitable[Outcome]]) -> Run:
    """A job on one account as a Run taking the account's address as a base58 string;
    `failed`, with nothing sent, when the argument is not one."""

    async def run(deps: WorkerDeps, target: object) -> Outcome:
        key = pubkey_arg(target)
        return Outcome.FAILED if key is None else await job(deps.chain, key)

    return run


def pubkey_arg(value: object) -> Pubkey | None:
    """A job's public-key argument (a base58 string), or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return Pubkey.from_string(value)
    except ValueError:
        return None
