"""The liquidator's book kept by the program's notifications, on the localnet (and Redis for
the fleet): a position opened after the one load is liquidated with no reload at all; a change
reaches the book with its own notification; the partitioned load reads what one
getProgramAccounts reads, in answers a provider's cap would let through."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from based58 import b58encode
from redis.asyncio import Redis
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.client import Endpoint, RpcClient, anchor_program
from chain.localnet.seed import PositionSpec
from chain.prices import Quote
from chain.publisher import Feed, Publisher
from chain.sender import FeePolicy, Sender
from fleet.book_feed import BookFeed
from fleet.membership import Fleet
from fleet.price_trigger import PriceTrigger
from jobs.deps import JobDeps
from jobs.liquidation import liquidate_position, load_book
from jobs.liquidation_plan import FLAT, LONG, SHORT, Candidate, PositionBook
from jobs.outcome import Outcome
from program import layouts
from tests.support.perp_world import (
    CRASHED,
    FRAGILE,
    PRICE,
    SIZE,
    SOLID,
    PerpWorld,
    Settable,
    funded_perp_market,
    perp_world,
)

CAP = 16  # what a provider's cap per answer stands for here
POSITION_DISCRIMINATOR = b58encode(layouts.discriminator("Position")).decode()


@contextlib.asynccontextmanager
async def chain_deps(world: PerpWorld) -> AsyncIterator[JobDeps]:
    rpc = RpcClient([Endpoint("local", world.net.url, max_rps=10_000)])
    try:
        yield JobDeps(rpc=rpc, sender=Sender(rpc, world.net.keepers[0].kp,
                                             fees=FeePolicy(fixed_micro_lamports=0)),
                      program=anchor_program(rpc, world.net.program_id),
                      client=world.net.client)
    finally:
        await rpc.close()


async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.02)


def side_of(world: PerpWorld, position: Pubkey) -> int:
    return int(world.net.protocol.chain.fetch(position).side)


async def test_a_position_opened_after_the_load_is_liquidated_through_the_subscription(
        redis_url: str) -> None:
    """No reload after the first (the reconcile off, and no cron scan here): only the
    programSubscribe notification can bring the new position into the book."""
    async with perp_world([PositionSpec(LONG, SIZE, SOLID)]) as world, \
            chain_deps(world) as deps:
        redis = Redis.from_url(redis_url)
        liquidated: list[tuple[Pubkey, Outcome]] = []
        verdicts: list[bool] = []

        async def liquidate(candidates: list[Candidate], fresh: bool) -> int:
            verdicts.append(fresh)
            for c in candidates:
                liquidated.append((c.position, await liquidate_position(deps, c.position)))
            return len(candidates)

        trigger = PriceTrigger(deps, liquidate, Fleet(redis, "liquidator", "only", 5.0),
                               world.net.ws_url, book_reconcile_s=0)
        running = asyncio.create_task(trigger.run())
        try:
            await until(lambda: len(trigger.book) == 1 and trigger.chain_time is not None,
                        15, "the book loaded")
            # indexed as it loaded: the late position is judged as a row changed since
            assert all(m.index is not None for m in trigger.book._markets.values())
            (late,) = await world.seeder.positions(world.market, world.oracle,
                                                   [PositionSpec(LONG, SIZE, FRAGILE)])
            await until(lambda: late in trigger.book, 10, "the new position in the book")
            world.price.price = CRASHED
            await until(lambda: bool(liquidated), 15, "the new one liquidated")
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await redis.aclose()
        assert liquidated == [(late, Outcome.SUCCESS)]
        assert verdicts == [True]  # the book was current to the price's slot
        assert side_of(world, late) == FLAT
        assert side_of(world, world.positions[0]) == LONG  # the solid one stays


@dataclass
class Told:
    """What the feed told: the book's size after each change."""

    sizes: list[int]

    def __call__(self, book: PositionBook) -> None:
        self.sizes.append(len(book))

    @contextlib.asynccontextmanager
    async def one_more(self) -> AsyncIterator[None]:
        """Wait, after the block, until a change notified since its start is applied."""
        seen = len(self.sizes)
        yield
        await until(lambda: len(self.sizes) > seen, 10, "a notification")


async def write_position(deps: JobDeps, world: PerpWorld, address: Pubkey,
                         **fields: int) -> None:
    """Rewrite a Position account with `fields` changed (the localnet's direct write)."""
    account = (await deps.raw_snapshot(address))[1][0]
    assert account is not None
    record = np.frombuffer(bytes(account.data), dtype=layouts.POSITION).copy()
    for name, value in fields.items():
        record[name] = value
    await deps.rpc.request("keepernet_setAccounts", [[
        [str(address), base64.b64encode(record.tobytes()).decode(),
         str(world.net.program_id)]]])


def judged(book: PositionBook, world: PerpWorld, price: int) -> set[Pubkey]:
    return {c.position for c in book.liquidatable({world.market: Quote(price, 0)}, now=0)}


