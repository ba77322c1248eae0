"""Refusals of activate_market, buy and sell: amounts, outcomes, slippage to the unit, shares
held, the payer's balance and overflow. The outcome argument of propose_resolution is checked
here too."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from solders.instruction import Instruction

from tests.support import market_model as model
from tests.support.program_world import User, World
from tests.support.refusals import (
    BUY_AMOUNT,
    LIQUIDITY,
    NO,
    U64_MAX,
    YES,
    buy,
    key,
    refuse,
    refused_then_ok,
    set_token_balance,
    swap,
    with_args,
    with_data,
)


@pytest.mark.parametrize("name, args", [
    ("activate_market", (0,)), ("buy", (YES, 0, 0)), ("sell", (YES, 0, 0)),
    ("buy", (YES, 1, 0)),  # the fee rounds up to the whole unit: no share left to buy
    ("sell", (YES, 1, 0)),  # one share is worth less than a quote unit
], ids=["activate-0", "buy-0", "sell-0", "buy-1", "sell-1"])
def test_zero_amount_is_refused(name: str, args: tuple[int, ...]) -> None:
    refused_then_ok(name, "ZeroAmount", lambda w, ix: with_args(w, ix, *args))


@pytest.mark.parametrize("name", ["buy", "sell", "propose_resolution"])
def test_outcome_2_is_refused(name: str) -> None:
    """The outcome is the first argument of each: 0 No, 1 Yes, nothing else."""
    refused_then_ok(name, "InvalidArgument",
                    lambda w, ix: with_data(ix, bytes(ix.data[:8]) + b"\x02" + ix.data[9:]))


def exact_limit(world: World, trader: User, call: Callable[[int], Instruction],
                limit: int) -> None:
    """The trade is refused with its limit one unit above what the model gives, and goes
    through with the limit at exactly that."""
    refuse(world, "SlippageExceeded", call(limit + 1), trader.kp)
    world.ok(call(limit), trader.kp)


def test_buy_slippage_is_exact_to_the_share(world: World, creator: User) -> None:
    market, trader = world.active(creator), world.user()
    m = world.market(market)
    out, _, _ = model.buy(m.yes_reserve, m.no_reserve,
                          BUY_AMOUNT - model.fee(BUY_AMOUNT, world.params.trade_fee_bps))
    exact_limit(world, trader, lambda least: world.client.buy(
        trader.key, market, trader.token, YES, BUY_AMOUNT, least), out)


def test_sell_slippage_is_exact_to_the_unit(world: World, creator: User) -> None:
    market = world.active(creator)
    trader = buy(world, market, NO)
    m, held = world.market(market), world.chain.fetch(world.d.shares(market, trader.key)).no
    gross, _, _ = model.sell(m.no_reserve, m.yes_reserve, held)
    exact_limit(world, trader, lambda least: world.client.sell(
        trader.key, market, trader.token, NO, held, least),
        gross - model.fee(gross, world.params.trade_fee_bps))


def test_selling_more_shares_than_held_is_refused(world: World, creator: User) -> None:
    market = world.active(creator)
    trader = buy(world, market, YES)
    held = world.chain.fetch(world.d.shares(market, trader.key)).yes
    c = world.client
    refuse(world, "InsufficientShares",
           c.sell(trader.key, market, trader.token, YES, held + 1), trader.kp)
    refuse(world, "InsufficientShares", c.sell(trader.key, market, trader.token, NO, 1),
           trader.kp)
    world.ok(c.sell(trader.key, market, trader.token, YES, held), trader.kp)


PAYER = {"activate_market": ("creator", "creator_token"), "buy": ("trader", "trader_token"),
         "dispute": ("disputer", "disputer_token"), "create_market": ("creator", "creator_token"),
         "propose_resolution": ("proposer", "proposer_token"),
         "vote_proposal": ("voter", "voter_token"), "vote_dispute": ("voter", "voter_token")}


@pytest.mark.parametrize("name", list(PAYER))
def test_paying_more_than_the_balance_is_refused(name: str) -> None:
    """The payer's balance is checked before the transfer: the program's InsufficientFunds,
    not the token program's error."""
    owner, token = PAYER[name]

    def short_by_one(w: World, ix: Instruction) -> Instruction:
        p = w.params
        # activation nets the creation bond coming back against the liquidity going in
        amount = {"activate_market": LIQUIDITY - p.creation_bond, "buy": BUY_AMOUNT,
                  "dispute": p.dispute_bond, "create_market": p.creation_bond,
                  "propose_resolution": p.resolution_bond, "vote_proposal": p.min_vote_stake,
                  "vote_dispute": p.min_vote_stake}[name]
        account = w.chain.create_token_account(w.d.quote_mint, key(ix, owner))
        w.chain.mint_to(w.d.quote_mint, account, amount - 1)
        return swap(ix, token, account)

    refused_then_ok(name, "InsufficientFunds", short_by_one)


