"""Refusals of accounts that are not the ones a call must take: program accounts forged under
another owner or of another type, someone else's shares, addresses not at their PDA, a vault
or vault authority not the protocol's, token accounts of another mint or owner, frozen or not
token accounts at all, and fake programs. Each spoiled call is refused with its own error and
changes nothing; the intact call then succeeds."""

from __future__ import annotations

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.program.conftest import User, World
from tests.program.refusals import (
    LIQUIDITY,
    READY,
    SPEC,
    YES,
    Spoil,
    buy,
    freeze,
    instructions_with,
    key,
    refuse,
    refused_then_ok,
    spoof,
    swap,
)


# ---- program accounts -----------------------------------------------------------------------
@pytest.mark.parametrize("name, account", [
    ("update_config", "config"), ("create_market", "config"), ("vote_proposal", "market"),
    ("approve_market", "market"), ("buy", "config"), ("buy", "market"), ("sell", "shares"),
    ("vote_dispute", "market"), ("finalize_market", "config"), ("redeem", "shares"),
    ("withdraw_liquidity", "market"),
])
def test_copy_owned_by_another_program_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "InvalidOwner",
                    lambda w, ix: swap(ix, account, spoof(w, key(ix, account))))


@pytest.mark.parametrize("name, account, other", [
    ("sell", "shares", "market"), ("sell", "market", "shares"), ("redeem", "shares", "market"),
    ("buy", "config", "market"), ("approve_market", "market", "config"),
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
    world.chain.advance(world.params.dispute_window_secs)
    world.ok(world.client.finalize_market(market, world.d.vault))
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
        ix, "market", w.d.market(w.next_market_id))),
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
    """Even a funded token account of the quote mint owned by the vault authority."""
    def fake_vault(w: World, ix: Instruction) -> Instruction:
        fake = w.chain.create_token_account(w.d.quote_mint, w.d.vault_authority)
        w.chain.mint_to(w.d.quote_mint, fake, 10 * LIQUIDITY)
        return swap(ix, "vault", fake)
    refused_then_ok(name, "InvalidVault", fake_vault)


@pytest.mark.parametrize("name", instructions_with("vault_authority", but=["initialize"]))
def test_vault_authority_other_than_the_protocols_is_refused(name: str) -> None:
    refused_then_ok(name, "InvalidVault",
                    lambda w, ix: swap(ix, "vault_authority", Keypair().pubkey()))


# ---- the users' token accounts --------------------------------------------------------------
QUOTE_ACCOUNTS = [(n, a.name) for n in READY for a in SPEC[n].accounts
                  if a.name.endswith("_token")]


def owner_of(w: World, token_account: Pubkey) -> Pubkey:
    data = w.chain.raw(token_account)
    assert data is not None
    return Pubkey.from_bytes(data[32:64])


def funded_account(w: World, ix: Instruction, account: str, mint: Pubkey) -> Pubkey:
    """A new token account of `mint` for the owner of the call's `account`, well funded."""
    new = w.chain.create_token_account(mint, owner_of(w, key(ix, account)))
    w.chain.mint_to(mint, new, 10 * LIQUIDITY)
    return new


@pytest.mark.parametrize("name, account", QUOTE_ACCOUNTS)
def test_token_account_of_another_mint_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "InvalidMint", lambda w, ix: swap(
        ix, account, funded_account(w, ix, account, w.chain.create_mint())))


@pytest.mark.parametrize("name, account", QUOTE_ACCOUNTS)
def test_frozen_token_account_is_refused(name: str, account: str) -> None:
    def frozen(w: World, ix: Instruction) -> Instruction:
        new = funded_account(w, ix, account, w.d.quote_mint)
        freeze(w, new)
        return swap(ix, account, new)
    refused_then_ok(name, "InvalidAccount", frozen)


@pytest.mark.parametrize("name, account", QUOTE_ACCOUNTS)
def test_wallet_in_place_of_a_token_account_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "InvalidAccount",
                    lambda w, ix: swap(ix, account, owner_of(w, key(ix, account))))


@pytest.mark.parametrize("name, account", [
    ("activate_market", "creator_token"), ("buy", "trader_token"),
    ("dispute", "disputer_token"),
    ("finalize_market", "disputer_token"),  # the bond goes back to the disputer only
])
def test_token_account_of_another_owner_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "Unauthorized", lambda w, ix: swap(ix, account, w.user().token))


# ---- programs -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, account", [
    (n, a) for a in ("token_program", "system_program") for n in instructions_with(a)])
def test_fake_program_is_refused(name: str, account: str) -> None:
    """Any other executable account, the program itself say, in the program's place."""
    refused_then_ok(name, "InvalidProgram", lambda w, ix: swap(ix, account, w.d.program_id))
