"""patches/arq_enqueue_many.py: a job enqueued in a batch is the job arq's `enqueue_job` makes
(the same payload, expiry and due time), a worker runs it, and an id queued or kept is
refused, as `enqueue_job` refuses it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import job_key_prefix
from arq.jobs import deserialize_job
from arq.worker import Worker, func

from fleet.serializer import job_deserializer, job_serializer
from patches.arq_enqueue_many import Queued, enqueue_many

QUEUE = "keepernet:test:queue"
HOUR_S = 3600


async def echo(ctx: dict[str, object], value: str) -> str:
    return value


@pytest.fixture
async def pool(redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(RedisSettings.from_dsn(redis_url), job_serializer=job_serializer,
                             job_deserializer=job_deserializer)
    try:
        yield pool
    finally:
        await pool.aclose()


async def test_a_batched_job_is_the_job_enqueue_job_makes(pool: ArqRedis) -> None:
    await pool.enqueue_job("echo", "a", _job_id="one", _queue_name=QUEUE, _defer_by=HOUR_S)
    assert await enqueue_many(pool, QUEUE, [Queued("echo", ("a",), "two", HOUR_S)]) == [True]
    one, two = [await pool.get(job_key_prefix + id_) for id_ in ("one", "two")]
    assert one is not None and two is not None
    made = [deserialize_job(raw, deserializer=job_deserializer) for raw in (one, two)]
    first, second = ((m.function, list(m.args), m.kwargs, m.job_try) for m in made)
    assert first == second == ("echo", ["a"], {}, None)
    assert abs(made[0].enqueue_time.timestamp() - made[1].enqueue_time.timestamp()) < 5
    scores = [await pool.zscore(QUEUE, id_) for id_ in ("one", "two")]
    assert None not in scores and abs(scores[0] - scores[1]) < 5_000  # type: ignore[operator]
    ttls = [await pool.pttl(job_key_prefix + id_) for id_ in ("one", "two")]
    assert abs(ttls[0] - ttls[1]) < 5_000


async def test_batched_jobs_run_and_a_queued_or_kept_id_is_refused(pool: ArqRedis) -> None:
    await pool.enqueue_job("echo", "early", _job_id="queued", _queue_name=QUEUE)
    jobs = [Queued("echo", ("a",), "a"), Queued("echo", ("b",), "b"),
            Queued("echo", ("again",), "queued")]
    assert await enqueue_many(pool, QUEUE, jobs) == [True, True, False]
    assert await enqueue_many(pool, QUEUE, jobs[:1]) == [False]  # queued now
    worker = Worker(functions=[func(echo, name="echo")], redis_pool=pool, queue_name=QUEUE,
                    burst=True, poll_delay=0.05, handle_signals=False, keep_result=60,
                    job_serializer=job_serializer, job_deserializer=job_deserializer)
    async with asyncio.timeout(10):
        await worker.main()
    assert worker.jobs_complete == 3
    # run and its result kept: refused as enqueue_job refuses it
    assert await enqueue_many(pool, QUEUE, jobs[:2]) == [False, False]
    assert await pool.enqueue_job("echo", "a", _job_id="a", _queue_name=QUEUE) is None
    assert {r.job_id: r.result for r in await pool.all_job_results()} == {
        "a": "a", "b": "b", "queued": "early"}
    assert await enqueue_many(pool, QUEUE, []) == []
