"""Shared by the refusal tests: a ready-to-send call of every market and perp instruction, the
ways to spoil one (a missing signature, a read-only account, a swapped account, bad data, a
forged vault, token account or program), forged accounts, and `refuse`, which watches every
account a call names."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain import pyth
from program.client import ConfigParams, PerpMarketParams
from program.idl import spec
from program.local import PYTH_PROGRAM, LocalProtocol
from program.svm import TOKEN_AMOUNT_OFFSET, TxResult
from tests.support.perps import LONG, PRICE, Perp, open_perp
from tests.support.program_world import QUESTION, User, World, deploy_world

NO, YES = 0, 1
LIQUIDITY = 1_000_000_000
BUY_AMOUNT = 100_000_000
U64_MAX = 2**64 - 1
# an SPL token account's state byte (1 initialized, 2 frozen)
TOKEN_STATE_OFFSET, TOKEN_FROZEN = 108, 2

# ---- reading and spoiling an instruction ----------------------------------------------------
SPEC = {i.name: i for i in (*spec.INSTRUCTIONS, *spec.ADMIN_INSTRUCTIONS,
                             *spec.PERP_INSTRUCTIONS)}
_BY_DISCRIMINATOR = {hashlib.sha256(f"global:{n}".encode()).digest()[:8]: i
                     for n, i in SPEC.items()}


def spec_of(ix: Instruction) -> spec.Instruction:
    return _BY_DISCRIMINATOR[bytes(ix.data[:8])]


def key(ix: Instruction, account: str) -> Pubkey:
    """The address `ix` passes as `account` (its IDL name)."""
    return ix.accounts[_index(ix, account)].pubkey


def _index(ix: Instruction, account: str) -> int:
    return [a.name for a in spec_of(ix).accounts].index(account)


def _meta(ix: Instruction, account: str, *, pubkey: Pubkey | None = None,
          signer: bool | None = None, writable: bool | None = None) -> Instruction:
    metas = list(ix.accounts)
    i = _index(ix, account)
    m = metas[i]
    metas[i] = AccountMeta(pubkey or m.pubkey, m.is_signer if signer is None else signer,
                           m.is_writable if writable is None else writable)
    return Instruction(ix.program_id, ix.data, metas)


def swap(ix: Instruction, account: str, pubkey: Pubkey) -> Instruction:
    """`ix` with another address in `account`'s place, same flags."""
    return _meta(ix, account, pubkey=pubkey)


def unsigned(ix: Instruction, account: str) -> Instruction:
    return _meta(ix, account, signer=False)


def read_only(ix: Instruction, account: str) -> Instruction:
    return _meta(ix, account, writable=False)


def with_data(ix: Instruction, data: bytes) -> Instruction:
    return Instruction(ix.program_id, data, list(ix.accounts))


def with_args(w: World, ix: Instruction, *args: object) -> Instruction:
    """`ix` with other arguments, the same accounts."""
    s = spec_of(ix)
    named = zip((a.name for a in s.accounts), (m.pubkey for m in ix.accounts), strict=True)
    return w.chain.ix(s.name, *args, accounts=dict(named))


def with_accounts(ix: Instruction, metas: Sequence[AccountMeta]) -> Instruction:
    return Instruction(ix.program_id, ix.data, list(metas))


Spoil = Callable[[World, Instruction], Instruction | list[Instruction]]


# ---- spoilers every instruction has ---------------------------------------------------------
def each_unsigned(w: World, ix: Instruction) -> list[Instruction]:
    """The call once for each of its signers, that signer's signature left out."""
    return [unsigned(ix, a.name) for a in spec_of(ix).accounts if a.signer]


def each_read_only(w: World, ix: Instruction) -> list[Instruction]:
    """The call once for each writable account, that account passed read-only."""
    return [read_only(ix, a.name) for a in spec_of(ix).accounts if a.mut]


def one_short(w: World, ix: Instruction) -> Instruction:
    return with_accounts(ix, ix.accounts[:-1])


def cut_or_extended(w: World, ix: Instruction) -> list[Instruction]:
    """The data one byte short and one byte too long."""
    return [with_data(ix, bytes(ix.data[:-1])), with_data(ix, bytes(ix.data) + b"\0")]


