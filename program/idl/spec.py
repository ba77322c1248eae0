"""The program's interface, written once.

Everything a client or the C program needs to agree on lives here: instructions with their
accounts and arguments, account layouts, events, errors and the small enumerations. `generate`
turns it into the Anchor IDL (`keepernet.json`) and the C headers under `program/src/generated/`.
Names are snake_case here; the IDL spells them in camelCase as Anchor does.

Account fields are laid out so that every field sits at its natural alignment: the program
reads accounts in place, and the generator refuses a layout where Borsh and C would differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRIMITIVE_SIZES = {"u8": 1, "bool": 1, "u16": 2, "u32": 4, "u64": 8, "i64": 8, "publicKey": 32}


@dataclass(frozen=True)
class Field:
    """A named value of a primitive type, a defined struct, or a bounded string."""

    name: str
    ty: str
    max_len: int = 0  # strings only: the largest byte length allowed
    doc: str = ""
    count: int = 0  # a fixed-size array of `count` values of the primitive `ty` when > 0

    @property
    def size(self) -> int:
        """Bytes in Borsh (a string at its largest)."""
        if self.ty == "string":
            return 4 + self.max_len
        return PRIMITIVE_SIZES[self.ty] * max(self.count, 1)


@dataclass(frozen=True)
class Struct:
    """A Borsh struct: an account layout, an event, or a defined argument type."""

    name: str
    fields: tuple[Field, ...]
    doc: str = ""


@dataclass(frozen=True)
class Acc:
    """One account an instruction takes, in order."""

    name: str
    mut: bool = False
    signer: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Instruction:
    name: str
    accounts: tuple[Acc, ...]
    args: tuple[Field, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Error:
    code: int
    name: str
    msg: str


@dataclass(frozen=True)
class Enum:
    """Named u8 constants stored in account fields (kept as u8 on the wire)."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Interface:
    name: str
    version: str
    instructions: tuple[Instruction, ...]
    accounts: tuple[Struct, ...]
    types: tuple[Struct, ...]
    events: tuple[Struct, ...]
    errors: tuple[Error, ...]
    enums: tuple[Enum, ...] = field(default=())


def F(name: str, ty: str, doc: str = "", *, max_len: int = 0, count: int = 0) -> Field:
    return Field(name, ty, max_len, doc, count)


# ---- enumerations ---------------------------------------------------------------------------
MARKET_STATE = Enum(
    "MarketState",
    ("proposed", "approved", "active", "resolving", "disputed", "finalized", "cancelled"),
)
OUTCOME = Enum("Outcome", ("no", "yes"))
VOTE_KIND = Enum("VoteKind", ("proposal", "dispute"))
SIDE = Enum("Side", ("flat", "long", "short"))
# The two formats a perp market's oracle can have, chosen at creation: Pyth's legacy price
# account, or the Pyth Solana Receiver's PriceUpdateV2.
ORACLE_KIND = Enum("OracleKind", ("pyth_legacy", "price_update_v2"))
FEED_ID_LEN = 32

QUESTION_MAX_LEN = 200

# ---- accounts -------------------------------------------------------------------------------
COUNCIL_MAX = 5

# The settings the council chooses: given to `initialize`, changed through the timelock
# (`propose_config`, then `apply_config`). Config stores them in this order, and markets and
# perp markets copy the ones they run under when they are created.
CONFIG_PARAM_FIELDS = (
    F("council", "publicKey", "the council's keys; the first council_len count", count=COUNCIL_MAX),
    F("pyth_program", "publicKey", "owner every legacy oracle price account must have"),
    F("receiver_program", "publicKey", "owner every PriceUpdateV2 oracle account must have"),
    F("treasury", "publicKey", "the quote token account fees, pool and insurance are paid to"),
    F("proposal_window_secs", "i64"),
    F("dispute_window_secs", "i64"),
    F("dispute_vote_secs", "i64"),
    F("creator_resolve_secs", "i64", "after trading ends, only the creator may propose"),
    F("config_delay_secs", "i64", "the timelock of a config change"),
    F("creation_bond", "u64", "quote a market's creator posts; back at activation"),
    F("min_vote_stake", "u64", "the least quote a vote locks"),
    F("proposal_quorum", "u64", "total proposal stake needed for approval"),
    F("resolution_bond", "u64", "quote the proposer of an outcome posts"),
    F("dispute_bond", "u64", "quote a disputer posts"),
    F("min_dispute_quorum", "u64", "the least total dispute stake that can overturn"),
    F("max_oracle_staleness_slots", "u64"),
    F("max_open_staleness_slots", "u64", "opening needs a price at most this old"),
    F("max_price_age_secs", "i64", "a PriceUpdateV2 published longer ago is stale"),
    F("proposal_approval_bps", "u16"),
    F("dispute_overturn_bps", "u16"),
    F("dispute_quorum_bps", "u16", "quorum as a share of the market's collateral"),
    F("vote_slash_bps", "u16", "share of a losing dispute voter's stake given to the winners"),
    F("trade_fee_bps", "u16"),
    F("max_oracle_conf_bps", "u16"),
    F("council_len", "u8"),
    F("council_threshold", "u8", "distinct council signatures a council instruction needs"),
)

