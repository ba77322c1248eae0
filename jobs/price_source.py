"""Where `post_price` takes the updates it posts (the `prices.source` setting).

`local`: the update the local publisher last wrote for the feed, at the feed's push-oracle
address (`keepernet prices --feed`): on the localnet the publisher plays Pyth's price service.
`hermes`: the latest update of Pyth's price service, read through `pythclient`'s
`HermesClient` (`/v2/updates/price/latest`).

Either is posted by writing the account through the localnet's `keepernet_setAccounts`
(chain/publisher.py), fully verified: there is no Wormhole verification on the localnet. A
real cluster would need the receiver's `post_update` instruction carrying Hermes' VAA, which
the keepers do not build yet: `price_source` refuses to post to any cluster but a local one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from pythclient.hermes import HermesClient

from chain.client import RpcClient
from chain.price_update import PriceUpdate, push_feed_address
from fleet.settings import Settings, SettingsError
from jobs.errors import Permanent


class PriceSource(Protocol):
    """The latest update of a feed, stamped as posted at `slot`; None when it has none."""

    async def latest(self, feed_id: bytes, slot: int) -> PriceUpdate | None: ...


class SourceUnavailable(Exception):
    """The price service did not answer, or not with an update of the feed: try again."""


class NotAPriceUpdate(Permanent, ValueError):
    """The local publisher's account of the feed is not a PriceUpdateV2."""


@dataclass(frozen=True)
class LocalSource:
    """The local publisher's update of a feed, read from its push-oracle address."""

    rpc: RpcClient

    async def latest(self, feed_id: bytes, slot: int) -> PriceUpdate | None:
        response = await self.rpc.call("get_account_info", push_feed_address(feed_id))
        if response.value is None:
            return None
        try:
            update = PriceUpdate.decode(bytes(response.value.data))
        except ValueError as e:
            raise NotAPriceUpdate(f"the local publisher's account of the feed: {e}") from None
        return PriceUpdate(feed_id=update.feed_id, price=update.price, conf=update.conf,
                           exponent=update.exponent, publish_time=update.publish_time,
                           posted_slot=slot, prev_publish_time=update.prev_publish_time,
                           ema_price=update.ema_price, ema_conf=update.ema_conf)


@dataclass(frozen=True)
class HermesSource:
    """Pyth's price service at `url`, through pythclient's HermesClient."""

    url: str

    async def latest(self, feed_id: bytes, slot: int) -> PriceUpdate | None:
        # HermesClient joins paths with os.path.join: the endpoint must end with a slash
        client = HermesClient([], endpoint=self.url.rstrip("/") + "/")
        try:
            feeds = await client.get_pyth_prices_latest([feed_id.hex()])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
            raise SourceUnavailable(f"Hermes at {urlsplit(self.url).netloc}: "
                                    f"{type(e).__name__}: {e}") from None
        for feed in feeds:
            if feed["feed_id"].removeprefix("0x") == feed_id.hex():
                price, ema = feed["price"], feed["ema_price"]
                return PriceUpdate(feed_id=feed_id, price=price.price, conf=price.conf,
                                   exponent=price.expo, publish_time=price.publish_time,
                                   posted_slot=slot, prev_publish_time=price.publish_time,
                                   ema_price=ema.price, ema_conf=ema.conf)
        return None


def is_local(url: str) -> bool:
    """Whether an RPC URL names this machine (a localnet)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_price_source(settings: Settings) -> None:
    """SettingsError for `hermes` when an RPC endpoint is not local: posting to a real cluster
    is not supported yet (see the module docstring)."""
    remote = [e.name for e in settings.rpc if not is_local(e.url)]
    if settings.prices.source == "hermes" and remote:
        raise SettingsError([
            f"KEEPERNET_PRICE_SOURCE (TOML prices.source): hermes posts only to a localnet, "
            f"and {', '.join(remote)} is not one: a real cluster needs the receiver's "
            f"post_update with Hermes' VAA, which the keepers do not build yet"])


def price_source(settings: Settings, rpc: RpcClient) -> PriceSource:
    """The source `settings.prices` names, read through `rpc` when local; SettingsError as
    `check_price_source`."""
    check_price_source(settings)
    if settings.prices.source == "local":
        return LocalSource(rpc)
    return HermesSource(settings.prices.hermes_url)
