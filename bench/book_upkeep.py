"""The liquidator's book upkeep, measured in a process of its own so that its memory is its
own: `python -m bench.book_upkeep MODE RPC_URL WS_URL PROGRAM_ID SECONDS [PARTITIONS]`.

Until SECONDS after its first load it keeps the book of every open position, as MODE:
- `feed`: as the price trigger now does (fleet/book_feed.py): `programSubscribe`, one load in
  PARTITIONS answers per side decoded on a worker thread, then the notifications;
- `reread`: as it did before: every position re-read with one `getProgramAccounts` per side,
  decoded on the event loop, every max(2 s, 0.2 ms per position).
Each new book, and each change of it, has this instance's share of three worked out
(`PositionBook.assign`) as the price trigger does. Meanwhile it samples the event loop's lag
(how late a 5 ms sleep wakes up). It prints one JSON line: the lag's p50, p99 and maximum in
seconds, the peak resident memory (VmHWM) in bytes, the positions in the book at the end and
the seconds the first load took.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import orjson
from based58 import b58encode
from solana.rpc.types import MemcmpOpts
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from bench.report import percentile
from chain.client import Endpoint, RpcClient, anchor_program
from chain.sender import FeePolicy, Sender
from fleet.book_feed import BookFeed
from jobs import liquidation
from jobs.deps import JobDeps
from jobs.liquidation_plan import LONG, SHORT, PositionBook
from program import layouts
from program.accounts import PerpMarket, Position

TICK_S = 0.005
REREAD_MIN_S, REREAD_S_PER_POSITION = 2.0, 0.0002  # the former PriceTrigger's refresh
INSTANCES = ("liquidator-1", "liquidator-2", "liquidator-3")  # the benchmark's fleet
LOAD_TIMEOUT_S = 900.0


def peak_rss_bytes() -> int:
    """This process' peak resident memory (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


async def reread_book(deps: JobDeps) -> PositionBook:
    """The book as the price trigger read it before the feed: one answer per side, decoded on
    the event loop."""
    markets = dict(await deps.rpc.program_accounts(deps.program, PerpMarket))
    raw: list[tuple[Pubkey, bytes]] = []
    for side in (LONG, SHORT):
        _, items = await deps.rpc.raw_program_accounts_at(
            deps.program, Position,
            [MemcmpOpts(offset=layouts.offset(layouts.POSITION, "side"),
                        bytes=b58encode(bytes([side])).decode()), layouts.POSITION.itemsize])
        raw += items
    keys = [k for k, _ in raw]
    records = layouts.positions(b"".join(data for _, data in raw))
    # and the liquidation routes it cached, as load_book still does
    if len(liquidation._markets) + len(keys) > liquidation._ROUTES_MAX:
        liquidation._markets.clear()
    liquidation._markets.update(zip(
        keys[:liquidation._ROUTES_MAX],
        map(Pubkey, records["perp_market"][:liquidation._ROUTES_MAX].tolist()), strict=True))
    return PositionBook.from_records(markets, keys, records)


async def upkeep(mode: str, rpc_url: str, ws_url: str, program_id: Pubkey, seconds: float,
                 partitions: int) -> dict[str, float]:
    rpc = RpcClient([Endpoint("localnet", rpc_url, max_rps=100_000)], deadline_s=120.0)
    deps = JobDeps(rpc=rpc, sender=Sender(rpc, Keypair(), fees=FeePolicy(fixed_micro_lamports=0)),
                   program=anchor_program(rpc, program_id), client=None)  # type: ignore[arg-type]
    lags: list[float] = []
    started = time.perf_counter()
    first_load: list[float] = []
    book = PositionBook()

    def loaded(new: PositionBook) -> None:
        nonlocal book
        new.assign(INSTANCES, INSTANCES[0])
        book = new
        if not first_load:
            first_load.append(time.perf_counter() - started)

    async def keep() -> None:
        if mode == "feed":
            await BookFeed(deps, ws_url, partitions=partitions, on_book=loaded).run()
        while True:
            loaded(await reread_book(deps))
            await asyncio.sleep(max(REREAD_MIN_S, len(book) * REREAD_S_PER_POSITION))

    keeper = asyncio.create_task(keep())
    try:
        while not first_load or time.perf_counter() - started < first_load[0] + seconds:
            if time.perf_counter() - started > LOAD_TIMEOUT_S:
                raise TimeoutError(f"the book did not load within {LOAD_TIMEOUT_S:g} s")
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            lags.append(max(0.0, time.perf_counter() - before - TICK_S))
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        await rpc.close()
    return {"lag_p50_s": percentile(lags, 50), "lag_p99_s": percentile(lags, 99),
            "lag_max_s": max(lags, default=0.0),
            "peak_rss_bytes": peak_rss_bytes(), "positions": len(book),
            "first_load_s": first_load[0] if first_load else float("nan")}


def main(argv: list[str]) -> int:
    mode, rpc_url, ws_url, program_id, seconds = argv[:5]
    if mode not in ("feed", "reread"):
        raise SystemExit(f"mode must be feed or reread, not {mode!r}")
    partitions = int(argv[5]) if len(argv) > 5 else 1
    result = asyncio.run(upkeep(mode, rpc_url, ws_url, Pubkey.from_string(program_id),
                                float(seconds), partitions))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
