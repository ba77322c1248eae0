"""The liquidator's book kept current by the node's notifications rather than re-read whole.

`BookFeed.run()` subscribes to the program's Position and PerpMarket accounts
(`programSubscribe`, chain/program_watch.py) and, once subscribed, loads the book once (in
owner partitions, jobs/position_load.py). What is notified while the load runs is kept and
applied to the loaded book before it replaces the old one, so a position opened between the
subscription and the load's answers is not lost. From then on each notification changes its
one position (or market) in the book in place: opened or changed it is held, flat or closed
it is dropped; a new perp market joins. The slots are notified on the same connection, in
order with the changes, so `slot` tells how current the book is: a feed behind (a backlog
after the process was paused, say) is behind in slots too, and the liquidator does not act on
its verdicts unread (fleet/price_trigger.py). After a reconnection the book is loaded again
(notifications sent meanwhile are gone), and every `reconcile_s` (0: never) a full reload
is the safety net for anything a provider failed to notify.

Each market's threshold index (jobs/liquidation_index.py: which positions a price may reach,
so that a price judges those rather than the whole book) is built on a worker thread as the
book loads, and built anew there once many of its positions changed (checked every
INDEX_CHECK_S): numpy sorts without holding the interpreter.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from solders.pubkey import Pubkey

from chain.program_watch import ProgramKind, watch_program
from jobs.deps import JobDeps
from jobs.liquidation import load_book
from jobs.liquidation_plan import PositionBook
from program import layouts
from program.accounts import PerpMarket, UnknownAccount

POSITIONS = ProgramKind(layouts.discriminator("Position"), layouts.POSITION.itemsize)
PERP_MARKETS = ProgramKind(layouts.discriminator("PerpMarket"), layouts.PERP_MARKET.itemsize)
RELOAD_RETRY_S = 1.0
INDEX_CHECK_S = 1.0

Change = tuple[ProgramKind, Pubkey, bytes | None]

log = structlog.get_logger(__name__)


def apply_change(book: PositionBook, kind: ProgramKind, address: Pubkey,
                 data: bytes | None) -> None:
    """One notification applied to `book` in place (`data` None: the account is gone)."""
    if kind == PERP_MARKETS:
        if data is not None:  # a perp market is never closed
            book.put_market(address, PerpMarket.from_bytes(data))
    elif data is None:
        book.remove_position(address)
    else:
        book.put_position(address, data)


@dataclass
class BookFeed:
    """See the module's docstring. `book` is the book as now; `on_book(book)` is told after
    each change of it (a new book loaded, or one notification applied)."""

    chain: JobDeps
    ws_url: str
    partitions: int = 1
    reconcile_s: float = 0.0
    on_book: Callable[[PositionBook], None] = lambda _book: None
    book: PositionBook = field(default_factory=PositionBook)
    slot: int | None = None  # the last slot notified since the book was (re)loaded
    _current: bool = False  # loaded since the last (re)connection
    # one list per load running: the notifications it must apply to what it read
    _buffers: list[list[Change]] = field(default_factory=list)

    async def run(self) -> None:
        """Keep `book` current until cancelled."""
        program = self.chain.program.program_id
        tasks = [asyncio.create_task(watch_program(
            self.ws_url, program, (POSITIONS, PERP_MARKETS), self._notified, self._connected,
            self._slot), name="book watch")]
        tasks.append(asyncio.create_task(self._keep_indexes(), name="book indexes"))
        if self.reconcile_s > 0:
            tasks.append(asyncio.create_task(self._reconcile(), name="book reconcile"))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def reload(self) -> PositionBook:
        """Load the whole book, apply what was notified meanwhile, and keep it."""
        buffer: list[Change] = []
        self._buffers.append(buffer)
        try:
            book = await load_book(self.chain, partitions=self.partitions)
            # indexed whole on a worker thread (the columns' copies too): nothing else sees
            # this book yet
            await asyncio.to_thread(book.build_indexes)
        finally:
            self._buffers.remove(buffer)
        for change in buffer:  # in the order notified: the last version of each wins
            apply_change(book, *change)
        self.book = book
        self.on_book(book)
        return book

    async def _keep_indexes(self) -> None:
        while True:
            await asyncio.sleep(INDEX_CHECK_S)
            try:
                # the live book's rows copied here, between two changes; sorted on a thread
                for build in self.book.index_builds():
                    await asyncio.to_thread(build.run)
                    build.install()
            except Exception as e:  # judged row by row meanwhile: slower, never wrong
                log.warning("liquidator book index not rebuilt",
                            error=f"{type(e).__name__}: {e}")

    def _slot(self, slot: int) -> None:
        if self._current:
            self.slot = slot

    async def _notified(self, kind: ProgramKind, address: Pubkey, data: bytes | None,
                        _slot: int) -> None:
        for buffer in self._buffers:
            buffer.append((kind, address, data))
        try:
            apply_change(self.book, kind, address, data)
        except (UnknownAccount, struct.error) as e:  # not an account the program reads
            log.warning("liquidator book skipped an unreadable account", address=str(address),
                        error=str(e))
            return
        self.on_book(self.book)

    def _connected(self) -> Coroutine[Any, Any, None]:
        # not current until the book is loaded (changes missed while disconnected are gone):
        # said here, called as the connection is made, before any of its notifications
        self._current, self.slot = False, None
        return self._load()

    async def _load(self) -> None:
        # until it loads: the node may be busy, or a provider refusing for a while
        while True:
            try:
                book = await self.reload()
            except Exception as e:
                log.warning("liquidator book load failed", error=str(e) or type(e).__name__,
                            retry_in_s=RELOAD_RETRY_S)
                await asyncio.sleep(RELOAD_RETRY_S)
            else:
                log.info("liquidator book loaded", positions=len(book),
                         partitions=self.partitions)
                self._current = True
                return

    async def _reconcile(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_s)
            try:
                await self.reload()
            except Exception as e:
                log.warning("liquidator book reconcile failed",
                            error=str(e) or type(e).__name__)
