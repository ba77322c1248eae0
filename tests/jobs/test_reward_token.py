"""The liquidation reward's token account on the localnet: the keeper's associated token account,
created by the first liquidation that needs it (never looked up over the token program), or
the account the settings name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.instructions import get_associated_token_address

from jobs.deps import JobDeps
from jobs.liquidation import liquidate_position
from jobs.outcome import Outcome
from metrics.definitions import registry
from tests.support.chain_world import world
from tests.support.liquidation_world import PRICE, SIZE, THIN, Perps
from tests.support.perp_world import funded_perp_market

pytestmark = pytest.mark.asyncio(loop_scope="module")
LONG = 1


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def perps() -> AsyncIterator[Perps]:
    """One market, each user long and thin: under maintenance once the price falls 10 %."""
    async with world() as w:
        net, c = w.net, w.net.client
        p = Perps(w, [Keypair().pubkey()], [net.deployment.perp_market(1)], {})
        await p.set_price(p.oracles[0], PRICE)
        await funded_perp_market(net, 1, p.oracles[0], pool=10**11)
        for u in net.users:
            await p.refresh()  # each send takes slots: a fresh price for each open
            await w.send([c.deposit(u.key, p.markets[0], u.token, THIN),
                          c.open_position(u.key, p.markets[0], p.oracles[0], LONG, SIZE,
                                          2**64 - 1)], u.kp)
        await p.set_price(p.oracles[0], 90_000_000)
        yield p


async def balance(p: Perps, token: Pubkey) -> int:
    return int((await p.w.direct.get_token_account_balance(token)).value.amount)


def token_program_scans() -> float:
    return sum(registry.get_sample_value("keepernet_rpc_requests_total", {
        "endpoint": "local", "method": "get_program_accounts", "outcome": outcome}) or 0.0
        for outcome in ("ok", "rpc_error", "failed"))


async def test_the_reward_goes_to_the_keepers_associated_account_created_at_once(
        perps: Perps) -> None:
    p = perps
    keeper, wallet = p.w.keepers[0], p.w.net.keepers[0]
    ata = get_associated_token_address(wallet.key, p.w.net.deployment.quote_mint)
    assert (await p.w.direct.get_account_info(ata)).value is None
    scans = token_program_scans()
    u1, u2 = p.w.net.users[:2]
    assert await liquidate_position(keeper, p.position(0, u1)) == Outcome.SUCCESS
    first = await balance(p, ata)
    assert first > 0
    # the account exists now: the next liquidation pays into it as well
    await p.refresh()
    assert await liquidate_position(keeper, p.position(0, u2)) == Outcome.SUCCESS
    assert await balance(p, ata) > first
    assert token_program_scans() == scans


async def test_the_reward_goes_to_the_configured_account(perps: Perps) -> None:
    p = perps
    wallet = p.w.net.keepers[1]
    keeper: JobDeps = replace(p.w.keepers[1], reward_token=wallet.token)
    before = await balance(p, wallet.token)
    await p.refresh()
    assert await liquidate_position(keeper, p.position(0, p.w.net.users[2])) == Outcome.SUCCESS
    assert await balance(p, wallet.token) > before
    ata = get_associated_token_address(wallet.key, p.w.net.deployment.quote_mint)
    assert (await p.w.direct.get_account_info(ata)).value is None  # nothing created

