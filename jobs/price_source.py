"""Where `post_price` takes the updates it posts (the `prices.source` setting).

`local`: the update the local publisher last wrote for the feed, at the feed's push-oracle
address (`keepernet prices --feed`): on the localnet the publisher plays Pyth's price service.
`hermes`: the latest update of Pyth's price service, read through `pythclient`'s
`HermesClient` (`/v2/updates/price/latest`), with the accumulator update data that proves it
(a Wormhole VAA and Merkle proofs, chain/accumulator.py).

How an update is posted is jobs/price_poster.py's: written directly on the localnet, through
the Pyth Solana Receiver on a real cluster, which takes only Hermes' proven updates: there
`hermes` needs the keypairs of the pull accounts (`prices.pull_keys`), and `local` proves
nothing.
"""

from __future__ import annotations

import base64
import binascii
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


@dataclass(frozen=True)
class Sourced:
    """An update of a source, and the accumulator update data that proves it (Hermes'; None
    from the local publisher, which proves nothing)."""

    update: PriceUpdate
    update_data: bytes | None = None


class PriceSource(Protocol):
    """The latest update of a feed, stamped as posted at `slot`; None when it has none."""

    async def latest(self, feed_id: bytes, slot: int) -> Sourced | None: ...


class SourceUnavailable(Exception):
    """The price service did not answer, or not with an update of the feed: try again."""


class NotAPriceUpdate(Permanent, ValueError):
    """The local publisher's account of the feed is not a PriceUpdateV2."""


@dataclass(frozen=True)
class LocalSource:
    """The local publisher's update of a feed, read from its push-oracle address."""

    rpc: RpcClient

    async def latest(self, feed_id: bytes, slot: int) -> Sourced | None:
        response = await self.rpc.call("get_account_info", push_feed_address(feed_id))
        if response.value is None:
            return None
        try:
            update = PriceUpdate.decode(bytes(response.value.data))
        except ValueError as e:
            raise NotAPriceUpdate(f"the local publisher's account of the feed: {e}") from None
        return Sourced(PriceUpdate(
            feed_id=update.feed_id, price=update.price, conf=update.conf,
            exponent=update.exponent, publish_time=update.publish_time, posted_slot=slot,
            prev_publish_time=update.prev_publish_time, ema_price=update.ema_price,
            ema_conf=update.ema_conf))


@dataclass(frozen=True)
class HermesSource:
    """Pyth's price service at `url`, through pythclient's HermesClient."""

    url: str

    async def latest(self, feed_id: bytes, slot: int) -> Sourced | None:
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
                return Sourced(PriceUpdate(
                    feed_id=feed_id, price=price.price, conf=price.conf, exponent=price.expo,
                    publish_time=price.publish_time, posted_slot=slot,
                    prev_publish_time=price.publish_time, ema_price=ema.price,
                    ema_conf=ema.conf), _update_data(feed))
        return None


def _update_data(feed: dict[str, object]) -> bytes | None:
    """The accumulator update data Hermes sent with `feed` (one blob for the feeds asked,
    base64); None when it sent none readable."""
    blobs = feed.get("update_data")
    if not isinstance(blobs, list) or len(blobs) != 1 or not isinstance(blobs[0], str):
        return None
    try:
        return base64.b64decode(blobs[0], validate=True)
    except binascii.Error:
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


def remote_endpoints(settings: Settings) -> list[str]:
    """The names of the RPC endpoints that are not local: any, and the keepers post to a real
    cluster."""
    return [e.name for e in settings.rpc if not is_local(e.url)]


def check_price_source(settings: Settings) -> None:
    """SettingsError for `hermes` on a real cluster without `prices.pull_keys`: the receiver
    creates and writes a pull account only with its keypair's signature."""
    remote = remote_endpoints(settings)
    if settings.prices.source == "hermes" and remote and settings.prices.pull_keys is None:
        raise SettingsError([
            f"KEEPERNET_PULL_KEYS (TOML prices.pull_keys): missing: hermes posts to "
            f"{', '.join(remote)} through the Pyth Solana Receiver, which needs the "
            f"keypairs of the pull accounts"])


def price_source(settings: Settings, rpc: RpcClient) -> PriceSource:
    """The source `settings.prices` names, read through `rpc` when local; SettingsError as
    `check_price_source`."""
    check_price_source(settings)
    if settings.prices.source == "local":
        return LocalSource(rpc)
    return HermesSource(settings.prices.hermes_url)
