"""The liquidator's trigger: an oracle's price changes, this instance judges its share of the
positions at the new price in memory, and hands each one under maintenance to `liquidate` (the
fast path, fleet/fast_path.py: liquidated at once, its queued job the fallback) — without
waiting for a queue hop or a fresh read of every position.

Each liquidator instance runs one `PriceTrigger` beside its arq worker:
- it watches the perp markets' oracles through `accountSubscribe` (`chain.watch`), at
  `confirmed` unless set to `processed` (a slot sooner, the book then a slot behind), and
  judges each new price and confidence exactly as the program would (`chain.prices.judge_quote`,
  with the limits each market copied at creation, at the notification's slot), with funding
  accrued to the chain's time (`ChainTime`: the chain's clock as last read, plus the seconds
  elapsed since on this host's monotonic clock; a cluster's clock drifts from wall time);
  a refused price (stale, halted, too uncertain) triggers nothing;
- it keeps the open positions in a `PositionBook` that a `BookFeed` (fleet/book_feed.py)
  keeps current from the program's notifications after one load, each change within one
  notification; a market on an oracle not watched yet restarts the watch on the new set;
- it beats into the liquidator fleet (`fleet.membership`) and judges only the positions
  `owner_of` assigns to it among the live instances, so N instances share the scan; a dead
  instance's share moves to the others once its beat ages out;
- after every (re)connection it rescans its share at the prices read afresh, since
  notifications sent while it was away are lost;
- it hands a verdict over as `fresh` (sent unread, fleet/fast_path.py) only when the book is
  current to within BOOK_SLACK_SLOTS of the price's slot: after a pause (a freeze, a loop
  stalled) the price watch and the book's feed work through their backlogs apart, and a
  price read before the book heard of a liquidation would judge a flat position open.

The jobs the fast path enqueues carry deterministic ids (`jobs.registry`), so a position found
by two triggers, or by a trigger and the cron scan, is queued once; the lease and the program's
guard make its liquidation land once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog
from solders.pubkey import Pubkey

from chain.prices import OracleRefused, Quote, judge_quote
from chain.watch import watch_accounts
from fleet.book_feed import BookFeed
from fleet.membership import Fleet
from jobs.deps import JobDeps
from jobs.liquidation import read_prices
from jobs.liquidation_plan import Candidate, Judged, PositionBook

log = structlog.get_logger(__name__)

Callable0 = Callable[[], Awaitable[object]]
Liquidate = Callable[[list[Candidate], bool], Awaitable[int]]
# slots the book's feed may trail a price notification's and its verdicts still count as
# fresh: the feed hears of a slot when it is processed, of changes once confirmed
BOOK_SLACK_SLOTS = 2


@dataclass(frozen=True)
class ChainTime:
    """The chain's unix time `unix_timestamp`, read when this host's `time.monotonic()` was
    `monotonic_s`."""

    unix_timestamp: int
    monotonic_s: float

    def at(self, monotonic_s: float) -> int:
        """The chain's unix time when the monotonic clock reads `monotonic_s`: the time read
        plus the whole seconds elapsed since (never earlier than the time read)."""
        return self.unix_timestamp + max(0, int(monotonic_s - self.monotonic_s))


@dataclass
class PriceTrigger:
    """See the module's docstring. `run()` until cancelled."""

    chain: JobDeps
    # takes the candidates found and whether the verdict is fresh; how many it queued (not
    # queued already)
    liquidate: Liquidate
    fleet: Fleet
    ws_url: str
    clock_refresh_s: float = 2.0  # the chain's time re-read (and a failed start retried)
    beat_s: float = 1.0
    book_partitions: int = 1  # the load's answers per side (jobs/position_load.py)
    book_reconcile_s: float = 0.0  # the full reload's period (0: never)
    price_commitment: str = "confirmed"  # at which the oracles are watched
    book: PositionBook = field(default_factory=PositionBook)
    refused: dict[Pubkey, str] = field(default_factory=dict)  # market -> the program's error
    chain_time: ChainTime | None = None  # as of the last clock read or rescan
    _loaded: asyncio.Event = field(default_factory=asyncio.Event)
    _oracles_moved: asyncio.Event = field(default_factory=asyncio.Event)
    _watching: frozenset[Pubkey] = frozenset()
    _feed: BookFeed | None = None
    # what each market's last verdict on a notified price rested on: a price rewritten
    # unchanged is not judged again (at half a million positions that is tens of ms)
    _judged: Judged = field(default_factory=dict)

    async def run(self) -> None:
        await self._quietly(self.beat)
        feed = self._feed = BookFeed(self.chain, self.ws_url, partitions=self.book_partitions,
                                     reconcile_s=self.book_reconcile_s,
                                     on_book=self._book_changed, book=self.book)
        tasks = [asyncio.create_task(self._every(self.beat_s, self.beat), name="beat"),
                 asyncio.create_task(feed.run(), name="book feed")]
        try:
            await self._loaded.wait()
            while not await self._quietly(self.read_clock):  # the node may not be up yet
                await asyncio.sleep(self.clock_refresh_s)
            tasks.append(asyncio.create_task(self._every(self.clock_refresh_s,
                                                         self.read_clock), name="clock"))
            while True:
                # watch the book's oracles until a market on another oracle joins
                self._watching = self.book.oracles
                self._oracles_moved.clear()
                # quietly: a Redis or RPC failure while handling one notification must not
                # end the watch (the next price, or the cron scan, finds the positions again)
                watch = asyncio.create_task(
                    watch_accounts(self.ws_url, sorted(self._watching, key=bytes),
                                   partial(self._quietly, self.on_price),
                                   partial(self._quietly, self.rescan),
                                   commitment=self.price_commitment), name="watch")
                try:
                    await self._oracles_moved.wait()
                finally:
                    watch.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watch
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.fleet.leave()

    async def beat(self) -> None:
        """Beat into the fleet, and work out this instance's share of the book anew when
        its members changed (here, not on a price's path: at a million positions that
        takes tens of milliseconds)."""
        await self.fleet.beat()
        self.book.assign(self.fleet.members, self.fleet.instance)

    def _book_changed(self, book: PositionBook) -> None:
        # a book loaded anew has its share worked out now, not at the next price
        book.assign(self.fleet.members, self.fleet.instance)
        self.book = book
        self._loaded.set()
        if not book.oracles <= self._watching:  # an oracle gone may stay watched
            self._oracles_moved.set()

    async def read_clock(self) -> None:
        """Read the chain's time (funding accrues to it; the cluster's clock drifts from
        this host's)."""
        clock, _ = await self.chain.raw_snapshot()
        self.chain_time = ChainTime(clock.unix_timestamp, time.monotonic())

    async def on_price(self, oracle: Pubkey, data: bytes, slot: int) -> None:
        """A new version of `oracle`: judge it for each market on it (with the limits that
        market copied), and enqueue this instance's positions of those markets
        that are under maintenance at that price."""
        rules = {market: r for market, r in self.book.rules.items() if r.oracle == oracle}
        if not rules or self.chain_time is None:
            return
        # the notification carries a slot, not the chain's time: the time last read, moved on
        # by the seconds elapsed here (a PriceUpdateV2's age is judged by it, as the program
        # judges it by the chain's clock; liquidate_position re-checks at the chain's own
        # time before it sends)
        now = self.chain_time.at(time.monotonic())
        quotes: dict[Pubkey, Quote] = {}
        for market, rule in rules.items():
            try:
                quotes[market] = judge_quote(data, rule.limits, slot, now)
            except OracleRefused as e:
                self._refuse(market, e.error)
            else:
                self.refused.pop(market, None)
        book_slot = None if self._feed is None else self._feed.slot
        await self._enqueue(quotes, now, fresh=book_slot is not None
                            and slot <= book_slot + BOOK_SLACK_SLOTS)

    async def rescan(self) -> None:
        """This instance's share at prices read now (after a (re)connection)."""
        prices = await read_prices(self.chain, self.book.rules)
        self.chain_time = ChainTime(prices.now, time.monotonic())
        for market, error in prices.refused.items():
            self._refuse(market, error)
        await self._enqueue(prices.quotes, prices.now, fresh=False)

    async def _enqueue(self, prices: Mapping[Pubkey, Quote], now: int, *, fresh: bool) -> None:
        # a fresh verdict is judged once per basis (its candidates were handed over); any
        # other (a rescan's) in full
        candidates = self.book.liquidatable(prices, now=now, instances=self.fleet.members,
                                            me=self.fleet.instance,
                                            judged=self._judged if fresh else None)
        if candidates:
            queued = await self.liquidate(candidates, fresh)
            log.info("liquidations found", found=len(candidates), queued=queued, fresh=fresh)

    def _refuse(self, market: Pubkey, error: str) -> None:
        if self.refused.get(market) != error:
            log.warning("oracle price refused: no liquidation in its market",
                        perp_market=str(market), error=error)
        self.refused[market] = error

    async def _every(self, period_s: float, action: Callable0) -> None:
        while True:
            await asyncio.sleep(period_s)
            await self._quietly(action)

    @staticmethod
    async def _quietly(action: Callable[..., Awaitable[object]], *args: Any) -> bool:
        """Run `action(*args)`; a failure (an RPC or Redis hiccup) is logged and tried again
        at the next period or notification rather than stopping the trigger. Whether it
        succeeded."""
        try:
            await action(*args)
        except Exception as e:
            log.warning("liquidator trigger step failed", step=getattr(action, "__name__", ""),
                        error=str(e) or type(e).__name__)
            return False
        return True
