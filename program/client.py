"""Instruction builders: each instruction's accounts, wired from the few keys a caller knows.

`Deployment` holds the protocol's fixed addresses; `Client` turns "trader buys YES in market
7" into the anchorpy instruction with every account in place (PDAs derived, vault, programs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any

from anchorpy import Context, Program
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from spl.token.constants import TOKEN_PROGRAM_ID

from program.addresses import (
    config_pda,
    market_pda,
    pending_config_pda,
    perp_market_pda,
    position_pda,
    program_data_address,
    shares_pda,
    vault_authority_pda,
    vote_pda,
)

VOTE_PROPOSAL = 0
VOTE_DISPUTE = 1


class IdlStruct:
    """A dataclass of an IDL argument type, given to anchorpy as a dict: anchorpy's encoder
    deep-copies dataclasses, and solders Pubkeys cannot be copied."""

    def to_idl(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


COUNCIL_MAX = 5
NO_KEY = Pubkey.default()  # immutable: a safe dataclass default
RECEIVER_PROGRAM = Pubkey.from_string("rec5EKMGg6MxZYaMdyBfgwp4d5rB9T1VQH5pJv5LtFJ")
"""The Pyth Solana Receiver: the owner of PriceUpdateV2 accounts on Solana's clusters."""
FEED_ID_LEN = 32
NO_FEED = bytes(FEED_ID_LEN)


class OracleKind(IntEnum):
    """A perp market's oracle format, chosen at creation (the IDL's OracleKind)."""

    PYTH_LEGACY = 0
    PRICE_UPDATE_V2 = 1


@dataclass(frozen=True)
class ConfigParams(IdlStruct):
    """The settings of `initialize` and `propose_config` (see the IDL's ConfigParams).

    `council` lists the council's keys (at most five); the IDL's fixed array and its length
    are made from it. `LocalProtocol.deploy` fills an empty council with its admin and a
    default treasury with the admin's token account."""

    pyth_program: Pubkey
    council: tuple[Pubkey, ...] = ()
    council_threshold: int = 1
    treasury: Pubkey = NO_KEY
    receiver_program: Pubkey = RECEIVER_PROGRAM
    proposal_window_secs: int = 86_400
    dispute_window_secs: int = 172_800
    dispute_vote_secs: int = 259_200
    creator_resolve_secs: int = 86_400
    config_delay_secs: int = 86_400
    creation_bond: int = 10_000_000
    min_vote_stake: int = 1_000_000
    proposal_quorum: int = 3_000_000
    resolution_bond: int = 10_000_000
    dispute_bond: int = 100_000_000
    min_dispute_quorum: int = 10_000_000
    max_oracle_staleness_slots: int = 25
    max_open_staleness_slots: int = 10
    max_price_age_secs: int = 60
    proposal_approval_bps: int = 7_000
    dispute_overturn_bps: int = 6_000
    dispute_quorum_bps: int = 100
    vote_slash_bps: int = 1_000
    trade_fee_bps: int = 100
    max_oracle_conf_bps: int = 200

    def to_idl(self) -> dict[str, Any]:
        out = super().to_idl()
        if len(self.council) > COUNCIL_MAX:
            raise ValueError(f"a council has at most {COUNCIL_MAX} keys, not {len(self.council)}")
        out["council"] = [*self.council, *[Pubkey.default()] * (COUNCIL_MAX - len(self.council))]
        out["council_len"] = len(self.council)
        return out


# the largest max_open_interest create_perp_market takes (math/perp.h's PERP_MAX_OPEN_INTEREST:
# the largest collateral over the largest price)
PERP_MAX_OPEN_INTEREST = 2**61 // 10**6


@dataclass(frozen=True)
class PerpMarketParams(IdlStruct):
    """A perp market's risk settings (see the IDL's PerpMarketParams)."""

    initial_margin_bps: int = 1_000
    maintenance_margin_bps: int = 500
    liquidation_fee_bps: int = 100
    taker_fee_bps: int = 10
    funding_interval_secs: int = 3_600
    max_funding_bps: int = 10
    max_profit_bps: int = 10_000
    liquidator_share_bps: int = 5_000
    max_open_interest: int = 10**12


