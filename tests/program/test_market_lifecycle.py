"""A prediction market's whole life on the real SVM, with exact payouts."""

from __future__ import annotations

from solders.pubkey import Pubkey

from tests.program import model
from tests.program.conftest import TxResult, User, World

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


def test_proposal_to_payout_without_dispute(world: World, creator: User) -> None:
    market = world.propose(creator)
    m = world.market(market)
    assert m.state == 0 and m.question == "Will it rain in Lisbon on 2027-01-01?"
    for approve in (True, True, False, True):
        voter = world.chain.wallet()
        r = world.ok(world.client.vote_proposal(voter.pubkey(), market, approve), voter)
        assert names(r) == ["ProposalVoted"]
    assert (world.market(market).likes, world.market(market).dislikes) == (3, 1)
    r = world.ok(world.client.approve_market(market))
    assert names(r) == ["MarketApproved"] and world.market(market).state == 1
    before = world.balance(creator)
    r = world.ok(world.client.activate_market(creator.key, market, creator.token, LIQUIDITY),
                 creator.kp)
    assert names(r) == ["MarketActivated"] and world.market(market).state == 2
    assert before - world.balance(creator) == LIQUIDITY

    traders, held = trade(world, market)
    world.chain.set_time(world.market(market).trading_ends_at)
    r = world.ok(world.client.propose_resolution(creator.key, market, YES), creator.kp)
    assert names(r) == ["ResolutionProposed"] and world.market(market).state == 3
    world.chain.advance(world.params.dispute_window_secs)
    fees_before = world.config().protocol_fees
    r = world.ok(world.client.finalize_market(market, world.d.vault))
    assert names(r) == ["MarketFinalized"]
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (YES, False)
    assert world.config().protocol_fees == fees_before
    assert world.market(market).state == 5
    pay_out(world, creator, market, traders, held, YES)


def dispute_and_vote(world: World, creator: User, agree: int, disagree: int
                     ) -> tuple[Pubkey, User, dict[str, User], Holdings]:
    market = world.active(creator, LIQUIDITY)
    traders, held = trade(world, market)
    world.resolving(creator, YES, market)
    disputer = world.user()
    before = world.balance(disputer)
    r = world.ok(world.client.dispute(disputer.key, market, disputer.token), disputer.kp)
    assert names(r) == ["MarketDisputed"]
    assert before - world.balance(disputer) == world.params.dispute_bond
    assert world.market(market).bond_held == world.params.dispute_bond
    for choice in [True] * agree + [False] * disagree:
        voter = world.chain.wallet()
        r = world.ok(world.client.vote_dispute(voter.pubkey(), market, choice), voter)
        assert names(r) == ["DisputeVoted"]
    world.chain.set_time(world.market(market).dispute_ends_at)
    return market, disputer, traders, held


def test_dispute_that_overturns(world: World, creator: User) -> None:
    # 3 of 5 disagree = 60% = dispute_overturn_bps: overturned
    market, disputer, traders, held = dispute_and_vote(world, creator, agree=2, disagree=3)
    before = world.balance(disputer)
    fees_before = world.config().protocol_fees
    r = world.ok(world.client.finalize_market(market, disputer.token))
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (NO, True)
    assert world.balance(disputer) - before == world.params.dispute_bond
    assert world.config().protocol_fees == fees_before
    pay_out(world, creator, market, traders, held, NO)


def test_dispute_that_does_not_overturn(world: World, creator: User) -> None:
    # 2 of 4 disagree = 50% < 60%: the proposed outcome stands and the bond is forfeit
    market, disputer, traders, held = dispute_and_vote(world, creator, agree=2, disagree=2)
    before = world.balance(disputer)
    fees_before = world.config().protocol_fees
    r = world.ok(world.client.finalize_market(market, disputer.token))
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (YES, False)
    assert world.balance(disputer) == before
    assert world.config().protocol_fees - fees_before == world.params.dispute_bond
    pay_out(world, creator, market, traders, held, YES)


def test_dispute_without_votes_keeps_the_outcome(world: World, creator: User) -> None:
    market, disputer, _, _ = dispute_and_vote(world, creator, agree=0, disagree=0)
    r = world.ok(world.client.finalize_market(market, disputer.token))
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (YES, False)


def test_rejected_proposal_is_cancelled(world: World, creator: User) -> None:
    market = world.propose(creator)
    for approve in (True, False, False):
        voter = world.chain.wallet()
        world.ok(world.client.vote_proposal(voter.pubkey(), market, approve), voter)
    world.chain.set_time(world.market(market).proposal_ends_at)
    r = world.ok(world.client.reject_market(market))
    assert names(r) == ["MarketRejected"] and world.market(market).state == 6
