"""Refusals every market instruction shares: signatures, writability, the account list, the
instruction data, the market's state, the edges of its time windows, the authority, pausing;
and what must not be refused: creating an account at an address someone pre-funded.

The refusals of one family live next door: test_refusals_admin.py, test_refusals_proposal.py,
test_refusals_trading.py, test_refusals_resolution.py, test_refusals_spoofing.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.support.program_world import User, World, deploy_world
from tests.support.refusals import (
    BUY_AMOUNT,
    LIQUIDITY,
    MARKET_INSTRUCTIONS,
    READY,
    SPEC,
    YES,
    Ready,
    at_edge,
    buy,
    cut_or_extended,
    each_read_only,
    each_unsigned,
    key,
    new_market_id,
    one_short,
    pause,
    ready,
    refuse,
    refused_then_ok,
    swap,
    with_data,
)

SIGNED = [n for n in READY if any(a.signer for a in SPEC[n].accounts)]


# ---- the call itself ------------------------------------------------------------------------
@pytest.mark.parametrize("name", SIGNED)
def test_every_missing_signature_is_refused(name: str) -> None:
    refused_then_ok(name, "MissingSigner", each_unsigned)


@pytest.mark.parametrize("name", list(READY))
def test_every_writable_account_passed_read_only_is_refused(name: str) -> None:
    refused_then_ok(name, "NotWritable", each_read_only)


@pytest.mark.parametrize("name", list(READY))
def test_one_account_short_is_refused(name: str) -> None:
    refused_then_ok(name, "NotEnoughAccounts", one_short)


@pytest.mark.parametrize("name", list(READY))
def test_truncated_or_trailing_data_is_refused(name: str) -> None:
    refused_then_ok(name, "InvalidInstructionData", cut_or_extended)


@pytest.mark.parametrize("data", [b"", b"\x01" * 7, bytes(8), b"\xff" * 8 + bytes(17)])
def test_unknown_discriminator_is_refused(data: bytes) -> None:
    refused_then_ok("buy", "InvalidInstructionData", lambda w, ix: with_data(ix, data))


# where each call's bool sits in its data: pause's only argument, the votes' first
BOOL_AT = {"pause": -1, "vote_proposal": 8, "vote_dispute": 8}


def with_byte(ix: Instruction, at: int, value: int) -> Instruction:
    data = bytearray(ix.data)
    data[at] = value
    return with_data(ix, bytes(data))


@pytest.mark.parametrize("name", list(BOOL_AT))
def test_bool_byte_of_2_is_refused(name: str) -> None:
    """Borsh booleans are 0 or 1."""
    refused_then_ok(name, "InvalidInstructionData",
                    lambda w, ix: with_byte(ix, BOOL_AT[name], 2))


# ---- who may call, and how often ------------------------------------------------------------
@pytest.mark.parametrize("name, account", [
    ("pause", "council"), ("activate_market", "creator"),
    ("propose_resolution", "proposer"), ("withdraw_liquidity", "creator"),
    ("claim_bond", "claimant"),
])
def test_only_the_authority_may_call(name: str, account: str) -> None:
    intruder = Keypair()
    refused_then_ok(name, "Unauthorized", lambda w, ix: swap(ix, account, intruder.pubkey()),
                    intruder)


@pytest.mark.parametrize("name", ["vote_proposal", "vote_dispute"])
def test_second_vote_by_the_same_wallet_is_refused(name: str) -> None:
    """Whichever way it goes: the choice is the call's first argument."""
    w, ix, signers = ready(name)
    w.ok(ix, *signers)
    w.chain.mint_to(w.d.quote_mint, key(ix, "voter_token"), w.params.min_vote_stake)
    other_way = with_byte(ix, BOOL_AT[name], 1 - ix.data[BOOL_AT[name]])
    for again in (ix, other_way):
        refuse(w, "AlreadyVoted", again, *signers)


# ---- the market's state ---------------------------------------------------------------------
STATES = ("proposed", "approved", "active", "resolving", "disputed", "finalized", "cancelled")
ALLOWED = {
    "vote_proposal": {"proposed"}, "approve_market": {"proposed"},
    # an approved market never activated is cancelled once trading would have ended
    "reject_market": {"proposed", "approved"}, "activate_market": {"approved"},
    "buy": {"active"}, "sell": {"active"}, "propose_resolution": {"active"},
    "dispute": {"resolving"}, "vote_dispute": {"disputed"},
    "finalize_market": {"resolving", "disputed"}, "redeem": {"finalized"},
    "withdraw_liquidity": {"finalized"}, "claim_bond": {"finalized"},
}
# claim_vote's state is its vote's question's (test_attacks_markets.py); close_shares asks
# the shares, not the state
STATEFUL = [n for n in MARKET_INSTRUCTIONS[1:] if n in ALLOWED]
# redeem reads the holder's Shares before the state: only markets the trader bought into
TRADED = {"active", "resolving", "disputed", "finalized"}


