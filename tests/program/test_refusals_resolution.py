"""Refusals while a market's outcome is fixed: the dispute tally's limit, finalizing an
undisputed market early, and a proposal vote that must not count as a dispute vote. Wrong
states, window edges and second votes of every call are in test_market_refusals.py, payouts
of nothing in test_market_lifecycle.py."""

from __future__ import annotations

from program.idl import spec
from tests.support.program_world import User, World
from tests.support.refusals import U64_MAX, YES, at_edge, disputed, refuse, set_field


def test_proposal_vote_does_not_block_a_dispute_vote(world: World, creator: User) -> None:
    """The two votes live at different addresses (kind 0 and 1)."""
    market = world.approved(creator)
    world.ok(world.client.activate_market(creator.key, market, creator.token, 10**9), creator.kp)
    world.resolving(creator, YES, market)
    disputer = world.user()
    world.ok(world.client.dispute(disputer.key, market, disputer.token), disputer.kp)
    voter = world.proposal_voters[market][0]
    world.chain.mint_to(world.d.quote_mint, voter.token, world.params.min_vote_stake)
    world.vote_dispute(market, voter, False, world.params.min_vote_stake)


def test_dispute_tally_at_its_limit_is_refused(world: World, creator: User) -> None:
    market, _ = disputed(world, creator)
    set_field(world, market, spec.MARKET, "agree", 10**18)
    voter = world.user()
    refuse(world, "MathOverflow", world.client.vote_dispute(
        voter.key, market, False, stake=world.params.min_vote_stake, voter_token=voter.token),
        voter.kp)
    set_field(world, market, spec.MARKET, "agree", U64_MAX)
    refuse(world, "MathOverflow", world.client.vote_dispute(
        voter.key, market, True, stake=world.params.min_vote_stake, voter_token=voter.token),
        voter.kp)


def test_undisputed_market_is_final_only_once_the_window_closes(world: World,
                                                                 creator: User) -> None:
    market = world.resolving(creator, YES)
    m = world.market(market)
    at_edge(world, "TooEarly", m.resolution_proposed_at + world.params.dispute_window_secs,
            world.client.finalize_market(market))
