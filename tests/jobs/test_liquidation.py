"""scan_positions and liquidate_position end to end on the localnet: the scan finds exactly the
positions the program would liquidate, each is liquidated once (twice in a row, two keepers at
once), nothing is sent while healthy or while the oracle is refused, a missing account fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.funding import Funding
from chain.price_update import price_update
from chain.prices import Quote
from chain.pyth import PriceStatus, price_account
from jobs.deps import ChainClock
from jobs.liquidation import liquidate_position, read_prices, scan_positions
from jobs.liquidation_plan import OracleRule, PositionBook, is_liquidatable
from jobs.outcome import Outcome
from metrics.definitions import registry
from program import layouts
from program.client import RECEIVER_PROGRAM, OracleKind
from program.local import PYTH_PROGRAM, Wallet
from tests.support.chain_world import world
from tests.support.liquidation_world import CONF_BPS, LONG, PRICE, SHORT, SIZE, THICK, THIN, Perps
from tests.support.localnet import rpc
from tests.support.perp_world import funded_perp_market, perp_market_stub

pytestmark = pytest.mark.asyncio(loop_scope="module")

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def perps() -> AsyncIterator[Perps]:
    async with world() as w:
        net, c = w.net, w.net.client
        p = Perps(w, [Keypair().pubkey() for _ in range(3)],
                  [net.deployment.perp_market(i) for i in range(1, 4)], {})
        for oracle in p.oracles:
            await p.set_price(oracle, PRICE)
        u1, u2, u3 = net.users
        # market 0: u1 long thin, u2 short thin, u3 long thick; market 1 the mirror;
        # market 2: u1 long thin (the oracle tests)
        book = [[(u1, LONG, THIN), (u2, SHORT, THIN), (u3, LONG, THICK)],
                [(u1, SHORT, THIN), (u2, LONG, THIN), (u3, SHORT, THICK)],
                [(u1, LONG, THIN)]]
        for i, rows in enumerate(book):  # the pool reserves each position's profit cap at open
            await funded_perp_market(net, i + 1, p.oracles[i], pool=10**11)
            for u, side, collateral in rows:
                await p.refresh(p.oracles[i])  # each send takes slots: fresh for each open
                await w.send([c.deposit(u.key, p.markets[i], u.token, collateral),
                              c.open_position(u.key, p.markets[i], p.oracles[i], side, SIZE,
                                              2**64 - 1 if side == LONG else 0)], u.kp)
        yield p


async def liquidatable_now(p: Perps) -> set[Pubkey]:
    """The rule over every position account as it is on chain."""
    k = p.w.keepers[0]
    positions = [p.position(i, u) for i in range(3) for u in p.w.net.users]
    now, accounts = await k.snapshot(*positions, *p.markets)
    by_market = dict(zip(p.markets, accounts[len(positions):], strict=True))
    found = set()
    for address, a in zip(positions, accounts[:len(positions)], strict=True):
        if a is None:
            continue
        m = by_market[a.perp_market]
        quote = Quote(p.prices[m.oracle], p.prices[m.oracle] * CONF_BPS // 10_000)
        long_index, short_index = Funding.of(m).indexes(quote.price, now)
        if is_liquidatable(a.side, a.size, a.entry_price, a.collateral, a.funding_snapshot,
                           a.reserve, quote=quote,
                           index=long_index if a.side == LONG else short_index,
                           maintenance_bps=m.maintenance_margin_bps):
            found.add(address)
    return found


async def test_the_scan_finds_exactly_the_positions_below_maintenance(perps: Perps) -> None:
    k = perps.w.keepers[0]
    assert (await scan_positions(k)).candidates == []
    u1 = perps.w.net.users[0]
    await perps.set_price(perps.oracles[0], 90_000_000)  # thin longs fall below maintenance
    await perps.set_price(perps.oracles[1], 110_000_000)  # thin shorts too
    result = await scan_positions(k)
    expected = {perps.position(0, u1), perps.position(1, u1)}
    assert {c.position for c in result.candidates} == expected == await liquidatable_now(perps)
    assert result.judged == 7 and result.refused == {}
    assert {c.perp_market for c in result.candidates} == set(perps.markets[:2])
    one = await scan_positions(k, perps.markets[1])
    assert [c.position for c in one.candidates] == [perps.position(1, u1)] and one.judged == 3
    # two instances share the work exactly
    shards = [await scan_positions(k, instances=["a", "b"], me=me) for me in ("a", "b")]
    assert sorted(str(c.position) for s in shards for c in s.candidates) == sorted(
        map(str, expected))


async def test_a_healthy_position_is_not_needed_and_nothing_is_sent(perps: Perps) -> None:
    await perps.refresh()
    u2 = perps.w.net.users[1]
    assert await liquidate_position(perps.w.keepers[0], perps.position(0, u2)) \
        == Outcome.NOT_NEEDED
    assert await perps.liquidations(0, u2) == (0, 0)


async def test_a_position_is_liquidated_once(perps: Perps) -> None:
    await perps.refresh()
    k, u1 = perps.w.keepers[0], perps.w.net.users[0]
    assert await liquidate_position(k, perps.position(0, u1)) == Outcome.SUCCESS
    assert await liquidate_position(k, perps.position(0, u1)) == Outcome.ALREADY_DONE
    assert await perps.liquidations(0, u1) == (1, 0)


async def test_two_keepers_at_once_liquidate_once(perps: Perps) -> None:
    await perps.refresh()
    u1 = perps.w.net.users[0]
    got = await asyncio.gather(*(liquidate_position(k, perps.position(1, u1))
                                 for k in perps.w.keepers))
    assert got.count(Outcome.SUCCESS) == 1 and set(got) <= {Outcome.SUCCESS,
                                                            Outcome.ALREADY_DONE}
    ok, failed = await perps.liquidations(1, u1)
    # without the workers' shared lease the other keeper may have sent too: the program
    # refused it (PositionFlat)
    assert ok == 1 and failed <= 1
    assert (await scan_positions(perps.w.keepers[1])).candidates == []


async def test_a_refused_oracle_is_retry_and_nothing_is_sent(perps: Perps) -> None:
    k, u1 = perps.w.keepers[0], perps.w.net.users[0]
    position = perps.position(2, u1)
    await perps.set_price(perps.oracles[2], 90_000_000)  # liquidatable, at a fresh price
    await rpc(perps.w.net, "keepernet_timeTravel", {"slots": 30})  # past the 25 allowed
    await perps.refresh(*perps.oracles[:2])
    result = await scan_positions(k)
    assert result.refused == {perps.markets[2]: "StaleOracle"} and result.judged == 4
    assert await liquidate_position(k, position) == Outcome.RETRY
    await perps.set_price(perps.oracles[2], 90_000_000, PriceStatus.HALTED)
    assert (await scan_positions(k)).refused == {perps.markets[2]: "OracleNotTrading"}
    assert await liquidate_position(k, position) == Outcome.RETRY
    assert await perps.liquidations(2, u1) == (0, 0)
    await perps.set_price(perps.oracles[2], 90_000_000)  # trading again: now it goes
    assert await liquidate_position(k, position) == Outcome.SUCCESS


async def test_a_missing_position_fails(perps: Perps) -> None:
    assert await liquidate_position(perps.w.keepers[0], Keypair().pubkey()) == Outcome.FAILED
    assert await liquidate_position(perps.w.keepers[0],
                                    perps.position(0, Wallet(Keypair(), Pubkey.default()))) \
        == Outcome.FAILED


async def test_an_account_that_is_no_price_is_refused_and_has_no_age(perps: Perps) -> None:
    k = perps.w.keepers[0]
    await rpc(perps.w.net, "keepernet_timeTravel", {"slots": 30})  # a slot past any fresh age
    await perps.refresh(perps.oracles[0])
    not_a_price = perps.markets[0]  # the program's account, not the Pyth program's
    _, (market,) = await k.snapshot(perps.markets[0])
    rule = OracleRule.of(market)
    elsewhere = Keypair().pubkey()  # a market on the account that is no price
    prices = await read_prices(k, {perps.markets[0]: rule,
                                   elsewhere: replace(rule, oracle=not_a_price)})
    assert prices.refused == {elsewhere: "InvalidOracle"}
    assert list(prices.quotes) == [perps.markets[0]]
    # the fresh oracle's age, not the chain's slot as if the other were published at slot 0
    assert registry.get_sample_value("keepernet_oracle_age_slots") < 25


class OneRead:
    """JobDeps' raw_snapshot alone, answering from `accounts` at `slot` and unix time `now`."""

    def __init__(self, slot: int, accounts: dict[Pubkey, Account], now: int = 0) -> None:
        self.slot, self.accounts, self.now = slot, accounts, now

    async def raw_snapshot(self, *addresses: Pubkey) -> tuple[ChainClock, list[Account | None]]:
        return ChainClock(self.slot, self.now), [self.accounts.get(a) for a in addresses]


