"""Talking to Solana JSON-RPC through several endpoints.

`RpcClient.call("get_account_info", key)` runs one solana-py `AsyncClient` method (and
`RpcClient.request("getRecentPrioritizationFees", [...])` one JSON-RPC method solana-py lacks,
as raw JSON) on the first endpoint that can take it: each endpoint has its own request-rate
limit, a timeout on every call, and a cool-down after it fails — as long as its
`429 Retry-After` asks (each 429 counted in `keepernet_rpc_rate_limited_total`), or an
exponential back-off after errors, timeouts and resets — while the call moves on to the next
endpoint. A call that no endpoint completes before its deadline
raises `RpcUnavailable` naming what each endpoint said, so a caller never hangs. An answer from
the node — a result or a JSON-RPC error such as bad params — is not an endpoint failure: it
comes back at once.

`anchor_program(rpc, program_id)` is the anchorpy `Program` from the IDL over the primary
endpoint's client, and `rpc.program_accounts(program, Market)` fetches every account of one
kind (its discriminator as a `memcmp` filter) decoded into its class (program/accounts.py).

`request_batch` sends its calls as one JSON-RPC batch when `batches` is "on", one request per
call when "off", and under "auto" (the default) as a batch until an endpoint refuses one — an
HTTP 4xx other than 429, one JSON-RPC error in place of the batch's answers, or "invalid
request" (-32600) for each — and from then on, to that endpoint, as single requests (the
refusal logged once and counted in `keepernet_rpc_batch_refusals_total`). Many hosted
providers refuse batches or count them against a lower limit.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from anchorpy import Program, Provider, Wallet
from based58 import b58encode
from solana.exceptions import SolanaRpcException
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Commitment, Confirmed
from solana.rpc.core import RPCException
from solana.rpc.types import MemcmpOpts
from solders.errors import SerdeJSONError
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain import answer_process
from chain.transport import http_client
from jobs.errors import Retryable
from metrics import definitions as metric
from patches.solana_http import send_through_aiohttp
from program.accounts import AccountKind, AccountT
from program.idl.anchor import load_idl

# After a failure that gives no Retry-After, an endpoint rests this long, doubling per
# consecutive failure up to the cap.
BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 30.0
# A call waits this much longer for an earlier endpoint's rate-limited turn than for a later
# endpoint's before it goes to the later one: the configured order holds under light load (the
# primary keeps a caller's reads consistent) and a backlog spills over instead of queueing.
SPILL_AFTER_S = 0.1
# request_batch's modes (see the module docstring)
BATCH_MODES = ("auto", "on", "off")
INVALID_REQUEST = -32600  # JSON-RPC's code for a request the server cannot take
# a module-level function turning an answer's result into what the caller keeps, run in the
# helper process (chain/answer_process.py)
Reduce = Callable[[Any], Any]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Endpoint:
    """An RPC endpoint; `name` is what logs and metrics call it (never the URL: it may hold a
    key)."""

    name: str
    url: str
    max_rps: float = 50.0


class RpcUnavailable(Retryable):
    """No endpoint completed the call before its deadline; `said` maps each endpoint's name to
    what it answered (or why it was not asked)."""

    def __init__(self, message: str, said: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.said = dict(said or {})


class _EndpointFailed(Exception):
    """An endpoint answered with something that is not a JSON-RPC answer."""


class _BatchRefused(_EndpointFailed):
    """An endpoint refused a JSON-RPC batch (see `_refusal`)."""


@dataclass
class _EndpointState:
    endpoint: Endpoint
    client: AsyncClient
    raw: httpx.AsyncClient  # for the JSON-RPC methods solana-py lacks
    next_request_at: float = 0.0  # the rate limit: the earliest time of the next request
    resting_until: float = 0.0  # after a failure
    failures: int = 0
    last_error: str = ""
    batches_refused: bool = False  # under "auto": it refused one, so it gets single requests
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def take_turn(self, calls: int = 1) -> None:
        """Wait for this endpoint's next request slot under its rate limit; a request of
        several `calls` (a JSON-RPC batch) uses as many slots, as providers count them."""
        async with self.lock:
            now = time.monotonic()
            at = max(now, self.next_request_at)
            self.next_request_at = at + calls / self.endpoint.max_rps
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


def http_status(exc: BaseException) -> int | None:
    """The HTTP error status a failed call met, if it met one."""
    cause = exc.__cause__ if isinstance(exc, SolanaRpcException) else exc
    return cause.response.status_code if isinstance(cause, httpx.HTTPStatusError) else None


def describe_failure(exc: BaseException) -> tuple[str, float | None]:
    """What went wrong with a call, briefly, and how long the endpoint asks to be left alone."""
    cause = exc.__cause__ if isinstance(exc, SolanaRpcException) else exc
    if isinstance(cause, httpx.HTTPStatusError):
        status = cause.response.status_code
        wait = retry_after_s(cause.response) if status in (429, 503) else None
        return f"HTTP {status}" + ("" if wait is None else f", retry after {wait:g} s"), wait
    if isinstance(cause, (TimeoutError, httpx.TimeoutException)):
        return "timeout", None
    if isinstance(cause, httpx.TransportError):
        return f"connection failed ({type(cause).__name__})", None
    if isinstance(cause, SerdeJSONError):
        return f"unreadable answer ({cause})", None
    if isinstance(cause, _EndpointFailed):
        return str(cause), None
    return f"{type(cause).__name__}: {cause}", None


async def _raw_batch(state: _EndpointState, method: str, params: Sequence[Sequence[Any]],
                     errors: bool = False) -> list[Any]:
    """`method` once per entry of `params` in one JSON-RPC batch request; the results in order.
    Any answer's JSON-RPC error raises RPCException (with `errors`, is its result instead); an
    answer that is not the batch's is the endpoint's failure."""
    body = [{"jsonrpc": "2.0", "id": i, "method": method, "params": list(p)}
            for i, p in enumerate(params)]
    try:
        answer = await _post(state, body)
    except httpx.HTTPStatusError as e:
        status = e.response.status_code
        if 400 <= status < 500 and status != 429:  # 429 is a rate limit, not a refusal
            raise _BatchRefused(f"HTTP {status}") from e
        raise
    refused = _refusal(answer)
    if refused is not None:
        raise _BatchRefused(refused)
    if not isinstance(answer, list):
        raise _EndpointFailed("unreadable answer (not a JSON-RPC batch response)")
    by_id = {a.get("id"): a for a in answer if isinstance(a, dict)}
    results = []
    for i in range(len(body)):
        try:
            results.append(_result(by_id.get(i), f"no answer to request {i} of {len(body)}"))
        except RPCException as e:
            if not errors:
                raise
            results.append(e)
    return results


def _refusal(answer: Any) -> str | None:
    """What a batch's answer says when it is a refusal of batches (a JSON-RPC error object in
    place of the array, or "invalid request" for every call), else None."""
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        return f"JSON-RPC error {error.get('code')}: {error.get('message')}"
    if isinstance(answer, list) and answer and all(
            isinstance(a, dict) and isinstance(a.get("error"), dict)
            and a["error"].get("code") == INVALID_REQUEST for a in answer):
        return f"JSON-RPC error {INVALID_REQUEST}: {answer[0]['error'].get('message')}"
    return None


async def _raw_singles(state: _EndpointState, method: str, params: Sequence[Sequence[Any]],
                       errors: bool = False) -> list[Any]:
    """`_raw_batch`'s results, from one request per call (sent together)."""
    async def one(p: Sequence[Any]) -> Any:
        try:
            return await _raw_request(state, method, p)
        except RPCException as e:
            if not errors:
                raise
            return e

    return list(await asyncio.gather(*(one(p) for p in params)))


