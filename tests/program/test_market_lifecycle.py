"""A prediction market's whole life on the real SVM, with exact payouts."""

from __future__ import annotations

from solders.pubkey import Pubkey

from tests.support.market_lifecycle import (
    LIQUIDITY,
    NO,
    YES,
    dispute_and_vote,
    names,
    pay_out,
    trade,
)
from tests.support.program_world import User, World


def claim_votes(world: World, market: Pubkey, kind: int, voters: list[User]) -> list[int]:
    """Every voter claims its vote of `kind`; returns what each got back."""
    paid = []
    for v in voters:
        before = world.balance(v)
        r = world.ok(world.client.claim_vote(v.key, market, kind, v.token), v.kp)
        assert names(r) == ["VoteClaimed"]
        paid.append(world.balance(v) - before)
        assert world.chain.fetch(world.d.vote(market, kind, v.key)) is None
    return paid


def test_proposal_to_payout_without_dispute(world: World, creator: User) -> None:
    stake = world.params.min_vote_stake
    before_all = world.balance(creator)
    market = world.propose(creator)
    m = world.market(market)
    assert m.state == 0 and m.question == "Will it rain in Lisbon on 2027-01-01?"
    assert before_all - world.balance(creator) == world.params.creation_bond
    assert m.creation_bond_held == world.params.creation_bond
    voters = []
    for approve, weight in ((True, 2), (True, 1), (False, 1), (True, 1)):
        voter = world.user(weight * stake)
        r = world.vote(market, voter, approve, weight * stake)
        assert names(r) == ["ProposalVoted"] and r.events[0].data.stake == weight * stake
        voters.append(voter)
    assert (world.market(market).likes, world.market(market).dislikes) == (4 * stake, stake)
    world.refused("TooEarly", world.client.approve_market(market))
    world.close_window(market)
    r = world.ok(world.client.approve_market(market))
    assert names(r) == ["MarketApproved"] and world.market(market).state == 1
    assert claim_votes(world, market, 0, voters) == [2 * stake, stake, stake, stake]
    before = world.balance(creator)
    r = world.ok(world.client.activate_market(creator.key, market, creator.token, LIQUIDITY),
                 creator.kp)
    assert names(r) == ["MarketActivated"] and world.market(market).state == 2
    # the liquidity in and the creation bond back, netted
    assert before - world.balance(creator) == LIQUIDITY - world.params.creation_bond

    traders, held = trade(world, market)
    world.chain.set_time(world.market(market).trading_ends_at)
    r = world.ok(world.client.propose_resolution(creator.key, market, YES,
                                                 proposer_token=creator.token), creator.kp)
    assert names(r) == ["ResolutionProposed"] and world.market(market).state == 3
    assert world.market(market).proposer_bond == world.params.resolution_bond
    world.chain.advance(world.params.dispute_window_secs)
    fees_before = world.config().protocol_fees
    r = world.ok(world.client.finalize_market(market))
    assert names(r) == ["MarketFinalized"]
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (YES, False)
    assert world.config().protocol_fees == fees_before
    assert world.market(market).state == 5
    # without a dispute the resolution bond goes back to the proposer
    before = world.balance(creator)
    world.ok(world.client.claim_bond(creator.key, market, creator.token), creator.kp)
    assert world.balance(creator) - before == world.params.resolution_bond
    world.refused("NothingToRedeem",
                  world.client.claim_bond(creator.key, market, creator.token), creator.kp)
    pay_out(world, creator, market, traders, held, YES)
    for u in traders.values():
        world.ok(world.client.close_shares(u.key, market), u.kp)
        assert world.chain.fetch(world.d.shares(market, u.key)) is None