CONFIG = Struct("Config", (
    F("quote_mint", "publicKey"),
    F("vault", "publicKey", "the quote token account owned by the vault authority"),
    F("vault_authority", "publicKey", "PDA [\"vault\"] that signs transfers out of the vault"),
    F("insurance_balance", "u64"),
    F("perp_pool", "u64", "the perps' counterparty liquidity"),
    F("perp_pool_reserved", "u64", "the part of perp_pool reserved for open positions' profit"),
    F("protocol_fees", "u64"),
    *CONFIG_PARAM_FIELDS,
    F("paused", "bool", "stops new risk; closing, selling, payouts and keepers go on"),
    F("bump", "u8"),
    F("vault_bump", "u8"),
), "Protocol settings and the balances held in the vault outside markets and positions.")

MARKET = Struct("Market", (
    F("id", "u64", "the creator's own number: the PDA is [\"market\", creator, id]"),
    F("creator", "publicKey"),
    F("proposer", "publicKey", "who proposed the outcome and posted the resolution bond"),
    F("disputer", "publicKey"),
    F("created_at", "i64"),
    F("proposal_ends_at", "i64"),
    F("trading_ends_at", "i64"),
    F("resolution_proposed_at", "i64"),
    F("dispute_ends_at", "i64"),
    F("likes", "u64", "proposal stake approving"),
    F("dislikes", "u64", "proposal stake rejecting"),
    F("agree", "u64", "dispute stake agreeing with the proposed outcome"),
    F("disagree", "u64", "dispute stake disagreeing"),
    F("yes_reserve", "u64", "the AMM pool's YES shares"),
    F("no_reserve", "u64", "the AMM pool's NO shares"),
    F("collateral", "u64", "quote backing every share: total YES = total NO = collateral"),
    F("creation_bond_held", "u64", "the creator's bond until activation or rejection"),
    F("proposer_bond", "u64", "held for the proposer: its bond, after finalization what "
      "claim_bond pays it"),
    F("disputer_bond", "u64", "held for the disputer: its bond, after finalization what "
      "claim_bond pays it"),
    F("stake_held", "u64", "vote stakes (both kinds) not yet claimed"),
    F("votes_open", "u64", "Vote accounts not yet claimed"),
    # the rules the market runs under, copied from Config at creation
    F("proposal_window_secs", "i64"),
    F("dispute_window_secs", "i64"),
    F("dispute_vote_secs", "i64"),
    F("creator_resolve_secs", "i64"),
    F("creation_bond", "u64"),
    F("min_vote_stake", "u64"),
    F("proposal_quorum", "u64"),
    F("resolution_bond", "u64"),
    F("dispute_bond", "u64"),
    F("min_dispute_quorum", "u64"),
    F("proposal_approval_bps", "u16"),
    F("dispute_overturn_bps", "u16"),
    F("dispute_quorum_bps", "u16"),
    F("vote_slash_bps", "u16"),
    F("trade_fee_bps", "u16"),
    F("state", "u8", "MarketState"),
    F("proposed_outcome", "u8", "Outcome"),
    F("final_outcome", "u8", "Outcome"),
    F("overturned", "bool", "the dispute vote overturned the proposed outcome"),
    F("disputed", "bool", "a dispute was raised (its votes are decided at finalization)"),
    F("bump", "u8"),
    F("question", "string", max_len=QUESTION_MAX_LEN),
), "A binary prediction market, its constant-product pool, and the rules it runs under.")

SHARES = Struct("Shares", (
    F("market", "publicKey"),
    F("owner", "publicKey"),
    F("yes", "u64"),
    F("no", "u64"),
    F("bump", "u8"),
), "One wallet's outcome shares in one market.")

VOTE = Struct("Vote", (
    F("market", "publicKey"),
    F("voter", "publicKey"),
    F("stake", "u64", "quote locked in the vault until claim_vote"),
    F("kind", "u8", "VoteKind"),
    F("choice", "u8", "1 approve/agree, 0 reject/disagree"),
    F("bump", "u8"),
), "A wallet's one staked vote on a market's proposal or dispute.")

