"""A stale oracle: its last price would make positions liquidatable, but it is older than the
program accepts. A liquidator attempts no liquidation, and says why in its metrics
(`keepernet_oracle_rejections_total{reason="StaleOracle"}`, `keepernet_oracle_age_slots`); once
the oracle is fresh again, the same positions are liquidated (so the staleness was the
reason)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from chain.localnet.seed import PositionSpec
from demo.servers import free_port_pair
from store.migrate import migrate
from tests.support.keepers import Fleet, keeper_env
from tests.support.perp_world import CRASHED, FRAGILE, SIZE, perp_world

STALE_BY_SLOTS = 200  # far beyond the program's limit (Config.max_oracle_staleness_slots)


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the worker's /metrics by (name, labels); empty while it starts."""
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    except aiohttp.ClientConnectionError:
        return {}
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_a_stale_oracle_stops_liquidations_and_says_so(redis_url: str,
                                                             pg_database: str) -> None:
    await migrate(pg_database)
    async with perp_world([PositionSpec(1, SIZE, FRAGILE)] * 5, publish_every_s=None) as world:
        net, positions = world.net, world.positions
        fleet = Fleet()
        try:
            world.price.price = CRASHED
            await world.publisher.publish(0)  # the crash, then nothing more: it goes stale
            await world.seeder.rpc.request("keepernet_timeTravel", [{"slots": STALE_BY_SLOTS}])
            port = free_port_pair()
            await fleet.start("liquidator", keeper_env(
                rpc_urls=f"local={net.url} max_rps=10000", database_url=pg_database,
                redis_url=redis_url, program_id=net.program_id,
                keypair=Path(net.keys_dir) / "keeper-1.json", SCAN_INTERVAL_S="1",
                METRICS_PORT=str(port)))

            stale = ("keepernet_oracle_rejections_total", (("reason", "StaleOracle"),))
            deadline = time.monotonic() + 30
            while (samples := await scrape(port)).get(stale, 0) < 3:  # three scans at least
                assert time.monotonic() < deadline, "no scan refused the stale oracle"
                await asyncio.sleep(0.5)
            assert samples[("keepernet_oracle_age_slots", ())] >= STALE_BY_SLOTS
            assert not any(name == "keepernet_transactions_total" for name, _ in samples)
            for position in positions:
                assert int(net.protocol.chain.fetch(position).side) == 1, "liquidated"
                history = await world.seeder.client.get_signatures_for_address(position)
                assert len(history.value) == 1, "a liquidation was attempted"

            await world.publisher.publish(1)  # fresh again, at the crash price
            deadline = time.monotonic() + 30
            while any(int(net.protocol.chain.fetch(p).side) != 0 for p in positions):
                assert time.monotonic() < deadline, "not liquidated once the oracle was fresh"
                await asyncio.sleep(0.2)
        finally:
            await fleet.stop_all()