# ---- sending --------------------------------------------------------------------------------
def refuse(w: World, error: str, ix: Instruction | Sequence[Instruction], *signers: Keypair,
           watch: Sequence[Pubkey] = ()) -> TxResult:
    """`World.refused`, watching every account `ix` (one call, or several in one
    transaction) names as well; signers no call asks for are left out (so a call and its
    unsigned variant take the same signers)."""
    ixs = [ix] if isinstance(ix, Instruction) else list(ix)
    metas = [m for i in ixs for m in i.accounts]
    needed = {m.pubkey for m in metas if m.is_signer}
    return w.refused(error, ixs, *[s for s in signers if s.pubkey() in needed],
                     watch=[*(m.pubkey for m in metas), *watch])


def at_edge(w: World, error: str, edge: int, ix: Instruction, *signers: Keypair) -> None:
    """A window [opens, closes) is exact to the second: TooEarly at opens - 1 and TooLate at
    closes (`edge`) are refused, and the call succeeds one second inside."""
    refused_at, ok_at = (edge, edge - 1) if error == "TooLate" else (edge - 1, edge)
    w.chain.set_time(refused_at)
    refuse(w, error, ix, *signers)
    w.chain.set_time(ok_at)
    w.ok(ix, *signers)


# ---- forged accounts ------------------------------------------------------------------------
def spoof(w: World, address: Pubkey) -> Pubkey:
    """A new address holding the same bytes as `address`, owned by a random program."""
    fake = Keypair().pubkey()
    data = w.chain.raw(address)
    assert data is not None
    w.chain.set_account(fake, data, Keypair().pubkey())
    return fake


def owner_of(w: World, token_account: Pubkey) -> Pubkey:
    data = w.chain.raw(token_account)
    assert data is not None
    return Pubkey.from_bytes(data[32:64])


def funded_account(w: World, ix: Instruction, account: str, mint: Pubkey) -> Pubkey:
    """A new token account of `mint` for the owner of the call's `account`, well funded."""
    new = w.chain.create_token_account(mint, owner_of(w, key(ix, account)))
    w.chain.mint_to(mint, new, 10 * LIQUIDITY)
    return new


def patch(w: World, address: Pubkey, offset: int, value: bytes) -> None:
    """Overwrite bytes of an account in place, keeping its owner and lamports: forged states
    no call can reach (a balance beyond the supply, a frozen account, a tally at its limit)."""
    account = w.chain.svm.get_account(address)
    assert account is not None
    data = bytearray(account.data)
    data[offset:offset + len(value)] = value
    w.chain.set_account(address, bytes(data), account.owner, account.lamports)


def set_token_balance(w: World, account: Pubkey, amount: int) -> None:
    patch(w, account, TOKEN_AMOUNT_OFFSET, amount.to_bytes(8, "little"))


def freeze(w: World, account: Pubkey) -> None:
    patch(w, account, TOKEN_STATE_OFFSET, bytes([TOKEN_FROZEN]))


def set_field(w: World, address: Pubkey, struct: spec.Struct, name: str, value: int) -> None:
    """Set the u64 field `name` of the program account at `address`."""
    offset = 8  # the discriminator
    for f in struct.fields:
        if f.name == name:
            break
        offset += f.size
    patch(w, address, offset, value.to_bytes(8, "little"))


# ---- spoiled vaults, token accounts and programs ---------------------------------------------
def fake_vault(w: World, ix: Instruction) -> Instruction:
    """Even a funded token account of the quote mint owned by the vault authority."""
    fake = w.chain.create_token_account(w.d.quote_mint, w.d.vault_authority)
    w.chain.mint_to(w.d.quote_mint, fake, 10 * LIQUIDITY)
    return swap(ix, "vault", fake)


def fake_vault_authority(w: World, ix: Instruction) -> Instruction:
    return swap(ix, "vault_authority", Keypair().pubkey())


def of_another_mint(account: str) -> Spoil:
    return lambda w, ix: swap(ix, account, funded_account(w, ix, account, w.chain.create_mint()))


def frozen_instead(account: str) -> Spoil:
    def frozen(w: World, ix: Instruction) -> Instruction:
        new = funded_account(w, ix, account, w.d.quote_mint)
        freeze(w, new)
        return swap(ix, account, new)
    return frozen


def wallet_instead(account: str) -> Spoil:
    """The token account's owner in its place."""
    return lambda w, ix: swap(ix, account, owner_of(w, key(ix, account)))


def vault_instead(account: str) -> Spoil:
    """The protocol's vault in the place of a user's token account."""
    return lambda w, ix: swap(ix, account, w.d.vault)


