"""Refusals of a market's proposal: create_market's arguments, the proposal tally's limit,
and the thresholds of approve_market and reject_market."""

from __future__ import annotations

from dataclasses import replace

from solders.instruction import Instruction
from solders.pubkey import Pubkey

from program.idl import spec
from tests.program.conftest import User, World
from tests.program.refusals import U64_MAX, new_market_id, refuse, set_field, with_votes

WEEK = 7 * 86_400


def create(world: World, creator: User, question: str = "Will it snow?",
           trading_ends_at: int | None = None) -> tuple[Instruction, Pubkey]:
    """A create_market call for a new id, and its market's address."""
    market_id, market = new_market_id(world)
    ends = trading_ends_at or world.chain.now() + WEEK
    return world.client.create_market(creator.key, market_id, question, ends), market


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


def test_market_id_taken_is_refused(world: World, creator: User) -> None:
    market = world.propose(creator)
    other = world.user()
    ix = world.client.create_market(other.key, world.market(market).id, "mine?",
                                    world.chain.now() + WEEK)
    refuse(world, "AlreadyInitialized", ix, other.kp)


def test_proposal_tally_at_its_limit_is_refused(world: World, creator: User) -> None:
    market = world.propose(creator)
    set_field(world, market, spec.MARKET, "likes", U64_MAX)
    voter = world.chain.wallet()
    # either choice would take likes + dislikes past a u64, which the threshold math relies on
    for approve in (True, False):
        refuse(world, "MathOverflow", world.client.vote_proposal(voter.pubkey(), market, approve),
               voter)
    set_field(world, market, spec.MARKET, "likes", U64_MAX - 1)
    world.ok(world.client.vote_proposal(voter.pubkey(), market, False), voter)


def test_approve_needs_the_minimum_votes(world: World) -> None:
    market, _ = with_votes(world, likes=world.params.proposal_min_votes - 1)
    refuse(world, "ThresholdNotMet", world.client.approve_market(market))
    voter = world.chain.wallet()
    world.ok(world.client.vote_proposal(voter.pubkey(), market, True), voter)
    world.ok(world.client.approve_market(market))


def test_approve_needs_the_approval_ratio(world: World) -> None:
    """70%: 2 likes of 3 votes fall short, 7 of 10 are just enough."""
    short, _ = with_votes(world, likes=2, dislikes=1)
    refuse(world, "ThresholdNotMet", world.client.approve_market(short))
    exact, _ = with_votes(world, likes=7, dislikes=3)
    world.ok(world.client.approve_market(exact))


def test_reject_after_approval_was_reached_is_refused(world: World) -> None:
    market, _ = with_votes(world, likes=world.params.proposal_min_votes)
    world.chain.set_time(world.market(market).proposal_ends_at)
    refuse(world, "ApprovalReached", world.client.reject_market(market))
    world.ok(world.client.approve_market(market))