def two_markets_on_one_oracle(oracle: Pubkey) -> tuple[PositionBook, list[Pubkey]]:
    """Markets that copied different staleness limits (25 and 100 slots) on one oracle, a long
    under maintenance at PRICE in each; the book and the markets."""
    markets = [Keypair().pubkey() for _ in range(2)]
    records = np.zeros(2, dtype=layouts.POSITION)
    records["perp_market"] = [np.void(bytes(m)) for m in markets]
    records["side"], records["size"], records["entry_price"] = LONG, SIZE, PRICE
    records["collateral"] = 1_000_000  # 1 quote on 100 of notional
    book = PositionBook.from_records(
        {m: perp_market_stub(oracle=oracle, long_oi=SIZE, max_oracle_staleness_slots=staleness)
         for m, staleness in zip(markets, (25, 100), strict=True)},
        [Keypair().pubkey() for _ in markets], records)
    return book, markets


async def test_each_market_judges_a_shared_oracle_with_its_own_limits() -> None:
    oracle = Keypair().pubkey()
    book, (strict, lenient) = two_markets_on_one_oracle(oracle)
    data = price_account(PRICE, slot=1_000).encode()
    deps: Any = OneRead(1_050, {oracle: Account(10**9, data, PYTH_PROGRAM)})
    prices = await read_prices(deps, book.rules)  # 50 slots old: stale for one market only
    assert prices.refused == {strict: "StaleOracle"} and list(prices.quotes) == [lenient]
    assert [c.perp_market for c in book.liquidatable(prices.quotes, now=0)] == [lenient]


@pytest.mark.parametrize(("published_ago_s", "refused"), [(60, None), (61, "StalePublishTime")])
async def test_a_price_update_ages_by_the_chains_clock(published_ago_s: int,
                                                       refused: str | None) -> None:
    # the chain's clock far from the wall clock (a localnet's time travel, a drifting
    # cluster): the program ages a PriceUpdateV2 by the chain's time, and so must the keepers
    oracle, market, feed = Keypair().pubkey(), Keypair().pubkey(), bytes(range(32))
    chain_now = 10_000
    data = price_update(PRICE, feed_id=feed, publish_time=chain_now - published_ago_s,
                        slot=1_000).encode()
    rules = {market: OracleRule.of(perp_market_stub(
        oracle=oracle, pyth_program=RECEIVER_PROGRAM, oracle_kind=OracleKind.PRICE_UPDATE_V2,
        feed_id=tuple(feed), max_price_age_secs=60))}
    deps: Any = OneRead(1_010, {oracle: Account(10**9, data, RECEIVER_PROGRAM)}, chain_now)
    prices = await read_prices(deps, rules)
    if refused is None:
        assert prices.quotes[market].price == PRICE and not prices.refused
    else:
        assert prices.refused == {market: refused}
