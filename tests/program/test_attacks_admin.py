"""Attacks on deployment and administration: who may initialize, the council's threshold, the
config timelock, pause, and the treasury withdrawals.

Every attack is refused with its named error and changes no byte (`World.refused`), or gains
the attacker nothing; the vault invariant is checked after every transaction (`World.ok`)."""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import Any

import pytest
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from program.addresses import BPF_LOADER_UPGRADEABLE, program_data_address
from program.client import ConfigParams
from program.idl import spec
from program.local import LocalProtocol
from program.svm import SO_PATH
from program.toolchain.deploy import deploy_upgradeable
from tests.support.program_world import World, deploy_world
from tests.support.refusals import (
    PARAMS_PAST_A_BOUND,
    patch,
    reconfigure,
    refuse,
    set_field,
    uninitialized,
    with_accounts,
)

FUNDS = 50_000_000
DELAY = ConfigParams(pyth_program=Pubkey.default()).config_delay_secs


# ---- worlds ---------------------------------------------------------------------------------
def council_world(members: int, threshold: int) -> tuple[World, list[Keypair]]:
    """A protocol whose council is the admin and `members - 1` other keys."""
    others = [Keypair() for _ in range(members - 1)]
    base = LocalProtocol.deploy(initialize=False)
    council = (base.admin.pubkey(), *[k.pubkey() for k in others])
    w = World(base.chain, base.admin, base.d, base.client,
              replace(base.params, council=council, council_threshold=threshold))
    w.ok(w.client.initialize(w.admin.pubkey(), w.params), w.admin)
    return w, [w.admin, *others]


def earned(w: World, field: str, amount: int) -> None:
    """The vault holds `amount` more, booked to the Config balance `field`: the state fees,
    funding or insurance payments would leave (other families' instructions earn them)."""
    w.chain.mint_to(w.d.quote_mint, w.d.vault, amount)
    set_field(w, w.d.config, spec.CONFIG, field, getattr(w.config(), field) + amount)
    w.check_invariant()


def treasury(w: World) -> Pubkey:
    return w.config().treasury


def program_data_bytes(authority: Pubkey) -> bytes:
    """UpgradeableLoaderState::ProgramData naming `authority`: tag 3, slot, Some(authority),
    then the start of an ELF."""
    return struct.pack("<IQ", 3, 0) + b"\x01" + bytes(authority) + b"\x7fELF"


# ---- initialize: only the upgrade authority, once ---------------------------------------------
def test_stranger_front_running_initialize_is_refused() -> None:
    """Between deploy and initialize, a stranger sends initialize naming themselves council and
    their own Pyth program: refused, and the real owner initializes afterwards."""
    w = uninitialized()
    stranger = w.chain.wallet()
    theirs = replace(w.params, council=(stranger.pubkey(),), pyth_program=stranger.pubkey())
    refuse(w, "Unauthorized", w.client.initialize(stranger.pubkey(), theirs), stranger)
    w.ok(w.client.initialize(w.admin.pubkey(), w.params), w.admin)
    assert w.config().council[0] == w.admin.pubkey()


def test_the_deployments_admin_is_the_upgrade_authority_not_the_payer() -> None:
    """What the attacks above rest on: LocalProtocol (and the localnet) deploy with the admin
    as upgrade authority, while another key pays for the deployment."""
    w = uninitialized()
    data = w.chain.raw(w.d.program_data)
    assert data is not None and data[12] == 1
    assert data[13:45] == bytes(w.admin.pubkey()) != bytes(w.chain.payer.pubkey())


def test_upgrade_authority_named_but_not_signing_is_refused() -> None:
    """A stranger pays for initialize naming the real authority as admin, without its
    signature."""
    w = uninitialized()
    stranger = w.chain.wallet()
    ix = w.client.initialize(w.admin.pubkey(), w.params)
    metas = [AccountMeta(m.pubkey, False, m.is_writable) if m.pubkey == w.admin.pubkey() else m
             for m in ix.accounts]
    refuse(w, "MissingSigner", with_accounts(ix, metas), stranger)


def with_program_data(w: World, ix: Instruction, program_data: Pubkey) -> Instruction:
    return with_accounts(ix, [AccountMeta(program_data, False, False)
                              if m.pubkey == w.d.program_data else m for m in ix.accounts])


