"""A Redis lease on one job's target, so that N instances never work on the same account at once.

`lease(redis, job, target, ttl_s)` is an async context manager yielding whether this holder got
the lease: `SET keepernet:lease:<job>:<target> <token> NX PX <ttl>`. Only the holder's token
releases it (a Lua compare-and-delete), so a holder whose lease expired and passed to another
never frees the other's. The TTL is the lease's only guard against a holder that dies without
releasing (SIGKILL): it must end before arq reruns the job.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import cast

from redis.asyncio import Redis

LEASE_PREFIX = "keepernet:lease:"

# delete the key only while it still holds our token: a GET then DEL from the client could
# delete a lease that expired in between and was taken by another holder
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


# extend the key's TTL while it holds our token, else take it if free: a holder keeps a
# standing lease (one collector of a fleet) by calling this more often than the TTL
_HOLD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return 1
end
return 0
"""


def lease_key(job: str, target: object) -> str:
    """The Redis key of the lease on `target` for `job`."""
    return f"{LEASE_PREFIX}{job}:{target}"


async def acquire(redis: Redis, key: str, token: str, ttl_s: float) -> bool:
    """Take the lease `key` with `token` for `ttl_s` seconds; False when someone holds it."""
    return bool(await redis.set(key, token, nx=True, px=max(1, round(ttl_s * 1000))))


async def release(redis: Redis, key: str, token: str) -> bool:
    """Free the lease `key` if `token` still holds it; False when it does not (expired, or
    another holder's)."""
    # redis-py types eval for its sync and async clients at once; on the async one it is a
    # coroutine
    deleted = await cast(Awaitable[int], redis.eval(_RELEASE, 1, key, token))
    return bool(deleted)


async def hold(redis: Redis, key: str, token: str, ttl_s: float) -> bool:
    """Keep (or take, when free) the standing lease `key` for `token`, `ttl_s` seconds more;
    False when another holder has it."""
    held = await cast(Awaitable[int], redis.eval(_HOLD, 1, key, token,
                                                 str(max(1, round(ttl_s * 1000)))))
    return bool(held)


@asynccontextmanager
async def lease(redis: Redis, job: str, target: object, ttl_s: float) -> AsyncIterator[bool]:
    """Hold the lease on `target` for `job` for the block (at most `ttl_s`); yields False,
    holding nothing, when another holder has it."""
    key = lease_key(job, target)
    token = secrets.token_hex(16)
    held = await acquire(redis, key, token, ttl_s)
    try:
        yield held
    finally:
        if held:
            await release(redis, key, token)
