"""Refusals of a market's proposal: create_market's arguments, the proposal tally's limit,
and the thresholds of approve_market and reject_market."""

from __future__ import annotations

from dataclasses import replace

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from program.idl import spec
from tests.support.program_world import User, World
from tests.support.refusals import (
    U64_MAX,
    new_market_id,
    refuse,
    set_field,
    set_token_balance,
    with_votes,
)

WEEK = 7 * 86_400


def create(world: World, creator: User, question: str = "Will it snow?",
           trading_ends_at: int | None = None) -> tuple[Instruction, Pubkey]:
    """A create_market call for a new id, and its market's address."""
    market_id, market = new_market_id(world, creator)
    ends = trading_ends_at or world.chain.now() + WEEK
    return world.client.create_market(creator.key, market_id, question, ends,
                                      creator_token=creator.token), market


def test_empty_question_is_refused(world: World, creator: User) -> None:
    refuse(world, "InvalidArgument", create(world, creator, "")[0], creator.kp)


def test_question_over_200_bytes_is_refused(world: World, creator: User) -> None:
    """anchorpy builds it (the IDL carries no bound); the program refuses the data."""
    for question in ("q" * 201, "é" * 101):
        refuse(world, "InvalidInstructionData", create(world, creator, question)[0], creator.kp)
    ix, market = create(world, creator, "é" * 100)
    world.ok(ix, creator.kp)
    assert world.market(market).question == "é" * 100


def test_trading_must_end_after_the_proposal_window(world: World, creator: User) -> None:
    proposal_ends_at = world.chain.now() + world.params.proposal_window_secs
    refuse(world, "InvalidArgument", create(world, creator, trading_ends_at=proposal_ends_at)[0],
           creator.kp)
    world.ok(create(world, creator, trading_ends_at=proposal_ends_at + 1)[0], creator.kp)


def test_proposal_window_that_would_overflow_cannot_be_set(world: World) -> None:
    """v2 bounds every window where it enters (at most a year), so create_market's
    now + proposal_window_secs can no longer overflow: the council cannot even propose it."""
    params = replace(world.params, proposal_window_secs=2**63 - 1)
    refuse(world, "InvalidArgument", world.client.propose_config(world.admin.pubkey(), params),
           world.admin)


def test_trading_end_beyond_ten_years_is_refused(world: World, creator: User) -> None:
    """Every later deadline (creator window, dispute window and vote) must fit an i64."""
    latest = world.chain.now() + 10 * 365 * 86_400
    for ends in (latest + 1, 2**63 - 1):
        refuse(world, "InvalidArgument", create(world, creator, trading_ends_at=ends)[0],
               creator.kp)
    world.ok(create(world, creator, trading_ends_at=latest)[0], creator.kp)


def test_same_id_of_another_creator_is_another_market(world: World, creator: User) -> None:
    market = world.propose(creator)
    other = world.user()
    market_id = world.market(market).id
    ix = world.client.create_market(other.key, market_id, "mine?", world.chain.now() + WEEK,
                                    creator_token=other.token)
    world.markets.append(world.d.market(other.key, market_id))
    world.ok(ix, other.kp)
    assert world.market(market).creator == creator.key
    # the creator's own id twice is refused
    again = world.client.create_market(creator.key, market_id, "again?",
                                       world.chain.now() + WEEK, creator_token=creator.token)
    refuse(world, "AlreadyInitialized", again, creator.kp)


def test_proposal_tally_at_its_limit_is_refused(world: World, creator: User) -> None:
    market = world.propose(creator)
    limit = 10**18
    set_field(world, market, spec.MARKET, "likes", limit - 10**6)
    voter = world.user()
    # either choice would take likes + dislikes past the tally's bound
    for approve in (True, False):
        refuse(world, "MathOverflow", world.client.vote_proposal(
            voter.key, market, approve, stake=10**6 + 1, voter_token=voter.token), voter.kp)
    # U64_MAX as a stake is beyond one vote's bound
    refuse(world, "InvalidArgument", world.client.vote_proposal(
        voter.key, market, True, stake=U64_MAX, voter_token=voter.token), voter.kp)
    # the vault's balance stands in for the forged tally's stake
    vault = world.balance(world.d.vault)
    set_field(world, market, spec.MARKET, "stake_held", limit - 10**6)
    set_token_balance(world, world.d.vault, vault + limit - 10**6)
    world.ok(world.client.vote_proposal(voter.key, market, False, stake=10**6,
                                        voter_token=voter.token), voter.kp)


def test_stake_below_the_minimum_is_refused(world: World, creator: User) -> None:
    market = world.propose(creator)
    voter = world.user()
    least = world.params.min_vote_stake
    refuse(world, "StakeTooSmall", world.client.vote_proposal(
        voter.key, market, True, stake=least - 1, voter_token=voter.token), voter.kp)
    world.ok(world.client.vote_proposal(voter.key, market, True, stake=least,
                                        voter_token=voter.token), voter.kp)


def test_approve_needs_the_quorum(world: World) -> None:
    market, _ = with_votes(world, likes=world.params.proposal_quorum - 1)
    world.close_window(market)
    refuse(world, "ThresholdNotMet", world.client.approve_market(market))
    world.ok(world.client.reject_market(market))


def test_approve_needs_the_approval_ratio(world: World) -> None:
    """70% of the stake: 2 of 3 falls short, 7 of 10 is just enough."""
    q = world.params.proposal_quorum
    short, _ = with_votes(world, likes=2 * q, dislikes=q)
    exact, _ = with_votes(world, likes=7 * q, dislikes=3 * q)
    world.close_window(exact)
    refuse(world, "ThresholdNotMet", world.client.approve_market(short))
    world.ok(world.client.approve_market(exact))


def test_approve_before_the_window_closes_is_refused(world: World) -> None:
    market, _ = with_votes(world, likes=world.params.proposal_quorum)
    ends = world.market(market).proposal_ends_at
    for name in ("approve_market", "reject_market"):
        world.chain.set_time(ends - 1)
        refuse(world, "TooEarly", getattr(world.client, name)(market))
    world.chain.set_time(ends)
    world.ok(world.client.approve_market(market))


def test_reject_after_approval_was_reached_is_refused(world: World) -> None:
    market, _ = with_votes(world, likes=world.params.proposal_quorum)
    world.chain.set_time(world.market(market).proposal_ends_at)
    refuse(world, "ApprovalReached", world.client.reject_market(market))
    world.ok(world.client.approve_market(market))


def test_approved_market_never_activated_can_be_cancelled(world: World, creator: User) -> None:
    """Its creation bond becomes protocol fees once trading would have ended."""
    market = world.approved(creator)
    world.chain.set_time(world.market(market).trading_ends_at - 1)
    refuse(world, "TooEarly", world.client.reject_market(market))
    world.chain.set_time(world.market(market).trading_ends_at)
    fees = world.config().protocol_fees
    world.ok(world.client.reject_market(market))
    assert world.config().protocol_fees - fees == world.params.creation_bond
    assert world.market(market).state == 6