@dataclass(frozen=True)
class Deployment:
    """The protocol's fixed addresses."""

    program_id: Pubkey
    quote_mint: Pubkey
    vault: Pubkey

    @property
    def config(self) -> Pubkey:
        return config_pda(self.program_id)

    @property
    def vault_authority(self) -> Pubkey:
        return vault_authority_pda(self.program_id)

    @property
    def pending_config(self) -> Pubkey:
        return pending_config_pda(self.program_id)

    @property
    def program_data(self) -> Pubkey:
        """The program's ProgramData account, which names its upgrade authority."""
        return program_data_address(self.program_id)

    def market(self, creator: Pubkey, market_id: int) -> Pubkey:
        return market_pda(self.program_id, creator, market_id)

    def shares(self, market: Pubkey, owner: Pubkey) -> Pubkey:
        return shares_pda(self.program_id, market, owner)

    def vote(self, market: Pubkey, kind: int, voter: Pubkey) -> Pubkey:
        return vote_pda(self.program_id, market, kind, voter)

    def perp_market(self, perp_market_id: int) -> Pubkey:
        return perp_market_pda(self.program_id, perp_market_id)

    def position(self, perp_market: Pubkey, owner: Pubkey) -> Pubkey:
        return position_pda(self.program_id, perp_market, owner)


