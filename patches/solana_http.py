"""solana-py's HTTP session replaced by an httpx client that sends through aiohttp.

What it changes: `AsyncClient._provider.session`, the `httpx.AsyncClient` that solana-py
0.36.6's `AsyncHTTPProvider` makes in its constructor and posts every request through
(`make_request_unparsed`, `make_batch_request_unparsed`) and closes in `close()`.

Why: httpx's connection pool costs CPU that grows with the requests in flight; in a burst of
liquidations most of a keeper's CPU went there (`chain/transport.py` says more). solana-py
takes no transport or session argument, so the attribute is replaced after construction.

Pinned: solana==0.36.6 (tests/patches/test_solana_http.py checks the attribute and that
requests and `close()` go through it).

To remove: when solana-py accepts an httpx client or transport (or its pool no longer
costs), pass it there, or drop the call in `chain.client` and `bench.localnet`.
"""

from __future__ import annotations

from solana.rpc.async_api import AsyncClient

from chain.transport import http_client


def send_through_aiohttp(client: AsyncClient, timeout_s: float) -> AsyncClient:
    """`client`, its requests from now on sent through aiohttp; its own session, never used
    yet, is dropped unopened."""
    client._provider.session = http_client(timeout_s)
    return client
