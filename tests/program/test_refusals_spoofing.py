"""Refusals of accounts that are not the ones a call must take: program accounts forged under
another owner or of another type, someone else's shares, addresses not at their PDA, a vault
or vault authority not the protocol's, token accounts of another mint or owner, frozen or not
token accounts at all, and fake programs. Each spoiled call is refused with its own error and
changes nothing; the intact call then succeeds."""

from __future__ import annotations

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair

from tests.support.program_world import User, World
from tests.support.refusals import (
    READY,
    TOKEN_FORGERIES,
    YES,
    Spoil,
    buy,
    fake_program,
    fake_vault,
    fake_vault_authority,
    instructions_with,
    key,
    of_another_owner,
    refuse,
    refused_then_ok,
    spoof,
    swap,
    token_accounts,
)


# ---- program accounts -----------------------------------------------------------------------
@pytest.mark.parametrize("name, account", [
    ("pause", "config"), ("create_market", "config"), ("vote_proposal", "market"),
    ("approve_market", "market"), ("buy", "config"), ("buy", "market"), ("sell", "shares"),
    ("vote_dispute", "market"), ("finalize_market", "config"), ("redeem", "shares"),
    ("withdraw_liquidity", "market"), ("claim_vote", "vote"), ("claim_vote", "market"),
    ("claim_bond", "market"), ("close_shares", "shares"),
])
def test_copy_owned_by_another_program_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "InvalidOwner",
                    lambda w, ix: swap(ix, account, spoof(w, key(ix, account))))


@pytest.mark.parametrize("name, account, other", [
    ("sell", "shares", "market"), ("sell", "market", "shares"), ("redeem", "shares", "market"),
    ("buy", "config", "market"), ("approve_market", "market", "config"),
    ("claim_vote", "vote", "market"), ("close_shares", "shares", "market"),
])
def test_account_of_another_type_is_refused(name: str, account: str, other: str) -> None:
    refused_then_ok(name, "WrongAccountType", lambda w, ix: swap(ix, account, key(ix, other)))


@pytest.mark.parametrize("name", ["buy", "sell"])
def test_shares_of_another_holder_are_refused(name: str) -> None:
    def theirs(w: World, ix: Instruction) -> Instruction:
        market = key(ix, "market")
        return swap(ix, "shares", w.d.shares(market, buy(w, market).key))
    refused_then_ok(name, "InvalidAccount", theirs)


def test_redeem_with_another_holders_shares_is_refused(world: World, creator: User) -> None:
    market = world.active(creator)
    alice, bob = buy(world, market), buy(world, market)
    world.resolving(creator, YES, market)
    world.finalized(market)
    ix = world.client.redeem(bob.key, market, bob.token)
    refuse(world, "InvalidAccount", swap(ix, "shares", world.d.shares(market, alice.key)), bob.kp)
    world.ok(ix, bob.kp)


def test_shares_of_another_market_are_refused(world: World, creator: User) -> None:
    market, other = world.active(creator), world.active(creator)
    trader = buy(world, market)
    world.ok(world.client.buy(trader.key, other, trader.token, YES, 10**6), trader.kp)
    ix = world.client.sell(trader.key, market, trader.token, YES, 10**6)
    refuse(world, "InvalidAccount", swap(ix, "shares", world.d.shares(other, trader.key)),
           trader.kp)
    world.ok(ix, trader.kp)


# ---- derived addresses ----------------------------------------------------------------------
def vote_of(kind: int, voter: str = "voter") -> Spoil:
    """The Vote address of `kind` for the call's market and voter (a random one if "other")."""
    def spoil(w: World, ix: Instruction) -> Instruction:
        who = Keypair().pubkey() if voter == "other" else key(ix, "voter")
        return swap(ix, "vote", w.d.vote(key(ix, "market"), kind, who))
    return spoil


WRONG_ADDRESS: dict[str, tuple[str, Spoil]] = {
    "market of the next id": ("create_market", lambda w, ix: swap(
        ix, "market", w.d.market(key(ix, "creator"), w.next_market_id))),
    "another creator's market of that id": ("create_market", lambda w, ix: swap(
        ix, "market", w.d.market(Keypair().pubkey(), w.next_market_id - 1))),
    "market at a random address": ("create_market", lambda w, ix: swap(
        ix, "market", Keypair().pubkey())),
    "another voter's proposal vote": ("vote_proposal", vote_of(0, "other")),
    "the voter's dispute vote": ("vote_proposal", vote_of(1)),
    "another voter's dispute vote": ("vote_dispute", vote_of(1, "other")),
    "the voter's proposal vote": ("vote_dispute", vote_of(0)),
    "shares at a random address": ("buy", lambda w, ix: swap(ix, "shares", Keypair().pubkey())),
    "another wallet's shares address": ("buy", lambda w, ix: swap(
        ix, "shares", w.d.shares(key(ix, "market"), Keypair().pubkey()))),
}


@pytest.mark.parametrize("case", list(WRONG_ADDRESS))
def test_account_not_at_its_derived_address_is_refused(case: str) -> None:
    name, spoil = WRONG_ADDRESS[case]
    refused_then_ok(name, "InvalidPda", spoil)


# ---- the vault ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", instructions_with("vault", but=["initialize"]))
def test_vault_other_than_the_protocols_is_refused(name: str) -> None:
    refused_then_ok(name, "InvalidVault", fake_vault)


@pytest.mark.parametrize("name", instructions_with("vault_authority", but=["initialize"]))
def test_vault_authority_other_than_the_protocols_is_refused(name: str) -> None:
    refused_then_ok(name, "InvalidVault", fake_vault_authority)


# ---- the users' token accounts --------------------------------------------------------------
QUOTE_ACCOUNTS = token_accounts(list(READY))


@pytest.mark.parametrize("forged", list(TOKEN_FORGERIES))
@pytest.mark.parametrize("name, account", QUOTE_ACCOUNTS)
def test_token_account_not_as_it_must_be_is_refused(name: str, account: str, forged: str) -> None:
    """Of another mint, frozen, a wallet instead of a token account, or the vault itself."""
    error, spoil = TOKEN_FORGERIES[forged]
    refused_then_ok(name, error, spoil(account))


@pytest.mark.parametrize("name, account", [
    ("activate_market", "creator_token"), ("buy", "trader_token"),
    ("dispute", "disputer_token"), ("create_market", "creator_token"),
    ("vote_proposal", "voter_token"), ("vote_dispute", "voter_token"),
    ("propose_resolution", "proposer_token"),
])
def test_token_account_of_another_owner_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "Unauthorized", of_another_owner(account))


# ---- programs -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, account", [
    (n, a) for a in ("token_program", "system_program") for n in instructions_with(a)])
def test_fake_program_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "InvalidProgram", fake_program(account))