PERP_MARKET = Struct("PerpMarket", (
    F("id", "u64"),
    F("oracle", "publicKey", "the Pyth price account this market trades at"),
    F("pyth_program", "publicKey", "the oracle's owner, copied from Config at creation: its "
      "pyth_program for a legacy oracle, its receiver_program for PriceUpdateV2"),
    F("feed_id", "u8", "the PriceUpdateV2 feed the oracle must carry (zero for legacy)",
      count=FEED_ID_LEN),
    F("funding_interval_secs", "i64"),
    F("long_oi", "u64", "open interest of longs, base units with 6 decimals"),
    F("short_oi", "u64", "open interest of shorts, base units with 6 decimals"),
    F("max_open_interest", "u64", "cap on each side's open interest"),
    F("cumulative_funding", "i64", "what a long has owed per whole base unit since creation: "
      "quote units x 10^3, the exact index rounded up, wrapping (only differences count)"),
    F("cumulative_funding_short", "i64", "what a short has received per whole base unit: "
      "quote units x 10^3, the exact index rounded down, wrapping"),
    F("funding_remainder", "u64", "the exact funding index's fraction below the short index, "
      "in 1 / (funding_interval_secs x 10^6) index units: carried, so accruing often or "
      "rarely ends at the same indexes"),
    F("loss_index_long", "u64", "unpaid bad debt of shorts charged to longs' profits, per whole "
      "base unit, quote units x 10^3 (each rise capped at 10^15; never saturates)"),
    F("loss_index_short", "u64", "unpaid bad debt of longs charged to shorts' profits"),
    F("last_accrual_ts", "i64", "funding is accrued up to this time"),
    F("last_funding_ts", "i64", "the end of the last interval update_funding reported"),
    F("max_oracle_staleness_slots", "u64", "copied from Config at creation"),
    F("max_open_staleness_slots", "u64", "copied from Config at creation"),
    F("max_price_age_secs", "i64", "copied from Config at creation (PriceUpdateV2 only)"),
    F("initial_margin_bps", "u16"),
    F("maintenance_margin_bps", "u16"),
    F("liquidation_fee_bps", "u16", "the liquidation penalty, of notional"),
    F("taker_fee_bps", "u16"),
    F("max_funding_bps", "u16", "cap on the funding rate per interval"),
    F("max_profit_bps", "u16", "a position's profit cap (and pool reserve), of notional"),
    F("liquidator_share_bps", "u16", "the liquidator's share of the penalty"),
    F("max_oracle_conf_bps", "u16", "copied from Config at creation"),
    F("oracle_kind", "u8", "OracleKind"),
    F("bump", "u8"),
), "A perpetual-futures market priced by one oracle; the protocol's pool is the counterparty.")

POSITION = Struct("Position", (
    F("perp_market", "publicKey"),
    F("owner", "publicKey"),
    F("size", "u64", "base units with 6 decimals; 0 when flat"),
    F("entry_price", "u64", "the fill price: quote per whole base unit, 6 decimals"),
    F("collateral", "u64"),
    F("reserve", "u64", "pool liquidity reserved for this position: its profit cap"),
    F("funding_snapshot", "i64", "the funding index when the position opened, rounded "
      "against it: a long's the short index (floor), a short's the long index (ceiling)"),
    F("loss_snapshot", "u64", "the side's loss index when the position opened"),
    F("opened_at", "i64"),
    F("side", "u8", "Side"),
    F("bump", "u8"),
), "One owner's collateral and position in one perp market.")

PENDING_CONFIG = Struct("PendingConfig", (
    F("proposer", "publicKey", "the council member who proposed the change"),
    F("proposed_at", "i64"),
    F("effective_at", "i64", "apply_config makes the change current from this time on"),
    *CONFIG_PARAM_FIELDS,
    F("pending", "bool", "a change waits; false once applied or cancelled"),
    F("bump", "u8"),
), "The council's timelocked config change (PDA [\"pending_config\"]), one at a time.")

# ---- argument types -------------------------------------------------------------------------
CONFIG_PARAMS = Struct("ConfigParams", CONFIG_PARAM_FIELDS,
                       "Settings the council chooses at initialize and changes through the "
                       "timelock.")

PERP_MARKET_PARAMS = Struct("PerpMarketParams", (
    F("initial_margin_bps", "u16"),
    F("maintenance_margin_bps", "u16"),
    F("liquidation_fee_bps", "u16"),
    F("taker_fee_bps", "u16"),
    F("funding_interval_secs", "i64"),
    F("max_funding_bps", "u16", "cap on the funding rate per interval (kept in ppm inside)"),
    F("max_profit_bps", "u16", "profit cap and pool reserve, of notional: 1..=10,000"),
    F("liquidator_share_bps", "u16", "the liquidator's share of the liquidation penalty"),
    F("max_open_interest", "u64", "cap on each side's open interest (base units)"),
), "A perp market's risk settings.")

