"""A prediction market's life on the program's World: trades checked against the model, a
dispute voted on, and every holder paid out."""

from __future__ import annotations

from solders.pubkey import Pubkey

from program.svm import TxResult
from tests.support import market_model as model
from tests.support.program_world import User, World

NO, YES = 0, 1
LIQUIDITY = 1_000_000_000
Holdings = dict[str, dict[str, int]]


def names(result: TxResult) -> list[str]:
    return [e.name for e in result.events]


def trade(world: World, market: Pubkey) -> tuple[dict[str, User], Holdings]:
    """Alice buys YES, Bob buys NO, Alice sells a third back; every amount is checked against
    the model. Returns the traders and the shares each holds."""
    alice, bob = world.user(), world.user()
    c = world.client
    fee_bps = world.params.trade_fee_bps
    m = world.market(market)
    yes_r, no_r = m.yes_reserve, m.no_reserve

    amount = 250_000_000
    out, yes_r, no_r = model.buy(yes_r, no_r, amount - model.fee(amount, fee_bps))
    r = world.ok(c.buy(alice.key, market, alice.token, YES, amount, out), alice.kp)
    assert names(r) == ["Traded"] and r.events[0].data.shares == out
    held = {"alice": {"yes": out, "no": 0}}

    amount = 100_000_000
    out, no_r, yes_r = model.buy(no_r, yes_r, amount - model.fee(amount, fee_bps))
    world.ok(c.buy(bob.key, market, bob.token, NO, amount, out), bob.kp)
    held["bob"] = {"yes": 0, "no": out}

    sold = held["alice"]["yes"] // 3
    gross, yes_r, no_r = model.sell(yes_r, no_r, sold)
    paid = gross - model.fee(gross, fee_bps)
    before = world.balance(alice)
    r = world.ok(c.sell(alice.key, market, alice.token, YES, sold, paid), alice.kp)
    assert world.balance(alice) - before == paid
    assert (r.events[0].data.amount, r.events[0].data.is_buy) == (paid, False)
    held["alice"]["yes"] -= sold

    m = world.market(market)
    assert (m.yes_reserve, m.no_reserve) == (yes_r, no_r)
    traders = {"alice": alice, "bob": bob}
    for who, u in traders.items():
        s = world.chain.fetch(world.d.shares(market, u.key))
        assert (s.yes, s.no) == (held[who]["yes"], held[who]["no"])
    # complete sets: every YES and every NO share is backed by one quote unit
    assert yes_r + held["alice"]["yes"] == m.collateral == no_r + held["bob"]["no"]
    return traders, held


def pay_out(world: World, creator: User, market: Pubkey, traders: dict[str, User],
            held: Holdings, outcome: int) -> None:
    """Redeem every holder and withdraw the liquidity: winners get one quote unit a share,
    the creator the pool's winning reserve, and the market ends holding nothing."""
    side = "yes" if outcome == YES else "no"
    for who, u in traders.items():
        winning = held[who][side]
        before = world.balance(u)
        if winning:
            r = world.ok(world.client.redeem(u.key, market, u.token), u.kp)
            assert names(r) == ["Redeemed"] and r.events[0].data.amount == winning
            world.refused("NothingToRedeem", world.client.redeem(u.key, market, u.token), u.kp)
        else:
            world.refused("NothingToRedeem", world.client.redeem(u.key, market, u.token), u.kp)
        assert world.balance(u) - before == winning
    m = world.market(market)
    reserve = m.yes_reserve if outcome == YES else m.no_reserve
    before = world.balance(creator)
    r = world.ok(world.client.withdraw_liquidity(creator.key, market, creator.token), creator.kp)
    assert world.balance(creator) - before == reserve == r.events[0].data.amount
    assert world.market(market).collateral == 0
    world.refused("NothingToRedeem",
                  world.client.withdraw_liquidity(creator.key, market, creator.token), creator.kp)


def dispute_and_vote(world: World, creator: User, agree: list[int], disagree: list[int]
                     ) -> tuple[Pubkey, User, dict[str, User], Holdings, list[User]]:
    """A disputed market with dispute votes of the given stakes, at the end of its vote."""
    market = world.active(creator, LIQUIDITY)
    traders, held = trade(world, market)
    world.resolving(creator, YES, market)
    disputer = world.user()
    before = world.balance(disputer)
    r = world.ok(world.client.dispute(disputer.key, market, disputer.token), disputer.kp)
    assert names(r) == ["MarketDisputed"]
    assert before - world.balance(disputer) == world.params.dispute_bond
    assert world.market(market).disputer_bond == world.params.dispute_bond
    voters = []
    for choice, stake in [(True, s) for s in agree] + [(False, s) for s in disagree]:
        voter = world.user(stake)
        r = world.vote_dispute(market, voter, choice, stake)
        assert names(r) == ["DisputeVoted"]
        voters.append(voter)
    world.chain.set_time(world.market(market).dispute_ends_at)
    return market, disputer, traders, held, voters
