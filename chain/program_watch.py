"""Watching a program's accounts of some kinds through the RPC node's WebSocket:
`programSubscribe`, one subscription per kind (filtered by the node on the data size and the
discriminator), with reconnection.

`watch_program(ws_url, program, kinds, on_change, on_connected, on_slot)` calls
`on_change(kind, address, data, slot)` with each new version of an account of one of `kinds`
(`data` None once the account is gone: no lamports left), until cancelled; with `on_slot`, it
also subscribes to the slots on the same connection (`slotSubscribe`) and calls
`on_slot(slot)` with each, in order with the changes: a reader behind (a backlog after a
pause) sees the slots as far behind as the changes. After each
(re)subscription it calls `on_connected()`, before reading any notification, and runs the
coroutine it returns beside the reading, so that notifications keep arriving while it runs
(the liquidator's book loads there and takes what is notified meanwhile); notifications
missed while disconnected are gone, hence the call after each reconnection. A refused
subscription is asked again with the same backoff. Each subscription counts as a request in
`keepernet_rpc_requests_total`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from based58 import b58encode
from solders.pubkey import Pubkey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from chain.watch import (
    RECONNECT_FIRST_S,
    RECONNECT_MAX_S,
    SUBSCRIBE_TIMEOUT_S,
    WS_ENDPOINT,
    SubscribeRefused,
)
from metrics import definitions as metric

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProgramKind:
    """Accounts of one layout: its discriminator and its data size."""

    discriminator: bytes
    size: int


OnProgramChange = Callable[[ProgramKind, Pubkey, bytes | None, int], Awaitable[object]]
OnConnected = Callable[[], Coroutine[Any, Any, object]]
OnSlot = Callable[[int], object]
SLOTS = "slots"  # what the subscription ids map to for the slotSubscribe


async def _subscribe(ws: ClientConnection, program: Pubkey, kinds: Sequence[ProgramKind],
                     slots: bool) -> dict[int, ProgramKind | str]:
    """One programSubscribe per kind (and a slotSubscribe when `slots`); the node's
    subscription ids mapped to the kinds (SLOTS for the slots)."""
    asked: list[ProgramKind | str] = [*kinds, *([SLOTS] if slots else [])]
    for request_id, kind in enumerate(kinds, start=1):
        await ws.send(orjson.dumps({
            "jsonrpc": "2.0", "id": request_id, "method": "programSubscribe",
            "params": [str(program), {
                "encoding": "base64", "commitment": "confirmed",
                "filters": [{"dataSize": kind.size},
                            {"memcmp": {"offset": 0, "encoding": "base58",
                                        "bytes": b58encode(kind.discriminator).decode()}}]}],
        }).decode())
    if slots:
        await ws.send(orjson.dumps({"jsonrpc": "2.0", "id": len(asked),
                                    "method": "slotSubscribe"}).decode())
    subscriptions: dict[int, ProgramKind | str] = {}
    while len(subscriptions) < len(asked):
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
            message = orjson.loads(await ws.recv())
        request_id = message.get("id")
        if not isinstance(request_id, int) or not 1 <= request_id <= len(asked):
            continue  # a notification racing the answers: the caller re-reads after this
        method = "slotSubscribe" if asked[request_id - 1] == SLOTS else "programSubscribe"
        metric.rpc_requests.labels(WS_ENDPOINT, method,
                                   "rpc_error" if "error" in message else "ok").inc()
        if "error" in message:
            raise SubscribeRefused(f"{method} {program}: {message['error'].get('message')}")
        subscriptions[int(message["result"])] = asked[request_id - 1]
    return subscriptions


def _notification(message: Any, subscriptions: dict[int, ProgramKind | str]) \
        -> tuple[ProgramKind, Pubkey, bytes | None, int] | None:
    """(kind, address, data or None when gone, slot) of a programNotification, else None."""
    if message.get("method") != "programNotification":
        return None
    params = message["params"]
    kind = subscriptions.get(params["subscription"])
    if not isinstance(kind, ProgramKind):
        return None
    result = params["result"]
    value = result["value"]
    account = value["account"]
    encoded, encoding = account["data"]
    if encoding != "base64":
        return None
    data = None if account["lamports"] == 0 else base64.b64decode(encoded)
    return kind, Pubkey.from_string(value["pubkey"]), data, int(result["context"]["slot"])


def _slot_notified(message: Any) -> int | None:
    """The slot of a slotNotification, else None."""
    if message.get("method") != "slotNotification":
        return None
    return int(message["params"]["result"]["slot"])


async def watch_program(ws_url: str, program: Pubkey, kinds: Sequence[ProgramKind],
                        on_change: OnProgramChange, on_connected: OnConnected,
                        on_slot: OnSlot | None = None) -> None:
    """Call `on_change` with every change of `program`'s accounts of `kinds` (and `on_slot`
    with every slot) until cancelled, reconnecting as needed; `on_connected` starts after
    each (re)subscription, notifications read on while it runs."""
    delay = RECONNECT_FIRST_S
    while True:
        connected: asyncio.Task[object] | None = None
        try:
            async with connect(ws_url, max_size=None, open_timeout=SUBSCRIBE_TIMEOUT_S) as ws:
                subscriptions = await _subscribe(ws, program, kinds, on_slot is not None)
                delay = RECONNECT_FIRST_S
                log.info("watching program accounts", program=str(program), kinds=len(kinds))
                connected = asyncio.create_task(on_connected(), name="program watch connected")
                async for raw in ws:
                    message = orjson.loads(raw)
                    change = _notification(message, subscriptions)
                    if change is not None:
                        await on_change(*change)
                    elif on_slot is not None and (slot := _slot_notified(message)) is not None:
                        on_slot(slot)
        except (OSError, TimeoutError, WebSocketException) as e:
            log.warning("program watch lost its connection", error=str(e) or type(e).__name__,
                        retry_in_s=delay)
        except SubscribeRefused as e:
            # a provider's subscription limit, or a passing refusal: asked again later (the
            # caller's reconcile keeps its copy meanwhile)
            log.warning("program watch refused", error=str(e), retry_in_s=delay)
        finally:
            if connected is not None:
                connected.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await connected
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX_S)
