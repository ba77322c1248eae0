"""Refusals of the perp instructions: the oracle (stale, not trading, too uncertain, not
Pyth's, not a price account, another market's) at each edge, accounts that are not the ones a
call must take, arguments out of range, and pausing. Each spoiled call is refused with its own
error and changes nothing; the intact call then succeeds, so the spoiling was what failed."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain import pyth
from chain.pyth import PriceStatus
from program.client import NO_FEED, PERP_MAX_OPEN_INTEREST, PerpMarketParams
from program.local import PYTH_PROGRAM
from tests.support import perp_model as m
from tests.support.perps import LONG, PRICE, SHORT, open_perp
from tests.support.program_world import World
from tests.support.refusals import (
    FUNDS,
    LIQUIDATION_PRICE,
    PERP_READY,
    SIZE,
    SPEC,
    TOKEN_FORGERIES,
    U64_MAX,
    Spoil,
    at_edge,
    cut_or_extended,
    depositor,
    each_read_only,
    each_unsigned,
    fake_program,
    fake_vault,
    fake_vault_authority,
    instructions_with,
    key,
    of_another_owner,
    one_short,
    opened,
    pause,
    ready,
    refuse,
    refused_then_ok,
    slot,
    spoof,
    swap,
    token_accounts,
    with_args,
)

PERP = list(PERP_READY)
# the calls that price a position: withdraw reads the oracle only while the position is open
ORACLE_READERS = ["withdraw", "open_position", "close_position", "liquidate", "update_funding"]
# the calls that act on the signer's own Position
OWN_POSITION = ["deposit", "withdraw", "open_position", "close_position"]
WITH_POSITION = [*OWN_POSITION, "liquidate"]


# ---- the call itself ------------------------------------------------------------------------
SHARED: dict[str, tuple[Spoil, list[str]]] = {
    "MissingSigner": (each_unsigned, [n for n in PERP if any(a.signer for a in SPEC[n].accounts)]),
    "NotWritable": (each_read_only, PERP),
    "NotEnoughAccounts": (one_short, PERP),
    "InvalidInstructionData": (cut_or_extended, PERP),
}


@pytest.mark.parametrize("error, name", [(e, n) for e, (_, names) in SHARED.items()
                                         for n in names])
def test_every_spoiled_call_is_refused(error: str, name: str) -> None:
    """Each signer unsigned, each writable account read-only, one account short, the data one
    byte short or long."""
    refused_then_ok(name, error, SHARED[error][0])


# ---- the oracle -----------------------------------------------------------------------------
@dataclass
class Oracle:
    """The oracle of a readied call, and the price account it held."""

    w: World
    address: Pubkey
    account: pyth.PriceAccount

    def publish(self, data: bytes | None = None, owner: Pubkey = PYTH_PROGRAM,
                **changes: Any) -> None:
        """The readied price with `changes`, published at the current slot unless told
        otherwise; or `data` as it is."""
        changes.setdefault("publish_slot", slot(self.w))
        if data is None:
            data = replace(self.account, **changes).encode()
        self.w.chain.set_account(self.address, data, owner)


def oracle_of(w: World, ix: Instruction) -> Oracle:
    """The call's oracle, with the clock moved far enough that staleness can be tried, and its
    price republished fresh."""
    clock = w.chain.svm.get_clock()
    clock.slot = clock.slot + 1_000
    w.chain.svm.set_clock(clock)
    address = key(ix, "oracle")
    data = w.chain.raw(address)
    assert data is not None
    o = Oracle(w, address, pyth.decode(data))
    o.publish()
    return o


def not_price_accounts(valid: bytes) -> list[bytes]:
    """Data that is not a v2 price account: noise, one byte too short for the aggregate, a
    product account, another version, another magic."""
    def patched(offset: int, value: int) -> bytes:
        data = bytearray(valid)
        struct.pack_into("<I", data, offset, value)
        return bytes(data)
    return [os.urandom(len(valid)), valid[:pyth.PRICE_HEAD_SIZE - 1], patched(8, 2),
            patched(4, 3), patched(0, 0)]


Edit = Callable[[Oracle], None]


def behind(slots: Callable[[Oracle], int]) -> Edit:
    return lambda o: o.publish(publish_slot=slot(o.w) - slots(o))


def max_staleness(o: Oracle) -> int:
    return o.w.params.max_oracle_staleness_slots


def max_open_staleness(o: Oracle) -> int:
    return o.w.params.max_open_staleness_slots


def conf_limit(o: Oracle) -> int:
    """The widest confidence the config allows: conf * 10^4 <= max_conf_bps * price."""
    return o.w.params.max_oracle_conf_bps * o.account.price // pyth.BPS


# case: (error, the refused oracles, the accepted one at the edge)
ORACLE_CASES: dict[str, tuple[str, list[Edit], Edit]] = {
    "stale": ("StaleOracle", [behind(lambda o: max_staleness(o) + 1)], behind(max_staleness)),
    "not trading": ("OracleNotTrading", [
        lambda o, s=s: o.publish(status=s) for s in (
            PriceStatus.HALTED, PriceStatus.UNKNOWN, PriceStatus.AUCTION, PriceStatus.IGNORED)],
        lambda o: o.publish(status=PriceStatus.TRADING)),
    "too uncertain": ("OracleTooUncertain", [lambda o: o.publish(confidence=conf_limit(o) + 1)],
                      lambda o: o.publish(confidence=conf_limit(o))),
    "owned by another program": ("InvalidOracle", [
        lambda o: o.publish(owner=Keypair().pubkey())], lambda o: o.publish()),
    "not a price account": ("InvalidOracle", [
        lambda o, i=i: o.publish(not_price_accounts(o.account.encode())[i]) for i in range(5)],
        lambda o: o.publish()),
}


@pytest.mark.parametrize("name", ORACLE_READERS)
@pytest.mark.parametrize("case", list(ORACLE_CASES))
def test_unusable_oracle_is_refused_to_the_edge(case: str, name: str) -> None:
    w, ix, signers = ready(name)
    error, refused, accepted = ORACLE_CASES[case]
    if case == "stale" and name in ("open_position", "withdraw"):  # adding risk: fresher
        refused, accepted = [behind(lambda o: max_open_staleness(o) + 1)], behind(
            max_open_staleness)
    o = oracle_of(w, ix)
    assert conf_limit(o) * pyth.BPS == w.params.max_oracle_conf_bps * o.account.price  # exact
    for edit in refused:
        edit(o)
        refuse(w, error, ix, *signers)
    accepted(o)
    w.ok(ix, *signers)


@pytest.mark.parametrize("name", ORACLE_READERS)
def test_oracle_of_another_perp_market_is_refused(name: str) -> None:
    refused_then_ok(name, "OracleMismatch",
                    lambda w, ix: swap(ix, "oracle", open_perp(w, perp_market_id=2).oracle))


def test_flat_withdraw_needs_the_markets_oracle_but_not_its_price(world: World) -> None:
    perp = open_perp(world)
    owner = perp.trader()
    ix = world.client.withdraw(owner.key, perp.market, perp.oracle, owner.token, FUNDS)
    other = open_perp(world, perp_market_id=2)
    refuse(world, "OracleMismatch", swap(ix, "oracle", other.oracle), owner.kp)
    perp.set_price(PRICE, status=PriceStatus.HALTED, slot=0)
    perp.warp_slots(1_000)
    world.ok(ix, owner.kp)


def spoiled_oracle(data: Callable[[bytes], bytes], owner: Pubkey = PYTH_PROGRAM) -> Spoil:
    """create_perp_market on a new account holding `data` of the call's oracle, owned by
    `owner`."""
    def spoil(w: World, ix: Instruction) -> Instruction:
        valid = w.chain.raw(key(ix, "oracle"))
        assert valid is not None
        fake = Keypair().pubkey()
        w.chain.set_account(fake, data(valid), owner)
        return swap(ix, "oracle", fake)
    return spoil


CREATE_ORACLES: dict[str, Spoil] = {
    "price account of another owner": spoiled_oracle(lambda d: d, Keypair().pubkey()),
    "a wallet": lambda w, ix: swap(ix, "oracle", w.admin.pubkey()),
    **{f"not a price account {i}": spoiled_oracle(lambda d, i=i: not_price_accounts(d)[i])
       for i in range(5)},
}


@pytest.mark.parametrize("case", list(CREATE_ORACLES))
def test_create_perp_market_refuses_an_oracle_that_is_not_a_pyth_price(case: str) -> None:
    refused_then_ok("create_perp_market", "InvalidOracle", CREATE_ORACLES[case])


def test_create_perp_market_takes_a_price_account_whatever_its_price() -> None:
    """Freshness, status and confidence matter from the first trade on."""
    w, ix, signers = ready("create_perp_market")
    o = oracle_of(w, ix)
    o.publish(status=PriceStatus.HALTED, confidence=o.account.price, publish_slot=0)
    w.ok(ix, *signers)


# ---- positions that are not the caller's ---------------------------------------------------
@pytest.mark.parametrize("name", OWN_POSITION)
def test_position_of_another_owner_is_refused(name: str) -> None:
    refused_then_ok(name, "InvalidAccount", lambda w, ix: swap(
        ix, "position", depositor(w, key(ix, "perp_market"))))


@pytest.mark.parametrize("name", WITH_POSITION)
def test_position_of_another_perp_market_is_refused(name: str) -> None:
    """The signer's own Position (the owner's; the liquidator's for liquidate) in market 2."""
    w, ix, signers = ready(name)
    other = open_perp(w, perp_market_id=2).market
    refuse(w, "InvalidAccount", swap(ix, "position", depositor(w, other, signers[0])),
           *signers)
    w.ok(ix, *signers)


