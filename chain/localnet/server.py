"""The localnet's network face: JSON-RPC over HTTP on a port, subscriptions over WebSocket on
the next one, as a validator serves them.

HTTP: `POST /` takes a JSON-RPC request or batch (`Rpc` answers it); `GET /health` says "ok".
Under a hosted provider's profile (`hosted`) a customer's requests meet its limits first.
WebSocket (`/` on port + 1): accountSubscribe and slotSubscribe here, logsSubscribe,
programSubscribe, rootSubscribe, signatureSubscribe, blockSubscribe and slotsUpdatesSubscribe
in `subscriptions`, with their unsubscribes, and getVersion, which a validator's pubsub answers
too; voteSubscribe gets -32601, as from a validator not started with
--rpc-pubsub-enable-vote-subscription (the localnet casts no votes anyway). An account
subscription is told of a change once it reaches the subscription's commitment (finalized
unless told, as a validator). The ledger calls listeners synchronously
after each slot, transaction and account write; they queue notifications per connection and a
writer task per connection sends them, so a slow client never blocks the chain.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.localnet import hosted
from chain.localnet.hosted import HostedProfile, RateLimiter
from chain.localnet.ledger import Ledger
from chain.localnet.rpc import (
    FEATURE_SET,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SOLANA_CORE_VERSION,
    Rpc,
    RpcError,
    dumps,
    encode_account,
    invalid_params,
    loads,
)
from chain.localnet.subscriptions import KINDS as SLOT_KINDS
from chain.localnet.subscriptions import SlotSubscriptions, commitment_level

HOST = "127.0.0.1"
SYSTEM_PROGRAM = Pubkey.from_string("11111111111111111111111111111111")
_EMPTY = Account(lamports=0, data=b"", owner=SYSTEM_PROGRAM, executable=False, rent_epoch=0)


@dataclass
class _Connection:
    """One WebSocket client: its outgoing queue, and under a hosted profile how many
    subscriptions it may open and has open."""

    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    max_subscriptions: int | None = None
    subscriptions: int = 0

    def push(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(dumps(message).decode())


@dataclass
class _Subscription:
    id: int
    kind: str  # "account" | "slot"
    connection: _Connection
    config: dict[str, Any]
    address: Pubkey | None = None
    commitment: str = "finalized"  # account: notified once a change reaches it
    last: tuple[int, bytes, Pubkey, bool] | None = None  # the account as last notified


def _snapshot(account: Account | None) -> tuple[int, bytes, Pubkey, bool] | None:
    if account is None:
        return None
    return account.lamports, bytes(account.data), account.owner, account.executable


class Subscriptions:
    """Subscriptions of all connections, fed by the ledger's listeners."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._ids = itertools.count()
        self._subs: dict[int, _Subscription] = {}
        ledger.account_listeners.append(self._accounts_changed)
        ledger.slot_listeners.append(self._slot)
        self.by_slot = SlotSubscriptions(ledger, self._push, lambda: next(self._ids))

    def close(self) -> None:
        self.ledger.account_listeners.remove(self._accounts_changed)
        self.ledger.slot_listeners.remove(self._slot)
        self.by_slot.close()

    @staticmethod
    def _push(connection: _Connection, sub_id: int, method: str, result: Any) -> None:
        connection.push({"jsonrpc": "2.0", "method": method,
                         "params": {"result": result, "subscription": sub_id}})

    # ---- requests -----------------------------------------------------------------------------
    def handle(self, connection: _Connection, request: Any) -> dict[str, Any]:
        """Answer one subscribe/unsubscribe request."""
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
            return _error(None, RpcError(INVALID_REQUEST, "Invalid request"))
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params", [])
        subscribes = isinstance(method, str) and method.endswith("Subscribe")
        try:
            if not isinstance(params, list):
                raise invalid_params("params must be an array")
            limit = connection.max_subscriptions
            if subscribes and limit is not None and connection.subscriptions >= limit:
                raise hosted.subscription_limit_error(limit)
            result = self._dispatch(connection, method, params)
        except RpcError as e:
            return _error(request_id, e)
        if subscribes:
            connection.subscriptions += 1
        elif result is True:  # an unsubscribe
            connection.subscriptions -= 1
        return {"jsonrpc": "2.0", "result": result, "id": request_id}

    def _dispatch(self, connection: _Connection, method: Any, params: list[Any]) -> Any:
        config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        config = {k: v for k, v in config.items() if v is not None}
        if method == "accountSubscribe":
            address = _pubkey(params[0] if params else None)
            sub = self._add("account", connection, config, address=address)
            sub.commitment = commitment_level(config)
            sub.last = _snapshot(self._read(sub)[1])
            return sub.id
        kind = method[:-len("Subscribe")] if isinstance(method, str) \
            and method.endswith("Subscribe") else None
        if kind in SLOT_KINDS:
            return self.by_slot.subscribe(connection, kind, params)
        if isinstance(method, str) and method.endswith("Unsubscribe") \
                and method[:-len("Unsubscribe")] in SLOT_KINDS:
            return self.by_slot.unsubscribe(connection, method[:-len("Unsubscribe")], params)
        if method == "slotSubscribe":
            return self._add("slot", connection, {}).id
        if method == "getVersion":
            return {"solana-core": SOLANA_CORE_VERSION, "feature-set": FEATURE_SET}
        if method in ("accountUnsubscribe", "slotUnsubscribe"):
            sub_id = params[0] if params else None
            found = self._subs.get(sub_id) if isinstance(sub_id, int) else None
            if found is None or found.connection is not connection \
                    or method != f"{found.kind}Unsubscribe":
                raise invalid_params("Invalid subscription id.")
            del self._subs[found.id]
            return True
        raise RpcError(METHOD_NOT_FOUND, "Method not found")

    def _add(self, kind: str, connection: _Connection, config: dict[str, Any], *,
             address: Pubkey | None = None) -> _Subscription:
        sub = _Subscription(next(self._ids), kind, connection, config, address)
        self._subs[sub.id] = sub
        return sub

    def drop(self, connection: _Connection) -> None:
        """Forget a closed connection's subscriptions."""
        for sub_id in [s.id for s in self._subs.values() if s.connection is connection]:
            del self._subs[sub_id]
        self.by_slot.drop(connection)

    # ---- notifications ------------------------------------------------------------------------
    def _notify(self, sub: _Subscription, method: str, result: Any) -> None:
        sub.connection.push({"jsonrpc": "2.0", "method": method,
                             "params": {"result": result, "subscription": sub.id}})

    def _read(self, sub: _Subscription) -> tuple[int, Account | None]:
        """The slot of `sub`'s commitment and its account as of that slot."""
        assert sub.address is not None
        slot = self.ledger.commitment_slot(sub.commitment)
        return slot, self.ledger.account(sub.address, None if slot >= self.ledger.slot else slot)

    def _accounts_changed(self, addresses: Sequence[Pubkey]) -> None:
        # a transaction's writes are seen at processed now, a direct write at every level
        changed = set(addresses)
        for sub in list(self._subs.values()):
            if sub.kind == "account" and sub.address in changed:
                # what a commitment below processed sees change now is a direct write, which
                # belongs to the newest slot (not to that level's older one)
                self._account(sub, self.ledger.slot)

    def _account(self, sub: _Subscription, written_at: int | None = None) -> None:
        """Notify `sub` if its account, as its commitment sees it, changed since last told
        (as of `written_at` when given, else of its commitment's slot)."""
        slot, account = self._read(sub)
        slot = slot if written_at is None else written_at
        snapshot = _snapshot(account)
        if snapshot == sub.last:
            return
        sub.last = snapshot
        config = {"encoding": sub.config.get("encoding", "binary"),  # the default
                  "dataSlice": sub.config.get("dataSlice")}
        try:
            value = encode_account(account or _EMPTY, config, self.ledger.account)
        except RpcError:  # an encoding it did not know: fall back as jsonParsed does
            value = encode_account(account or _EMPTY, {"encoding": "base64"})
        self._notify(sub, "accountNotification", {
            "context": {"slot": slot, "apiVersion": SOLANA_CORE_VERSION}, "value": value})

    def _slot(self, slot: int) -> None:
        for sub in list(self._subs.values()):
            if sub.kind == "account" and sub.commitment != "processed":
                # the slot moved a transaction's writes up to confirmed or finalized
                self._account(sub)
            elif sub.kind == "slot":
                self._notify(sub, "slotNotification",
                             {"parent": slot - 1,
                              "root": max(slot - self.ledger.finalize_slots, 0), "slot": slot})