@dataclass
class EveryState:
    w: World
    creator: User
    trader: User
    markets: dict[str, Pubkey]

    def call(self, name: str, market: Pubkey) -> Ready:
        c, creator, trader, voter = self.w.client, self.creator, self.trader, self.w.user()
        stake = self.w.params.min_vote_stake
        calls: dict[str, Callable[[], Ready]] = {
            "vote_proposal": lambda: (c.vote_proposal(voter.key, market, True, stake=stake,
                                                      voter_token=voter.token), (voter.kp,)),
            "approve_market": lambda: (c.approve_market(market), ()),
            "reject_market": lambda: (c.reject_market(market), ()),
            "activate_market": lambda: (c.activate_market(creator.key, market, creator.token,
                                                          LIQUIDITY), (creator.kp,)),
            "buy": lambda: (c.buy(trader.key, market, trader.token, YES, BUY_AMOUNT),
                            (trader.kp,)),
            "sell": lambda: (c.sell(trader.key, market, trader.token, YES, 1), (trader.kp,)),
            "propose_resolution": lambda: (c.propose_resolution(
                creator.key, market, YES, proposer_token=creator.token), (creator.kp,)),
            "dispute": lambda: (c.dispute(trader.key, market, trader.token), (trader.kp,)),
            "vote_dispute": lambda: (c.vote_dispute(voter.key, market, True, stake=stake,
                                                    voter_token=voter.token), (voter.kp,)),
            "finalize_market": lambda: (c.finalize_market(market), ()),
            "redeem": lambda: (c.redeem(trader.key, market, trader.token), (trader.kp,)),
            "withdraw_liquidity": lambda: (c.withdraw_liquidity(creator.key, market,
                                                                creator.token), (creator.kp,)),
            "claim_bond": lambda: (c.claim_bond(creator.key, market, creator.token),
                                   (creator.kp,)),
        }
        return calls[name]()


@pytest.fixture(scope="module")
def every_state() -> EveryState:
    """One market in each state (refusals change nothing, so the tests may share it); the
    trader holds YES shares in every market that traded."""
    w = deploy_world()
    creator, trader = w.user(), w.user()
    c = w.client

    def traded() -> Pubkey:
        market = w.active(creator)
        w.ok(c.buy(trader.key, market, trader.token, YES, BUY_AMOUNT), trader.kp)
        return market

    m = {"cancelled": w.propose(creator)}
    w.chain.set_time(w.market(m["cancelled"]).proposal_ends_at)
    w.ok(c.reject_market(m["cancelled"]))
    m["finalized"] = w.resolving(creator, YES, traded())
    w.finalized(m["finalized"])
    w.ok(c.claim_bond(creator.key, m["finalized"], creator.token), creator.kp)
    m["disputed"] = w.resolving(creator, YES, traded())
    disputer = w.user()
    w.ok(c.dispute(disputer.key, m["disputed"], disputer.token), disputer.kp)
    m["resolving"] = w.resolving(creator, YES, traded())
    m["active"] = traded()
    m["approved"] = w.approved(creator)
    m["proposed"] = w.propose(creator)
    assert [w.market(m[s]).state for s in STATES] == list(range(len(STATES)))
    return EveryState(w, creator, trader, m)


@pytest.mark.parametrize("name", STATEFUL)  # create_market has no prior state
def test_every_transition_from_a_wrong_state_is_refused(every_state: EveryState,
                                                        name: str) -> None:
    wrong = [s for s in STATES if s not in ALLOWED[name] and (name != "redeem" or s in TRADED)]
    assert wrong
    for state in wrong:
        ix, signers = every_state.call(name, every_state.markets[state])
        refuse(every_state.w, "InvalidState", ix, *signers)


# ---- the edges of the time windows ----------------------------------------------------------
EDGES: dict[str, tuple[str, Callable[[World, object], int]]] = {
    "vote_proposal": ("TooLate", lambda w, m: m.proposal_ends_at),
    "approve_market": ("TooEarly", lambda w, m: m.proposal_ends_at),
    "reject_market": ("TooEarly", lambda w, m: m.proposal_ends_at),
    "activate_market": ("TooLate", lambda w, m: m.trading_ends_at),
    "buy": ("TooLate", lambda w, m: m.trading_ends_at),
    "sell": ("TooLate", lambda w, m: m.trading_ends_at),
    "propose_resolution": ("TooEarly", lambda w, m: m.trading_ends_at),
    "dispute": ("TooLate", lambda w, m: m.resolution_proposed_at + w.params.dispute_window_secs),
    "vote_dispute": ("TooLate", lambda w, m: m.dispute_ends_at),
    "finalize_market": ("TooEarly", lambda w, m: m.dispute_ends_at),  # a disputed market
}


