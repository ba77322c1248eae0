"""Shared by the refusal tests: a ready-to-send call of every market instruction, the ways to
spoil one (a missing signature, a read-only account, a swapped account, bad data), forged
accounts, and `refuse`, which watches every account a call names."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from program.idl import spec
from program.local import LocalProtocol
from program.svm import TOKEN_AMOUNT_OFFSET, TxResult
from tests.program.conftest import QUESTION, User, World, deploy_world

NO, YES = 0, 1
LIQUIDITY = 1_000_000_000
BUY_AMOUNT = 100_000_000
U64_MAX = 2**64 - 1
# an SPL token account's state byte (1 initialized, 2 frozen)
TOKEN_STATE_OFFSET, TOKEN_FROZEN = 108, 2

# ---- reading and spoiling an instruction ----------------------------------------------------
SPEC = {i.name: i for i in spec.INSTRUCTIONS}
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


# ---- sending --------------------------------------------------------------------------------
def refuse(w: World, error: str, ix: Instruction, *signers: Keypair,
           watch: Sequence[Pubkey] = ()) -> TxResult:
    """`World.refused`, watching every account `ix` names as well; signers `ix` does not ask
    for are left out (so a call and its unsigned variant take the same signers)."""
    needed = {m.pubkey for m in ix.accounts if m.is_signer}
    return w.refused(error, ix, *[s for s in signers if s.pubkey() in needed],
                     watch=[*(m.pubkey for m in ix.accounts), *watch])


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
        offset += spec.PRIMITIVE_SIZES[f.ty]
    patch(w, address, offset, value.to_bytes(8, "little"))


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


def new_market_id(w: World) -> tuple[int, Pubkey]:
    """An id for a market a test is about to create, its address watched by `refused`."""
    market_id = w.next_market_id
    w.next_market_id += 1
    w.markets.append(w.d.market(market_id))
    return market_id, w.d.market(market_id)


def buy(w: World, market: Pubkey, outcome: int = YES, amount: int = BUY_AMOUNT) -> User:
    """A new trader who bought `outcome` with `amount` quote."""
    trader = w.user()
    w.ok(w.client.buy(trader.key, market, trader.token, outcome, amount), trader.kp)
    return trader


def with_votes(w: World, likes: int, dislikes: int = 0) -> tuple[Pubkey, User]:
    """A proposed market with these votes, and its creator."""
    creator = w.user()
    market = w.propose(creator)
    for choice in [True] * likes + [False] * dislikes:
        voter = w.chain.wallet()
        w.ok(w.client.vote_proposal(voter.pubkey(), market, choice), voter)
    return market, creator


def disputed(w: World, creator: User, disagree: int = 0) -> tuple[Pubkey, User]:
    """A market resolved YES, disputed, with `disagree` votes against; returns it and the
    disputer."""
    market = w.resolving(creator, YES)
    disputer = w.user()
    w.ok(w.client.dispute(disputer.key, market, disputer.token), disputer.kp)
    for _ in range(disagree):
        voter = w.chain.wallet()
        w.ok(w.client.vote_dispute(voter.pubkey(), market, False), voter)
    return market, disputer


def finalized(w: World, creator: User) -> tuple[Pubkey, User]:
    """A market finalized YES without a dispute, and a trader holding YES shares in it."""
    market = w.active(creator)
    holder = buy(w, market)
    w.resolving(creator, YES, market)
    w.chain.advance(w.params.dispute_window_secs)
    w.ok(w.client.finalize_market(market, w.d.vault))
    return market, holder


# ---- one call of each instruction that would succeed ----------------------------------------
Ready = tuple[Instruction, tuple[Keypair, ...]]


def _initialize(w: World) -> Ready:
    return w.client.initialize(w.admin.pubkey(), w.params), (w.admin,)


def _update_config(w: World) -> Ready:
    return w.client.update_config(w.admin.pubkey(), w.params, True), (w.admin,)


def _create_market(w: World) -> Ready:
    creator = w.user()
    market_id, _ = new_market_id(w)
    return w.client.create_market(creator.key, market_id, QUESTION,
                                  w.chain.now() + 7 * 86_400), (creator.kp,)


def _vote_proposal(w: World) -> Ready:
    market, voter = w.propose(w.user()), w.chain.wallet()
    return w.client.vote_proposal(voter.pubkey(), market, True), (voter,)


def _approve_market(w: World) -> Ready:
    market, _ = with_votes(w, likes=w.params.proposal_min_votes)
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
    return w.client.propose_resolution(creator.key, market, YES), (creator.kp,)


def _dispute(w: World) -> Ready:
    market, disputer = w.resolving(w.user(), YES), w.user()
    return w.client.dispute(disputer.key, market, disputer.token), (disputer.kp,)


def _vote_dispute(w: World) -> Ready:
    (market, _), voter = disputed(w, w.user()), w.chain.wallet()
    return w.client.vote_dispute(voter.pubkey(), market, False), (voter,)


def _finalize_market(w: World) -> Ready:
    """Overturned, so that the bond goes back to the disputer's token account."""
    market, disputer = disputed(w, w.user(), disagree=1)
    w.chain.set_time(w.market(market).dispute_ends_at)
    return w.client.finalize_market(market, disputer.token), ()


def _redeem(w: World) -> Ready:
    market, holder = finalized(w, w.user())
    return w.client.redeem(holder.key, market, holder.token), (holder.kp,)


def _withdraw_liquidity(w: World) -> Ready:
    creator = w.user()
    market, _ = finalized(w, creator)
    return w.client.withdraw_liquidity(creator.key, market, creator.token), (creator.kp,)


READY: dict[str, Callable[[World], Ready]] = {
    "initialize": _initialize,
    "update_config": _update_config,
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
}
MARKET_INSTRUCTIONS = [name for name in READY if name not in ("initialize", "update_config")]


def ready(name: str) -> tuple[World, Instruction, tuple[Keypair, ...]]:
    """A world where the call `name` would succeed, and the call."""
    w = uninitialized() if name == "initialize" else deploy_world()
    ix, signers = READY[name](w)
    return w, ix, signers


def instructions_with(account: str, *, but: Sequence[str] = ()) -> list[str]:
    """The instructions that take an account named `account` (except those in `but`)."""
    return [n for n in READY
            if n not in but and any(a.name == account for a in SPEC[n].accounts)]


Spoil = Callable[[World, Instruction], Instruction | list[Instruction]]


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

