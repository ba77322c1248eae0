"""Watching accounts through the RPC node's WebSocket: `accountSubscribe`, with reconnection.

`watch_accounts(ws_url, addresses, on_change, on_connected)` subscribes to every address and
calls `on_change(address, data, slot)` with each new version of an account, until cancelled.
Each subscription counts as a request in `keepernet_rpc_requests_total` (endpoint
"websocket"), as providers count them. When the connection drops it reconnects with backoff
and calls `on_connected()` again after subscribing: notifications missed while disconnected
are gone, so the caller re-reads what it watches there (the liquidator rescans). A refused
subscription (a provider's limit) is asked again the same way, on a new connection. Each
notification's arrival is set for its handling (metrics/trigger_to_send.py: a transaction it
leads to is timed from it).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
import structlog
from solders.pubkey import Pubkey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from jobs.errors import Permanent
from metrics import definitions as metric
from metrics.trigger_to_send import notified_at

OnChange = Callable[[Pubkey, bytes, int], Awaitable[object]]
OnConnected = Callable[[], Awaitable[object]]

RECONNECT_FIRST_S, RECONNECT_MAX_S = 0.2, 5.0
# how keepernet_rpc_requests_total names the WebSocket endpoint (it has no operator's name)
WS_ENDPOINT = "websocket"
SUBSCRIBE_TIMEOUT_S = 5.0

log = structlog.get_logger(__name__)


class SubscribeRefused(Permanent):
    """The node answered a subscription with an error."""


async def _subscribe(ws: ClientConnection, addresses: Sequence[Pubkey],
                     commitment: str) -> dict[int, Pubkey]:
    """Subscribe to each address; the node's subscription ids mapped to the addresses."""
    for request_id, address in enumerate(addresses, start=1):
        await ws.send(orjson.dumps({
            "jsonrpc": "2.0", "id": request_id, "method": "accountSubscribe",
            "params": [str(address), {"encoding": "base64", "commitment": commitment}],
        }).decode())  # a text frame: nodes ignore binary ones
    subscriptions: dict[int, Pubkey] = {}
    while len(subscriptions) < len(addresses):
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
            message = orjson.loads(await ws.recv())
        request_id = message.get("id")
        if not isinstance(request_id, int) or not 1 <= request_id <= len(addresses):
            continue  # a notification racing the answers: the caller re-reads after this
        metric.rpc_requests.labels(WS_ENDPOINT, "accountSubscribe",
                                   "rpc_error" if "error" in message else "ok").inc()
        if "error" in message:
            raise SubscribeRefused(f"accountSubscribe {addresses[request_id - 1]}: "
                                   f"{message['error'].get('message')}")
        subscriptions[int(message["result"])] = addresses[request_id - 1]
    return subscriptions


def _notification(message: Any, subscriptions: dict[int, Pubkey]) \
        -> tuple[Pubkey, bytes, int] | None:
    """(address, data, slot) of an accountNotification, else None."""
    if message.get("method") != "accountNotification":
        return None
    params = message["params"]
    address = subscriptions.get(params["subscription"])
    if address is None:
        return None
    result = params["result"]
    encoded, encoding = result["value"]["data"]
    if encoding != "base64":
        return None
    return address, base64.b64decode(encoded), int(result["context"]["slot"])


async def watch_accounts(ws_url: str, addresses: Sequence[Pubkey], on_change: OnChange,
                         on_connected: OnConnected | None = None, *,
                         commitment: str = "confirmed") -> None:
    """Call `on_change` with every change of `addresses` (as of `commitment`) until
    cancelled, reconnecting as needed; `on_connected` runs after each (re)subscription."""
    delay = RECONNECT_FIRST_S
    while True:
        try:
            async with connect(ws_url, max_size=None, open_timeout=SUBSCRIBE_TIMEOUT_S) as ws:
                subscriptions = await _subscribe(ws, addresses, commitment)
                delay = RECONNECT_FIRST_S
                log.info("watching accounts", count=len(addresses))
                if on_connected is not None:
                    await on_connected()
                async for raw in ws:
                    arrived = time.monotonic()  # what the keeper's share runs from
                    change = _notification(orjson.loads(raw), subscriptions)
                    if change is not None:
                        with notified_at(arrived):
                            await on_change(*change)
        except (OSError, TimeoutError, WebSocketException) as e:
            log.warning("account watch lost its connection", error=str(e) or type(e).__name__,
                        retry_in_s=delay)
        except SubscribeRefused as e:
            # a provider's subscription limit, or a passing refusal: asked again with the same
            # backoff (the caller's scans find the positions meanwhile); ending here would
            # leave the liquidator without its trigger until restarted
            log.warning("account watch refused", error=str(e), retry_in_s=delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX_S)
