"""Large JSON-RPC answers parsed in a helper process, so that the event loop never waits on one.

Parsing a `getProgramAccounts` answer of 2,000 positions (0.8 MB) takes about 5 ms of CPU, and
a partitioned load's answers arrive together: parsed on the event loop, they stalled it for
tens of milliseconds at a time (a whole book in one answer, at a million positions: seconds),
and no thread helps, since every JSON parser holds the GIL while it parses.

`parsed(raw, reduce)` hands the answer's body to one helper process (started on first use,
`spawn`ed: never a fork of a process with threads), which parses it and passes its `result`
through `reduce` there, so that only what the caller needs comes back, compact (bytes, say)
and cheap to copy. `reduce` crosses to the process by name: a module-level function.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from based58 import b58decode

_pool: ProcessPoolExecutor | None = None


@dataclass(frozen=True)
class AccountsBlob:
    """A `getProgramAccounts` answer (base64) as two blobs: the 32-byte addresses and the
    accounts' data, each concatenated in the answer's order."""

    addresses: bytes
    data: bytes
    count: int


def accounts_blob(items: list[Any]) -> AccountsBlob:
    """`reduce` for a base64 `getProgramAccounts` answer: its accounts as an `AccountsBlob`."""
    return AccountsBlob(b"".join(b58decode(item["pubkey"].encode()) for item in items),
                        b"".join(base64.b64decode(item["account"]["data"][0])
                                 for item in items), len(items))


def _parse(raw: bytes, reduce: Callable[[Any], Any]) -> Any:
    answer = json.loads(raw)
    if isinstance(answer, dict) and answer.get("error") is None and "result" in answer:
        answer["result"] = reduce(answer["result"])
    return answer


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    return _pool


async def parsed(raw: bytes, reduce: Callable[[Any], Any]) -> Any:
    """The JSON-RPC answer `raw`, parsed in the helper process, its `result` (when it has one
    and no error) replaced by `reduce(result)`. Raises ValueError for a body that is not
    JSON; a helper process that died is replaced at the next call."""
    global _pool
    pool = _executor()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, _parse, raw, reduce)
    except BrokenProcessPool:
        if _pool is pool:
            _pool = None
        raise
