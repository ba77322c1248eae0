"""Many arq jobs enqueued in one round trip, each as `ArqRedis.enqueue_job` makes it.

What it changes: nothing in arq. It writes what arq 0.28.0's `enqueue_job` writes for each job
— the payload `serialize_job` makes (with the pool's serializer) at `arq:job:<id>` with its
expiry, and the id in the queue's sorted set scored by the time it is due (unix ms) — for
many jobs in one Lua script, each skipped when its job key or result key exists (the check
`enqueue_job` makes under WATCH; here atomic).

Why: a crash's burst makes the liquidator enqueue a fallback for each position it liquidates
at once (fleet/fast_path.py). One `enqueue_job` each took three round trips and a connection
of its own (WATCH), most of the keeper's share of the reaction after the judging.

Pinned: arq==0.28.0 (tests/patches/test_arq_enqueue_many.py checks that a job enqueued here is
the job `enqueue_job` would have made: the same payload and score, run by a worker, and
refused while queued or kept).

To remove: if arq gains a call that enqueues many jobs at once, use it; if arq changes its keys
or payload, this must follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_ms

# KEYS: n job keys, n result keys, the queue; ARGV: n, then id, payload, score, expiry (ms)
# of each job. Returns 1 for each job queued, 0 for each already queued or kept.
_ENQUEUE = """
local n = tonumber(ARGV[1])
local queue = KEYS[2 * n + 1]
local queued = {}
for i = 1, n do
    local at = 2 + (i - 1) * 4
    if redis.call('EXISTS', KEYS[i], KEYS[n + i]) > 0 then
        queued[i] = 0
    else
        redis.call('PSETEX', KEYS[i], ARGV[at + 3], ARGV[at + 1])
        redis.call('ZADD', queue, ARGV[at + 2], ARGV[at])
        queued[i] = 1
    end
end
return queued
"""


@dataclass(frozen=True)
class Queued:
    """One job to enqueue: `function(*args)` under `job_id`, due in `defer_s` (None: now)."""

    function: str
    args: tuple[Any, ...]
    job_id: str
    defer_s: float | None = None


async def enqueue_many(redis: ArqRedis, queue: str, jobs: Sequence[Queued]) -> list[bool]:
    """Enqueue `jobs` on `queue` in one round trip; for each, whether it was queued (False:
    its id was queued already, or its result is kept)."""
    if not jobs:
        return []
    now_ms = timestamp_ms()
    args: list[Any] = [len(jobs)]
    for job in jobs:
        score = now_ms + (to_ms(job.defer_s) or 0)
        args += [job.job_id,
                 serialize_job(job.function, job.args, {}, None, now_ms,
                               serializer=redis.job_serializer),
                 score, score - now_ms + redis.expires_extra_ms]
    keys = ([job_key_prefix + j.job_id for j in jobs]
            + [result_key_prefix + j.job_id for j in jobs] + [queue])
    queued = await cast(Any, redis.eval(_ENQUEUE, len(keys), *keys, *args))
    return [bool(q) for q in queued]