# ---- program accounts forged or of another type ---------------------------------------------
COPIES = [(n, a.name) for n in PERP for a in SPEC[n].accounts
          if a.name in ("config", "perp_market", "position")
          and (n, a.name) not in {("create_perp_market", "perp_market"), ("deposit", "position")}]


@pytest.mark.parametrize("name, account", COPIES)
def test_copy_owned_by_another_program_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "InvalidOwner",
                    lambda w, ix: swap(ix, account, spoof(w, key(ix, account))))


TYPE_SWAPS = [
    # deposit creates its Position: its market swap is the test below
    *[(n, "perp_market", "position") for n in WITH_POSITION if n != "deposit"],
    *[(n, "position", "perp_market") for n in WITH_POSITION],
    ("open_position", "config", "perp_market"), ("update_funding", "perp_market", "config"),
]


@pytest.mark.parametrize("name, account, other", TYPE_SWAPS)
def test_account_of_another_type_is_refused(name: str, account: str, other: str) -> None:
    refused_then_ok(name, "WrongAccountType", lambda w, ix: swap(ix, account, key(ix, other)))


@pytest.mark.parametrize("name", ["deposit", "update_funding"])
def test_someones_position_as_the_perp_market_is_refused(name: str) -> None:
    refused_then_ok(name, "WrongAccountType", lambda w, ix: swap(
        ix, "perp_market", depositor(w, key(ix, "perp_market"))))