def of_another_owner(account: str) -> Spoil:
    return lambda w, ix: swap(ix, account, w.user().token)


# a user's token account not as it must be: (error, the spoiler of that account)
TOKEN_FORGERIES: dict[str, tuple[str, Callable[[str], Spoil]]] = {
    "of another mint": ("InvalidMint", of_another_mint),
    "frozen": ("InvalidAccount", frozen_instead),
    "a wallet": ("InvalidAccount", wallet_instead),
    # paid to itself, the vault would keep what the call pays out, owed to nobody
    "the vault": ("InvalidAccount", vault_instead),
}


def fake_program(account: str) -> Spoil:
    """Any other executable account, the program itself say, in the program's place."""
    return lambda w, ix: swap(ix, account, w.d.program_id)


# ---- worlds ---------------------------------------------------------------------------------
class Uninitialized(World):
    """The program deployed with its mint and vault, before `initialize`: until it runs, the
    vault must stay empty and the config absent."""

    def check_invariant(self) -> None:
        if self.config() is None:
            assert self.balance(self.d.vault) == 0
        else:
            super().check_invariant()


def uninitialized() -> Uninitialized:
    p = LocalProtocol.deploy(initialize=False)
    return Uninitialized(p.chain, p.admin, p.d, p.client, p.params)


def pause(w: World, paused: bool = True) -> None:
    w.ok(w.client.pause(w.admin.pubkey(), paused), w.admin)


# ConfigParams one past each bound (check_params in admin.c), and each bound itself.
_YEAR = 365 * 86_400
_WINDOWS = ("proposal_window_secs", "dispute_window_secs", "dispute_vote_secs",
            "creator_resolve_secs", "config_delay_secs")
_BONDS = ("creation_bond", "min_vote_stake", "resolution_bond", "dispute_bond")
_QUORUMS = ("proposal_quorum", "min_dispute_quorum")
MAX_BOND, MAX_QUORUM = 10**12, 10**15
PARAMS_PAST_A_BOUND: list[dict[str, object]] = [
    {"pyth_program": Pubkey.default()}, {"receiver_program": Pubkey.default()},
    {"treasury": Pubkey.default()},
    {"council_threshold": 0}, {"council_threshold": 2},
    *[{w: v} for w in _WINDOWS for v in (59, _YEAR + 1)],
    *[{b: v} for b in _BONDS for v in (0, MAX_BOND + 1)],
    *[{q: v} for q in _QUORUMS for v in (0, MAX_QUORUM + 1)],
    {"max_oracle_staleness_slots": 0}, {"max_oracle_staleness_slots": 1001},
    {"max_open_staleness_slots": 0},
    {"max_open_staleness_slots": 26, "max_oracle_staleness_slots": 25},
    {"max_price_age_secs": 0}, {"max_price_age_secs": 3_601},
    {"proposal_approval_bps": 5_000}, {"proposal_approval_bps": 10_001},
    {"dispute_overturn_bps": 5_000}, {"dispute_overturn_bps": 10_001},
    {"dispute_quorum_bps": 10_001}, {"vote_slash_bps": 10_001},
    {"trade_fee_bps": 1_001}, {"max_oracle_conf_bps": 0}, {"max_oracle_conf_bps": 1_001},
]
PARAMS_AT_THE_BOUNDS: list[dict[str, object]] = [
    {**{w: 60 for w in _WINDOWS}, **{b: 1 for b in _BONDS}, **{q: 1 for q in _QUORUMS},
     "max_oracle_staleness_slots": 1, "max_open_staleness_slots": 1, "max_price_age_secs": 1,
     "proposal_approval_bps": 5_001, "dispute_overturn_bps": 5_001, "dispute_quorum_bps": 0,
     "vote_slash_bps": 0, "trade_fee_bps": 0, "max_oracle_conf_bps": 1},
    {**{w: _YEAR for w in _WINDOWS}, **{b: MAX_BOND for b in _BONDS},
     **{q: MAX_QUORUM for q in _QUORUMS}, "max_oracle_staleness_slots": 1000,
     "max_open_staleness_slots": 1000, "max_price_age_secs": 3_600,
     "proposal_approval_bps": 10_000,
     "dispute_overturn_bps": 10_000, "dispute_quorum_bps": 10_000, "vote_slash_bps": 10_000,
     "trade_fee_bps": 1_000, "max_oracle_conf_bps": 1_000},
]


