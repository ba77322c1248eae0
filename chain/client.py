"""Talking to Solana JSON-RPC through several endpoints.

`RpcClient.call("get_account_info", key)` runs one solana-py `AsyncClient` method on the
first endpoint that can take it: each endpoint has its own request-rate limit, a timeout on
every call, and a cool-down after it fails — as long as its `429 Retry-After` asks, or an
exponential back-off after errors, timeouts and resets — while the call moves on to the next
endpoint. A call that no endpoint completes before its deadline raises `RpcUnavailable`
naming what each endpoint said, so a caller never hangs.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed

# After a failure that gives no Retry-After, an endpoint rests this long, doubling per
# consecutive failure up to the cap.
BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class Endpoint:
    """An RPC endpoint; `name` is what logs and metrics call it (never the URL: it may hold a
    key)."""

    name: str
    url: str
    max_rps: float = 50.0


class RpcUnavailable(Exception):
    """No endpoint completed the call before its deadline."""


@dataclass
class _EndpointState:
    endpoint: Endpoint
    client: AsyncClient
    next_request_at: float = 0.0  # the rate limit: the earliest time of the next request
    resting_until: float = 0.0  # after a failure
    failures: int = 0
    last_error: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def take_turn(self) -> None:
        """Wait for this endpoint's next request slot under its rate limit."""
        async with self.lock:
            now = time.monotonic()
            at = max(now, self.next_request_at)
            self.next_request_at = at + 1.0 / self.endpoint.max_rps
        if at > now:
            await asyncio.sleep(at - now)

    def failed(self, error: str, retry_after_s: float | None = None) -> None:
        self.failures += 1
        self.last_error = error
        rest = retry_after_s if retry_after_s is not None else min(
            BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (self.failures - 1))
        self.resting_until = time.monotonic() + rest

    def succeeded(self) -> None:
        self.failures = 0
        self.resting_until = 0.0


def retry_after_s(response: httpx.Response) -> float | None:
    """Seconds a 429 or 503 asks to wait: Retry-After as seconds or as an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())


def describe_failure(exc: BaseException) -> tuple[str, float | None]:
    """What went wrong with a call, briefly, and how long the endpoint asks to be left alone."""
    cause = exc.__cause__ if isinstance(exc, SolanaRpcException) else exc
    if isinstance(cause, httpx.HTTPStatusError):
        status = cause.response.status_code
        return f"HTTP {status}", retry_after_s(cause.response) if status in (429, 503) else None
    if isinstance(cause, (TimeoutError, httpx.TimeoutException)):
        return "timeout", None
    if isinstance(cause, httpx.TransportError):
        return f"connection failed ({type(cause).__name__})", None
    return f"{type(cause).__name__}: {cause}", None


class RpcClient:
    """solana-py's AsyncClient over several endpoints, with failover and rate limits."""

    def __init__(self, endpoints: Sequence[Endpoint], *, timeout_s: float = 5.0,
                 deadline_s: float = 20.0, commitment: Commitment = Confirmed) -> None:
        if not endpoints:
            raise ValueError("RpcClient needs at least one endpoint")
        names = [e.name for e in endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names must be unique: {names}")
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self._states = [_EndpointState(e, AsyncClient(e.url, commitment=commitment,
                                                      timeout=timeout_s)) for e in endpoints]

    @property
    def primary(self) -> AsyncClient:
        """The first endpoint's client, for APIs that need one (anchorpy's Provider)."""
        return self._states[0].client

    async def close(self) -> None:
        for s in self._states:
            await s.client.close()

    def _ready_order(self) -> list[_EndpointState]:
        """Endpoints in the configured order, those resting moved behind the others."""
        now = time.monotonic()
        return sorted(self._states, key=lambda s: s.resting_until > now)

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run AsyncClient.`method` on the first endpoint that completes it."""
        deadline = time.monotonic() + self.deadline_s
        while True:
            for state in self._ready_order():
                now = time.monotonic()
                if state.resting_until > now:
                    continue
                remaining = deadline - now
                if remaining <= 0:
                    break
                await state.take_turn()
                try:
                    result = await asyncio.wait_for(
                        getattr(state.client, method)(*args, **kwargs),
                        min(self.timeout_s, max(0.0, deadline - time.monotonic())))
                except (TimeoutError, SolanaRpcException, httpx.HTTPError, OSError) as e:
                    state.failed(*describe_failure(e))
                    continue
                state.succeeded()
                return result
            now = time.monotonic()
            if now >= deadline:
                raise RpcUnavailable(f"{method}: no endpoint answered within "
                                     f"{self.deadline_s:g} s (" + ", ".join(
                                         f"{s.endpoint.name}: {s.last_error or 'no turn'}"
                                         for s in self._states) + ")")
            wake = min(s.resting_until for s in self._states)
            await asyncio.sleep(max(0.0, min(wake, deadline) - now))
