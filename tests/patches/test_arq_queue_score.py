"""patches/arq_queue_score.py: arq still keeps a queue as job ids scored by their due time in
unix ms, and its worker starts a job brought forward and leaves one put off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker, func

from patches.arq_queue_score import reschedule

QUEUE = "keepernet:test:queue"
HOUR_S = 3600


async def noop(ctx: dict[str, object]) -> str:
    return "ran"


@pytest.fixture
async def pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        yield pool
    finally:
        await pool.aclose()


async def test_arq_scores_a_queued_job_by_its_due_time_in_ms(pool: ArqRedis) -> None:
    before = time.time()
    await pool.enqueue_job("noop", _job_id="j", _queue_name=QUEUE, _defer_by=HOUR_S)
    score = await pool.zscore(QUEUE, "j")
    assert score is not None
    # arq rounds its clock to the millisecond: a bound may be passed by half of one
    assert (before + HOUR_S) * 1000 - 1 <= score <= (time.time() + HOUR_S) * 1000 + 1


async def test_a_job_brought_forward_is_due_and_a_worker_starts_it(pool: ArqRedis) -> None:
    await pool.enqueue_job("noop", _job_id="j", _queue_name=QUEUE, _defer_by=HOUR_S)
    await reschedule(pool, QUEUE, "j", 0.0)
    score = await pool.zscore(QUEUE, "j")
    assert score is not None and score <= time.time() * 1000 + 1  # arq's ms rounding
    worker = Worker(functions=[func(noop, name="noop")], redis_pool=pool, queue_name=QUEUE,
                    burst=True, max_burst_jobs=1, poll_delay=0.05, handle_signals=False)
    async with asyncio.timeout(10):  # a job still deferred would keep the worker waiting
        await worker.main()
    assert worker.jobs_complete == 1


async def test_a_job_put_off_is_not_started_before_its_new_time(pool: ArqRedis) -> None:
    await pool.enqueue_job("noop", _job_id="j", _queue_name=QUEUE)  # due now
    await reschedule(pool, QUEUE, "j", HOUR_S)
    worker = Worker(functions=[func(noop, name="noop")], redis_pool=pool, queue_name=QUEUE,
                    poll_delay=0.05, handle_signals=False)
    polling = asyncio.create_task(worker.main())
    try:
        await asyncio.sleep(0.5)  # ten polls
        assert worker.jobs_complete == 0
        assert await pool.zscore(QUEUE, "j") is not None
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)


async def test_a_job_no_longer_queued_stays_gone(pool: ArqRedis) -> None:
    await reschedule(pool, QUEUE, "gone", 0.0)
    assert await pool.zscore(QUEUE, "gone") is None
