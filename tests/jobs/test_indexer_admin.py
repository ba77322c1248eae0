"""The council's events are indexed like every other (from spec.EVENTS, generically): a
proposal, its cancel, a second proposal applied after the timelock, a pause and a treasury
withdrawal land in PostgreSQL exactly as the chain logged them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest
import pytest_asyncio
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import MintToParams, mint_to

from chain.client import Endpoint, RpcClient
from jobs.indexer import index_events
from jobs.outcome import Outcome
from tests.support.chain_world import World, world
from tests.support.history import assert_exactly_the_chain, stored_events

pytestmark = pytest.mark.asyncio(loop_scope="module")

INSURANCE = 5_000_000


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


async def council_activity(w: World) -> None:
    net, c = w.net, w.net.client
    admin = net.protocol.admin
    params = net.protocol.params
    await w.send([c.propose_config(admin.pubkey(), replace(params, trade_fee_bps=5))], admin)
    await w.send([c.cancel_config(admin.pubkey())], admin)
    await w.send([c.propose_config(admin.pubkey(), replace(params, trade_fee_bps=7))], admin)
    await w.travel(params.config_delay_secs)
    await w.send([c.apply_config()], net.keepers[0].kp)
    await w.send([c.pause(admin.pubkey(), True)], admin)
    # the admin (the quote mint's authority on the localnet) funds insurance from the
    # treasury, then takes it back
    await w.send([mint_to(MintToParams(program_id=TOKEN_PROGRAM_ID, mint=net.deployment.quote_mint,
                                       dest=params.treasury, mint_authority=admin.pubkey(),
                                       amount=INSURANCE)),
                  c.fund_insurance(admin.pubkey(), params.treasury, INSURANCE),
                  c.withdraw_insurance(admin.pubkey(), params.treasury, INSURANCE)], admin)


async def test_the_councils_events_are_indexed(w: World, pool: asyncpg.Pool) -> None:
    await council_activity(w)
    await w.finalized()
    rpc = RpcClient([Endpoint("local", w.net.url, max_rps=10_000)])
    try:
        assert await index_events(rpc, pool, w.net.program_id) == Outcome.SUCCESS
    finally:
        await rpc.close()

    class Chain:  # what assert_exactly_the_chain reads
        net, client = w.net, w.direct

    await assert_exactly_the_chain(Chain(), pool)  # type: ignore[arg-type]
    stored = {name: data for name, _, _, data in await stored_events(pool)}
    admin = str(w.net.protocol.admin.pubkey())
    assert set(stored) == {"ConfigProposed", "ConfigCancelled", "ConfigApplied", "PauseSet",
                           "TreasuryWithdrawn"}
    assert stored["ConfigProposed"]["proposer"] == admin
    assert stored["ConfigProposed"]["trade_fee_bps"] == 7
    assert stored["ConfigApplied"]["effective_at"] == stored["ConfigProposed"]["effective_at"]
    assert stored["ConfigCancelled"]["cancelled_by"] == admin
    assert stored["PauseSet"] == {"paused": True, "by": admin}
    assert stored["TreasuryWithdrawn"] == {
        "kind": 2, "amount": INSURANCE, "treasury": str(w.net.protocol.params.treasury),
        "remaining": 0, "by": admin}