def reconfigure(w: World, params: ConfigParams) -> None:
    """Make `params` current the only way there is: the council proposes them, the timelock
    passes, anyone applies them."""
    w.reconfigure(params)
    w.check_invariant()


def new_market_id(w: World, creator: User) -> tuple[int, Pubkey]:
    """An id for a market `creator` is about to create, its address watched by `refused`."""
    market_id = w.next_market_id
    w.next_market_id += 1
    w.markets.append(w.d.market(creator.key, market_id))
    return market_id, w.d.market(creator.key, market_id)


def buy(w: World, market: Pubkey, outcome: int = YES, amount: int = BUY_AMOUNT) -> User:
    """A new trader who bought `outcome` with `amount` quote."""
    trader = w.user()
    w.ok(w.client.buy(trader.key, market, trader.token, outcome, amount), trader.kp)
    return trader


def with_votes(w: World, likes: int, dislikes: int = 0) -> tuple[Pubkey, User]:
    """A proposed market with these stakes for and against (one voter each, none for 0), and
    its creator."""
    creator = w.user()
    market = w.propose(creator)
    for choice, stake in ((True, likes), (False, dislikes)):
        if stake:
            w.vote(market, w.user(stake), choice, stake)
    return market, creator


def quorum_votes(w: World) -> tuple[Pubkey, User]:
    """A proposed market whose likes just reach the quorum."""
    return with_votes(w, likes=w.params.proposal_quorum)


def disputed(w: World, creator: User, disagree: int = 0,
             market: Pubkey | None = None) -> tuple[Pubkey, User]:
    """A market (`market`, else a new active one) resolved YES, disputed, with `disagree` stake
    against (one voter); returns it and the disputer."""
    market = w.resolving(creator, YES, market)
    disputer = w.user()
    w.ok(w.client.dispute(disputer.key, market, disputer.token), disputer.kp)
    if disagree:
        w.vote_dispute(market, w.user(disagree), False, disagree)
    return market, disputer