WRONG_ADDRESS: dict[str, tuple[str, Spoil]] = {
    "perp market of the next id": ("create_perp_market", lambda w, ix: swap(
        ix, "perp_market", w.d.perp_market(3))),
    "perp market of an existing id": ("create_perp_market", lambda w, ix: swap(
        ix, "perp_market", w.d.perp_market(1))),
    "perp market at a random address": ("create_perp_market", lambda w, ix: swap(
        ix, "perp_market", Keypair().pubkey())),
    "position at a random address": ("deposit", lambda w, ix: swap(
        ix, "position", Keypair().pubkey())),
    "another wallet's position address": ("deposit", lambda w, ix: swap(
        ix, "position", w.d.position(key(ix, "perp_market"), Keypair().pubkey()))),
    "a position copied under another program": ("deposit", lambda w, ix: swap(
        ix, "position", spoof(w, depositor(w, key(ix, "perp_market"))))),
}


@pytest.mark.parametrize("case", list(WRONG_ADDRESS))
def test_account_not_at_its_derived_address_is_refused(case: str) -> None:
    name, spoil = WRONG_ADDRESS[case]
    refused_then_ok(name, "InvalidPda", spoil)


def test_existing_perp_market_id_is_refused() -> None:
    def market_1(w: World, ix: Instruction) -> Instruction:
        return w.client.create_perp_market(w.admin.pubkey(), 1, key(ix, "oracle"),
                                           PerpMarketParams())
    refused_then_ok("create_perp_market", "AlreadyInitialized", market_1)


