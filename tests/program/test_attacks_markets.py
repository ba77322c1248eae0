"""Attacks on prediction markets, written as an attacker would try them: many wallets, several
instructions in one transaction, aliased and forged accounts, extreme amounts. Each asserts
that the attack is refused with its named error (and, through `World.refused`, that no byte
changed) or that the attacker gains nothing; `World.ok` checks the vault invariant (stakes
and bonds included) after every step."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from program.client import VOTE_DISPUTE, VOTE_PROPOSAL
from tests.support import market_model as model
from tests.support.program_world import QUESTION, User, World, deploy_world
from tests.support.refusals import (
    BUY_AMOUNT,
    NO,
    YES,
    buy,
    freeze,
    overturn_stake,
    reconfigure,
    refuse,
    spoof,
    swap,
)

WEEK = 7 * 86_400
MAX_COLLATERAL = 10**18  # MAX_MARKET_COLLATERAL, program/src/math/amm.h


def holdings(w: World, *users: User) -> int:
    return sum(w.balance(u) for u in users)


def vote_ix(w: World, market: Pubkey, voter: User, approve: bool, stake: int) -> Instruction:
    return w.client.vote_proposal(voter.key, market, approve, stake=stake, voter_token=voter.token)


def dispute_vote_ix(w: World, market: Pubkey, voter: User, agree: bool,
                    stake: int) -> Instruction:
    return w.client.vote_dispute(voter.key, market, agree, stake=stake, voter_token=voter.token)


# ---- votes won by multiplying wallets -------------------------------------------------------
def test_one_dispute_and_one_self_vote_cannot_flip_a_true_outcome(world: World,
                                                                  creator: User) -> None:
    """A NO holder disputes the true YES and votes to overturn with the least stake, hoping to
    redeem NO against the YES winners' collateral."""
    market = world.active(creator)
    honest = buy(world, market, YES)
    attacker = buy(world, market, NO)
    start = world.balance(attacker)
    world.resolving(creator, YES, market)
    world.ok(world.client.dispute(attacker.key, market, attacker.token), attacker.kp)
    world.vote_dispute(market, attacker, False, world.params.min_vote_stake)
    world.finalized(market)
    m = world.market(market)
    assert (m.final_outcome, m.overturned) == (YES, False)  # one vote is no quorum
    world.ok(world.client.claim_vote(attacker.key, market, VOTE_DISPUTE, attacker.token),
             attacker.kp)
    refuse(world, "NothingToRedeem", world.client.claim_bond(attacker.key, market,
                                                             attacker.token), attacker.kp)
    refuse(world, "NothingToRedeem", world.client.redeem(attacker.key, market, attacker.token),
           attacker.kp)
    # the attacker lost the bond to the proposer; the honest holder is paid in full
    assert start - world.balance(attacker) == world.params.dispute_bond
    held = world.chain.fetch(world.d.shares(market, honest.key)).yes
    before = world.balance(honest)
    world.ok(world.client.redeem(honest.key, market, honest.token), honest.kp)
    assert world.balance(honest) - before == held


def test_ten_fresh_wallets_at_min_stake_lose_to_five_honest_voters(world: World,
                                                                   creator: User) -> None:
    """Ten throwaway wallets reject with the minimum stake each; five honest voters approve with
    more stake in total: weight is stake, not wallets."""
    market = world.propose(creator)
    least = world.params.min_vote_stake
    for _ in range(10):
        world.vote(market, world.user(least), False, least)
    for _ in range(5):
        world.vote(market, world.user(5 * least), True, 5 * least)
    m = world.market(market)
    assert (m.likes, m.dislikes) == (25 * least, 10 * least)
    world.close_window(market)
    refuse(world, "ApprovalReached", world.client.reject_market(market))
    world.ok(world.client.approve_market(market))