# ---- instructions ---------------------------------------------------------------------------
SYSTEM = Acc("system_program")
TOKEN = Acc("token_program")


def _vault() -> tuple[Acc, Acc]:
    return Acc("vault", mut=True), Acc("vault_authority")


INSTRUCTIONS = (
    Instruction("initialize", (
        Acc("admin", mut=True, signer=True), Acc("config", mut=True), Acc("quote_mint"),
        Acc("vault"), Acc("vault_authority"), SYSTEM,
        Acc("program_data", doc="the program's ProgramData account: its upgrade authority must "
            "be the admin"),
    ), (F("params", "ConfigParams"),),
        "Create the Config PDA over an existing quote vault; only the upgrade authority may."),
    Instruction("create_market", (
        Acc("creator", mut=True, signer=True), Acc("config"), Acc("market", mut=True),
        Acc("creator_token", mut=True, doc="pays the creation bond"), Acc("vault", mut=True),
        TOKEN, SYSTEM,
    ), (F("market_id", "u64"), F("question", "string", max_len=QUESTION_MAX_LEN),
        F("trading_ends_at", "i64")),
        "Propose a market under the current rules, posting the creation bond; it opens for "
        "votes."),
    Instruction("vote_proposal", (
        Acc("voter", mut=True, signer=True), Acc("config"), Acc("market", mut=True),
        Acc("vote", mut=True), Acc("voter_token", mut=True), Acc("vault", mut=True),
        TOKEN, SYSTEM,
    ), (F("approve", "bool"), F("stake", "u64")),
        "Like or dislike a proposed market with `stake` quote locked, once per wallet."),
    Instruction("approve_market", (Acc("config"), Acc("market", mut=True)),
                doc="Approve a proposal whose window closed with quorum and approval."),
    Instruction("reject_market", (Acc("config", mut=True), Acc("market", mut=True)),
                doc="Cancel a proposal whose window closed without approval (its creation "
                    "bond becomes protocol fees), or an approved market never activated "
                    "before trading would have ended."),
    Instruction("activate_market", (
        Acc("creator", signer=True), Acc("config"), Acc("market", mut=True),
        Acc("creator_token", mut=True), *_vault(), TOKEN,
    ), (F("liquidity", "u64"),),
        "The creator funds the pool, gets the creation bond back, and trading opens."),
    Instruction("buy", (
        Acc("trader", mut=True, signer=True), Acc("config", mut=True), Acc("market", mut=True),
        Acc("shares", mut=True), Acc("trader_token", mut=True), Acc("vault", mut=True),
        TOKEN, SYSTEM,
    ), (F("outcome", "u8"), F("amount_in", "u64"), F("min_shares_out", "u64")),
        "Buy outcome shares with quote."),
    Instruction("sell", (
        Acc("trader", signer=True), Acc("config", mut=True), Acc("market", mut=True),
        Acc("shares", mut=True), Acc("trader_token", mut=True), *_vault(), TOKEN,
    ), (F("outcome", "u8"), F("shares_in", "u64"), F("min_amount_out", "u64")),
        "Sell outcome shares for quote."),
    Instruction("propose_resolution", (
        Acc("proposer", signer=True), Acc("config"), Acc("market", mut=True),
        Acc("proposer_token", mut=True, doc="pays the resolution bond"),
        Acc("vault", mut=True), TOKEN,
    ), (F("outcome", "u8"),),
        "Propose the outcome once trading has ended, posting the resolution bond: the creator "
        "during creator_resolve_secs, anyone after."),
    Instruction("dispute", (
        Acc("disputer", signer=True), Acc("config"), Acc("market", mut=True),
        Acc("disputer_token", mut=True), Acc("vault", mut=True), TOKEN,
    ), doc="Challenge a proposed outcome by posting the dispute bond."),
    Instruction("vote_dispute", (
        Acc("voter", mut=True, signer=True), Acc("config"), Acc("market", mut=True),
        Acc("vote", mut=True), Acc("voter_token", mut=True), Acc("vault", mut=True),
        TOKEN, SYSTEM,
    ), (F("agree", "bool"), F("stake", "u64")),
        "Agree or disagree with the proposed outcome with `stake` quote locked, once per "
        "wallet."),
    Instruction("finalize_market", (Acc("config"), Acc("market", mut=True)),
                doc="Fix the outcome once the dispute window or vote has ended; bonds are "
                    "credited to their winners, who take them with claim_bond."),
    Instruction("redeem", (
        Acc("holder", signer=True), Acc("config"), Acc("market", mut=True),
        Acc("shares", mut=True), Acc("holder_token", mut=True), *_vault(), TOKEN,
    ), doc="Pay one quote unit per winning share."),
    Instruction("withdraw_liquidity", (
        Acc("creator", signer=True), Acc("config"), Acc("market", mut=True),
        Acc("creator_token", mut=True), *_vault(), TOKEN,
    ), doc="Pay the pool's winning reserve to the creator, once."),
    Instruction("claim_vote", (
        Acc("voter", mut=True, signer=True, doc="gets the stake and the Vote's rent"),
        Acc("config", mut=True), Acc("market", mut=True), Acc("vote", mut=True),
        Acc("voter_token", mut=True), *_vault(), TOKEN,
    ), doc="Once the vote's question is decided: the stake back (plus winnings or minus the "
           "slash of a dispute vote), and the Vote account closed."),
    Instruction("claim_bond", (
        Acc("claimant", signer=True), Acc("config"), Acc("market", mut=True),
        Acc("claimant_token", mut=True), *_vault(), TOKEN,
    ), doc="The proposer or disputer of a finalized market takes what it is owed."),
    Instruction("close_shares", (
        Acc("owner", mut=True, signer=True, doc="gets the rent"), Acc("market"),
        Acc("shares", mut=True),
    ), doc="Close a Shares account holding nothing of value and return its rent."),
)