# ---- vault, token accounts, programs, authority ---------------------------------------------
# (instruction, what is forged, error, spoil)
FORGERIES: list[tuple[str, str, str, Spoil]] = [
    *[(n, "vault", "InvalidVault", fake_vault) for n in instructions_with("vault", among=PERP)],
    *[(n, "vault_authority", "InvalidVault", fake_vault_authority)
      for n in instructions_with("vault_authority", among=PERP)],
    *[(n, a, "InvalidProgram", fake_program(a)) for a in ("token_program", "system_program")
      for n in instructions_with(a, among=PERP)],
    *[(n, f"{a} {forged}", error, spoil(a)) for n, a in token_accounts(PERP)
      for forged, (error, spoil) in TOKEN_FORGERIES.items()],
    # withdraw and liquidate pay any quote account; the payers' must be their own
    *[(n, "admin_token of another owner", "Unauthorized", of_another_owner("admin_token"))
      for n in ("fund_pool", "fund_insurance")],
    ("deposit", "owner_token of another owner", "Unauthorized", of_another_owner("owner_token")),
]


@pytest.mark.parametrize("name, forged, error, spoil", FORGERIES,
                         ids=[f"{n}-{forged}".replace(" ", "_") for n, forged, _, _ in FORGERIES])
def test_forged_vault_token_account_or_program_is_refused(name: str, forged: str, error: str,
                                                           spoil: Spoil) -> None:
    refused_then_ok(name, error, spoil)


@pytest.mark.parametrize("name", ["create_perp_market", "fund_pool", "fund_insurance"])
def test_only_the_admin_may_call(name: str) -> None:
    intruder = Keypair()
    refused_then_ok(name, "Unauthorized", lambda w, ix: swap(ix, "admin", intruder.pubkey()),
                    intruder)


# ---- arguments ------------------------------------------------------------------------------
def test_side_other_than_long_or_short_is_refused() -> None:
    refused_then_ok("open_position", "InvalidArgument", lambda w, ix: [
        with_args(w, ix, side, SIZE, U64_MAX) for side in (0, 3, 255)])


@pytest.mark.parametrize("name, args", [
    ("open_position", (LONG, 0, U64_MAX)), ("deposit", (0,)), ("withdraw", (0,)),
    ("fund_pool", (0,)), ("fund_insurance", (0,)),
])
def test_zero_amount_is_refused(name: str, args: tuple[int, ...]) -> None:
    refused_then_ok(name, "ZeroAmount", lambda w, ix: with_args(w, ix, *args))


@pytest.mark.parametrize("name, account", [
    ("deposit", "owner_token"), ("fund_pool", "admin_token"), ("fund_insurance", "admin_token"),
])
def test_paying_more_than_the_token_account_holds_is_refused(name: str, account: str) -> None:
    refused_then_ok(name, "InsufficientFunds", lambda w, ix: with_args(
        w, ix, w.balance(key(ix, account)) + 1))


BAD_PARAMS: list[dict[str, int]] = [
    {"maintenance_margin_bps": 1_000}, {"maintenance_margin_bps": 1_001},  # >= initial
    {"maintenance_margin_bps": 0, "liquidation_fee_bps": 0, "taker_fee_bps": 0},
    {"initial_margin_bps": 10_001},
    {"liquidation_fee_bps": 501},  # > maintenance
    {"taker_fee_bps": 101},  # > the liquidation penalty
    {"taker_fee_bps": 1_001, "liquidation_fee_bps": 1_001, "maintenance_margin_bps": 1_001,
     "initial_margin_bps": 2_000, "liquidator_share_bps": 0},  # a taker fee above 10 %
    {"liquidator_share_bps": 9_001},  # the insurance part below the taker fee
    {"liquidator_share_bps": 10_001, "taker_fee_bps": 0},
    {"max_funding_bps": 10_001},
    {"funding_interval_secs": 59}, {"funding_interval_secs": 31_536_001},
    {"funding_interval_secs": 0}, {"funding_interval_secs": -1},
    {"max_profit_bps": 0}, {"max_profit_bps": 10_001},
    {"max_open_interest": 0}, {"max_open_interest": PERP_MAX_OPEN_INTEREST + 1},
]
LIMITS = {"initial_margin_bps": 10_000, "maintenance_margin_bps": 9_999,
          "liquidation_fee_bps": 9_999, "taker_fee_bps": 1_000, "max_funding_bps": 10_000,
          "funding_interval_secs": 31_536_000, "max_profit_bps": 10_000,
          "liquidator_share_bps": 0, "max_open_interest": PERP_MAX_OPEN_INTEREST}
