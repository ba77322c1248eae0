"""The Redis lease on a job's target, on a real Redis: one holder at a time, released only by
its own token, freed by expiry, kept while its block runs, a higher fence for each holder, the
fencing check false once it passed on; and the job wrapper's use of it, two runs of one job on
one target at once, and a try whose lease passed on signs nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from arq.connections import ArqRedis, create_pool
from solders.pubkey import Pubkey

from chain.client import Endpoint, RpcClient
from chain.sender import may_sign
from fleet.context import DEPS_KEY, WorkerDeps, job_function
from fleet.lease import fence_key, hold, lease, lease_key, release, take, take_each
from fleet.redis import redis_settings
from fleet.settings import RedisSettings, Settings
from jobs.outcome import Outcome
from jobs.registry import TALLY_VOTES

pytestmark = pytest.mark.asyncio


@pytest.fixture
def settings(redis_url: str) -> Settings:
    # no chain and no database: the jobs below touch neither
    return Settings(metrics_port=0, rpc=(Endpoint("unused", "http://127.0.0.1:9"),),
                    database_url="postgresql://unused@127.0.0.1/unused",
                    program_id=Pubkey.default(), redis=RedisSettings(url=redis_url))


@pytest_asyncio.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(settings))
    yield pool
    await pool.aclose()


async def test_one_holder_at_a_time(redis: ArqRedis) -> None:
    async with lease(redis, "tally_votes", "M1", 10) as first:
        async with lease(redis, "tally_votes", "M1", 10) as second:
            assert first and not second
        # the loser's exit released nothing
        assert await redis.exists(lease_key("tally_votes", "M1"))
        # another target, another job: their own leases
        async with lease(redis, "tally_votes", "M2", 10) as other_target, \
                lease(redis, "finalize_market", "M1", 10) as other_job:
            assert other_target and other_job
    assert not await redis.exists(lease_key("tally_votes", "M1"))
    async with lease(redis, "tally_votes", "M1", 10) as again:
        assert again


KEY, FENCE = lease_key("update_funding", "P"), fence_key("update_funding", "P")


async def test_a_foreign_token_releases_nothing(redis: ArqRedis) -> None:
    mine = await take(redis, KEY, FENCE, 10)
    assert mine is not None
    assert not await release(redis, KEY, "1:theirs")
    assert await redis.get(KEY) == mine.value.encode()
    assert await take(redis, KEY, FENCE, 10) is None
    assert await mine.release()
    assert not await redis.exists(KEY)


async def test_expiry_frees_a_lease_its_holder_never_released(redis: ArqRedis) -> None:
    dead = await take(redis, KEY, FENCE, 0.2)
    assert dead is not None
    assert await take(redis, KEY, FENCE, 10) is None
    await asyncio.sleep(0.3)
    following = await take(redis, KEY, FENCE, 10)
    assert following is not None
    # the dead holder, back, cannot free what is now another's, nor pass the fencing check
    assert not await dead.release()
    assert not await dead.still_held()
    assert await redis.get(KEY) == following.value.encode()
    assert await following.still_held()


async def test_each_holder_gets_a_higher_fence(redis: ArqRedis) -> None:
    fences = []
    for _ in range(3):
        held = await take(redis, KEY, FENCE, 10)
        assert held is not None
        fences.append(held.fence)
        assert held.value.startswith(f"{held.fence}:")
        assert await held.release()
    assert fences == sorted(set(fences)) and len(fences) == 3
    assert await redis.pttl(FENCE) > 0  # the counter does not stay forever


async def test_a_lease_is_kept_while_its_block_runs_and_lapses_once_it_stops(
        redis: ArqRedis) -> None:
    renewals = 0

    async def renewed() -> None:
        nonlocal renewals
        renewals += 1

    key = lease_key("liquidate_position", "P")
    async with lease(redis, "liquidate_position", "P", 0.3, on_renew=renewed) as held:
        assert held is not None
        await asyncio.sleep(1.0)  # three TTLs: renewed about every 0.1 s
        assert await redis.exists(key)
        assert await held.still_held()
        assert renewals >= 5
    assert not await redis.exists(key)
    # a holder that stops renewing (frozen, cut off) loses it within the TTL
    frozen = await take(redis, key, fence_key("liquidate_position", "P"), 0.3)
    assert frozen is not None
    await asyncio.sleep(0.4)
    async with lease(redis, "liquidate_position", "P", 0.3) as taken_over:
        assert taken_over is not None and taken_over.fence > frozen.fence
        assert not await frozen.still_held()


async def test_a_lease_lasts_the_ttl_asked(redis: ArqRedis) -> None:
    """The TTL is what frees a lease whose holder died: it must be what was asked, in
    milliseconds, however the lease was taken."""
    async with lease(redis, "liquidate_position", "P", 30) as held:
        assert held
        assert 29_000 < await redis.pttl(lease_key("liquidate_position", "P")) <= 30_000
    assert await take(redis, "keepernet:test:taken", "keepernet:test:fence", 12.5)
    assert 11_500 < await redis.pttl("keepernet:test:taken") <= 12_500
    assert await hold(redis, "keepernet:test:held", "a", 20)  # a free standing lease, taken
    assert 19_000 < await redis.pttl("keepernet:test:held") <= 20_000


async def test_a_standing_lease_is_kept_by_its_holder_and_taken_over_once_it_lapses(
        redis: ArqRedis) -> None:
    key = "keepernet:test:collector"
    assert await hold(redis, key, "a", 2)
    assert not await hold(redis, key, "b", 2)
    await asyncio.sleep(1)
    assert await hold(redis, key, "a", 2)  # renewed: its TTL starts again
    assert await redis.pttl(key) > 1500
    assert not await hold(redis, key, "b", 2)
    await redis.pexpire(key, 1)  # as if "a" stopped renewing and its TTL ran out
    await asyncio.sleep(0.05)
    assert await hold(redis, key, "b", 2)
    assert await redis.get(key) == b"b"


async def test_two_runs_of_a_job_on_one_target_at_once(settings: Settings,
                                                       redis: ArqRedis) -> None:
    started = asyncio.Event()
    proceed = asyncio.Event()
    ran: list[object] = []

    async def run(_deps: WorkerDeps, target: object) -> Outcome:
        ran.append(target)
        started.set()
        await proceed.wait()
        return Outcome.SUCCESS

    fn = job_function(replace(TALLY_VOTES, tries=1), run, settings)
    deps = WorkerDeps("governance", settings, RpcClient(list(settings.rpc)))

    def ctx(job_id: str) -> dict[Any, Any]:
        return {"redis": redis, DEPS_KEY: deps, "job_id": job_id, "job_try": 1}

    try:
        holder = asyncio.create_task(fn.coroutine(ctx("tally_votes:M"), "M"))
        await started.wait()
        # the same job on the same target while the first runs, under another id (a second
        # enqueue by hand) or the same one (arq running one job twice): nothing runs
        assert await fn.coroutine(ctx("tally_votes:M:by-hand"), "M") == "already_done"
        assert await fn.coroutine(ctx("tally_votes:M"), "M") == "already_done"
        proceed.set()
        assert await holder == "success"
        assert ran == ["M"]
        # its lease released, the next run runs
        assert await fn.coroutine(ctx("tally_votes:M"), "M") == "success"
        assert ran == ["M", "M"]
    finally:
        await deps.close()


async def test_a_try_whose_lease_passed_on_may_not_sign(settings: Settings,
                                                         redis: ArqRedis) -> None:
    """What the Sender asks right before signing (chain/sender.py `may_sign`), inside a try:
    yes while the try holds its lease, no once it lapsed and another holder took it, as when
    the try's process was frozen past the TTL."""
    answers: list[bool] = []
    taken_over = asyncio.Event()

    async def run(_deps: WorkerDeps, target: object) -> Outcome:
        answers.append(await may_sign())
        await taken_over.wait()
        answers.append(await may_sign())
        return Outcome.SUCCESS

    fn = job_function(replace(TALLY_VOTES, tries=1), run, settings)
    deps = WorkerDeps("governance", settings, RpcClient(list(settings.rpc)))
    try:
        holder = asyncio.create_task(fn.coroutine(
            {"redis": redis, DEPS_KEY: deps, "job_id": "tally_votes:M", "job_try": 1}, "M"))
        while not answers:
            await asyncio.sleep(0.01)
        # as if the holder had not renewed for a TTL: its lease lapses, another takes it
        key = lease_key("tally_votes", "M")
        await redis.delete(key)
        assert await take(redis, key, fence_key("tally_votes", "M"), 10) is not None
        taken_over.set()
        await holder
        assert answers == [True, False]
        assert await may_sign()  # outside any try: no fence
    finally:
        await deps.close()


async def test_leases_taken_at_once_are_each_takes(redis: ArqRedis) -> None:
    """`take_each` takes each free lease with the next fence of its own counter, in one round
    trip, and leaves a held one to its holder; a lease so taken is held and kept as a block
    holds any (`lease(..., taken=)`), and released at its end."""
    keys = [(lease_key("job", t), fence_key("job", t)) for t in ("a", "b", "c")]
    held = await take(redis, *keys[1], 30.0)
    assert held is not None
    await take(redis, *keys[2], 0.001)  # lapses at once: c's next fence is 2
    await asyncio.sleep(0.01)
    a, b, c = await take_each(redis, keys, 30.0)
    assert a is not None and b is None and c is not None
    assert (a.fence, c.fence) == (1, 2)
    assert await a.still_held() and await held.still_held()
    async with lease(redis, "job", "a", 30.0, taken=a) as kept:
        assert kept is a
        assert await take(redis, *keys[0], 30.0) is None
    assert await take(redis, *keys[0], 30.0) is not None  # released with the block