@pytest.mark.parametrize("name", list(EDGES))
def test_window_edge_is_exact_to_the_second(name: str) -> None:
    w, ix, signers = ready(name)
    error, edge_of = EDGES[name]
    at_edge(w, error, edge_of(w, w.market(key(ix, "market"))), ix, *signers)


# ---- pausing --------------------------------------------------------------------------------
def test_pause_stops_new_markets_and_buying_only(world: World, creator: User) -> None:
    approved, active = world.approved(creator), world.active(creator)
    trader = buy(world, active)
    market_id, _ = new_market_id(world, creator)
    c = world.client
    pause(world)
    refuse(world, "Paused", c.create_market(creator.key, market_id, "paused?",
                                            world.chain.now() + 7 * 86_400,
                                            creator_token=creator.token), creator.kp)
    refuse(world, "Paused", c.buy(trader.key, active, trader.token, YES, BUY_AMOUNT), trader.kp)
    # selling and activating a pool nobody can buy from yet take no new risk
    world.ok(c.sell(trader.key, active, trader.token, YES, 10**6), trader.kp)
    world.ok(c.activate_market(creator.key, approved, creator.token, LIQUIDITY), creator.kp)
    pause(world, False)
    world.ok(c.buy(trader.key, active, trader.token, YES, BUY_AMOUNT), trader.kp)


def test_pause_lets_votes_resolution_and_payouts_go_on(world: World, creator: User) -> None:
    c = world.client
    market = world.active(creator)
    trader = buy(world, market)
    proposed, rejected = world.propose(creator), world.propose(creator)
    pause(world)
    q = world.params.proposal_quorum
    voter = world.user(q)
    world.vote(proposed, voter, True, q)
    world.close_window(proposed)
    world.ok(c.approve_market(proposed))
    world.ok(c.claim_vote(voter.key, proposed, 0, voter.token), voter.kp)
    world.ok(c.reject_market(rejected))
    world.resolving(creator, YES, market)
    disputer, voter = world.user(), world.user()
    world.ok(c.dispute(disputer.key, market, disputer.token), disputer.kp)
    world.vote_dispute(market, voter, True, world.params.min_vote_stake)
    world.chain.set_time(world.market(market).dispute_ends_at)
    world.ok(c.finalize_market(market))
    world.ok(c.claim_vote(voter.key, market, 1, voter.token), voter.kp)
    world.ok(c.claim_bond(creator.key, market, creator.token), creator.kp)
    world.ok(c.redeem(trader.key, market, trader.token), trader.kp)
    world.ok(c.close_shares(trader.key, market), trader.kp)
    world.ok(c.withdraw_liquidity(creator.key, market, creator.token), creator.kp)
    assert world.config().paused


# ---- what must not be refused ---------------------------------------------------------------
@pytest.mark.parametrize("lamports", [1, 5 * 10**9])
def test_prefunded_addresses_do_not_block_creation(world: World, creator: User,
                                                   lamports: int) -> None:
    """Anyone can send lamports to a market, shares or vote address before it exists; the
    program tops the account up, allocates and assigns it all the same."""
    c, d, chain = world.client, world.d, world.chain

    def prefunded(address: Pubkey, ix: Instruction, *signers: Keypair) -> None:
        chain.svm.airdrop(address, lamports)
        world.ok(ix, *signers)
        account = chain.svm.get_account(address)
        assert account.owner == d.program_id and chain.fetch(address) is not None
        rent = chain.svm.minimum_balance_for_rent_exemption(len(account.data))
        assert account.lamports == max(lamports, rent)

    market_id, market = new_market_id(world, creator)
    prefunded(market, c.create_market(creator.key, market_id, "prefunded?",
                                      chain.now() + 7 * 86_400, creator_token=creator.token),
              creator.kp)
    voter, stake = world.user(), world.params.min_vote_stake
    prefunded(d.vote(market, 0, voter.key), c.vote_proposal(
        voter.key, market, True, stake=stake, voter_token=voter.token), voter.kp)
    active, trader = world.active(creator), world.user()
    prefunded(d.shares(active, trader.key),
              c.buy(trader.key, active, trader.token, YES, BUY_AMOUNT), trader.kp)
    world.resolving(creator, YES, active)
    world.ok(c.dispute(trader.key, active, trader.token), trader.kp)
    prefunded(d.vote(active, 1, voter.key), c.vote_dispute(
        voter.key, active, False, stake=stake, voter_token=voter.token), voter.kp)
