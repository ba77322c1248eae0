"""What `keepernet status` shows: each role's queue, the jobs running, each job's last success,
the indexer's lag and the keeper wallet's balance.

`gather(settings)` reads it all (Redis, PostgreSQL, the RPC) into a `Status`; `render(status)`
is the table, a pure function. Where the numbers come from:

- queued: the role's arq queue, the sorted set `keepernet:<role>` scored by the time each job
  is due (enqueue time plus any deferral, ms), less the jobs in it that are running (arq keeps
  a job in its queue until it finishes); the oldest's age is counted from when it was due;
- running: the `arq:in-progress:<job id>` keys, each given to the role whose queue holds the id,
  else the role of the job its id names (`job:target:stage`, or arq's `cron:job:time`);
- last success: the latest `finished_at` in `job_runs` with outcome `success`, per job;
- indexer lag: the chain's slot less the slot of the indexer's cursor (store/events.py);
- balance: getBalance of the keypair's public key (the secret is never shown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis
from redis.exceptions import RedisError
from solana.rpc.core import RPCException
from solders.pubkey import Pubkey

from chain.client import RpcClient, RpcUnavailable
from fleet.redis import plain_client
from fleet.settings import Settings
from jobs.errors import Retryable
from jobs.registry import JOBS, ROLES, queue_name
from store.events import CURSOR_NAME

LAMPORTS_PER_SOL = 1_000_000_000
PG_CONNECT_TIMEOUT_S = 5.0
T = TypeVar("T")


class Unreachable(Retryable):
    """A service status reads from did not answer: the message names it and says why."""


@dataclass(frozen=True)
class RoleQueue:
    """One role's queue: jobs waiting, how long the oldest has been due, jobs running."""

    role: str
    queued: int
    oldest_age_s: float | None
    running: int


@dataclass(frozen=True)
class Status:
    """Everything `keepernet status` shows, as read at `now`."""

    now: datetime
    queues: Sequence[RoleQueue]
    last_success: dict[str, datetime | None]  # job -> when it last succeeded (None: never)
    chain_slot: int
    indexed_slot: int | None  # None: the indexer has stored nothing yet
    keeper: Pubkey | None  # None: no keypair in the settings
    balance_lamports: int | None


