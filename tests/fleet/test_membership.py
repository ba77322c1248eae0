"""The fleet's live instances on a real Redis: a beat makes an instance live, silence ages it
out after the TTL, leaving removes it at once."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from fleet.membership import Fleet, instance_name, live_instances


async def test_instances_live_age_out_and_leave(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        a = Fleet(redis, "liquidator", "a", ttl_s=0.5)
        b = Fleet(redis, "liquidator", "b", ttl_s=0.5)
        other_role = Fleet(redis, "funding", "c", ttl_s=0.5)
        await a.beat()
        await other_role.beat()
        assert await b.beat() == ("a", "b")
        assert a.members == ("a",) and b.members == ("a", "b")
        await asyncio.sleep(0.7)  # b stays silent past the TTL
        assert await a.beat() == ("a",)
        assert await live_instances(redis, "liquidator", 0.5) == ("a",)
        await b.beat()
        await b.leave()
        assert await a.beat() == ("a",)
    finally:
        await redis.aclose()


def test_instance_names_are_unique() -> None:
    assert len({instance_name() for _ in range(100)}) == 100