def quorum(world: World, market: Pubkey) -> int:
    m = world.market(market)
    return max(m.min_dispute_quorum, -(-m.collateral * m.dispute_quorum_bps // 10_000))


def test_dispute_that_overturns(world: World, creator: User) -> None:
    # 30 of 50 disagree = 60% = dispute_overturn_bps, and 50 reaches the quorum: overturned
    q = 10_000_000
    market, disputer, traders, held, voters = dispute_and_vote(
        world, creator, agree=[2 * q], disagree=[3 * q])
    del voters
    assert quorum(world, market) <= world.market(market).agree + world.market(market).disagree
    r = world.ok(world.client.finalize_market(market))
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (NO, True)
    before = world.balance(disputer)
    world.ok(world.client.claim_bond(disputer.key, market, disputer.token), disputer.kp)
    # the disputer gets its bond back and the proposer's
    assert world.balance(disputer) - before == (world.params.dispute_bond
                                                + world.params.resolution_bond)
    world.refused("NothingToRedeem",
                  world.client.claim_bond(creator.key, market, creator.token), creator.kp)
    pay_out(world, creator, market, traders, held, NO)


def test_dispute_that_does_not_overturn(world: World, creator: User) -> None:
    # 50% disagree < 60%: the proposed outcome stands and the disputer's bond is the proposer's
    q = 10_000_000
    market, disputer, traders, held, _ = dispute_and_vote(world, creator, agree=[q],
                                                          disagree=[q])
    fees_before = world.config().protocol_fees
    r = world.ok(world.client.finalize_market(market))
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (YES, False)
    world.refused("NothingToRedeem",
                  world.client.claim_bond(disputer.key, market, disputer.token), disputer.kp)
    before = world.balance(creator)
    world.ok(world.client.claim_bond(creator.key, market, creator.token), creator.kp)
    assert world.balance(creator) - before == (world.params.dispute_bond
                                               + world.params.resolution_bond)
    assert world.config().protocol_fees == fees_before
    pay_out(world, creator, market, traders, held, YES)


def test_dispute_below_quorum_keeps_the_outcome(world: World, creator: User) -> None:
    # every vote disagrees, but the total stake is under the quorum: the outcome stands
    market, _, _, _, _ = dispute_and_vote(world, creator, agree=[],
                                          disagree=[world.params.min_vote_stake])
    assert world.market(market).disagree < quorum(world, market)
    r = world.ok(world.client.finalize_market(market))
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (YES, False)


def test_dispute_without_votes_keeps_the_outcome(world: World, creator: User) -> None:
    market, _, _, _, _ = dispute_and_vote(world, creator, agree=[], disagree=[])
    r = world.ok(world.client.finalize_market(market))
    assert (r.events[0].data.outcome, r.events[0].data.overturned) == (YES, False)


def test_slashed_stakes_go_to_the_winning_voters(world: World, creator: User) -> None:
    # the outcome stands: disagree voters lose vote_slash_bps of their stake to the agree side
    q = 10_000_000
    market, _, _, _, voters = dispute_and_vote(world, creator, agree=[3 * q, q],
                                               disagree=[q, q + 7])
    world.ok(world.client.finalize_market(market))
    paid = claim_votes(world, market, 1, voters)
    slash_bps = world.params.vote_slash_bps
    lost = [s - p for s, p in zip((q, q + 7), paid[2:], strict=True)]
    assert lost == [-(-s * slash_bps // 10_000) for s in (q, q + 7)]
    pool = (2 * q + 7) * slash_bps // 10_000
    bonus = [p - s for s, p in zip((3 * q, q), paid[:2], strict=True)]
    assert bonus == [3 * q * pool // (4 * q), q * pool // (4 * q)]
    # the dust left by rounding goes to the protocol with the market's last claim
    fees = world.config().protocol_fees
    claim_votes(world, market, 0, world.proposal_voters[market])
    dust = (4 * q + 2 * q + 7) - sum(paid)
    assert world.config().protocol_fees - fees == dust > 0
    assert world.market(market).stake_held == 0 and world.market(market).votes_open == 0


def test_rejected_proposal_is_cancelled(world: World, creator: User) -> None:
    market = world.propose(creator)
    voters = []
    for approve in (True, False, False):
        voter = world.user(world.params.min_vote_stake)
        world.vote(market, voter, approve, world.params.min_vote_stake)
        voters.append(voter)
    world.chain.set_time(world.market(market).proposal_ends_at)
    fees_before = world.config().protocol_fees
    r = world.ok(world.client.reject_market(market))
    assert names(r) == ["MarketRejected"] and world.market(market).state == 6
    # the creation bond is the protocol's; the stakes go back whole
    assert world.config().protocol_fees - fees_before == world.params.creation_bond
    assert claim_votes(world, market, 0, voters) == [world.params.min_vote_stake] * 3