LOW_LIMITS = {"initial_margin_bps": 2, "maintenance_margin_bps": 1, "liquidation_fee_bps": 0,
              "taker_fee_bps": 0, "max_funding_bps": 0, "funding_interval_secs": 60,
              "max_profit_bps": 1, "liquidator_share_bps": 10_000, "max_open_interest": 1}


def with_params(**changes: int) -> Spoil:
    return lambda w, ix: with_args(w, ix, 2, replace(PerpMarketParams(), **changes).to_idl(),
                                          0, list(NO_FEED))


@pytest.mark.parametrize("bad", BAD_PARAMS, ids=lambda p: ",".join(f"{k}={v}" for k, v in
                                                                 p.items()))
def test_create_perp_market_refuses_a_param_out_of_range(bad: dict[str, int]) -> None:
    refused_then_ok("create_perp_market", "InvalidArgument", with_params(**bad))


@pytest.mark.parametrize("limits", [LIMITS, LOW_LIMITS], ids=["high", "low"])
def test_create_perp_market_accepts_every_limit(limits: dict[str, int]) -> None:
    w, ix, signers = ready("create_perp_market")
    w.ok(with_params(**limits)(w, ix), *signers)
    market = w.chain.fetch(key(ix, "perp_market"))
    assert {k: getattr(market, k) for k in limits} == limits


def test_open_while_open_is_refused() -> None:
    w, close, signers = ready("close_position")
    reopen = w.client.open_position(key(close, "owner"), key(close, "perp_market"),
                                    key(close, "oracle"), SHORT, SIZE, 0)
    refuse(w, "PositionOpen", reopen, *signers)
    w.ok(close, *signers)
    w.ok(reopen, *signers)


def test_close_or_liquidate_when_flat_is_refused() -> None:
    w, open_ix, signers = ready("open_position")
    owner, perp_market, oracle = (key(open_ix, a) for a in ("owner", "perp_market", "oracle"))
    liquidator = w.user(0)
    close = w.client.close_position(owner, perp_market, oracle, 0)
    liquidate = w.client.liquidate(liquidator.key, perp_market, w.d.position(perp_market, owner),
                                   oracle, liquidator.token)
    refuse(w, "PositionFlat", close, *signers)
    refuse(w, "PositionFlat", liquidate, liquidator.kp)
    w.ok(open_ix, *signers)
    w.ok(close, *signers)


def test_withdraw_beyond_the_collateral_is_refused(world: World) -> None:
    perp = open_perp(world)
    owner = perp.trader()
    collateral = perp.position(owner).collateral
    call = lambda amount: world.client.withdraw(  # noqa: E731
        owner.key, perp.market, perp.oracle, owner.token, amount)
    refuse(world, "InsufficientCollateral", call(collateral + 1), owner.kp)
    world.ok(call(collateral), owner.kp)
    assert perp.position(owner).collateral == 0


def test_withdraw_keeps_initial_margin_to_the_unit(world: World) -> None:
    """At the entry price, with no funding yet, equity is the collateral."""
    perp, owner = opened(world)
    pos = perp.position(owner)
    required = m.margin(m.notional(SIZE, PRICE), perp.params.initial_margin_bps)
    free = pos.collateral - required
    call = lambda amount: world.client.withdraw(  # noqa: E731
        owner.key, perp.market, perp.oracle, owner.token, amount)
    for too_much in (pos.collateral + 1, pos.collateral, free + 1):
        refuse(world, "InsufficientCollateral", call(too_much), owner.kp)
    world.ok(call(free), owner.kp)
    assert perp.position(owner).collateral == required


def test_update_funding_before_the_interval_is_refused() -> None:
    w, ix, _ = ready("update_funding")
    interval = PerpMarketParams().funding_interval_secs
    edge = w.chain.fetch(key(ix, "perp_market")).last_funding_ts + interval
    at_edge(w, "TooEarly", edge, ix)
    refuse(w, "TooEarly", ix)  # once per interval
    at_edge(w, "TooEarly", edge + interval, ix)