async def _raw_request(state: _EndpointState, method: str, params: Sequence[Any],
                       reduce: Reduce | None = None) -> Any:
    answer = await _post(state, {"jsonrpc": "2.0", "id": 1, "method": method,
                                 "params": list(params)}, reduce)
    return _result(answer, "not a JSON-RPC response")


async def _post(state: _EndpointState, body: Any, reduce: Reduce | None = None) -> Any:
    """POST `body` to the endpoint; its answer's JSON (parsed and its result reduced in the
    helper process, with `reduce`)."""
    response = await state.raw.post(state.endpoint.url, json=body)
    response.raise_for_status()
    try:
        if reduce is not None:
            return await answer_process.parsed(response.content, reduce)
        return response.json()
    except ValueError as e:
        raise _EndpointFailed(f"unreadable answer ({e})") from e


def _result(answer: Any, unreadable: str) -> Any:
    """One JSON-RPC answer's result; RPCException for its error; the endpoint's failure,
    saying `unreadable`, when it is no answer."""
    if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
        raise _EndpointFailed(f"unreadable answer ({unreadable})")
    if answer.get("error") is not None:
        raise RPCException(answer["error"])
    return answer["result"]


def anchor_program(rpc: RpcClient, program_id: Pubkey, payer: Keypair | None = None) -> Program:
    """The anchorpy Program for the IDL at `program_id`, over the primary endpoint's client
    (anchorpy talks to one connection; use `RpcClient.call` and `program_accounts` for
    failover). `payer` is the Provider's wallet, a throwaway key when it never signs."""
    provider = Provider(rpc.primary, Wallet(payer if payer is not None else Keypair()))
    return Program(load_idl(), program_id, provider)