class Client:
    """Builds the program's instructions for one deployment."""

    def __init__(self, program: Program, deployment: Deployment) -> None:
        self.program = program
        self.d = deployment

    def _ix(self, name: str, *args: Any, **accounts: Pubkey) -> Instruction:
        built: Instruction = self.program.instruction[name](*args, ctx=Context(accounts=accounts))
        return built

    def _council_ix(self, name: str, *args: Any, council: Pubkey,
                    co_signers: Sequence[Pubkey], **accounts: Pubkey) -> Instruction:
        """A council instruction: `council` signs in its place, and each of `co_signers` (the
        other members needed to reach the threshold) as an extra signer account after it."""
        ix = self._ix(name, *args, council=council, **accounts)
        extra = [AccountMeta(k, is_signer=True, is_writable=False) for k in co_signers]
        return Instruction(ix.program_id, ix.data, [*ix.accounts, *extra])

    # ---- admin --------------------------------------------------------------------------------
    def initialize(self, admin: Pubkey, params: ConfigParams) -> Instruction:
        """`admin` must be the program's upgrade authority (its ProgramData names it)."""
        return self._ix("initialize", params.to_idl(), admin=admin,
                        config=self.d.config, quote_mint=self.d.quote_mint, vault=self.d.vault,
                        vault_authority=self.d.vault_authority, system_program=SYSTEM_PROGRAM_ID,
                        program_data=self.d.program_data)

    def propose_config(self, council: Pubkey, params: ConfigParams,
                       co_signers: Sequence[Pubkey] = ()) -> Instruction:
        return self._council_ix("propose_config", params.to_idl(), council=council,
                                co_signers=co_signers, config=self.d.config,
                                pending_config=self.d.pending_config,
                                system_program=SYSTEM_PROGRAM_ID)

    def apply_config(self) -> Instruction:
        return self._ix("apply_config", config=self.d.config,
                        pending_config=self.d.pending_config)

    def cancel_config(self, council: Pubkey, co_signers: Sequence[Pubkey] = ()) -> Instruction:
        return self._council_ix("cancel_config", council=council, co_signers=co_signers,
                                config=self.d.config, pending_config=self.d.pending_config)

    def pause(self, council: Pubkey, paused: bool,
              co_signers: Sequence[Pubkey] = ()) -> Instruction:
        return self._council_ix("pause", paused, council=council, co_signers=co_signers,
                                config=self.d.config)

    def _withdrawal(self, name: str, council: Pubkey, treasury: Pubkey, amount: int,
                    co_signers: Sequence[Pubkey]) -> Instruction:
        return self._council_ix(name, amount, council=council, co_signers=co_signers,
                                config=self.d.config, treasury=treasury, vault=self.d.vault,
                                vault_authority=self.d.vault_authority,
                                token_program=TOKEN_PROGRAM_ID)

    def withdraw_fees(self, council: Pubkey, treasury: Pubkey, amount: int,
                      co_signers: Sequence[Pubkey] = ()) -> Instruction:
        return self._withdrawal("withdraw_fees", council, treasury, amount, co_signers)

    def withdraw_pool(self, council: Pubkey, treasury: Pubkey, amount: int,
                      co_signers: Sequence[Pubkey] = ()) -> Instruction:
        return self._withdrawal("withdraw_pool", council, treasury, amount, co_signers)

    def withdraw_insurance(self, council: Pubkey, treasury: Pubkey, amount: int,
                           co_signers: Sequence[Pubkey] = ()) -> Instruction:
        return self._withdrawal("withdraw_insurance", council, treasury, amount, co_signers)

    # ---- proposals ----------------------------------------------------------------------------
    def create_market(self, creator: Pubkey, market_id: int, question: str,
                      trading_ends_at: int, *, creator_token: Pubkey) -> Instruction:
        """`creator_token` (the creator's own quote account) pays the creation bond."""
        return self._ix("create_market", market_id, question, trading_ends_at, creator=creator,
                        config=self.d.config, market=self.d.market(creator, market_id),
                        creator_token=creator_token, vault=self.d.vault,
                        token_program=TOKEN_PROGRAM_ID, system_program=SYSTEM_PROGRAM_ID)

    def vote_proposal(self, voter: Pubkey, market: Pubkey, approve: bool, *, stake: int,
                      voter_token: Pubkey) -> Instruction:
        """`stake` quote from `voter_token` (the voter's own) stays locked until claim_vote."""
        return self._ix("vote_proposal", approve, stake, voter=voter, config=self.d.config,
                        market=market, vote=self.d.vote(market, VOTE_PROPOSAL, voter),
                        voter_token=voter_token, vault=self.d.vault,
                        token_program=TOKEN_PROGRAM_ID, system_program=SYSTEM_PROGRAM_ID)

    def approve_market(self, market: Pubkey) -> Instruction:
        return self._ix("approve_market", config=self.d.config, market=market)

    def reject_market(self, market: Pubkey) -> Instruction:
        return self._ix("reject_market", config=self.d.config, market=market)

    # ---- trading ------------------------------------------------------------------------------
    def activate_market(self, creator: Pubkey, market: Pubkey, creator_token: Pubkey,
                        liquidity: int) -> Instruction:
        return self._ix("activate_market", liquidity, creator=creator, config=self.d.config,
                        market=market, creator_token=creator_token, vault=self.d.vault,
                        vault_authority=self.d.vault_authority, token_program=TOKEN_PROGRAM_ID)

    def buy(self, trader: Pubkey, market: Pubkey, trader_token: Pubkey, outcome: int,
            amount_in: int, min_shares_out: int = 0) -> Instruction:
        return self._ix("buy", outcome, amount_in, min_shares_out, trader=trader,
                        config=self.d.config, market=market,
                        shares=self.d.shares(market, trader), trader_token=trader_token,
                        vault=self.d.vault, token_program=TOKEN_PROGRAM_ID,
                        system_program=SYSTEM_PROGRAM_ID)

    def sell(self, trader: Pubkey, market: Pubkey, trader_token: Pubkey, outcome: int,
             shares_in: int, min_amount_out: int = 0) -> Instruction:
        return self._ix("sell", outcome, shares_in, min_amount_out, trader=trader,
                        config=self.d.config, market=market,
                        shares=self.d.shares(market, trader), trader_token=trader_token,
                        vault=self.d.vault, vault_authority=self.d.vault_authority,
                        token_program=TOKEN_PROGRAM_ID)

    # ---- resolution ---------------------------------------------------------------------------
    def propose_resolution(self, proposer: Pubkey, market: Pubkey, outcome: int, *,
                           proposer_token: Pubkey) -> Instruction:
        """`proposer_token` (the proposer's own) pays the resolution bond."""
        return self._ix("propose_resolution", outcome, proposer=proposer, config=self.d.config,
                        market=market, proposer_token=proposer_token, vault=self.d.vault,
                        token_program=TOKEN_PROGRAM_ID)

    def dispute(self, disputer: Pubkey, market: Pubkey, disputer_token: Pubkey) -> Instruction:
        return self._ix("dispute", disputer=disputer, config=self.d.config, market=market,
                        disputer_token=disputer_token, vault=self.d.vault,
                        token_program=TOKEN_PROGRAM_ID)

    def vote_dispute(self, voter: Pubkey, market: Pubkey, agree: bool, *, stake: int,
                     voter_token: Pubkey) -> Instruction:
        """`stake` quote from `voter_token` (the voter's own) stays locked until claim_vote."""
        return self._ix("vote_dispute", agree, stake, voter=voter, config=self.d.config,
                        market=market, vote=self.d.vote(market, VOTE_DISPUTE, voter),
                        voter_token=voter_token, vault=self.d.vault,
                        token_program=TOKEN_PROGRAM_ID, system_program=SYSTEM_PROGRAM_ID)

    def finalize_market(self, market: Pubkey) -> Instruction:
        """Touches no token account: the bonds are credited, claimed with claim_bond."""
        return self._ix("finalize_market", config=self.d.config, market=market)

    # ---- payouts ------------------------------------------------------------------------------
    def redeem(self, holder: Pubkey, market: Pubkey, holder_token: Pubkey) -> Instruction:
        return self._ix("redeem", holder=holder, config=self.d.config, market=market,
                        shares=self.d.shares(market, holder), holder_token=holder_token,
                        vault=self.d.vault, vault_authority=self.d.vault_authority,
                        token_program=TOKEN_PROGRAM_ID)

    def withdraw_liquidity(self, creator: Pubkey, market: Pubkey,
                           creator_token: Pubkey) -> Instruction:
        return self._ix("withdraw_liquidity", creator=creator, config=self.d.config,
                        market=market, creator_token=creator_token, vault=self.d.vault,
                        vault_authority=self.d.vault_authority, token_program=TOKEN_PROGRAM_ID)

    def claim_vote(self, voter: Pubkey, market: Pubkey, kind: int, voter_token: Pubkey, *,
                   vote: Pubkey | None = None) -> Instruction:
        """The voter's stake (± its dispute winnings) to `voter_token`; the Vote's rent to the
        voter. `vote` defaults to the voter's Vote PDA of `kind`."""
        return self._ix("claim_vote", voter=voter, config=self.d.config, market=market,
                        vote=vote or self.d.vote(market, kind, voter), voter_token=voter_token,
                        vault=self.d.vault, vault_authority=self.d.vault_authority,
                        token_program=TOKEN_PROGRAM_ID)

    def claim_bond(self, claimant: Pubkey, market: Pubkey,
                   claimant_token: Pubkey) -> Instruction:
        return self._ix("claim_bond", claimant=claimant, config=self.d.config, market=market,
                        claimant_token=claimant_token, vault=self.d.vault,
                        vault_authority=self.d.vault_authority, token_program=TOKEN_PROGRAM_ID)

    def close_shares(self, owner: Pubkey, market: Pubkey) -> Instruction:
        return self._ix("close_shares", owner=owner, market=market,
                        shares=self.d.shares(market, owner))

    # ---- perps: admin -------------------------------------------------------------------------
    def create_perp_market(self, admin: Pubkey, perp_market_id: int, oracle: Pubkey,
                           params: PerpMarketParams, *,
                           oracle_kind: OracleKind = OracleKind.PYTH_LEGACY,
                           feed_id: bytes = NO_FEED) -> Instruction:
        """A perp market on `oracle`, of `oracle_kind`; a PriceUpdateV2 market is bound to
        `feed_id` (the legacy kind takes none)."""
        return self._ix("create_perp_market", perp_market_id, params.to_idl(),
                        int(oracle_kind), list(feed_id), admin=admin,
                        config=self.d.config, perp_market=self.d.perp_market(perp_market_id),
                        oracle=oracle, system_program=SYSTEM_PROGRAM_ID)

    def fund_pool(self, admin: Pubkey, admin_token: Pubkey, amount: int) -> Instruction:
        return self._ix("fund_pool", amount, admin=admin, config=self.d.config,
                        admin_token=admin_token, vault=self.d.vault,
                        token_program=TOKEN_PROGRAM_ID)

    def fund_insurance(self, admin: Pubkey, admin_token: Pubkey, amount: int) -> Instruction:
        return self._ix("fund_insurance", amount, admin=admin, config=self.d.config,
                        admin_token=admin_token, vault=self.d.vault,
                        token_program=TOKEN_PROGRAM_ID)

    # ---- perps: positions ---------------------------------------------------------------------
    def deposit(self, owner: Pubkey, perp_market: Pubkey, owner_token: Pubkey,
                amount: int) -> Instruction:
        return self._ix("deposit", amount, owner=owner, config=self.d.config,
                        perp_market=perp_market, position=self.d.position(perp_market, owner),
                        owner_token=owner_token, vault=self.d.vault,
                        token_program=TOKEN_PROGRAM_ID, system_program=SYSTEM_PROGRAM_ID)

    def withdraw(self, owner: Pubkey, perp_market: Pubkey, oracle: Pubkey, owner_token: Pubkey,
                 amount: int) -> Instruction:
        return self._ix("withdraw", amount, owner=owner, config=self.d.config,
                        perp_market=perp_market, position=self.d.position(perp_market, owner),
                        oracle=oracle, owner_token=owner_token, vault=self.d.vault,
                        vault_authority=self.d.vault_authority, token_program=TOKEN_PROGRAM_ID)

    def open_position(self, owner: Pubkey, perp_market: Pubkey, oracle: Pubkey, side: int,
                      size: int, acceptable_price: int) -> Instruction:
        return self._ix("open_position", side, size, acceptable_price, owner=owner,
                        config=self.d.config, perp_market=perp_market,
                        position=self.d.position(perp_market, owner), oracle=oracle)

    def close_position(self, owner: Pubkey, perp_market: Pubkey, oracle: Pubkey,
                       acceptable_price: int) -> Instruction:
        return self._ix("close_position", acceptable_price, owner=owner, config=self.d.config,
                        perp_market=perp_market, position=self.d.position(perp_market, owner),
                        oracle=oracle)

    # ---- perps: keepers -----------------------------------------------------------------------
    def liquidate(self, liquidator: Pubkey, perp_market: Pubkey, position: Pubkey,
                  oracle: Pubkey, liquidator_token: Pubkey) -> Instruction:
        return self._ix("liquidate", liquidator=liquidator, config=self.d.config,
                        perp_market=perp_market, position=position, oracle=oracle,
                        liquidator_token=liquidator_token, vault=self.d.vault,
                        vault_authority=self.d.vault_authority, token_program=TOKEN_PROGRAM_ID)

    def update_funding(self, perp_market: Pubkey, oracle: Pubkey) -> Instruction:
        return self._ix("update_funding", config=self.d.config, perp_market=perp_market,
                        oracle=oracle)

    def close_position_account(self, owner: Pubkey, perp_market: Pubkey) -> Instruction:
        """Close the owner's flat, empty Position and return its rent to the owner."""
        return self._ix("close_position_account", owner=owner, perp_market=perp_market,
                        position=self.d.position(perp_market, owner))
