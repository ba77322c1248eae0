"""A Redis lease on one job's target, so that N instances never work on the same account at once.

`lease(redis, job, target, ttl_s)` is an async context manager yielding the `Lease` this holder
got, or None when another holds it. Taking it (a Lua script) counts the target's fencing
counter up (`keepernet:lease-fence:<job>:<target>`, INCR) and stores that number with a
random token as the lease's value (`keepernet:lease:<job>:<target>` = `<fence>:<token>`, PX
ttl). Every later call compares that value in Redis, atomically:

- while the block runs, a renewer task extends the lease every `ttl_s / 3` (`RENEW_EVERY`),
  so the TTL can be short: a holder that freezes (SIGSTOP), is cut off from Redis or dies
  stops renewing and loses the lease within `ttl_s`, and the next holder gets a higher fence;
- `Lease.still_held()` is the fencing check (it renews too): a holder asks it right before an
  irreversible step (signing a transaction, chain/sender.py) and does not take the step when
  the lease has passed on;
- only the holder's value releases it (compare-and-delete), so a holder whose lease lapsed
  and passed to another never frees the other's.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

import structlog
from redis.asyncio import Redis

LEASE_PREFIX = "keepernet:lease:"
FENCE_PREFIX = "keepernet:lease-fence:"
RENEW_EVERY = 1 / 3  # of the TTL: two renewals may be missed before the lease lapses
# a target's fencing counter outlives any lease on it by far; it is dropped after a day
# without a lease so that every position ever liquidated does not leave a key behind
FENCE_KEEP_MS = 24 * 3600 * 1000

log = structlog.get_logger(__name__)

# take the lease only when free, with the next number of the target's fencing counter
_TAKE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
end
local fence = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], fence .. ':' .. ARGV[1], 'PX', ARGV[2])
return fence
"""

# extend the lease while it still holds our value: the fencing check and the renewal at once
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

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

OnRenew = Callable[[], Awaitable[None]]


def lease_key(job: str, target: object) -> str:
    """The Redis key of the lease on `target` for `job`."""
    return f"{LEASE_PREFIX}{job}:{target}"


def fence_key(job: str, target: object) -> str:
    """The Redis key of the fencing counter of `target`'s leases for `job`."""
    return f"{FENCE_PREFIX}{job}:{target}"


def _ms(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


async def _eval(redis: Redis, script: str, keys: int, *keys_and_args: str) -> int:
    # redis-py types eval for its sync and async clients at once; on the async one it is a
    # coroutine
    return int(await cast(Awaitable[int], redis.eval(script, keys, *keys_and_args)))


@dataclass
class Lease:
    """A lease this holder took: `fence` is its number in the target's fencing counter."""

    redis: Redis
    key: str
    fence: int
    value: str  # `<fence>:<token>`, what the key holds while the lease is ours
    ttl_s: float

    async def still_held(self) -> bool:
        """Whether the lease is still ours (compared in Redis), extending it by its TTL when
        it is; False once it lapsed (and maybe passed to another holder)."""
        return bool(await _eval(self.redis, _RENEW, 1, self.key, self.value,
                                _ms(self.ttl_s)))

    async def release(self) -> bool:
        """Free the lease if still ours; False when it is not (lapsed, or another's)."""
        return await release(self.redis, self.key, self.value)

    async def keep(self, on_renew: OnRenew | None = None) -> None:
        """Renew the lease every `ttl_s * RENEW_EVERY` until cancelled or lost, calling
        `on_renew` at once and after each renewal (whatever must last exactly as long as the
        lease, such as a deferred fallback, follows it there)."""
        held = True
        while held:
            try:
                if on_renew is not None:
                    await on_renew()
                await asyncio.sleep(self.ttl_s * RENEW_EVERY)
                held = await self.still_held()
            except Exception as e:  # Redis away: the next period tries again, if in time
                log.warning("lease not renewed", key=self.key, error=f"{type(e).__name__}: {e}")
        log.warning("lease lost: another holder may act on its target", key=self.key,
                    fence=self.fence)


async def take(redis: Redis, key: str, fence: str, ttl_s: float) -> Lease | None:
    """Take the lease `key` (fencing counter `fence`) for `ttl_s` seconds; None when someone
    holds it."""
    (held,) = await take_each(redis, [(key, fence)], ttl_s)
    return held


async def take_each(redis: Redis, keys: Sequence[tuple[str, str]],
                    ttl_s: float) -> list[Lease | None]:
    """`take` for each (key, fencing counter) of `keys`, in one round trip."""
    tokens = [secrets.token_hex(16) for _ in keys]
    async with redis.pipeline(transaction=False) as pipe:
        for (key, fence), token in zip(keys, tokens, strict=True):
            pipe.eval(_TAKE, 2, key, fence, token, _ms(ttl_s), str(FENCE_KEEP_MS))
        numbers = await pipe.execute()
    return [Lease(redis, key, int(n), f"{n}:{token}", ttl_s) if int(n) else None
            for (key, _), token, n in zip(keys, tokens, numbers, strict=True)]


async def acquire(redis: Redis, key: str, token: str, ttl_s: float) -> bool:
    """Take the lease `key` with `token` for `ttl_s` seconds; False when someone holds it."""
    return bool(await redis.set(key, token, nx=True, px=max(1, round(ttl_s * 1000))))


async def release(redis: Redis, key: str, token: str) -> bool:
    """Free the lease `key` if `token` still holds it; False when it does not (expired, or
    another holder's)."""
    return bool(await _eval(redis, _RELEASE, 1, key, token))


async def hold(redis: Redis, key: str, token: str, ttl_s: float) -> bool:
    """Keep (or take, when free) the standing lease `key` for `token`, `ttl_s` seconds more;
    False when another holder has it."""
    return bool(await _eval(redis, _HOLD, 1, key, token, _ms(ttl_s)))


@asynccontextmanager
async def lease(redis: Redis, job: str, target: object, ttl_s: float, *,
                on_renew: OnRenew | None = None,
                taken: Lease | None = None) -> AsyncIterator[Lease | None]:
    """Hold the lease on `target` for `job` for the block, renewed every `ttl_s / 3` (and
    `on_renew` called then) while the block runs; yields None, holding nothing, when another
    holder has it. `taken`: the lease, taken already (`take_each`)."""
    held = taken if taken is not None else await take(
        redis, lease_key(job, target), fence_key(job, target), ttl_s)
    if held is None:
        yield None
        return
    renewer = asyncio.create_task(held.keep(on_renew), name=f"renew {held.key}")
    try:
        yield held
    finally:
        renewer.cancel()
        await asyncio.gather(renewer, return_exceptions=True)
        await held.release()