@pytest.mark.parametrize("side", [LONG, SHORT], ids=["long", "short"])
def test_open_beyond_the_acceptable_price_is_refused(side: int) -> None:
    """A long buys at most at its limit, a short sells at least at its."""
    beyond = PRICE - 1 if side == LONG else PRICE + 1
    w, ix, signers = ready("open_position")
    refuse(w, "SlippageExceeded", with_args(w, ix, side, SIZE, beyond), *signers)
    w.ok(with_args(w, ix, side, SIZE, PRICE), *signers)


def test_close_beyond_the_acceptable_price_is_refused() -> None:
    """Closing the long sells: no lower than the limit."""
    w, ix, signers = ready("close_position")
    refuse(w, "SlippageExceeded", with_args(w, ix, PRICE + 1), *signers)
    w.ok(with_args(w, ix, PRICE), *signers)


def test_open_beyond_initial_margin_is_refused() -> None:
    refused_then_ok("open_position", "InsufficientCollateral",
                    lambda w, ix: with_args(w, ix, LONG, 2 * SIZE, U64_MAX))


def quote(w: World, ix: Instruction, price: int) -> None:
    """Publish `price` on the call's oracle."""
    data = pyth.price_account(price, conf_bps=0, slot=slot(w)).encode()
    w.chain.set_account(key(ix, "oracle"), data, PYTH_PROGRAM)


def test_close_below_the_fee_is_left_to_liquidators() -> None:
    """An owner cannot walk away from a loss beyond the collateral."""
    w, ix, signers = ready("close_position")
    quote(w, ix, PRICE * 80 // 100)
    refuse(w, "InsufficientCollateral", ix, *signers)
    quote(w, ix, PRICE)
    w.ok(ix, *signers)


def test_liquidate_above_maintenance_is_refused() -> None:
    w, ix, signers = ready("liquidate")
    quote(w, ix, PRICE)
    refuse(w, "NotLiquidatable", ix, *signers)
    quote(w, ix, LIQUIDATION_PRICE)
    w.ok(ix, *signers)


def test_close_with_a_profit_beyond_the_pools_free_cash_goes_through(world: World) -> None:
    """The pool is the counterparty with reserves: a position as large as the pool's free
    liquidity reserves all of it, and its close pays the capped profit however far the price
    went."""
    perp = open_perp(world)
    pool = world.config().perp_pool
    size = pool * 10**6 // PRICE  # a notional as large as the pool
    owner = perp.trader(pool // 5)
    perp.open(owner, LONG, size)
    assert world.config().perp_pool_reserved == pool
    perp.set_price(PRICE * 5 // 2)
    before = perp.position(owner).collateral
    world.ok(world.client.close_position(owner.key, perp.market, perp.oracle, 0), owner.kp)
    c = world.config()
    assert (c.perp_pool, c.perp_pool_reserved) == (0, 0)
    fee = (size * (PRICE * 5 // 2) // 10**6) * perp.params.taker_fee_bps // 10_000
    assert perp.position(owner).collateral == before + pool - fee


# ---- pausing --------------------------------------------------------------------------------
def test_pause_stops_opening_only(world: World) -> None:
    """Paused, nobody opens a position or deposits; closing, withdrawing, liquidation and
    funding go on."""
    perp = open_perp(world)
    c = world.client
    opener, closer, holder, loser = (perp.trader() for _ in range(4))
    perp.open(closer, SHORT, SIZE // 10)
    perp.open(holder, LONG, SIZE // 10)
    perp.open(loser, LONG, SIZE)
    perp.set_price(LIQUIDATION_PRICE)
    world.chain.advance(perp.params.funding_interval_secs)
    pause(world)
    open_ix = c.open_position(opener.key, perp.market, perp.oracle, LONG, SIZE, U64_MAX)
    refuse(world, "Paused", open_ix, opener.kp)
    perp.close(closer)
    refuse(world, "Paused", c.deposit(holder.key, perp.market, holder.token, FUNDS), holder.kp)
    world.ok(c.withdraw(holder.key, perp.market, perp.oracle, holder.token, FUNDS), holder.kp)
    liquidator = world.user(0)
    world.ok(perp.liquidate_ix(liquidator, loser), liquidator.kp)
    world.ok(perp.update_funding_ix())
    assert world.config().paused
    pause(world, False)
    world.ok(open_ix, opener.kp)
