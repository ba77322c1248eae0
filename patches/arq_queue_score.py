"""A queued arq job made due sooner or later, by rewriting its score in arq's queue.

What it changes: the score of a job id in an arq queue's sorted set. arq 0.28.0 keeps each
queue as a Redis sorted set of job ids scored by the time each is due (unix milliseconds,
`ArqRedis.enqueue_job`), and its worker starts the ids whose score has passed
(`Worker._poll_iteration`); it has no call to change a queued job's due time.

Why: the liquidator's fast path (`fleet.fast_path`) enqueues a deferred fallback for each
position it liquidates at once, keeps it deferred while its own try holds the position's lease
(pushed later at each renewal) and brings it forward when its own try does not land.

Pinned: arq==0.28.0 (tests/patches/test_arq_queue_score.py checks that an enqueued job's
score is its due time in ms, that a worker starts a job brought forward and not one put
off).

To remove: if arq gains a call to reschedule a queued job, use it here; if arq stores due
times otherwise, this must follow it or the fast path must abort and enqueue again.
"""

from __future__ import annotations

import time

from arq.connections import ArqRedis


async def reschedule(redis: ArqRedis, queue: str, job_id: str, delay_s: float) -> None:
    """Make the job `job_id` queued in `queue` due in `delay_s`, sooner or later than it was.
    XX: a job no longer queued (it has run) stays gone."""
    due_ms = round((time.time() + delay_s) * 1000)
    await redis.zadd(queue, {job_id: due_ms}, xx=True)
