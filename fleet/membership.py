"""The live instances of a role, as Redis sees them: each instance beats a heartbeat into a
sorted set (`keepernet:fleet:<role>`, scored by Redis's own clock, so that the hosts' clocks
do not matter) and counts as live while its last beat is younger than `ttl_s`.

The liquidators split the positions over the live instances; when one dies its beat ages out
and the others take over its share at their next beat.
"""

from __future__ import annotations

import os
import socket
import uuid

from redis.asyncio import Redis

FLEET_PREFIX = "keepernet:fleet:"


def instance_name() -> str:
    """A name unique to this process: host, pid and a random suffix (a pid is reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def _redis_now(redis: Redis) -> float:
    seconds, micros = await redis.time()
    return float(seconds) + float(micros) / 1e6


class Fleet:
    """This instance's membership of `role`'s fleet."""

    def __init__(self, redis: Redis, role: str, instance: str, ttl_s: float) -> None:
        self.redis = redis
        self.key = FLEET_PREFIX + role
        self.instance = instance
        self.ttl_s = ttl_s
        self.members: tuple[str, ...] = (instance,)  # as of the last beat

    async def beat(self) -> tuple[str, ...]:
        """Say this instance is alive; the live instances, sorted, kept in `members`."""
        now = await _redis_now(self.redis)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.key, {self.instance: now})
            # instances dead for long are forgotten, so the set stays small
            pipe.zremrangebyscore(self.key, "-inf", now - 10 * self.ttl_s)
            pipe.zrangebyscore(self.key, now - self.ttl_s, "+inf")
            *_, live = await pipe.execute()
        self.members = tuple(sorted(m.decode() if isinstance(m, bytes) else str(m)
                                    for m in live))
        return self.members

    async def leave(self) -> None:
        """Leave at once (a clean shutdown), so the others take the share at their next beat."""
        await self.redis.zrem(self.key, self.instance)


async def live_instances(redis: Redis, role: str, ttl_s: float) -> tuple[str, ...]:
    """The instances of `role` that beat within `ttl_s`, sorted (for `keepernet status`)."""
    now = await _redis_now(redis)
    live = await redis.zrangebyscore(FLEET_PREFIX + role, now - ttl_s, "+inf")
    return tuple(sorted(m.decode() if isinstance(m, bytes) else str(m) for m in live))