def _solana_client(url: str, commitment: Commitment, timeout_s: float) -> AsyncClient:
    """solana-py's client, its HTTP through aiohttp (chain/transport.py says why)."""
    return send_through_aiohttp(AsyncClient(url, commitment=commitment, timeout=timeout_s),
                                timeout_s)


def _memcmp(offset: int, base58: str) -> dict[str, object]:
    """A getProgramAccounts memcmp filter as solana-py writes it."""
    return {"memcmp": {"offset": offset, "bytes": base58, "encoding": "base58"}}


class RpcClient:
    """solana-py's AsyncClient over several endpoints, with failover and rate limits."""

    def __init__(self, endpoints: Sequence[Endpoint], *, timeout_s: float = 5.0,
                 deadline_s: float = 20.0, commitment: Commitment = Confirmed,
                 batches: str = "auto") -> None:
        if not endpoints:
            raise ValueError("RpcClient needs at least one endpoint")
        if batches not in BATCH_MODES:
            raise ValueError(f"batches must be one of {BATCH_MODES}, not {batches!r}")
        self.batches = batches
        names = [e.name for e in endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names must be unique: {names}")
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.commitment = commitment
        self._states = [_EndpointState(e, _solana_client(e.url, commitment, timeout_s),
                                       http_client(timeout_s))
                        for e in endpoints]

    @property
    def primary(self) -> AsyncClient:
        """The first endpoint's client, for APIs that need one (anchorpy's Provider)."""
        return self._states[0].client

    async def close(self) -> None:
        for s in self._states:
            await s.client.close()
            await s.raw.aclose()

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run AsyncClient.`method` on the first endpoint that completes it."""
        async def attempt(s: _EndpointState) -> Any:
            try:
                result = await getattr(s.client, method)(*args, **kwargs)
            except BaseException as e:
                # solders 0.26 panics (a BaseException) parsing a -32005 "node unhealthy"
                # error that has no `data`, as some nodes send it: the endpoint cannot serve
                if type(e).__name__ != "PanicException":
                    raise
                raise _EndpointFailed(f"unreadable answer ({e})") from None
            if type(result) is int:
                # solders hands back the bare code of a JSON-RPC error it cannot type (a
                # provider's rate limit in the body, say)
                raise _EndpointFailed(f"JSON-RPC error {result}")
            return result

        return await self._run(method, attempt)

    async def request(self, method: str, params: Sequence[Any] = (), *,
                      reduce: Reduce | None = None) -> Any:
        """Run a JSON-RPC method solana-py has no call for; its `result`, as JSON. A JSON-RPC
        error raises RPCException with the error object, as solana-py's calls do. With
        `reduce`, for answers too large to parse on the event loop: the answer is parsed in a
        helper process and its result is `reduce(result)`, worked out there
        (chain/answer_process.py)."""
        return await self._run(method, lambda s: _raw_request(s, method, params, reduce))

    async def request_batch(self, method: str, params: Sequence[Sequence[Any]], *,
                            errors: bool = False) -> list[Any]:
        """`method` for each of `params` in one JSON-RPC batch request (one HTTP round trip;
        as many turns of the endpoint's rate limit as calls), or in single requests (see the
        module docstring on `batches`); the results in order. Errors as `request`'s, except
        that with `errors` a call's JSON-RPC error is its result (an RPCException) rather than
        the failure of every call."""
        if not params:
            return []

        async def attempt(s: _EndpointState) -> list[Any]:
            if self.batches == "off" or s.batches_refused:
                return await _raw_singles(s, method, params, errors)
            try:
                return await _raw_batch(s, method, params, errors)
            except _BatchRefused as e:
                if self.batches == "on":
                    raise
                s.batches_refused = True
                log.warning("endpoint refuses JSON-RPC batches: single requests from now on",
                            endpoint=s.endpoint.name, method=method, said=str(e))
                metric.rpc_batch_refusals.labels(s.endpoint.name).inc()
                return await _raw_singles(s, method, params, errors)

        results: list[Any] = await self._run(method, attempt, calls=len(params))
        return results

    async def _run(self, method: str, attempt: Callable[[_EndpointState], Awaitable[Any]], *,
                   calls: int = 1) -> Any:
        """`attempt` on the first endpoint that completes it.

        Each try goes to the first configured endpoint that is not resting and whose rate
        limit gives it a turn within SPILL_AFTER_S of the earliest turn any of them offers, so
        a call never queues behind one endpoint's backlog while another could take it."""
        deadline = time.monotonic() + self.deadline_s
        said: dict[str, str] = {}  # what each endpoint answered during this call
        tried: set[str] = set()  # endpoints asked since the call last waited for one to rest
        while True:
            now = time.monotonic()
            ready = [s for s in self._states
                     if s.resting_until <= now and s.endpoint.name not in tried]
            if not ready:
                wake = min(s.resting_until for s in self._states)
                if wake >= deadline:  # nobody can be asked in time: say so now
                    raise self._unavailable(method, said, now, deadline)
                tried.clear()
                await asyncio.sleep(max(0.0, wake - now))
                continue
            def turn(s: _EndpointState, now: float = now) -> float:
                return max(s.next_request_at, now)
            first = min(ready, key=turn)  # the earliest turn (the first configured on a tie)
            state = next(s for s in ready if turn(s) <= turn(first) + SPILL_AFTER_S)
            if turn(state) >= deadline:
                state = first
            if now >= deadline or turn(state) >= deadline:
                raise self._unavailable(method, said, now, deadline)
            tried.add(state.endpoint.name)
            await state.take_turn(calls)
            now = time.monotonic()
            if now >= deadline or state.resting_until > now:
                continue  # out of time, or another call found it failing meanwhile
            name, started = state.endpoint.name, time.perf_counter()
            outcome = "failed"
            try:
                async with asyncio.timeout(min(self.timeout_s, deadline - now)):
                    result = await attempt(state)
                outcome = "ok"
            except RPCException:
                outcome = "rpc_error"
                state.succeeded()  # the node answered; the error is the caller's
                raise
            except (TimeoutError, SolanaRpcException, httpx.HTTPError, OSError, SerdeJSONError,
                    _EndpointFailed) as e:
                error, retry_after = describe_failure(e)
                if http_status(e) == 429:
                    metric.rpc_rate_limited.labels(name).inc()
                state.failed(error, retry_after)
                said[name] = error
                continue
            finally:
                # a batch counts its calls, as providers do
                metric.rpc_requests.labels(name, method, outcome).inc(calls)
                metric.rpc_latency.labels(name, method).observe(time.perf_counter() - started)
            state.succeeded()
            return result

    def _unavailable(self, method: str, said: dict[str, str], now: float,
                     deadline: float) -> RpcUnavailable:
        report = {}
        for s in self._states:
            name = s.endpoint.name
            if name in said:
                report[name] = said[name]
            elif s.resting_until > now:
                report[name] = (f"resting {s.resting_until - now:.1f} s more after "
                                f"{s.last_error or 'a failure'}")
            elif s.next_request_at >= deadline:
                report[name] = "its rate limit gives no turn before the deadline"
            else:
                report[name] = "not asked before the deadline"
        return RpcUnavailable(
            f"{method}: no endpoint could answer within {self.deadline_s:g} s ("
            + "; ".join(f"{name}: {what}" for name, what in report.items()) + ")", report)

    async def program_accounts(self, program: Program, kind: AccountKind[AccountT],
                               filters: Sequence[int | MemcmpOpts] = (),
                               commitment: Commitment | None = None
                               ) -> list[tuple[Pubkey, AccountT]]:
        """Every `kind` account of `program` that passes `filters` (an int is a dataSize
        filter, as in solana-py), decoded into `kind`; the account discriminator is the first
        filter, so the node sends nothing else."""
        return (await self.program_accounts_at(program, kind, filters, commitment))[1]

    async def program_accounts_at(self, program: Program, kind: AccountKind[AccountT],
                                  filters: Sequence[int | MemcmpOpts] = (),
                                  commitment: Commitment | None = None
                                  ) -> tuple[int, list[tuple[Pubkey, AccountT]]]:
        """`program_accounts`, and the slot the node read them at."""
        slot, raw = await self.raw_program_accounts_at(program, kind, filters, commitment)
        return slot, [(address, kind.from_bytes(data)) for address, data in raw]

    async def raw_program_accounts_at(self, program: Program, kind: AccountKind[object],
                                      filters: Sequence[int | MemcmpOpts] = (),
                                      commitment: Commitment | None = None
                                      ) -> tuple[int, list[tuple[Pubkey, bytes]]]:
        """`program_accounts_at` with each account's data as bytes, not decoded (for many
        accounts of a fixed layout: see program/layouts.py)."""
        wire: list[dict[str, object]] = [_memcmp(0, b58encode(kind.DISCRIMINATOR).decode())]
        wire += [{"dataSize": f} if isinstance(f, int) else _memcmp(f.offset, str(f.bytes))
                 for f in filters]
        # solana-py's call cannot ask for the context (the slot): the raw method can
        answer = await self.request("getProgramAccounts", [str(program.program_id), {
            "encoding": "base64", "withContext": True, "filters": wire,
            # the client's own commitment unless told, as solana-py's calls read
            "commitment": commitment if commitment is not None else self.commitment}])
        accounts = [(Pubkey.from_string(item["pubkey"]),
                     base64.b64decode(item["account"]["data"][0]))
                    for item in answer["value"]]
        return int(answer["context"]["slot"]), accounts
