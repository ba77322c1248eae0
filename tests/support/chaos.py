"""An in-test JSON-RPC proxy that misbehaves on demand, in front of a real localnet.

`Chaos(upstream)` listens on 127.0.0.1 (a free port) and forwards each POST to `upstream`,
unless a rule says otherwise. Rules apply in the order they were added; each matches a
JSON-RPC method (or any) and lasts a number of requests, a number of seconds, or for ever:

    proxy.fail(Status(429, retry_after=2))            # the next request: 429, Retry-After: 2
    proxy.fail(Status(500), times=None)               # every request from now on
    proxy.fail(Stall(), for_s=1.5)                    # stall every request for 1.5 s
    proxy.script(Reset(), Status(500))                # the next request reset, the one after 500
    proxy.fail(Swallow(), method="sendTransaction")   # answer with the signature, forward nothing
    proxy.fail(Swallow(), method="sendTransaction", times=None,
               when=FirstTransaction())               # lose every send of the first transaction
    proxy.rewrite("getSignatureStatuses", fn)         # change what the node answered

Every request is recorded (`seen`) with its method, arrival time (`time.monotonic()`, the
clock the client uses), what the proxy did and the answer it gave, so tests check behaviour
by counts and timestamps. A dead endpoint needs no proxy: `dead_url()`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
import base58
from aiohttp import web
from solders.transaction import VersionedTransaction


# ---- what the proxy can do to a request ---------------------------------------------------------
@dataclass(frozen=True)
class Forward:
    """Pass the request to the node and its answer back (what happens without a rule)."""


@dataclass(frozen=True)
class Status:
    """Answer with an HTTP error status, with a Retry-After header when given."""

    code: int
    retry_after: float | str | None = None


@dataclass(frozen=True)
class Stall:
    """Hold the request without answering for `seconds` (then reset it), or until the proxy
    closes."""

    seconds: float = 3600.0


@dataclass(frozen=True)
class Reset:
    """Close the connection without answering."""


@dataclass(frozen=True)
class Garbage:
    """Answer 200 with a body that is not JSON-RPC (a provider's HTML error page)."""


@dataclass(frozen=True)
class RpcError:
    """Answer 200 with a JSON-RPC error object, without asking the node."""

    code: int
    message: str


@dataclass(frozen=True)
class Swallow:
    """Answer sendTransaction with the transaction's signature, as a node does, without
    forwarding it: the transaction is lost."""


Action = Forward | Status | Stall | Reset | Garbage | RpcError | Swallow
Rewrite = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
Predicate = Callable[[Any], bool]


@dataclass
class Rule:
    action: Action
    method: str | None  # None: any method
    times: int | None  # requests left; None: no limit
    until: float | None  # time.monotonic() after which the rule is over
    when: Predicate | None = None  # a test of the request itself

    def live(self, now: float) -> bool:
        return (self.times is None or self.times > 0) and (self.until is None
                                                           or now < self.until)

    def matches(self, method: str, request: Any, now: float) -> bool:
        return (self.live(now) and (self.method is None or self.method == method)
                and (self.when is None or self.when(request)))


@dataclass(frozen=True)
class Seen:
    """One request as the proxy saw it."""

    method: str
    at: float  # time.monotonic() on arrival
    action: str  # "forward", "status 429", "stall", "reset", "garbage", "rpc-error", "swallow"
    request: Any
    answer: Any = None  # the JSON answer given, when there was one


def action_name(action: Action) -> str:
    match action:
        case Status(code=code):
            return f"status {code}"
        case RpcError():
            return "rpc-error"
        case _:
            return type(action).__name__.lower()


def signature_of(request: dict[str, Any]) -> str:
    """The first signature of the transaction in a sendTransaction request."""
    params = request.get("params") or []
    config = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
    wire = params[0]
    raw = (base64.b64decode(wire) if config.get("encoding") == "base64"
           else base58.b58decode(wire))
    return str(VersionedTransaction.from_bytes(raw).signatures[0])


def bind_free() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def dead_url() -> str:
    """A URL on 127.0.0.1 where nobody listens."""
    with bind_free() as sock:
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class Chaos:
    """The proxy; see the module docstring."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""
        self.rules: list[Rule] = []
        self.rewrites: dict[str, list[Rewrite]] = {}
        self.seen: list[Seen] = []
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # ---- life ---------------------------------------------------------------------------------
    async def start(self) -> Chaos:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = bind_free()
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._session = aiohttp.ClientSession()
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> Chaos:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # ---- rules --------------------------------------------------------------------------------
    def fail(self, action: Action, *, method: str | None = None, times: int | None = 1,
             for_s: float | None = None, when: Predicate | None = None) -> Rule:
        """Apply `action` to the next `times` requests for `method` (any method when None;
        every request when `times` is None), or to all of them for the next `for_s` seconds;
        only to requests that `when(request)` accepts, when given."""
        if for_s is not None and times == 1:
            times = None
        rule = Rule(action, method, times,
                    None if for_s is None else time.monotonic() + for_s, when)
        self.rules.append(rule)
        return rule

    def script(self, *actions: Action, method: str | None = None) -> None:
        """One action per request, in order: a schedule."""
        for action in actions:
            self.fail(action, method=method, times=1)

    def rewrite(self, method: str, fn: Rewrite) -> None:
        """Let `fn(request, answer)` change the node's answers to `method`."""
        self.rewrites.setdefault(method, []).append(fn)

    def clear(self) -> None:
        """Forward everything again."""
        self.rules.clear()
        self.rewrites.clear()

    # ---- what it saw --------------------------------------------------------------------------
    def requests(self, method: str | None = None, action: str | None = None) -> list[Seen]:
        return [s for s in self.seen if (method is None or s.method == method)
                and (action is None or s.action == action)]

    def count(self, method: str | None = None, action: str | None = None) -> int:
        return len(self.requests(method, action))

    def times(self, method: str | None = None, action: str | None = None) -> list[float]:
        return [s.at for s in self.requests(method, action)]

    # ---- the proxy ----------------------------------------------------------------------------
    def _pick(self, method: str, request: Any, now: float) -> Action:
        for rule in self.rules:
            if rule.matches(method, request, now):
                if rule.times is not None:
                    rule.times -= 1
                return rule.action
        return Forward()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        at = time.monotonic()
        body = await request.read()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        method = (parsed.get("method", "?") if isinstance(parsed, dict)
                  else "batch" if isinstance(parsed, list) else "?")
        action = self._pick(method, parsed, at)
        name = action_name(action)

        def record(answer: Any = None) -> None:
            self.seen.append(Seen(method, at, name, parsed, answer))

        match action:
            case Status(code=code, retry_after=retry_after):
                record()
                headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
                return web.Response(status=code, text=f"chaos: {code}", headers=headers)
            case Stall(seconds=seconds):
                record()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), seconds)
                return self._reset(request)
            case Reset():
                record()
                return self._reset(request)
            case Garbage():
                record()
                return web.Response(status=200, text="<html>502 Bad Gateway</html>",
                                    content_type="text/html")
            case RpcError(code=code, message=message):
                answer = {"jsonrpc": "2.0", "id": _id(parsed),
                          "error": {"code": code, "message": message}}
                record(answer)
                return web.json_response(answer)
            case Swallow():
                answer = {"jsonrpc": "2.0", "id": _id(parsed), "result": signature_of(parsed)}
                record(answer)
                return web.json_response(answer)
        assert self._session is not None
        async with self._session.post(self.upstream, data=body, headers={
                "Content-Type": "application/json"}) as upstream:
            status, raw = upstream.status, await upstream.read()
        answer = json.loads(raw) if status == 200 else None
        if answer is not None and self.rewrites.get(method):  # a batch's: the whole list
            for fn in self.rewrites[method]:
                answer = fn(parsed, answer)
            raw = json.dumps(answer).encode()
        record(answer)
        return web.Response(status=status, body=raw, content_type="application/json")

    @staticmethod
    def _reset(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        # aiohttp writes nothing to a closed transport; the client sees the connection drop
        return web.Response(status=499)


def _id(request: Any) -> Any:
    return request.get("id") if isinstance(request, dict) else None


@dataclass
class FirstTransaction:
    """A `when` for sendTransaction rules: true for every send (and rebroadcast) of the first
    transaction the proxy is asked to send."""

    signature: str | None = None

    def __call__(self, request: Any) -> bool:
        signature = signature_of(request)
        if self.signature is None:
            self.signature = signature
        return signature == self.signature


@dataclass
class HiddenStatuses:
    """A rewrite of getSignatureStatuses that answers null for some signatures: the
    transaction landed, but this endpoint will not say so."""

    signatures: set[str] = field(default_factory=set)
    hidden: int = 0  # how many statuses it hid
    first: str | None = None  # the first transaction sent, once `hide_first_sent` saw it

    def hide_first_sent(self, request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        """A sendTransaction rewrite: the first transaction sent lands, its status is hidden."""
        if self.first is None and "result" in answer:
            self.first = signature_of(request)
            self.signatures.add(self.first)
        return answer

    def __call__(self, request: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        asked = (request.get("params") or [[]])[0]
        result = answer.get("result")
        if isinstance(result, dict) and isinstance(result.get("value"), list):
            for i, signature in enumerate(asked):
                if signature in self.signatures and result["value"][i] is not None:
                    result["value"][i] = None
                    self.hidden += 1
        return answer