MAX_COLLATERAL = 10**18  # MAX_MARKET_COLLATERAL, program/src/math/amm.h


def whale(world: World, balance: int) -> User:
    """A user whose token account holds `balance` (forged past the mint's supply if need be)."""
    user = world.user(quote=0)
    set_token_balance(world, user.token, balance)
    return user


def test_buy_that_would_overflow_the_vault_is_refused(world: World, creator: User) -> None:
    market, rich = world.active(creator), whale(world, U64_MAX)
    refuse(world, "MathOverflow",
           world.client.buy(rich.key, market, rich.token, YES, U64_MAX), rich.kp)


def test_activation_beyond_the_collateral_bound_is_refused(world: World,
                                                           creator: User) -> None:
    """A pool past MAX_MARKET_COLLATERAL (10^12 quote) could be bought into but not sold."""
    world.active(creator)  # the vault holds its liquidity
    rich = whale(world, U64_MAX // 2)
    market = world.approved(rich)
    for liquidity in (U64_MAX, MAX_COLLATERAL + 1):
        refuse(world, "InvalidArgument",
               world.client.activate_market(rich.key, market, rich.token, liquidity), rich.kp)
    world.ok(world.client.activate_market(rich.key, market, rich.token, MAX_COLLATERAL),
             rich.kp)


def test_payout_that_would_overflow_the_payee_is_refused(world: World, creator: User) -> None:
    market = world.active(creator)
    trader = buy(world, market)
    set_token_balance(world, trader.token, U64_MAX)
    refuse(world, "MathOverflow",
           world.client.sell(trader.key, market, trader.token, YES, 10**6), trader.kp)


def test_buying_up_to_the_collateral_bound_can_be_sold_back(world: World,
                                                             creator: User) -> None:
    """The largest buy the bound allows fits, a unit more is refused, and every share bought
    can be sold again (a pool whose reserves summed past 2^64 once could not)."""
    market = world.active(creator)
    room = MAX_COLLATERAL - world.market(market).collateral
    fee_bps = world.params.trade_fee_bps
    amount = room * 10_000 // (10_000 - fee_bps)
    while amount - model.fee(amount, fee_bps) > room:
        amount -= 1
    rich = world.user(quote=2 * amount)
    refuse(world, "MathOverflow",
           world.client.buy(rich.key, market, rich.token, YES, amount + 2), rich.kp)
    m = world.market(market)
    out, _, _ = model.buy(m.yes_reserve, m.no_reserve, amount - model.fee(amount, fee_bps))
    world.ok(world.client.buy(rich.key, market, rich.token, YES, amount, out), rich.kp)
    assert world.market(market).collateral <= MAX_COLLATERAL
    assert world.chain.fetch(world.d.shares(market, rich.key)).yes == out
    world.ok(world.client.sell(rich.key, market, rich.token, YES, out), rich.kp)
