"""The local price publisher: Pyth prices written into the localnet from scenarios, as legacy
price accounts or as PriceUpdateV2 accounts.

On a real cluster Pyth's publishers update legacy price accounts, and PriceUpdateV2 accounts
are posted through the Pyth Solana Receiver after Wormhole verifies them; the localnet has
neither program. It offers `keepernet_setPriceAccount`, which takes only well-formed legacy
price accounts and gives them the config's Pyth owner, and `keepernet_setAccounts`, through
which a PriceUpdateV2 is written fully verified and owned by the receiver program (no
Wormhole here). Each tick stamps the chain's current slot (and, for PriceUpdateV2, its unix
time as the publish time: the program judges the age by the chain's clock, which the
localnet's time travel moves ahead of the wall clock), so the program sees fresh prices for
as long as the publisher runs.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from solders.pubkey import Pubkey
from solders.sysvar import CLOCK

from chain.price_update import PriceUpdate, price_update
from chain.pyth import price_account
from chain.scenarios import Scenario
from program.client import RECEIVER_PROGRAM

SET_PRICE_METHOD = "keepernet_setPriceAccount"
SET_ACCOUNTS_METHOD = "keepernet_setAccounts"
_CLOCK_UNIX_TIMESTAMP = struct.Struct("<q")
_CLOCK_UNIX_TIMESTAMP_OFFSET = 32  # after slot, epoch start timestamp, epoch, leader epoch


@dataclass(frozen=True)
class Feed:
    """One oracle account and the scenario its price follows: a legacy price account, or a
    PriceUpdateV2 of `feed_id` when one is given."""

    oracle: Pubkey
    scenario: Scenario
    exponent: int = -8
    conf_bps: int = 10
    feed_id: bytes | None = None


@dataclass(frozen=True)
class ChainNow:
    """The Clock sysvar's slot and unix time."""

    slot: int
    unix_timestamp: int


class PublishError(Exception):
    """The localnet refused or could not be reached."""


class Publisher:
    """Writes every feed's price at time t into the localnet at `url` (with no feeds, only
    what it is given to `post`)."""

    def __init__(self, url: str, feeds: Sequence[Feed] = (), *, timeout_s: float = 5.0) -> None:
        self.url = url
        self.feeds = list(feeds)
        self._http = httpx.AsyncClient(timeout=timeout_s)
        self._request_id = 0

    async def close(self) -> None:
        await self._http.aclose()

    async def _rpc(self, method: str, params: list[object]) -> object:
        self._request_id += 1
        try:
            response = await self._http.post(self.url, json={
                "jsonrpc": "2.0", "id": self._request_id, "method": method, "params": params})
            body = response.json()
        except (httpx.HTTPError, ValueError) as e:
            raise PublishError(f"{method} at {self.url}: {e}") from None
        if "error" in body:
            raise PublishError(f"{method}: {body['error'].get('message')}")
        return body["result"]

    async def clock(self) -> ChainNow:
        """The chain's slot and unix time, from its Clock sysvar."""
        # the newest slot: the program compares the publish slot with its own clock's
        result = await self._rpc("getAccountInfo", [str(CLOCK), {"encoding": "base64",
                                                                 "commitment": "processed"}])
        try:
            data = base64.b64decode(result["value"]["data"][0])  # type: ignore[index]
            (slot,) = struct.unpack_from("<Q", data, 0)
            (now,) = _CLOCK_UNIX_TIMESTAMP.unpack_from(data, _CLOCK_UNIX_TIMESTAMP_OFFSET)
        except (KeyError, TypeError, IndexError, ValueError, struct.error) as e:
            raise PublishError(f"the Clock sysvar is unreadable: {e}") from None
        return ChainNow(slot, now)

    async def write(self, feed: Feed, price_e6: int, at: ChainNow) -> None:
        """Write `feed`'s account quoting `price_e6`, published at `at`."""
        if feed.feed_id is None:
            data = price_account(price_e6, exponent=feed.exponent, conf_bps=feed.conf_bps,
                                 slot=at.slot).encode()
            await self._rpc(SET_PRICE_METHOD, [str(feed.oracle),
                                               base64.b64encode(data).decode()])
            return
        await self.post(feed.oracle, price_update(
            price_e6, feed_id=feed.feed_id, publish_time=at.unix_timestamp, slot=at.slot,
            exponent=feed.exponent, conf_bps=feed.conf_bps))

    async def post(self, oracle: Pubkey, update: PriceUpdate) -> None:
        """Write `update` at `oracle`, owned by the receiver program (no Wormhole here)."""
        await self._rpc(SET_ACCOUNTS_METHOD, [[[str(oracle),
                                                base64.b64encode(update.encode()).decode(),
                                                str(RECEIVER_PROGRAM)]]])

    async def publish(self, t_s: float) -> dict[Pubkey, int]:
        """Write each feed's price at t_s, stamped with the chain's current slot (and unix
        time); returns them."""
        if not self.feeds:
            raise ValueError("the publisher has no feed to publish")
        at = await self.clock()
        prices: dict[Pubkey, int] = {}
        for feed in self.feeds:
            price_e6 = feed.scenario.price_at(t_s)
            await self.write(feed, price_e6, at)
            prices[feed.oracle] = price_e6
        return prices

    async def run(self, interval_s: float, duration_s: float | None = None,
                  on_publish: Callable[[float, dict[Pubkey, int]], None] | None = None) -> None:
        """Publish every `interval_s` until `duration_s` has passed (or forever)."""
        start = time.monotonic()
        while True:
            t_s = time.monotonic() - start
            if duration_s is not None and t_s > duration_s:
                return
            prices = await self.publish(t_s)
            if on_publish:
                on_publish(t_s, prices)
            await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - start - t_s)))