def _age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def render(status: Status) -> str:
    """The status as a plain-text table (see the module docstring)."""
    lines = [f"{'role':<12}{'queued':>8}  {'oldest':<10}{'running':>8}"]
    for q in status.queues:
        oldest = "-" if q.oldest_age_s is None else _age(q.oldest_age_s)
        lines.append(f"{q.role:<12}{q.queued:>8}  {oldest:<10}{q.running:>8}")
    lines += ["", f"{'job':<20}last success"]
    for job, when in status.last_success.items():
        shown = "never" if when is None else (
            f"{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"({_age(max(0.0, (status.now - when).total_seconds()))} ago)")
        lines.append(f"{job:<20}{shown}")
    lines.append("")
    if status.indexed_slot is None:
        lines.append(f"indexer lag:    nothing indexed yet (chain at slot {status.chain_slot})")
    else:
        lines.append(f"indexer lag:    {status.chain_slot - status.indexed_slot} slots (chain "
                     f"{status.chain_slot}, indexed {status.indexed_slot})")
    if status.keeper is None or status.balance_lamports is None:
        lines.append("keeper wallet:  no keypair in the settings")
    else:
        lines.append(f"keeper wallet:  {status.keeper}  "
                     f"{status.balance_lamports / LAMPORTS_PER_SOL:.9f} SOL")
    return "\n".join(lines)


def role_of_job_id(job_id: str) -> str | None:
    """The role of the job a job id names (`job:...`, or arq's `cron:job:...`), if any."""
    parts = job_id.split(":")
    name = parts[1] if parts[0] == "cron" and len(parts) > 1 else parts[0]
    job = JOBS.get(name)
    return None if job is None else job.role


async def _queues(redis: Redis, now: datetime) -> list[RoleQueue]:
    running = {role: 0 for role in ROLES}
    running_in_queue: dict[str, set[str]] = {role: set() for role in ROLES}
    async for key in redis.scan_iter(match=in_progress_key_prefix + "*"):
        job_id = key.decode()[len(in_progress_key_prefix):]
        holder = None
        for role in ROLES:
            if await redis.zscore(queue_name(role), job_id) is not None:
                holder = role
                running_in_queue[role].add(job_id)
                break
        owner = holder or role_of_job_id(job_id)
        if owner is not None:
            running[owner] += 1
    now_ms = now.timestamp() * 1000
    queues = []
    for role in ROLES:
        busy = running_in_queue[role]
        total = await redis.zcard(queue_name(role))
        # the first waiting job by score is among the first len(busy) + 1
        head = await redis.zrange(queue_name(role), 0, len(busy), withscores=True)
        due = next((score for member, score in head if member.decode() not in busy), None)
        oldest = None if due is None else max(0.0, (now_ms - due) / 1000)
        queues.append(RoleQueue(role, total - len(busy), oldest, running[role]))
    return queues


async def _redis_part(settings: Settings, now: datetime) -> list[RoleQueue]:
    try:
        redis = plain_client(settings)
        try:
            return await _queues(redis, now)
        finally:
            await redis.aclose()
    except (RedisError, OSError) as e:
        raise Unreachable(f"Redis (KEEPERNET_REDIS_URL) did not answer: {e}") from None


async def _database_part(settings: Settings) -> tuple[dict[str, datetime | None], int | None]:
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=PG_CONNECT_TIMEOUT_S)
    except (asyncpg.PostgresError, OSError, TimeoutError) as e:
        raise Unreachable(f"PostgreSQL (KEEPERNET_DATABASE_URL) did not answer: "
                          f"{type(e).__name__}: {e}") from None
    try:
        rows = await conn.fetch("SELECT job, max(finished_at) AS at FROM job_runs "
                                "WHERE outcome = 'success' GROUP BY job")
        indexed = await conn.fetchval("SELECT slot FROM cursors WHERE name = $1", CURSOR_NAME)
    except asyncpg.UndefinedTableError as e:
        raise Unreachable(f"PostgreSQL (KEEPERNET_DATABASE_URL) has no Keepernet schema ({e}): "
                          f"run `keepernet migrate`") from None
    except (asyncpg.PostgresError, OSError) as e:
        raise Unreachable(f"PostgreSQL (KEEPERNET_DATABASE_URL) failed: {e}") from None
    finally:
        await conn.close()
    found = {r["job"]: r["at"] for r in rows}
    return {job: found.get(job) for job in JOBS}, indexed


async def _chain_part(settings: Settings, keeper: Pubkey | None) -> tuple[int, int | None]:
    rpc = RpcClient(settings.rpc, timeout_s=settings.rpc_timeout_s,
                    deadline_s=settings.rpc_deadline_s)
    try:
        slot = (await rpc.call("get_slot")).value
        balance = None if keeper is None else (await rpc.call("get_balance", keeper)).value
    except (RpcUnavailable, RPCException) as e:
        raise Unreachable(f"the RPC (KEEPERNET_RPC_URLS) did not answer: {e}") from None
    finally:
        await rpc.close()
    return int(slot), None if balance is None else int(balance)


async def gather(settings: Settings) -> Status:
    """Read the status from Redis, PostgreSQL and the RPC at once; Unreachable when one of them
    does not answer, SettingsError when the keypair file is unusable."""
    keeper = None if settings.keypair_path is None else settings.keypair().pubkey()
    now = datetime.now(UTC)
    redis, database, chain = await asyncio.gather(
        _redis_part(settings, now), _database_part(settings), _chain_part(settings, keeper),
        return_exceptions=True)
    # say everything that is down at once, not only the first
    down = [str(e) for e in (redis, database, chain) if isinstance(e, Unreachable)]
    if down:
        raise Unreachable("\n".join(down))
    (last_success, indexed), (slot, balance) = _value(database), _value(chain)
    return Status(now, _value(redis), last_success, slot, indexed, keeper, balance)


def _value(part: T | BaseException) -> T:
    """What a gathered part returned, or what it raised, raised again."""
    if isinstance(part, BaseException):
        raise part
    return part
