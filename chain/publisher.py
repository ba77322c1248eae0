"""The local price publisher: Pyth price accounts written into the localnet from scenarios.

On a real cluster Pyth's publishers update price accounts; the localnet has no Pyth program,
so it offers one method for this, `keepernet_setPriceAccount`, which takes only well-formed
price accounts and gives them the config's Pyth owner. Each tick stamps the current slot as
the publish slot, so the program sees fresh prices for as long as the publisher runs.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from solders.pubkey import Pubkey

from chain.pyth import price_account
from chain.scenarios import Scenario

SET_PRICE_METHOD = "keepernet_setPriceAccount"


@dataclass(frozen=True)
class Feed:
    """One oracle account and the scenario its price follows."""

    oracle: Pubkey
    scenario: Scenario
    exponent: int = -8
    conf_bps: int = 10


class PublishError(Exception):
    """The localnet refused or could not be reached."""


class Publisher:
    """Writes every feed's price at time t into the localnet at `url`."""

    def __init__(self, url: str, feeds: Sequence[Feed], *, timeout_s: float = 5.0) -> None:
        if not feeds:
            raise ValueError("the publisher needs at least one feed")
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

    async def publish(self, t_s: float) -> dict[Pubkey, int]:
        """Write each feed's price at t_s, stamped with the current slot; returns them."""
        # the newest slot: the program compares the publish slot with its own clock's
        slot = await self._rpc("getSlot", [{"commitment": "processed"}])
        assert isinstance(slot, int)
        prices: dict[Pubkey, int] = {}
        for feed in self.feeds:
            price_e6 = feed.scenario.price_at(t_s)
            data = price_account(price_e6, exponent=feed.exponent, conf_bps=feed.conf_bps,
                                 slot=slot).encode()
            await self._rpc(SET_PRICE_METHOD, [str(feed.oracle),
                                               base64.b64encode(data).decode()])
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