def test_splitting_one_wallets_money_over_many_wallets_gains_nothing(world: World,
                                                                    creator: User) -> None:
    """The same money as one vote or as ten: the tallies, and so the verdict, are equal."""
    least = world.params.min_vote_stake
    one, many = world.propose(creator), world.propose(creator)
    world.vote(one, world.user(10 * least), False, 10 * least)
    for _ in range(10):
        world.vote(many, world.user(least), False, least)
    for market in (one, many):
        world.vote(market, world.user(20 * least), True, 20 * least)
    tallies = [(world.market(m).likes, world.market(m).dislikes) for m in (one, many)]
    assert tallies[0] == tallies[1] == (20 * least, 10 * least)
    world.close_window(one)
    # 20 of 30 = 66.7% < 70%: both rejected alike
    for market in (one, many):
        refuse(world, "ThresholdNotMet", world.client.approve_market(market))
        world.ok(world.client.reject_market(market))


def test_creator_cannot_approve_in_the_first_second_with_three_throwaway_wallets(
        world: World, creator: User) -> None:
    """Create, vote from three fresh wallets and approve, all in the market's first second:
    the verdict waits for the window, in which honest voters outweigh the throwaways, and the
    creator loses the creation bond."""
    least = world.params.min_vote_stake
    start = world.balance(creator)
    market = world.propose(creator)
    throwaways = [world.user(least) for _ in range(3)]
    votes = [vote_ix(world, market, t, True, least) for t in throwaways]
    signers = [t.kp for t in throwaways]
    refuse(world, "TooEarly", [*votes, world.client.approve_market(market)], *signers)
    world.ok(votes, *signers)
    assert world.market(market).likes >= world.params.proposal_quorum
    refuse(world, "TooEarly", world.client.approve_market(market))
    world.chain.set_time(world.market(market).proposal_ends_at - 1)
    refuse(world, "TooEarly", world.client.approve_market(market))
    world.vote(market, world.user(2 * least), False, 2 * least)  # 3 of 5: 60% < 70%
    world.close_window(market)
    refuse(world, "ThresholdNotMet", world.client.approve_market(market))
    world.ok(world.client.reject_market(market))
    assert start - world.balance(creator) == world.params.creation_bond


# ---- ids, second votes, windows -------------------------------------------------------------
def test_another_creators_market_id_cannot_be_taken(world: World, creator: User) -> None:
    """The attacker creates at the address of the victim's next id, then under its own key."""
    attacker = world.user()
    victim_market = world.d.market(creator.key, 7)
    world.markets.append(victim_market)
    squat = world.client.create_market(attacker.key, 7, "squat", world.chain.now() + WEEK,
                                       creator_token=attacker.token)
    refuse(world, "InvalidPda", swap(squat, "market", victim_market), attacker.kp)
    world.markets.append(world.d.market(attacker.key, 7))
    world.ok(squat, attacker.kp)
    world.ok(world.client.create_market(creator.key, 7, QUESTION, world.chain.now() + WEEK,
                                        creator_token=creator.token), creator.kp)
    assert world.market(victim_market).creator == creator.key


def test_voting_twice_in_one_or_two_transactions_is_refused(world: World,
                                                            creator: User) -> None:
    """Both choices in one transaction, then a second vote in another, for either vote kind."""
    least = world.params.min_vote_stake
    voter = world.user(10 * least)
    market = world.propose(creator)
    both = [vote_ix(world, market, voter, True, least), vote_ix(world, market, voter, False,
                                                                least)]
    refuse(world, "AlreadyVoted", both, voter.kp)
    world.vote(market, voter, True, least)
    refuse(world, "AlreadyVoted", vote_ix(world, market, voter, True, least), voter.kp)
    disputed = world.disputed(world.user(), YES, world.user())
    both = [dispute_vote_ix(world, disputed, voter, False, least),
            dispute_vote_ix(world, disputed, voter, True, least)]
    refuse(world, "AlreadyVoted", both, voter.kp)
    world.vote_dispute(disputed, voter, False, least)
    refuse(world, "AlreadyVoted", dispute_vote_ix(world, disputed, voter, False, least),
           voter.kp)