# Where the stranger's forged ProgramData (naming them upgrade authority) sits, who owns it
# and how its bytes are spoiled.
FORGERIES: dict[str, tuple[bool, Pubkey, int, int]] = {
    # (at the real PDA?, owner, tag, length)
    "owned by another program": (True, Keypair().pubkey(), 3, 49),
    "not at PDA([program id], loader)": (False, BPF_LOADER_UPGRADEABLE, 3, 49),
    "too short": (True, BPF_LOADER_UPGRADEABLE, 3, 44),
    "a Program account, not ProgramData": (True, BPF_LOADER_UPGRADEABLE, 2, 49),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_program_data_is_refused(forgery: str) -> None:
    """The stranger forges a ProgramData naming themselves upgrade authority."""
    w = uninitialized()
    stranger = w.chain.wallet()
    at_pda, owner, tag, length = FORGERIES[forgery]
    address = w.d.program_data if at_pda else Keypair().pubkey()
    data = struct.pack("<I", tag) + program_data_bytes(stranger.pubkey())[4:]
    w.chain.set_account(address, data[:length], owner)
    ix = with_program_data(w, w.client.initialize(stranger.pubkey(), w.params), address)
    refuse(w, "InvalidProgramData", ix, stranger)
    assert w.config() is None


def test_another_programs_program_data_is_refused() -> None:
    """The stranger deploys their own program (so they are its upgrade authority) and passes
    that ProgramData."""
    w = uninitialized()
    stranger = w.chain.wallet()
    theirs = deploy_upgradeable(w.chain.svm, w.chain.payer, SO_PATH.read_bytes(),
                                authority=stranger)
    ix = with_program_data(w, w.client.initialize(stranger.pubkey(), w.params),
                           program_data_address(theirs))
    refuse(w, "InvalidProgramData", ix, stranger)


def test_immutable_program_cannot_be_initialized_by_anyone() -> None:
    """With the upgrade authority removed (None), not even the former authority can
    initialize."""
    w = uninitialized()
    patch(w, w.d.program_data, 12, b"\x00")
    refuse(w, "Unauthorized", w.client.initialize(w.admin.pubkey(), w.params), w.admin)


def test_second_initialize_is_refused() -> None:
    """Once initialized, the authority cannot initialize again to reset the council or the
    balances, and a stranger is refused before that."""
    w = deploy_world()
    refuse(w, "AlreadyInitialized", w.client.initialize(w.admin.pubkey(), w.params), w.admin)
    stranger = w.chain.wallet()
    refuse(w, "Unauthorized", w.client.initialize(stranger.pubkey(), w.params), stranger)


# ---- the council's threshold ------------------------------------------------------------------
def signed_by(ix: Instruction, *extra: Pubkey) -> Instruction:
    """`ix` with `extra` appended as signer accounts (duplicates kept as they are)."""
    return with_accounts(ix, [*ix.accounts, *[AccountMeta(k, True, False) for k in extra]])


def test_one_member_passing_their_key_twice_does_not_reach_a_threshold_of_two() -> None:
    """A member of a 2-of-3 council lists their own key again as the second signature."""
    w, council = council_world(3, 2)
    a = council[1]
    ix = signed_by(w.client.pause(a.pubkey(), True), a.pubkey(), a.pubkey())
    refuse(w, "CouncilThresholdNotMet", ix, a)


def test_a_non_member_signature_is_not_counted() -> None:
    """A member adds a stranger's signature to make up a 2-of-3 threshold."""
    w, council = council_world(3, 2)
    stranger = w.chain.wallet()
    ix = w.client.withdraw_fees(council[1].pubkey(), treasury(w), 1, [stranger.pubkey()])
    earned(w, "protocol_fees", FUNDS)
    refuse(w, "CouncilThresholdNotMet", ix, council[1], stranger)


def test_threshold_minus_one_members_are_refused_and_threshold_members_pass() -> None:
    """Two members of a 3-of-5 council try to withdraw the insurance alone."""
    w, council = council_world(5, 3)
    earned(w, "insurance_balance", FUNDS)
    before = w.balance(treasury(w))
    two = w.client.withdraw_insurance(council[1].pubkey(), treasury(w), FUNDS,
                                      [council[2].pubkey()])
    refuse(w, "CouncilThresholdNotMet", two, council[1], council[2])
    three = w.client.withdraw_insurance(council[1].pubkey(), treasury(w), FUNDS,
                                        [council[2].pubkey(), council[4].pubkey()])
    w.ok(three, council[1], council[2], council[4])
    assert w.balance(treasury(w)) == before + FUNDS


def test_a_stranger_leading_with_members_behind_is_refused() -> None:
    """A stranger signs in the council's place with enough real members as extra signers:
    the signer in the council account must itself be a member."""
    w, council = council_world(3, 2)
    stranger = w.chain.wallet()
    ix = w.client.pause(stranger.pubkey(), True, [council[0].pubkey(), council[1].pubkey()])
    refuse(w, "Unauthorized", ix, stranger, council[0], council[1])


def test_council_signatures_beyond_16_accounts_refuse_the_instruction() -> None:
    """A member pads a council call past 16 accounts, hoping the program only looks at the
    first 16: the program refuses any instruction with more accounts than it parses."""
    w, council = council_world(2, 2)
    padding = [AccountMeta(Keypair().pubkey(), False, False) for _ in range(10)]
    ix = w.client.pause(council[0].pubkey(), True)
    ix = with_accounts(ix, [*ix.accounts, *padding])  # 12 accounts
    at_16 = signed_by(with_accounts(ix, [*ix.accounts, *padding[:3]]), council[1].pubkey())
    w.ok(at_16, council[0], council[1])  # 16 accounts, the second member last: counted
    past = signed_by(with_accounts(ix, [*ix.accounts, *padding[:4]]), council[1].pubkey())
    w.ok(w.client.pause(council[0].pubkey(), False, [council[1].pubkey()]),
         council[0], council[1])
    refuse(w, "InvalidAccount", past, council[0], council[1])
    assert not w.config().paused


# ---- the timelock -----------------------------------------------------------------------------
def test_apply_before_the_delay_is_refused_and_at_it_passes() -> None:
    """The council proposes a fee of 10 % and applies it at once, then a second early."""
    w = deploy_world()
    params = replace(w.params, trade_fee_bps=1_000)
    w.ok(w.client.propose_config(w.admin.pubkey(), params), w.admin)
    refuse(w, "TooEarly", w.client.apply_config(), watch=[w.d.pending_config])
    w.chain.advance(DELAY - 1)
    refuse(w, "TooEarly", w.client.apply_config(), watch=[w.d.pending_config])
    w.chain.advance(1)
    w.ok(w.client.apply_config())
    assert w.config().trade_fee_bps == 1_000


def test_propose_and_apply_in_one_transaction_is_refused() -> None:
    """Both in one transaction: the apply is too early, so the proposal is undone too."""
    w = deploy_world()
    params = replace(w.params, trade_fee_bps=1_000)
    w.refused("TooEarly", [w.client.propose_config(w.admin.pubkey(), params),
                           w.client.apply_config()], w.admin, watch=[w.d.pending_config])
    assert w.chain.raw(w.d.pending_config) is None


def test_apply_twice_and_apply_with_nothing_pending_are_refused() -> None:
    """A keeper (or anyone) applies again after the change, and before any was proposed."""
    w = deploy_world()
    refuse(w, "NoPendingConfig", w.client.apply_config())
    reconfigure(w, replace(w.params, trade_fee_bps=50))
    refuse(w, "NoPendingConfig", w.client.apply_config(), watch=[w.d.pending_config])


def test_a_second_proposal_while_one_is_pending_is_refused() -> None:
    """A member replaces a pending proposal with another, restarting nothing: refused until
    the first is cancelled (or applied)."""
    w = deploy_world()
    w.ok(w.client.propose_config(w.admin.pubkey(), replace(w.params, trade_fee_bps=10)),
         w.admin)
    other = replace(w.params, trade_fee_bps=1_000)
    refuse(w, "ConfigPending", w.client.propose_config(w.admin.pubkey(), other), w.admin,
           watch=[w.d.pending_config])
    w.ok(w.client.cancel_config(w.admin.pubkey()), w.admin)
    w.ok(w.client.propose_config(w.admin.pubkey(), other), w.admin)
    w.chain.advance(DELAY)
    w.ok(w.client.apply_config())
    assert w.config().trade_fee_bps == 1_000


def test_cancel_by_a_non_member_is_refused_and_cancelled_changes_never_apply() -> None:
    """A stranger cancels a pending change; then the council does, and a keeper applies."""
    w = deploy_world()
    w.ok(w.client.propose_config(w.admin.pubkey(), replace(w.params, trade_fee_bps=10)),
         w.admin)
    stranger = w.chain.wallet()
    refuse(w, "Unauthorized", w.client.cancel_config(stranger.pubkey()), stranger,
           watch=[w.d.pending_config])
    w.ok(w.client.cancel_config(w.admin.pubkey()), w.admin)
    w.chain.advance(DELAY)
    refuse(w, "NoPendingConfig", w.client.apply_config(), watch=[w.d.pending_config])
    assert w.config().trade_fee_bps == w.params.trade_fee_bps


def test_a_pending_council_rotation_has_no_power_before_it_applies() -> None:
    """The council proposes handing control to a new key; the new key tries to act at once,
    and the old one tries to act after the rotation."""
    w = deploy_world()
    new = w.chain.wallet()
    rotated = replace(w.params, council=(new.pubkey(),), council_threshold=1)
    w.ok(w.client.propose_config(w.admin.pubkey(), rotated), w.admin)
    refuse(w, "Unauthorized", w.client.pause(new.pubkey(), True), new)
    refuse(w, "Unauthorized", w.client.cancel_config(new.pubkey()), new,
           watch=[w.d.pending_config])
    w.chain.advance(DELAY)
    w.ok(w.client.apply_config())
    refuse(w, "Unauthorized", w.client.pause(w.admin.pubkey(), True), w.admin)
    w.ok(w.client.pause(new.pubkey(), True), new)


def test_lowering_the_delay_takes_the_old_delay() -> None:
    """The council proposes a one-minute delay to rush its next change: that proposal still
    waits the current delay."""
    w = deploy_world()
    w.ok(w.client.propose_config(w.admin.pubkey(), replace(w.params, config_delay_secs=60)),
         w.admin)
    w.chain.advance(60)
    refuse(w, "TooEarly", w.client.apply_config(), watch=[w.d.pending_config])


@pytest.mark.parametrize("bad", PARAMS_PAST_A_BOUND,
                         ids=lambda b: ",".join(f"{k}={v}" for k, v in b.items()))
def test_every_param_past_its_bound_cannot_be_proposed(bad: dict[str, Any]) -> None:
    """The council proposes each setting one past its bound."""
    w = deploy_world()
    refuse(w, "InvalidArgument",
           w.client.propose_config(w.admin.pubkey(), replace(w.params, **bad)), w.admin,
           watch=[w.d.pending_config])


def _raw_council(w: World, council: list[Pubkey], length: int, threshold: int) -> Instruction:
    params = w.params.to_idl()
    params.update(council=council, council_len=length, council_threshold=threshold)
    return w.chain.ix("propose_config", params, accounts={
        "council": w.admin.pubkey(), "config": w.d.config, "pending_config": w.d.pending_config,
        "system_program": Pubkey.default()})


def test_malformed_councils_cannot_be_proposed() -> None:
    """Councils that would count one key twice, a zero key, a hidden sixth key or none."""
    w = deploy_world()
    a, b, zero = w.admin.pubkey(), Keypair().pubkey(), Pubkey.default()
    for council, length, threshold in [
        ([a, a, zero, zero, zero], 2, 2),  # one key, counted twice
        ([a, zero, zero, zero, zero], 2, 1),  # a zero key as a member
        ([a, zero, zero, zero, b], 1, 1),  # a key past council_len
        ([a, b, zero, zero, zero], 6, 1),  # longer than the array
        ([zero] * 5, 0, 0),  # no council
    ]:
        refuse(w, "InvalidArgument", _raw_council(w, council, length, threshold), w.admin,
               watch=[w.d.pending_config])


# ---- pause ------------------------------------------------------------------------------------
def test_pause_does_not_block_governance_or_the_treasury() -> None:
    """While paused, the council can still withdraw, and changes are proposed, applied and
    cancelled: pause only stops new risk."""
    w = deploy_world()
    for field in ("protocol_fees", "insurance_balance", "perp_pool"):
        earned(w, field, FUNDS)
    w.ok(w.client.pause(w.admin.pubkey(), True), w.admin)
    w.ok(w.client.withdraw_fees(w.admin.pubkey(), treasury(w), FUNDS), w.admin)
    w.ok(w.client.withdraw_insurance(w.admin.pubkey(), treasury(w), FUNDS), w.admin)
    w.ok(w.client.withdraw_pool(w.admin.pubkey(), treasury(w), FUNDS), w.admin)
    reconfigure(w, replace(w.params, trade_fee_bps=10))
    w.ok(w.client.propose_config(w.admin.pubkey(), w.params), w.admin)
    w.ok(w.client.cancel_config(w.admin.pubkey()), w.admin)
    assert w.config().paused
    stranger = w.chain.wallet()
    refuse(w, "Unauthorized", w.client.pause(stranger.pubkey(), False), stranger)


# ---- the treasury -----------------------------------------------------------------------------
def test_withdraw_pool_beyond_free_liquidity_is_refused() -> None:
    """The council takes the pool while open positions hold part of it in reserve."""
    w = deploy_world()
    earned(w, "perp_pool", FUNDS)
    set_field(w, w.d.config, spec.CONFIG, "perp_pool_reserved", FUNDS - 1_000)
    refuse(w, "InsufficientBalance", w.client.withdraw_pool(w.admin.pubkey(), treasury(w),
                                                            1_001), w.admin)
    w.ok(w.client.withdraw_pool(w.admin.pubkey(), treasury(w), 1_000), w.admin)
    refuse(w, "InsufficientBalance", w.client.withdraw_pool(w.admin.pubkey(), treasury(w), 1),
           w.admin)
    assert (w.config().perp_pool, w.config().perp_pool_reserved) == (FUNDS - 1_000,) * 2


@pytest.mark.parametrize("kind, field", [("withdraw_fees", "protocol_fees"),
                                          ("withdraw_insurance", "insurance_balance")])
def test_withdrawing_more_than_the_balance_is_refused(kind: str, field: str) -> None:
    """The council takes one unit more than protocol fees (or insurance), then u64 max."""
    w = deploy_world()
    earned(w, field, FUNDS)
    call = getattr(w.client, kind)
    for amount in (FUNDS + 1, 2**64 - 1):
        refuse(w, "InsufficientBalance", call(w.admin.pubkey(), treasury(w), amount), w.admin)
    refuse(w, "ZeroAmount", call(w.admin.pubkey(), treasury(w), 0), w.admin)
    w.ok(call(w.admin.pubkey(), treasury(w), FUNDS), w.admin)
    assert getattr(w.config(), field) == 0


def test_withdrawals_go_to_the_treasury_only() -> None:
    """A member pays the fees to their own quote account, to the vault itself, and to a
    token account of another mint."""
    w = deploy_world()
    earned(w, "protocol_fees", FUNDS)
    mine = w.user(0).token
    other_mint = w.chain.create_token_account(w.chain.create_mint(), w.admin.pubkey())
    for dest in (mine, w.d.vault, other_mint):
        refuse(w, "InvalidAccount", w.client.withdraw_fees(w.admin.pubkey(), dest, FUNDS),
               w.admin)


def test_a_treasury_of_another_mint_pays_nothing_and_the_vault_cannot_be_named() -> None:
    """The council names a token account of another mint as treasury: every withdrawal to it
    is refused, so the vault's balances stay owed and whole; the vault itself cannot even be
    proposed (or initialized) as treasury."""
    w = deploy_world()
    earned(w, "protocol_fees", FUNDS)
    refuse(w, "InvalidArgument",
           w.client.propose_config(w.admin.pubkey(), replace(w.params, treasury=w.d.vault)),
           w.admin, watch=[w.d.pending_config])
    other_mint = w.chain.create_token_account(w.chain.create_mint(), w.admin.pubkey())
    reconfigure(w, replace(w.params, treasury=other_mint))
    refuse(w, "InvalidMint", w.client.withdraw_fees(w.admin.pubkey(), other_mint, FUNDS),
           w.admin)
    assert w.config().protocol_fees == FUNDS
    fresh = uninitialized()
    refuse(fresh, "InvalidArgument", fresh.client.initialize(
        fresh.admin.pubkey(), replace(fresh.params, treasury=fresh.d.vault)), fresh.admin)