async def test_a_change_after_the_load_reaches_the_book_with_its_notification() -> None:
    async with perp_world([PositionSpec(LONG, SIZE, SOLID)] * 2,
                          publish_every_s=None) as world, chain_deps(world) as deps:
        told = Told([])
        feed = BookFeed(deps, world.net.ws_url, on_book=told)
        running = asyncio.create_task(feed.run())
        try:
            await until(lambda: told.sizes[-1:] == [2], 15, "the book loaded")
            # current: the slots follow on the feed's connection once loaded
            now = world.net.genesis.ledger.slot
            await until(lambda: feed.slot is not None and feed.slot >= now, 5, "the slots")
            changed, closed = world.positions
            assert judged(feed.book, world, CRASHED) == set()
            async with told.one_more():
                await write_position(deps, world, changed, collateral=FRAGILE)
            assert judged(feed.book, world, CRASHED) == {changed}
            async with told.one_more():
                await write_position(deps, world, closed, side=FLAT, size=0, collateral=0)
            assert closed not in feed.book and len(feed.book) == 1
            async with told.one_more():
                (opened,) = await world.seeder.positions_written(
                    world.market, [PositionSpec(SHORT, SIZE, SOLID)], PRICE)
            assert opened in feed.book and len(feed.book) == 2
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running


@pytest.mark.parametrize("partitions", [1, 256])
async def test_the_partitioned_load_reads_what_one_answer_reads(partitions: int) -> None:
    specs = [PositionSpec(LONG, SIZE, FRAGILE), PositionSpec(LONG, SIZE, SOLID),
             PositionSpec(SHORT, SIZE, FRAGILE)] * 200
    async with perp_world(publish_every_s=None) as world, chain_deps(world) as deps:
        positions = await world.seeder.positions_written(world.market, specs, PRICE)
        await write_position(deps, world, positions[0], side=FLAT, size=0)
        answers: list[int] = []
        request = deps.rpc.request

        async def counted(method: str, params: Any = (), **kwargs: Any) -> Any:
            answer = await request(method, params, **kwargs)
            if method == "getProgramAccounts" and params[1]["filters"][0]["memcmp"][
                    "bytes"] == POSITION_DISCRIMINATOR:
                answers.append(answer.count)
            return answer

        deps.rpc.request = counted  # type: ignore[method-assign]
        book = await load_book(deps, partitions=partitions)
        deps.rpc.request = request  # type: ignore[method-assign]
        assert len(answers) == 2 * partitions  # each side
        assert sum(answers) == len(book) == len(positions) - 1
        assert set(positions[1:]) == {p for p in positions[1:] if p in book}
        for price in (CRASHED, PRICE, 125_000_000):
            assert judged(book, world, price) == judged(
                await load_book(deps), world, price)
        if partitions == 1:
            assert max(answers) > CAP  # so the cap below means something
        else:
            assert max(answers) <= CAP


async def test_a_market_created_after_the_load_joins_with_its_positions() -> None:
    async with perp_world([PositionSpec(LONG, SIZE, SOLID)],
                          publish_every_s=None) as world, chain_deps(world) as deps:
        told = Told([])
        feed = BookFeed(deps, world.net.ws_url, on_book=told)
        running = asyncio.create_task(feed.run())
        try:
            await until(lambda: told.sizes[-1:] == [1], 15, "the book loaded")
            assert feed.book.oracles == {world.oracle}
            oracle = Keypair().pubkey()
            publisher = Publisher(world.net.url, [Feed(oracle, Settable(PRICE))])
            try:
                await publisher.publish(0)  # a market is created on a fresh price
                market = await funded_perp_market(world.net, 2, oracle)
            finally:
                await publisher.close()
            await until(lambda: market in feed.book.markets, 10, "the new market in the book")
            (opened,) = await world.seeder.positions_written(
                market, [PositionSpec(LONG, SIZE, FRAGILE)], PRICE)
            await until(lambda: opened in feed.book, 10, "its position in the book")
            assert feed.book.oracles == {world.oracle, oracle}
            assert {c.position for c in feed.book.liquidatable(
                {market: Quote(CRASHED, 0)}, now=0)} == {opened}
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running


def test_a_new_connection_makes_the_book_not_current_before_any_of_its_notifications() -> None:
    """A slot notified on a new connection must not vouch for a book loaded on the old one
    (changes missed while disconnected are gone): the feed forgets its slot as the
    connection is made, before its first notification is read, until the book is loaded
    anew."""
    feed = BookFeed(None, "ws://unused")  # type: ignore[arg-type]  # nothing is read here
    feed._current, feed.slot = True, 41  # loaded, current on the old connection
    loading = feed._connected()  # what watch_program calls as the connection is made
    try:
        feed._slot(42)  # the new connection's first notification
        assert feed.slot is None
    finally:
        loading.close()  # the load itself is not run here
