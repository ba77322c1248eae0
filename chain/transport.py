"""An httpx transport that sends through aiohttp.

solana-py speaks HTTP through httpx, whose connection pool (httpcore) costs CPU that grows
with the number of requests in flight: with a hundred liquidations at once, measured here,
most of a keeper's CPU went to httpcore choosing a connection. This transport keeps httpx's
interface (solana-py builds every request and parses every answer as usual) and hands the
exchange to one aiohttp session, whose pool does not grow that cost. aiohttp's failures are
raised as the httpx errors they are, so callers classify them as before.
"""

from __future__ import annotations

import aiohttp
import httpx

CONNECTIONS_PER_HOST = 128  # enough for a burst of liquidations, polite to a provider


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx requests sent through one aiohttp session (keep-alive)."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._session is None:  # made in the running loop, on first use
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=CONNECTIONS_PER_HOST)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        headers = {"Content-Type": request.headers.get("Content-Type", "application/json")}
        try:
            async with self._session.request(request.method, str(request.url), headers=headers,
                                             data=await request.aread()) as response:
                content = await response.read()
                # aiohttp has already decoded any Content-Encoding
                raw = [(k, v) for k, v in response.raw_headers
                       if k.lower() not in (b"content-encoding", b"transfer-encoding")]
        except TimeoutError as e:
            raise httpx.ReadTimeout(str(e) or "timed out", request=request) from e
        except aiohttp.ClientConnectorError as e:
            raise httpx.ConnectError(str(e), request=request) from e
        except aiohttp.ServerDisconnectedError as e:  # closed before answering: a reset
            raise httpx.RemoteProtocolError(str(e), request=request) from e
        except aiohttp.ClientError as e:  # any other broken exchange
            raise httpx.ReadError(str(e) or type(e).__name__, request=request) from e
        return httpx.Response(response.status, headers=raw, content=content, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def http_client(timeout_s: float) -> httpx.AsyncClient:
    """An httpx client sending through aiohttp."""
    return httpx.AsyncClient(transport=AiohttpTransport(timeout_s), timeout=timeout_s)
