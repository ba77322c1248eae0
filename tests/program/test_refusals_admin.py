"""Refusals of initialize: the settings' ranges, the one-time config, the quote mint, the vault
and the derived addresses a deployment starts from. (Who may initialize, and the council's
instructions, are attacked in test_attacks_admin.py.)"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair

from tests.support.program_world import World
from tests.support.refusals import (
    PARAMS_AT_THE_BOUNDS,
    PARAMS_PAST_A_BOUND,
    Spoil,
    patch,
    refuse,
    refused_then_ok,
    swap,
    uninitialized,
)


def ids(params: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize("bad", PARAMS_PAST_A_BOUND, ids=ids)
def test_initialize_refuses_a_param_out_of_range(bad: dict[str, Any]) -> None:
    refused_then_ok("initialize", "InvalidArgument", lambda w, ix: w.client.initialize(
        w.admin.pubkey(), replace(w.params, **bad)))


@pytest.mark.parametrize("bounds", PARAMS_AT_THE_BOUNDS, ids=["least", "most"])
def test_initialize_accepts_every_bound(bounds: dict[str, Any]) -> None:
    w = uninitialized()
    params = replace(w.params, **bounds)
    w.ok(w.client.initialize(w.admin.pubkey(), params), w.admin)
    config = w.config()
    assert {k: getattr(config, k) for k in bounds} == bounds


def test_initialize_twice_is_refused_even_for_another_admin(world: World) -> None:
    for admin in (world.admin, world.chain.wallet()):
        refuse(world, "AlreadyInitialized" if admin == world.admin else "Unauthorized",
               world.client.initialize(admin.pubkey(), world.params), admin)


def spoil_vault(offset: int, value: int) -> Spoil:
    """initialize over a copy of the vault (a fresh, valid one) with one byte forged."""
    def spoil(w: World, ix: Instruction) -> Instruction:
        vault = w.chain.create_token_account(w.d.quote_mint, w.d.vault_authority)
        patch(w, vault, offset, bytes([value]))
        return swap(ix, "vault", vault)
    return spoil


SPOILED_INITIALIZE: dict[str, tuple[str, Spoil]] = {
    "vault owned by another": ("InvalidVault", lambda w, ix: swap(
        ix, "vault", w.chain.create_token_account(w.d.quote_mint, w.admin.pubkey()))),
    "vault of another mint": ("InvalidMint", lambda w, ix: swap(
        ix, "vault", w.chain.create_token_account(w.chain.create_mint(), w.d.vault_authority))),
    "vault not a token account": ("InvalidVault", lambda w, ix: swap(
        ix, "vault", w.admin.pubkey())),
    "vault with a delegate": ("InvalidVault", spoil_vault(72, 1)),
    "vault frozen": ("InvalidVault", spoil_vault(108, 2)),
    "vault with a close authority": ("InvalidVault", spoil_vault(129, 1)),
    "mint a token account": ("InvalidMint", lambda w, ix: swap(ix, "quote_mint", w.d.vault)),
    "mint a system account": ("InvalidMint", lambda w, ix: swap(
        ix, "quote_mint", w.admin.pubkey())),
    "mint other than the vault's": ("InvalidMint", lambda w, ix: swap(
        ix, "quote_mint", w.chain.create_mint())),
    "wrong vault authority": ("InvalidPda", lambda w, ix: swap(
        ix, "vault_authority", Keypair().pubkey())),
    "config not at its address": ("InvalidPda", lambda w, ix: swap(
        ix, "config", Keypair().pubkey())),
    "config at the vault authority": ("InvalidPda", lambda w, ix: swap(
        ix, "config", w.d.vault_authority)),
}


@pytest.mark.parametrize("case", list(SPOILED_INITIALIZE))
def test_initialize_refuses_a_wrong_account(case: str) -> None:
    error, spoil = SPOILED_INITIALIZE[case]
    w = refused_then_ok("initialize", error, spoil)
    assert w.config().vault == w.d.vault


def test_uninitialized_program_refuses_market_calls() -> None:
    """Before initialize there is no config: a market call is refused at its config."""
    w = uninitialized()
    creator = w.user()
    refuse(w, "InvalidOwner", w.client.create_market(creator.key, 1, "too soon?",
                                                     w.chain.now() + 10**6,
                                                     creator_token=creator.token), creator.kp)