def overturn_stake(w: World, market: Pubkey) -> int:
    """The dispute stake that reaches the market's quorum."""
    m = w.market(market)
    return max(m.min_dispute_quorum, -(-m.collateral * m.dispute_quorum_bps // 10_000))


def finalized(w: World, creator: User) -> tuple[Pubkey, User]:
    """A market finalized YES without a dispute, and a trader holding YES shares in it."""
    market = w.active(creator)
    holder = buy(w, market)
    w.resolving(creator, YES, market)
    w.finalized(market)
    return market, holder


# ---- one call of each instruction that would succeed ----------------------------------------
Ready = tuple[Instruction, tuple[Keypair, ...]]


def _initialize(w: World) -> Ready:
    return w.client.initialize(w.admin.pubkey(), w.params), (w.admin,)


def _pause(w: World) -> Ready:
    return w.client.pause(w.admin.pubkey(), True), (w.admin,)


def _create_market(w: World) -> Ready:
    creator = w.user()
    market_id, _ = new_market_id(w, creator)
    return w.client.create_market(creator.key, market_id, QUESTION, w.chain.now() + 7 * 86_400,
                                  creator_token=creator.token), (creator.kp,)


def _vote_proposal(w: World) -> Ready:
    market, voter = w.propose(w.user()), w.user()
    return w.client.vote_proposal(voter.key, market, True, stake=w.params.min_vote_stake,
                                  voter_token=voter.token), (voter.kp,)


def _approve_market(w: World) -> Ready:
    market, _ = quorum_votes(w)
    w.close_window(market)
    return w.client.approve_market(market), ()


def _reject_market(w: World) -> Ready:
    market = w.propose(w.user())
    w.chain.set_time(w.market(market).proposal_ends_at)
    return w.client.reject_market(market), ()


def _activate_market(w: World) -> Ready:
    creator = w.user()
    market = w.approved(creator)
    return w.client.activate_market(creator.key, market, creator.token, LIQUIDITY), (creator.kp,)


def _buy(w: World) -> Ready:
    market, trader = w.active(w.user()), w.user()
    return w.client.buy(trader.key, market, trader.token, YES, BUY_AMOUNT), (trader.kp,)


def _sell(w: World) -> Ready:
    market = w.active(w.user())
    trader = buy(w, market)
    held = w.chain.fetch(w.d.shares(market, trader.key)).yes
    return w.client.sell(trader.key, market, trader.token, YES, held // 2), (trader.kp,)


def _propose_resolution(w: World) -> Ready:
    creator = w.user()
    market = w.active(creator)
    w.chain.set_time(w.market(market).trading_ends_at)
    return w.client.propose_resolution(creator.key, market, YES,
                                       proposer_token=creator.token), (creator.kp,)


def _dispute(w: World) -> Ready:
    market, disputer = w.resolving(w.user(), YES), w.user()
    return w.client.dispute(disputer.key, market, disputer.token), (disputer.kp,)


def _vote_dispute(w: World) -> Ready:
    (market, _), voter = disputed(w, w.user()), w.user()
    return w.client.vote_dispute(voter.key, market, False, stake=w.params.min_vote_stake,
                                 voter_token=voter.token), (voter.kp,)


def _finalize_market(w: World) -> Ready:
    """Overturned: the bonds are credited to the disputer."""
    creator = w.user()
    market = w.active(creator)
    market, _ = disputed(w, creator, overturn_stake(w, market), market)
    w.chain.set_time(w.market(market).dispute_ends_at)
    return w.client.finalize_market(market), ()


def _redeem(w: World) -> Ready:
    market, holder = finalized(w, w.user())
    return w.client.redeem(holder.key, market, holder.token), (holder.kp,)


def _withdraw_liquidity(w: World) -> Ready:
    creator = w.user()
    market, _ = finalized(w, creator)
    return w.client.withdraw_liquidity(creator.key, market, creator.token), (creator.kp,)


def _claim_vote(w: World) -> Ready:
    """A dispute vote on the winning side of a finalized market."""
    creator = w.user()
    market = w.active(creator)
    stake = overturn_stake(w, market)
    disputed(w, creator, market=market)
    voter = w.user(stake)
    w.vote_dispute(market, voter, False, stake)
    w.finalized(market)
    return w.client.claim_vote(voter.key, market, 1, voter.token), (voter.kp,)


def _claim_bond(w: World) -> Ready:
    creator = w.user()
    market, _ = finalized(w, creator)
    return w.client.claim_bond(creator.key, market, creator.token), (creator.kp,)


def _close_shares(w: World) -> Ready:
    market, holder = finalized(w, w.user())
    w.ok(w.client.redeem(holder.key, market, holder.token), holder.kp)
    return w.client.close_shares(holder.key, market), (holder.kp,)


READY: dict[str, Callable[[World], Ready]] = {
    "initialize": _initialize,
    "pause": _pause,
    "create_market": _create_market,
    "vote_proposal": _vote_proposal,
    "approve_market": _approve_market,
    "reject_market": _reject_market,
    "activate_market": _activate_market,
    "buy": _buy,
    "sell": _sell,
    "propose_resolution": _propose_resolution,
    "dispute": _dispute,
    "vote_dispute": _vote_dispute,
    "finalize_market": _finalize_market,
    "redeem": _redeem,
    "withdraw_liquidity": _withdraw_liquidity,
    "claim_vote": _claim_vote,
    "claim_bond": _claim_bond,
    "close_shares": _close_shares,
}
MARKET_INSTRUCTIONS = [name for name in READY if name not in ("initialize", "pause")]


# ---- perps ----------------------------------------------------------------------------------
SIZE = 50_000_000  # 50 base units: 5,000 quote of notional at PRICE, on 1,000 of collateral
LIQUIDATION_PRICE = PRICE * 82 // 100  # where that long is below maintenance, equity positive
FUNDS = 100_000_000


def slot(w: World) -> int:
    return int(w.chain.svm.get_clock().slot)


def new_oracle(w: World, price: int = PRICE) -> Pubkey:
    """A fresh Pyth price account quoting `price`."""
    oracle = Keypair().pubkey()
    w.chain.set_account(oracle, pyth.price_account(price, slot=slot(w)).encode(), PYTH_PROGRAM)
    return oracle


def depositor(w: World, perp_market: Pubkey, owner: Keypair | None = None) -> Pubkey:
    """The Position of `owner` (a new wallet if None) in `perp_market`, after a deposit."""
    kp = owner or w.chain.wallet()
    token = w.chain.create_token_account(w.d.quote_mint, kp.pubkey())
    w.chain.mint_to(w.d.quote_mint, token, FUNDS)
    position = w.d.position(perp_market, kp.pubkey())
    w.positions.append(position)
    w.ok(w.client.deposit(kp.pubkey(), perp_market, token, FUNDS), kp)
    return position


def opened(w: World) -> tuple[Perp, User]:
    """A perp market and a trader with a long of SIZE open in it."""
    perp = open_perp(w)
    owner = perp.trader()
    perp.open(owner, LONG, SIZE)
    return perp, owner


def _create_perp_market(w: World) -> Ready:
    """Market 2 (market 1 exists), on a new oracle."""
    open_perp(w)
    w.perp_markets.append(w.d.perp_market(2))
    return w.client.create_perp_market(w.admin.pubkey(), 2, new_oracle(w),
                                       PerpMarketParams()), (w.admin,)


def _fund(insurance: bool) -> Callable[[World], Ready]:
    def fund(w: World) -> Ready:
        token = w.chain.create_token_account(w.d.quote_mint, w.admin.pubkey())
        w.chain.mint_to(w.d.quote_mint, token, 2 * FUNDS)
        call = w.client.fund_insurance if insurance else w.client.fund_pool
        return call(w.admin.pubkey(), token, FUNDS), (w.admin,)
    return fund


def _deposit(w: World) -> Ready:
    """A first deposit: the Position is created."""
    perp, owner = open_perp(w), w.user()
    w.positions.append(perp.position_of(owner))
    return w.client.deposit(owner.key, perp.market, owner.token, FUNDS), (owner.kp,)


def _withdraw(w: World) -> Ready:
    """With the position open, so that the oracle is read."""
    perp, owner = opened(w)
    return w.client.withdraw(owner.key, perp.market, perp.oracle, owner.token,
                             FUNDS), (owner.kp,)


def _open_position(w: World) -> Ready:
    perp = open_perp(w)
    owner = perp.trader()
    return w.client.open_position(owner.key, perp.market, perp.oracle, LONG, SIZE,
                                  U64_MAX), (owner.kp,)


def _close_position(w: World) -> Ready:
    perp, owner = opened(w)
    return w.client.close_position(owner.key, perp.market, perp.oracle, 0), (owner.kp,)


def _liquidate(w: World) -> Ready:
    perp, owner = opened(w)
    perp.set_price(LIQUIDATION_PRICE)
    liquidator = w.user(0)
    return perp.liquidate_ix(liquidator, owner), (liquidator.kp,)


def _update_funding(w: World) -> Ready:
    perp, _ = opened(w)
    w.chain.advance(perp.params.funding_interval_secs)
    return perp.update_funding_ix(), ()


PERP_READY: dict[str, Callable[[World], Ready]] = {
    "create_perp_market": _create_perp_market,
    "fund_pool": _fund(insurance=False),
    "fund_insurance": _fund(insurance=True),
    "deposit": _deposit,
    "withdraw": _withdraw,
    "open_position": _open_position,
    "close_position": _close_position,
    "liquidate": _liquidate,
    "update_funding": _update_funding,
}


def ready(name: str) -> tuple[World, Instruction, tuple[Keypair, ...]]:
    """A world where the call `name` would succeed, and the call."""
    w = uninitialized() if name == "initialize" else deploy_world()
    ix, signers = {**READY, **PERP_READY}[name](w)
    return w, ix, signers


def instructions_with(account: str, *, but: Sequence[str] = (),
                      among: Sequence[str] = tuple(READY)) -> list[str]:
    """The instructions `among` (the market ones by default) that take an account named
    `account` (except those in `but`)."""
    return [n for n in among
            if n not in but and any(a.name == account for a in SPEC[n].accounts)]


def token_accounts(among: Sequence[str]) -> list[tuple[str, str]]:
    """(instruction, account) for every quote token account of the instructions `among`."""
    return [(n, a.name) for n in among for a in SPEC[n].accounts if a.name.endswith("_token")]


def refused_then_ok(name: str, error: str, spoil: Spoil, *extra: Keypair) -> World:
    """A call of `name` spoiled by `spoil` (one way, or several in a list; signed by `extra`
    too) is refused with `error` and changes nothing; the intact call then succeeds, so the
    spoiling was what failed."""
    w, ix, signers = ready(name)
    spoiled = spoil(w, ix)
    for bad in spoiled if isinstance(spoiled, list) else [spoiled]:
        refuse(w, error, bad, *signers, *extra)
    w.ok(ix, *signers)
    return w