def _pubkey(value: Any) -> Pubkey:
    try:
        return Pubkey.from_string(value)
    except (TypeError, ValueError) as e:
        raise invalid_params("Invalid pubkey") from e


def _error(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": error.to_json(), "id": request_id}


class LocalnetServer:
    """HTTP JSON-RPC on `port`, WebSocket subscriptions on `port + 1`, and the slot clock;
    under `profile`, a hosted provider's limits (chain/localnet/hosted.py)."""

    def __init__(self, ledger: Ledger, faucet: Keypair,
                 profile: HostedProfile | None = None) -> None:
        self.ledger = ledger
        self.rpc = Rpc(ledger, faucet)
        self.profile = profile
        self._limiter = RateLimiter(profile) if profile is not None else None
        self.subscriptions = Subscriptions(ledger)
        self._runners: list[web.AppRunner] = []
        self._ticker: asyncio.Task[None] | None = None
        self._connections: set[web.WebSocketResponse] = set()

    async def start(self, port: int, host: str = HOST) -> None:
        http = web.Application(client_max_size=2**20)
        http.router.add_post("/", self._http)
        http.router.add_get("/health", self._health)
        ws = web.Application()
        ws.router.add_get("/", self._websocket)
        for app, app_port in ((http, port), (ws, port + 1)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            self._runners.append(runner)
            await web.TCPSite(runner, host, app_port).start()
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for ws in list(self._connections):
            await ws.close()
        for runner in self._runners:
            await runner.cleanup()
        self.subscriptions.close()

    async def _tick(self) -> None:
        # the slot clock follows wall time even when nobody asks
        while True:
            self.ledger.tick()
            # woken when the next slot is due (a little after, so that it is): one wake-up
            # per slot, however short slots are
            await asyncio.sleep(self.ledger.seconds_to_next_slot() + 0.001)

    async def _http(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self._limited(request):
            return self._hosted(request, body)
        return _json_response(self.rpc.handle(body))

    def _limited(self, request: web.Request) -> bool:
        """Whether `request` is a customer's under a hosted profile (not the operator's)."""
        return self.profile is not None \
            and request.query.get("api-key") != self.profile.operator_key

    def _hosted(self, request: web.Request, body: bytes) -> web.Response:
        """A customer's request answered as a hosted provider answers it."""
        assert self.profile is not None and self._limiter is not None
        client = request.query.get("api-key") or request.remote or "unknown"
        wait = self._limiter.take(client)
        if wait is not None:
            return web.Response(status=429, body=dumps(hosted.rate_limited_body()),
                                content_type="application/json", charset="utf-8",
                                headers={"Retry-After": hosted.retry_after_header(wait)})
        if body.lstrip().startswith(b"["):
            return _json_response(_error(None, hosted.BATCH_REFUSAL))
        response = self.rpc.handle(body)
        if b"getProgramAccounts" in body:  # the method named somewhere: read it properly
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                parsed = loads(body)
                if isinstance(parsed, dict) and parsed.get("method") == "getProgramAccounts":
                    response = hosted.capped_answer(response, self.profile.gpa_cap)
        return _json_response(response)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._connections.add(ws)
        connection = _Connection()
        if self.profile is not None and self._limited(request):  # narrowed for mypy
            connection.max_subscriptions = self.profile.subscriptions_per_connection
        writer = asyncio.create_task(self._write(ws, connection))
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    request_body = json.loads(message.data)
                except ValueError:
                    connection.push(_error(None, RpcError(PARSE_ERROR, "Parse error")))
                    continue
                if isinstance(request_body, list):
                    answers = [self.subscriptions.handle(connection, r) for r in request_body]
                    connection.queue.put_nowait(dumps(answers).decode())
                else:
                    connection.push(self.subscriptions.handle(connection, request_body))
        finally:
            self.subscriptions.drop(connection)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._connections.discard(ws)
        return ws

    @staticmethod
    async def _write(ws: web.WebSocketResponse, connection: _Connection) -> None:
        while True:
            text = await connection.queue.get()
            if ws.closed:
                return
            await ws.send_str(text)


def _json_response(response: Any) -> web.Response:
    """An HTTP answer holding a JSON-RPC `response` (none for a batch of notifications)."""
    if response is None:
        return web.Response(status=200)
    return web.Response(body=dumps(response), content_type="application/json", charset="utf-8")