# The council's instructions (admin.c, treasury.c). A council instruction takes the signing
# member in its first account and the other members' signatures as extra signer accounts
# after the listed ones, until council_threshold distinct members have signed.
def _treasury_withdrawal(name: str, what: str) -> Instruction:
    return Instruction(name, (
        Acc("council", signer=True), Acc("config", mut=True),
        Acc("treasury", mut=True, doc="config.treasury, a quote token account"), *_vault(), TOKEN,
    ), (F("amount", "u64"),), f"Pay {what} to the council's treasury.")


ADMIN_INSTRUCTIONS = (
    Instruction("propose_config", (
        Acc("council", mut=True, signer=True), Acc("config"), Acc("pending_config", mut=True),
        SYSTEM,
    ), (F("params", "ConfigParams"),),
        "Propose new settings; they take effect config_delay_secs later through apply_config."),
    Instruction("apply_config", (Acc("config", mut=True), Acc("pending_config", mut=True)),
                doc="Make the pending settings current once their timelock has passed."),
    Instruction("cancel_config", (
        Acc("council", signer=True), Acc("config"), Acc("pending_config", mut=True),
    ), doc="Drop the pending settings."),
    Instruction("pause", (Acc("council", signer=True), Acc("config", mut=True)),
                (F("paused", "bool"),), "Stop or resume new risk, at once."),
    _treasury_withdrawal("withdraw_fees", "protocol fees"),
    _treasury_withdrawal("withdraw_pool", "free perp pool liquidity (pool less reserves)"),
    _treasury_withdrawal("withdraw_insurance", "insurance balance"),
)

PERP_INSTRUCTIONS = (
    Instruction("create_perp_market", (
        Acc("admin", mut=True, signer=True), Acc("config"), Acc("perp_market", mut=True),
        Acc("oracle"), SYSTEM,
    ), (F("perp_market_id", "u64"), F("params", "PerpMarketParams"),
        F("oracle_kind", "u8", "OracleKind"),
        F("feed_id", "u8", "PriceUpdateV2's feed id; zero for the legacy kind",
          count=FEED_ID_LEN)),
        "Open a perp market on a Pyth price account of either kind, bound to it."),
    Instruction("fund_pool", (
        Acc("admin", signer=True), Acc("config", mut=True), Acc("admin_token", mut=True),
        Acc("vault", mut=True), TOKEN,
    ), (F("amount", "u64"),), "Add quote to the perps' counterparty pool."),
    Instruction("fund_insurance", (
        Acc("admin", signer=True), Acc("config", mut=True), Acc("admin_token", mut=True),
        Acc("vault", mut=True), TOKEN,
    ), (F("amount", "u64"),), "Add quote to the insurance balance that covers bad debt."),
    Instruction("deposit", (
        Acc("owner", mut=True, signer=True), Acc("config"), Acc("perp_market"),
        Acc("position", mut=True), Acc("owner_token", mut=True), Acc("vault", mut=True),
        TOKEN, SYSTEM,
    ), (F("amount", "u64"),), "Add collateral; the Position is created on the first deposit."),
    Instruction("withdraw", (
        Acc("owner", signer=True), Acc("config"), Acc("perp_market", mut=True),
        Acc("position", mut=True), Acc("oracle"), Acc("owner_token", mut=True), *_vault(),
        TOKEN,
    ), (F("amount", "u64"),), "Take collateral out, keeping initial margin while open."),
    Instruction("open_position", (
        Acc("owner", signer=True), Acc("config", mut=True), Acc("perp_market", mut=True),
        Acc("position", mut=True), Acc("oracle"),
    ), (F("side", "u8"), F("size", "u64"), F("acceptable_price", "u64")),
        "Open a long or short at the oracle price."),
    Instruction("close_position", (
        Acc("owner", signer=True), Acc("config", mut=True), Acc("perp_market", mut=True),
        Acc("position", mut=True), Acc("oracle"),
    ), (F("acceptable_price", "u64"),), "Close at the oracle price, realizing PnL and funding."),
    Instruction("liquidate", (
        Acc("liquidator", signer=True), Acc("config", mut=True), Acc("perp_market", mut=True),
        Acc("position", mut=True), Acc("oracle"), Acc("liquidator_token", mut=True),
        *_vault(), TOKEN,
    ), doc="Close a position below maintenance margin; the liquidator earns the fee."),
    Instruction("update_funding", (
        Acc("config"), Acc("perp_market", mut=True), Acc("oracle"),
    ), doc="Accrue funding to now and report it, once per interval."),
    Instruction("close_position_account", (
        Acc("owner", mut=True, signer=True), Acc("perp_market"), Acc("position", mut=True),
    ), doc="Close a flat Position with no collateral and return its rent to the owner."),
)