def test_voting_after_the_windows_is_refused(world: World, creator: User) -> None:
    least = world.params.min_vote_stake
    voter = world.user()
    market = world.propose(creator)
    world.chain.set_time(world.market(market).proposal_ends_at)
    refuse(world, "TooLate", vote_ix(world, market, voter, False, least), voter.kp)
    disputed = world.disputed(world.user(), YES, world.user())
    world.chain.set_time(world.market(disputed).dispute_ends_at)
    refuse(world, "TooLate", dispute_vote_ix(world, disputed, voter, False, least), voter.kp)


# ---- claims ---------------------------------------------------------------------------------
def decided_dispute(world: World, creator: User) -> tuple[Pubkey, User, User]:
    """A finalized, overturned market with one winning (disagree) and one losing voter."""
    market = world.active(creator)
    stake = overturn_stake(world, market)
    world.disputed(creator, YES, world.user(), market)
    winner, loser = world.user(stake), world.user(stake)
    world.vote_dispute(market, winner, False, stake)
    world.vote_dispute(market, loser, True, world.params.min_vote_stake)
    world.finalized(market)
    assert world.market(market).overturned
    return market, winner, loser


def test_claim_vote_twice_is_refused(world: World, creator: User) -> None:
    """In one transaction or the next: the claimed Vote is closed, the System Program's."""
    market, winner, _ = decided_dispute(world, creator)
    claim = world.client.claim_vote(winner.key, market, VOTE_DISPUTE, winner.token)
    refuse(world, "InvalidOwner", [claim, claim], winner.kp)
    before = world.balance(winner)
    world.ok(claim, winner.kp)
    assert world.balance(winner) > before
    refuse(world, "InvalidOwner", claim, winner.kp)


def test_claim_vote_before_the_decision_is_refused(world: World, creator: User) -> None:
    least = world.params.min_vote_stake
    voter = world.user()
    market = world.propose(creator)
    world.vote(market, voter, True, least)
    refuse(world, "InvalidState",
           world.client.claim_vote(voter.key, market, VOTE_PROPOSAL, voter.token), voter.kp)
    disputed = world.disputed(world.user(), YES, world.user())
    world.vote_dispute(disputed, voter, False, least)
    world.chain.set_time(world.market(disputed).dispute_ends_at)  # over, but not finalized
    refuse(world, "InvalidState",
           world.client.claim_vote(voter.key, disputed, VOTE_DISPUTE, voter.token), voter.kp)


def test_claim_vote_by_another_wallet_is_refused(world: World, creator: User) -> None:
    """The thief signs and names the winner's Vote, to its own token account."""
    market, winner, _ = decided_dispute(world, creator)
    thief = world.user()
    ix = world.client.claim_vote(thief.key, market, VOTE_DISPUTE, thief.token,
                                 vote=world.d.vote(market, VOTE_DISPUTE, winner.key))
    refuse(world, "Unauthorized", ix, thief.kp)


def test_claim_vote_with_a_forged_or_foreign_vote_is_refused(world: World,
                                                             creator: User) -> None:
    """A copy of a winning Vote under another owner, and the voter's Vote of another market."""
    market, winner, _ = decided_dispute(world, creator)
    vote = world.d.vote(market, VOTE_DISPUTE, winner.key)
    forged = world.client.claim_vote(winner.key, market, VOTE_DISPUTE, winner.token,
                                     vote=spoof(world, vote))
    refuse(world, "InvalidOwner", forged, winner.kp)
    other = world.propose(creator)
    world.chain.mint_to(world.d.quote_mint, winner.token, world.params.min_vote_stake)
    world.vote(other, winner, True, world.params.min_vote_stake)
    foreign = world.client.claim_vote(winner.key, market, VOTE_PROPOSAL, winner.token,
                                      vote=world.d.vote(other, VOTE_PROPOSAL, winner.key))
    refuse(world, "InvalidAccount", foreign, winner.kp)


