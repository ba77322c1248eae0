"""tally_votes and finalize_market end to end on the localnet: each once, twice in a row and
twice at once, with exactly one landed program transaction per market."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from jobs.due import DueJob, read_due
from jobs.governance import finalize_market, tally_votes
from jobs.governance_plan import MarketState
from jobs.outcome import Outcome
from tests.support.chain_world import World, world
from tests.support.markets import DISPUTE_WINDOW, WINDOW, proposal, resolving, state

pytestmark = pytest.mark.asyncio(loop_scope="module")

DISPUTE_VOTE = 259_200


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def w() -> AsyncIterator[World]:
    async with world() as got:
        yield got


DISPUTE_STAKE = 5_000_000  # three of them pass the dispute quorum of a market of LIQUIDITY


async def test_a_proposal_is_approved_once_its_window_closed(w: World) -> None:
    market = await proposal(w, 1, likes=3)
    k = w.keepers[0]
    # the stake is there at once, but the verdict waits for the window
    assert await tally_votes(k, market) == Outcome.NOT_NEEDED
    await w.travel(WINDOW + 1)
    assert await tally_votes(k, market) == Outcome.SUCCESS
    assert await state(w, market) == MarketState.APPROVED
    assert await tally_votes(k, market) == Outcome.ALREADY_DONE
    assert await w.calls(market, w.net.client.approve_market(market)) == (1, 0)


async def test_a_proposal_is_approved_once_by_two_keepers_at_once(w: World) -> None:
    market = await proposal(w, 2, likes=4, dislikes=1)
    await w.travel(WINDOW + 1)
    got = await asyncio.gather(*(tally_votes(k, market) for k in w.keepers))
    assert sorted(got) == sorted([Outcome.SUCCESS, Outcome.ALREADY_DONE])
    assert await state(w, market) == MarketState.APPROVED
    # one approval succeeded; without a shared lease (the workers' Redis lease) the other
    # keeper may have sent too, and its transaction then failed on the program's guard
    ok, failed = await w.calls(market, w.net.client.approve_market(market))
    assert ok == 1 and failed <= 1


async def test_a_proposal_is_rejected_once_its_window_closed(w: World) -> None:
    lone = await proposal(w, 3, likes=2, dislikes=1)  # under the quorum
    crowd = await proposal(w, 4, likes=3, dislikes=2)  # 60 % < 70 %
    for market in (lone, crowd):
        assert await tally_votes(w.keepers[0], market) == Outcome.NOT_NEEDED
    await w.travel(WINDOW + 1)
    assert await tally_votes(w.keepers[0], lone) == Outcome.SUCCESS
    assert await tally_votes(w.keepers[0], lone) == Outcome.ALREADY_DONE
    got = await asyncio.gather(*(tally_votes(k, crowd) for k in w.keepers))
    assert sorted(got) == sorted([Outcome.SUCCESS, Outcome.ALREADY_DONE])
    for market in (lone, crowd):
        assert await state(w, market) == MarketState.CANCELLED
        ok, failed = await w.calls(market, w.net.client.reject_market(market))
        assert ok == 1 and failed <= 1
    assert await w.calls(lone, w.net.client.reject_market(lone)) == (1, 0)


async def test_an_approved_market_never_activated_is_rejected_at_its_trading_end(
        w: World) -> None:
    k, config = w.keepers[0], w.net.deployment.config
    market = await proposal(w, 5, likes=3, closed=True)
    assert await tally_votes(k, market) == Outcome.SUCCESS
    now, (m, c) = await k.snapshot(market, config)
    assert m is not None and c is not None and m.state == MarketState.APPROVED
    bond, fees = m.creation_bond_held, c.protocol_fees
    assert bond > 0

    # its creator never activates it; until trading would have ended nothing is due
    await w.travel(m.trading_ends_at - now - 10)
    assert DueJob("tally_votes", market) not in await read_due(k, "governance")
    assert await tally_votes(k, market) == Outcome.ALREADY_DONE
    assert await state(w, market) == MarketState.APPROVED
    assert await w.calls(market, w.net.client.reject_market(market)) == (0, 0)

    await w.travel(11)
    assert DueJob("tally_votes", market) in await read_due(k, "governance")
    got = await asyncio.gather(*(tally_votes(k, market) for k in w.keepers))
    assert sorted(got) == sorted([Outcome.SUCCESS, Outcome.ALREADY_DONE])
    assert await tally_votes(k, market) == Outcome.ALREADY_DONE
    assert DueJob("tally_votes", market) not in await read_due(k, "governance")
    _, (m, c) = await k.snapshot(market, config)
    assert m is not None and c is not None and m.state == MarketState.CANCELLED
    # the creation bond is forfeited to the protocol
    assert (m.creation_bond_held, c.protocol_fees) == (0, fees + bond)
    ok, failed = await w.calls(market, w.net.client.reject_market(market))
    assert ok == 1 and failed <= 1


async def test_a_market_is_finalized_after_its_dispute_window(w: World) -> None:
    a, b = await resolving(w, 10), await resolving(w, 11)
    for market in (a, b):
        assert await finalize_market(w.keepers[0], market) == Outcome.NOT_NEEDED
    await w.travel(DISPUTE_WINDOW)
    k = w.keepers[0]
    assert await finalize_market(k, a) == Outcome.SUCCESS
    assert await finalize_market(k, a) == Outcome.ALREADY_DONE
    got = await asyncio.gather(*(finalize_market(k, b) for k in w.keepers))
    assert sorted(got) == sorted([Outcome.SUCCESS, Outcome.ALREADY_DONE])
    for market in (a, b):
        assert await state(w, market) == MarketState.FINALIZED
        ok, failed = await w.calls(market, w.net.client.finalize_market(market))
        assert ok == 1 and failed <= 1
    assert await w.calls(a, w.net.client.finalize_market(a)) == (1, 0)


async def test_an_overturned_dispute_credits_both_bonds_to_the_disputer(w: World) -> None:
    net = w.net
    market = await resolving(w, 20)
    disputer = net.users[1]
    await w.send([net.client.dispute(disputer.key, market, disputer.token)], disputer.kp)
    for voter in (net.users[2], *net.keepers):
        await w.send([net.client.vote_dispute(voter.key, market, False, stake=DISPUTE_STAKE,
                                              voter_token=voter.token)], voter.kp)
    assert await finalize_market(w.keepers[0], market) == Outcome.NOT_NEEDED
    await w.travel(DISPUTE_VOTE)
    assert await finalize_market(w.keepers[0], market) == Outcome.SUCCESS
    assert await finalize_market(w.keepers[0], market) == Outcome.ALREADY_DONE
    assert await w.calls(market, net.client.finalize_market(market)) == (1, 0)
    # the disputer takes the dispute bond back and the proposer's
    before = int((await w.direct.get_token_account_balance(disputer.token)).value.amount)
    await w.send([net.client.claim_bond(disputer.key, market, disputer.token)], disputer.kp)
    after = int((await w.direct.get_token_account_balance(disputer.token)).value.amount)
    assert after - before == 100_000_000 + 10_000_000  # the localnet's two bonds


async def test_a_missing_market_fails(w: World) -> None:
    missing = w.net.deployment.market(w.net.users[0].key, 999)
    assert await tally_votes(w.keepers[0], missing) == Outcome.FAILED
    assert await finalize_market(w.keepers[0], missing) == Outcome.FAILED