# ---- events ---------------------------------------------------------------------------------
EVENTS = (
    Struct("MarketCreated", (
        F("market", "publicKey"), F("id", "u64"), F("creator", "publicKey"),
        F("created_at", "i64"), F("proposal_ends_at", "i64"), F("trading_ends_at", "i64"),
        F("creation_bond", "u64"),
        F("question", "string", max_len=QUESTION_MAX_LEN),
    )),
    Struct("ProposalVoted", (
        F("market", "publicKey"), F("voter", "publicKey"), F("approve", "bool"),
        F("stake", "u64"), F("likes", "u64"), F("dislikes", "u64"),
    )),
    Struct("MarketApproved", (F("market", "publicKey"), F("likes", "u64"), F("dislikes", "u64"))),
    Struct("MarketRejected", (
        F("market", "publicKey"), F("likes", "u64"), F("dislikes", "u64"),
        F("bond_forfeited", "u64", "the creation bond kept as protocol fees"),
    )),
    Struct("MarketActivated", (
        F("market", "publicKey"), F("liquidity", "u64"), F("trading_ends_at", "i64"),
        F("bond_returned", "u64"),
    )),
    Struct("Traded", (
        F("market", "publicKey"), F("trader", "publicKey"), F("outcome", "u8"),
        F("is_buy", "bool"),
        F("amount", "u64", "quote the trader paid (buy, fee included) or got (sell, fee deducted)"),
        F("shares", "u64"), F("fee", "u64"), F("yes_reserve", "u64"), F("no_reserve", "u64"),
    )),
    Struct("ResolutionProposed", (
        F("market", "publicKey"), F("proposer", "publicKey"), F("outcome", "u8"),
        F("bond", "u64"), F("resolution_proposed_at", "i64"), F("dispute_deadline", "i64"),
    )),
    Struct("MarketDisputed", (
        F("market", "publicKey"), F("disputer", "publicKey"), F("bond", "u64"),
        F("dispute_ends_at", "i64"),
    )),
    Struct("DisputeVoted", (
        F("market", "publicKey"), F("voter", "publicKey"), F("agree", "bool"),
        F("stake", "u64"), F("agree_total", "u64"), F("disagree_total", "u64"),
    )),
    Struct("MarketFinalized", (
        F("market", "publicKey"), F("outcome", "u8"), F("overturned", "bool"),
        F("agree", "u64"), F("disagree", "u64"),
        F("quorum", "u64", "the dispute stake an overturn needed"),
        F("proposer_bond", "u64", "credited to the proposer"),
        F("disputer_bond", "u64", "credited to the disputer"),
    )),
    Struct("Redeemed", (
        F("market", "publicKey"), F("holder", "publicKey"), F("outcome", "u8"),
        F("shares", "u64"), F("amount", "u64"),
    )),
    Struct("LiquidityWithdrawn", (
        F("market", "publicKey"), F("creator", "publicKey"), F("amount", "u64"),
    )),
    Struct("VoteClaimed", (
        F("market", "publicKey"), F("voter", "publicKey"), F("kind", "u8"), F("choice", "u8"),
        F("stake", "u64"), F("amount", "u64", "paid back: the stake, plus winnings or minus "
                                             "the slash"),
    )),
    Struct("BondClaimed", (
        F("market", "publicKey"), F("claimant", "publicKey"), F("amount", "u64"),
    )),
    Struct("SharesClosed", (F("market", "publicKey"), F("owner", "publicKey"))),
    Struct("PerpMarketCreated", (
        F("perp_market", "publicKey"), F("id", "u64"), F("oracle", "publicKey"),
        F("initial_margin_bps", "u16"), F("maintenance_margin_bps", "u16"),
        F("liquidation_fee_bps", "u16"), F("taker_fee_bps", "u16"),
        F("funding_interval_secs", "i64"), F("max_funding_bps", "u16"),
        F("max_profit_bps", "u16"), F("liquidator_share_bps", "u16"),
        F("max_open_interest", "u64"), F("pyth_program", "publicKey"),
        F("max_oracle_staleness_slots", "u64"), F("max_open_staleness_slots", "u64"),
        F("max_oracle_conf_bps", "u16"), F("oracle_kind", "u8"),
        F("max_price_age_secs", "i64"),
    )),
    Struct("Deposited", (
        F("position", "publicKey"), F("owner", "publicKey"), F("perp_market", "publicKey"),
        F("amount", "u64"), F("collateral", "u64"),
    )),
    Struct("Withdrawn", (
        F("position", "publicKey"), F("owner", "publicKey"), F("perp_market", "publicKey"),
        F("amount", "u64"), F("collateral", "u64"),
    )),
    Struct("PositionOpened", (
        F("position", "publicKey"), F("owner", "publicKey"), F("perp_market", "publicKey"),
        F("side", "u8"), F("size", "u64"),
        F("entry_price", "u64", "the fill: oracle price + conf to buy, - conf to sell"),
        F("oracle_price", "u64"), F("conf", "u64"), F("collateral", "u64"),
        F("fee", "u64"), F("reserve", "u64", "pool liquidity reserved: the profit cap"),
        F("funding_snapshot", "i64"), F("long_oi", "u64"), F("short_oi", "u64"),
        F("pool_reserved", "u64"),
    )),
    Struct("PositionClosed", (
        F("position", "publicKey"), F("owner", "publicKey"), F("perp_market", "publicKey"),
        F("side", "u8"), F("size", "u64"), F("entry_price", "u64"),
        F("exit_price", "u64", "the fill: oracle price - conf to sell, + conf to buy"),
        F("pnl", "i64"), F("funding", "i64", "funding paid (positive) or received"),
        F("settled", "i64", "what the collateral gained (after the profit cap and the "
          "socialized loss) or lost"),
        F("socialized_loss", "u64", "taken from this profit for the other side's bad debt"),
        F("fee", "u64"), F("collateral", "u64"), F("reserve", "u64", "released"),
        F("long_oi", "u64"), F("short_oi", "u64"),
    )),
    Struct("PositionLiquidated", (
        F("position", "publicKey"), F("owner", "publicKey"), F("perp_market", "publicKey"),
        F("liquidator", "publicKey"), F("side", "u8"), F("size", "u64"),
        F("entry_price", "u64"), F("price", "u64", "the conservative mark it closed at"),
        F("pnl", "i64"), F("funding", "i64"),
        F("equity", "i64", "collateral + capped gain at the mark"), F("maintenance", "u64"),
        F("penalty", "u64", "liquidation_fee_bps of notional, taken from what is left"),
        F("reward", "u64", "paid to the liquidator"),
        F("insurance_share", "u64", "the penalty's part credited to insurance"),
        F("collateral", "u64", "what stays with the owner"),
        F("bad_debt", "u64", "the loss beyond the collateral"),
        F("insurance_paid", "u64", "bad debt and reward paid by insurance"),
        F("pool_paid", "u64", "bad debt absorbed and reward paid by the pool's free liquidity"),
        F("socialized_loss", "u64", "bad debt left to the other side's profits"),
        F("reserve", "u64", "released"),
        F("long_oi", "u64"), F("short_oi", "u64"),
    )),
    Struct("ConfigProposed", (
        F("proposer", "publicKey"), F("proposed_at", "i64"), F("effective_at", "i64"),
        F("pyth_program", "publicKey"), F("treasury", "publicKey"),
        F("config_delay_secs", "i64"), F("trade_fee_bps", "u16"),
        F("council_len", "u8"), F("council_threshold", "u8"),
        F("receiver_program", "publicKey"),
    )),
    Struct("ConfigApplied", (
        F("proposer", "publicKey"), F("effective_at", "i64"), F("applied_at", "i64"),
        F("council_len", "u8"), F("council_threshold", "u8"),
    )),
    Struct("ConfigCancelled", (
        F("proposer", "publicKey"), F("cancelled_by", "publicKey"), F("effective_at", "i64"),
    )),
    Struct("PauseSet", (F("paused", "bool"), F("by", "publicKey"))),
    Struct("TreasuryWithdrawn", (
        F("kind", "u8", "0 protocol fees, 1 perp pool, 2 insurance"), F("amount", "u64"),
        F("treasury", "publicKey"), F("remaining", "u64", "the balance left after"),
        F("by", "publicKey"),
    )),
    Struct("FundingUpdated", (
        F("perp_market", "publicKey"),
        F("rate_ppm", "i64", "per interval, parts per million; positive: longs pay"),
        F("intervals", "u64", "intervals reported (whole intervals since the last report)"),
        F("price", "u64"), F("cumulative_funding", "i64"),
        F("cumulative_funding_short", "i64"), F("last_funding_ts", "i64"),
        F("long_oi", "u64"), F("short_oi", "u64"),
    )),
    Struct("PositionAccountClosed", (
        F("position", "publicKey"), F("owner", "publicKey"), F("perp_market", "publicKey"),
        F("lamports", "u64"),
    )),
)