def test_claim_bond_by_a_stranger_is_refused(world: World, creator: User) -> None:
    market, _, _ = decided_dispute(world, creator)
    stranger = world.user()
    refuse(world, "Unauthorized", world.client.claim_bond(stranger.key, market, stranger.token),
           stranger.kp)


def test_proposal_stakes_are_never_slashed(world: World, creator: User) -> None:
    """The voters on the losing side of a proposal get their whole stake back."""
    market = world.propose(creator)
    q = world.params.proposal_quorum
    loser = world.user(q)
    world.vote(market, loser, False, q)
    world.vote(market, world.user(10 * q), True, 10 * q)
    world.close_window(market)
    world.ok(world.client.approve_market(market))
    world.ok(world.client.claim_vote(loser.key, market, VOTE_PROPOSAL, loser.token), loser.kp)
    assert world.balance(loser) == q


SLASH_WORLD: list[World] = []


@settings(max_examples=12, deadline=None)
@given(agree=st.lists(st.integers(1_000_000, 10**12), max_size=4),
       disagree=st.lists(st.integers(1_000_000, 10**12), max_size=4),
       slash_bps=st.integers(0, 10_000))
def test_slashing_pays_the_winners_exactly_the_slashed_stake_pro_rata(
        agree: list[int], disagree: list[int], slash_bps: int) -> None:
    """Random dispute stakes: losers lose ceil(stake * slash / 10^4), winners share
    floor(losers * slash / 10^4) pro rata rounded down, nobody gets more than its stake plus
    its fair share, and the dust ends in protocol fees with the last claim."""
    if not SLASH_WORLD:
        SLASH_WORLD.append(deploy_world())
    w = SLASH_WORLD[0]
    reconfigure(w, replace(w.params, vote_slash_bps=slash_bps))
    creator = w.user()
    market = w.disputed(creator, YES, w.user())
    voters = [(True, s, w.user(s)) for s in agree] + [(False, s, w.user(s)) for s in disagree]
    for choice, stake, v in voters:
        w.vote_dispute(market, v, choice, stake)
    w.finalized(market)
    m = w.market(market)
    agree_won = not m.overturned
    winners = sum(s for c, s, _ in voters if c == agree_won)
    losers = sum(s for c, s, _ in voters if c != agree_won)
    pool = losers * slash_bps // 10_000 if winners else 0
    fees = w.config().protocol_fees
    paid = 0
    for choice, stake, v in voters:
        w.ok(w.client.claim_vote(v.key, market, VOTE_DISPUTE, v.token), v.kp)
        got = w.balance(v)
        if not winners:
            assert got == stake
        elif choice == agree_won:
            assert got == stake + stake * pool // winners
        else:
            assert got == stake - (-(-stake * slash_bps // 10_000))
        paid += got
    for v in w.proposal_voters.pop(market):
        w.ok(w.client.claim_vote(v.key, market, VOTE_PROPOSAL, v.token), v.kp)
    staked = winners + losers
    assert paid <= staked and staked - paid == w.config().protocol_fees - fees
    assert staked - paid <= len(voters)  # dust: under a unit per voter
    assert w.market(market).stake_held == 0


# ---- resolution -----------------------------------------------------------------------------
def test_stranger_cannot_resolve_during_the_creators_window(world: World,
                                                            creator: User) -> None:
    """A stranger proposes the outcome the moment trading ends; then anyone may, after the
    creator's window, so no market stays unresolvable."""
    market = world.active(creator)
    stranger = world.user()
    m = world.market(market)
    ix = world.client.propose_resolution(stranger.key, market, NO,
                                         proposer_token=stranger.token)
    for t in (m.trading_ends_at, m.trading_ends_at + m.creator_resolve_secs - 1):
        world.chain.set_time(t)
        refuse(world, "Unauthorized", ix, stranger.kp)
    world.chain.set_time(m.trading_ends_at + m.creator_resolve_secs)
    before = world.balance(stranger)
    world.ok(ix, stranger.kp)
    assert before - world.balance(stranger) == world.params.resolution_bond
    assert world.market(market).proposer == stranger.key


def test_dispute_in_the_same_transaction_as_the_proposal_gains_nothing(world: World,
                                                                       creator: User) -> None:
    """After the creator's window a NO holder proposes the false NO and disputes it in the same
    transaction, so that no honest disputer can; honest voters with quorum overturn it."""
    market = world.active(creator)
    attacker = buy(world, market, NO)
    honest = buy(world, market, YES)
    start = world.balance(attacker)
    m = world.market(market)
    world.chain.set_time(m.trading_ends_at + m.creator_resolve_secs)
    world.ok([world.client.propose_resolution(attacker.key, market, NO,
                                              proposer_token=attacker.token),
              world.client.dispute(attacker.key, market, attacker.token)], attacker.kp)
    least = world.params.min_vote_stake
    world.vote_dispute(market, attacker, True, least)
    stake = overturn_stake(world, market)
    voter = world.user(stake)
    world.vote_dispute(market, voter, False, stake)
    world.finalized(market)
    assert world.market(market).final_outcome == YES
    for who in (attacker, voter):
        world.ok(world.client.claim_vote(who.key, market, VOTE_DISPUTE, who.token), who.kp)
    world.ok(world.client.claim_bond(attacker.key, market, attacker.token), attacker.kp)
    refuse(world, "NothingToRedeem", world.client.redeem(attacker.key, market, attacker.token),
           attacker.kp)
    # both bonds came back to the attacker, who lost the slash of its vote
    assert world.balance(attacker) < start
    assert world.balance(voter) > stake
    before = world.balance(honest)
    world.ok(world.client.redeem(honest.key, market, honest.token), honest.kp)
    assert world.balance(honest) > before


def test_finalize_with_frozen_bonder_accounts_still_succeeds(world: World,
                                                             creator: User) -> None:
    """The proposer and the disputer freeze (or close) their token accounts to block
    finalization; finalize touches no token account, and the bond is claimed elsewhere."""
    disputer = world.user()
    market = world.disputed(creator, YES, disputer)
    freeze(world, creator.token)
    freeze(world, disputer.token)
    world.finalized(market)
    assert world.market(market).state == 5
    refuse(world, "InvalidAccount",
           world.client.claim_bond(creator.key, market, creator.token), creator.kp)
    elsewhere = world.chain.create_token_account(world.d.quote_mint, creator.key)
    world.ok(world.client.claim_bond(creator.key, market, elsewhere), creator.kp)
    assert world.balance(elsewhere) == world.params.resolution_bond + world.params.dispute_bond


def test_config_change_does_not_reach_a_running_market(world: World, creator: User) -> None:
    """The council raises bonds, stakes and the quorum and shortens the windows after a market
    was created: the market keeps the rules it was created under."""
    # a short timelock first, so that the change lands inside the market's proposal window
    reconfigure(world, replace(world.params, config_delay_secs=60))
    market = world.propose(creator)
    before = world.market(market)
    p = world.params
    harsher = replace(p, min_vote_stake=10 * p.min_vote_stake,
                      proposal_quorum=100 * p.proposal_quorum,
                      resolution_bond=2 * p.resolution_bond, dispute_window_secs=60,
                      trade_fee_bps=1_000, vote_slash_bps=10_000)
    reconfigure(world, harsher)
    world.params = p
    after = world.market(market)
    assert after == before
    world.vote(market, world.user(p.proposal_quorum), True, p.proposal_quorum)
    world.close_window(market)
    world.ok(world.client.approve_market(market))
    assert world.market(market).trade_fee_bps == p.trade_fee_bps


# ---- bounds ---------------------------------------------------------------------------------
def test_reserves_cannot_be_pushed_past_the_bound(world: World, creator: User) -> None:
    """Two buys in one transaction, each within the bound alone, together past it; the
    stake of a vote past its own bound."""
    market = world.active(creator)
    room = MAX_COLLATERAL - world.market(market).collateral
    rich = world.user(quote=2 * room)
    half = room * 6 // 10
    c = world.client
    refuse(world, "MathOverflow", [c.buy(rich.key, market, rich.token, YES, half),
                                   c.buy(rich.key, market, rich.token, NO, half)], rich.kp)
    voter = world.user(quote=2**63)
    refuse(world, "InvalidArgument", vote_ix(world, world.propose(creator), voter, True,
                                             2**63), voter.kp)


# ---- several instructions in one transaction -------------------------------------------------
def test_vote_and_approve_in_one_transaction_is_refused(world: World, creator: User) -> None:
    """A whale votes the whole quorum and approves in the same transaction."""
    market = world.propose(creator)
    q = world.params.proposal_quorum
    whale = world.user(q)
    refuse(world, "TooEarly", [vote_ix(world, market, whale, True, q),
                               world.client.approve_market(market)], whale.kp)


def test_buy_sell_redeem_in_one_transaction_gains_nothing(world: World, creator: User) -> None:
    """Buy and sell back at once pays two fees; adding a redeem makes the whole transaction
    fail as the market is not finalized."""
    market = world.active(creator)
    trader = world.user()
    start = world.balance(trader)
    c = world.client
    m = world.market(market)
    fee_bps = world.params.trade_fee_bps
    out, _, _ = model.buy(m.yes_reserve, m.no_reserve,
                          BUY_AMOUNT - model.fee(BUY_AMOUNT, fee_bps))
    buy_ix = c.buy(trader.key, market, trader.token, YES, BUY_AMOUNT)
    sell_ix = c.sell(trader.key, market, trader.token, YES, out)
    redeem_ix = c.redeem(trader.key, market, trader.token)
    refuse(world, "InvalidState", [buy_ix, sell_ix, redeem_ix], trader.kp)
    world.ok([buy_ix, sell_ix], trader.kp)
    assert world.balance(trader) < start


# ---- aliasing -------------------------------------------------------------------------------
def test_vault_or_another_users_account_as_the_stake_source_is_refused(
        world: World, creator: User) -> None:
    """The vault itself, or a victim's token account, as the voter's source of stake."""
    market = world.propose(creator)
    voter, victim = world.user(), world.user()
    ix = vote_ix(world, market, voter, True, world.params.min_vote_stake)
    refuse(world, "InvalidAccount", swap(ix, "voter_token", world.d.vault), voter.kp)
    refuse(world, "Unauthorized", swap(ix, "voter_token", victim.token), voter.kp)
    refuse(world, "InvalidVault", swap(ix, "vault", victim.token), voter.kp)
    bond = world.client.dispute(voter.key, world.resolving(world.user(), YES), victim.token)
    refuse(world, "Unauthorized", bond, voter.kp)


def test_losing_shares_close_only_once_worthless(world: World, creator: User) -> None:
    """Closing Shares that still hold winning or tradable shares would burn a claim."""
    market = world.active(creator)
    holder = buy(world, market, YES)
    refuse(world, "InsufficientShares", world.client.close_shares(holder.key, market),
           holder.kp, watch=[world.d.shares(market, holder.key)])
    world.resolving(creator, YES, market)
    world.finalized(market)
    refuse(world, "InsufficientShares", world.client.close_shares(holder.key, market),
           holder.kp, watch=[world.d.shares(market, holder.key)])
    world.ok(world.client.redeem(holder.key, market, holder.token), holder.kp)
    def lamports() -> int:
        account = world.chain.svm.get_account(holder.key)
        assert account is not None
        return int(account.lamports)

    before = lamports()
    world.ok(world.client.close_shares(holder.key, market), holder.kp)
    assert lamports() > before