# ---- errors ---------------------------------------------------------------------------------
_ERRORS = (
    ("Unauthorized", "The signer is not allowed to do this"),
    ("InvalidAccount", "An account is not the one this instruction expects"),
    ("InvalidState", "The account is not in a state that allows this"),
    ("TooEarly", "Too early: the window for this has not opened yet"),
    ("TooLate", "Too late: the window for this has closed"),
    ("ThresholdNotMet", "The vote threshold is not met"),
    ("SlippageExceeded", "The price moved beyond the caller's limit"),
    ("InsufficientCollateral", "Not enough collateral"),
    ("NotLiquidatable", "The position is above maintenance margin"),
    ("StaleOracle", "The oracle price is too old"),
    ("InvalidOracle", "The oracle account or price is not usable"),
    ("MathOverflow", "Arithmetic overflow"),
    ("Paused", "The protocol is paused"),
    ("InvalidArgument", "An instruction argument is out of range"),
    ("AlreadyVoted", "This wallet has already voted"),
    ("MissingSigner", "A required signature is missing"),
    ("NotWritable", "An account that must be writable is read-only"),
    ("InvalidInstructionData", "Unknown instruction or wrong data length"),
    ("NotEnoughAccounts", "Fewer accounts than the instruction needs"),
    ("InvalidOwner", "An account is owned by the wrong program"),
    ("WrongAccountType", "An account holds another type than expected"),
    ("InvalidPda", "An account is not at its program-derived address"),
    ("InvalidMint", "A token account or mint is not the protocol's quote mint"),
    ("InvalidVault", "The vault or vault authority is not the protocol's"),
    ("AlreadyInitialized", "The account already exists"),
    ("ApprovalReached", "The proposal reached approval and cannot be rejected"),
    ("InsufficientShares", "Not enough shares"),
    ("NothingToRedeem", "There is nothing to pay out"),
    ("ZeroAmount", "The amount must be greater than zero"),
    ("InvalidProgram", "A program account is not the expected program"),
    ("InsufficientFunds", "The token account holds less than the amount to pay"),
    ("OracleNotTrading", "The oracle's price status is not trading"),
    ("OracleTooUncertain", "The oracle's confidence interval is wider than allowed"),
    ("OracleMismatch", "The oracle is not the one of this perp market"),
    ("PositionOpen", "The position must be flat for this"),
    ("PositionFlat", "The position has nothing open"),
    ("InsufficientLiquidity", "The perp pool cannot pay this profit"),
    ("CouncilThresholdNotMet", "Fewer council members signed than the threshold"),
    ("InvalidProgramData", "The account is not this program's ProgramData"),
    ("ConfigPending", "A config change is already pending: cancel it first"),
    ("NoPendingConfig", "No config change is pending"),
    ("InsufficientBalance", "The protocol balance is smaller than the amount to withdraw"),
    ("StakeTooSmall", "The stake is below the market's minimum vote stake"),
    ("OpenInterestLimit", "The market's open interest cap is reached"),
    ("OracleNotFullyVerified", "The price update is only partially verified"),
    ("OracleFeedMismatch", "The price update carries another feed than the market's"),
    ("StalePublishTime", "The oracle price was published too many seconds ago"),
)
ERRORS = tuple(Error(6000 + i, name, msg) for i, (name, msg) in enumerate(_ERRORS))

INTERFACE = Interface(
    name="keepernet",
    version="0.1.0",
    instructions=INSTRUCTIONS + ADMIN_INSTRUCTIONS + PERP_INSTRUCTIONS,
    accounts=(CONFIG, MARKET, SHARES, VOTE, PERP_MARKET, POSITION, PENDING_CONFIG),
    types=(CONFIG_PARAMS, PERP_MARKET_PARAMS),
    events=EVENTS,
    errors=ERRORS,
    enums=(MARKET_STATE, OUTCOME, VOTE_KIND, SIDE, ORACLE_KIND),
)
