"""Perp markets on a PriceUpdateV2 oracle (the Pyth Solana Receiver's accounts) on the real
SVM: the whole life of a market (open, close, liquidate, update_funding), every refusal of
the kind with its own error and no byte changed, and the attacks that swap one kind, feed or
verification for another."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from chain.price_update import PriceUpdate, Verification
from chain.pyth import price_account
from program.client import NO_FEED, RECEIVER_PROGRAM, OracleKind, PerpMarketParams
from program.local import PYTH_PROGRAM
from tests.support.perp_world import CRASHED, FRAGILE, SIZE
from tests.support.perps import FEED_ID, LONG, PRICE, SHORT, Perp, open_perp
from tests.support.program_world import World

V2 = OracleKind.PRICE_UPDATE_V2
OTHER_FEED = bytes(reversed(FEED_ID))


@dataclass
class Readers:
    """A PriceUpdateV2 market at the crashed price, and a call of each instruction that reads
    its oracle, each ready to succeed at a fresh Full update of its feed."""

    w: World
    perp: Perp
    calls: dict[str, tuple[Instruction, tuple[Keypair, ...]]]
    base: PriceUpdate


def readers(w: World) -> Readers:
    perp = open_perp(w, kind=V2)
    perp.warp_slots(1_000)  # room to post updates behind the clock
    perp.set_price(PRICE)
    holder, victim, newcomer, liquidator = perp.trader(), perp.trader(FRAGILE), perp.trader(), \
        perp.trader()
    perp.open(holder, SHORT, SIZE)
    perp.open(victim, LONG, SIZE)
    perp.warp_secs(perp.params.funding_interval_secs)  # funding is due
    base = perp.update(CRASHED)  # the victim is below maintenance at it
    perp.set_update(base)
    c = w.client
    calls = {
        "open_position": (c.open_position(newcomer.key, perp.market, perp.oracle, LONG, SIZE,
                                          2**64 - 1), (newcomer.kp,)),
        "close_position": (c.close_position(holder.key, perp.market, perp.oracle, 2**64 - 1),
                           (holder.kp,)),
        "liquidate": (perp.liquidate_ix(liquidator, victim), (liquidator.kp,)),
        "update_funding": (perp.update_funding_ix(), ()),
    }
    return Readers(w, perp, calls, base)


def max_age(r: Readers) -> int:
    return r.w.params.max_price_age_secs


def max_slots(r: Readers) -> int:
    return r.w.params.max_oracle_staleness_slots


def now(r: Readers) -> int:
    return r.w.chain.svm.get_clock().unix_timestamp


def conf_limit(r: Readers) -> int:
    """The widest raw confidence allowed: conf * 10^4 <= max_conf_bps * price."""
    return r.w.params.max_oracle_conf_bps * r.base.price // 10_000


# case: (error, the spoiled account and its owner, from the ready market)
CASES: dict[str, tuple[str, object]] = {
    "wrong owner": ("InvalidOracle", lambda r: (r.base.encode(), PYTH_PROGRAM)),
    "partial verification": ("OracleNotFullyVerified", lambda r: (replace(
        r.base, verification=Verification.PARTIAL, num_signatures=13).encode(),
        RECEIVER_PROGRAM)),
    "wrong feed": ("OracleFeedMismatch",
                   lambda r: (replace(r.base, feed_id=OTHER_FEED).encode(), RECEIVER_PROGRAM)),
    "stale by time": ("StalePublishTime", lambda r: (replace(
        r.base, publish_time=now(r) - max_age(r) - 1).encode(), RECEIVER_PROGRAM)),
    "stale by slot": ("StaleOracle", lambda r: (replace(
        r.base, posted_slot=r.base.posted_slot - max_slots(r) - 1).encode(), RECEIVER_PROGRAM)),
    "too uncertain": ("OracleTooUncertain", lambda r: (replace(
        r.base, conf=conf_limit(r) + 1).encode(), RECEIVER_PROGRAM)),
    "bad exponent": ("InvalidOracle",
                     lambda r: (replace(r.base, exponent=-19).encode(), RECEIVER_PROGRAM)),
    "truncated account": ("InvalidOracle", lambda r: (r.base.encode()[:-1], RECEIVER_PROGRAM)),
    "legacy account": ("InvalidOracle", lambda r: (
        price_account(CRASHED, slot=r.base.posted_slot).encode(), RECEIVER_PROGRAM)),
}
# the accepted edge of each limit
EDGES = {
    "stale by time": lambda r: replace(r.base, publish_time=now(r) - max_age(r)),
    "too uncertain": lambda r: replace(r.base, conf=conf_limit(r)),
}


@pytest.mark.parametrize("call", ["open_position", "close_position", "liquidate",
                                  "update_funding"])
@pytest.mark.parametrize("case", list(CASES))
def test_every_refusal_of_the_kind_changes_nothing(world: World, case: str, call: str) -> None:
    """Each spoiled update is refused with its own error and no byte changed; the market's
    fresh update, or the spoiled field at its limit, is then accepted."""
    r = readers(world)
    error, spoil = CASES[case]
    data, owner = spoil(r)  # type: ignore[operator]
    r.perp.set_update(data, owner)
    ix, signers = r.calls[call]
    world.refused(error, ix, *signers, watch=[r.perp.oracle])
    edge = EDGES.get(case)
    r.perp.set_update(edge(r) if edge else r.base)
    world.ok(ix, *signers)


def test_a_market_lives_on_price_updates(world: World) -> None:
    """Open, close at a profit, liquidate after a crash and report funding, all priced by
    PriceUpdateV2 at 6 decimals as the legacy kind would be."""
    perp = open_perp(world, kind=V2)
    m = perp.state()
    assert (m.oracle_kind, bytes(m.feed_id), m.pyth_program) == (V2, FEED_ID, RECEIVER_PROGRAM)
    assert m.max_price_age_secs == world.params.max_price_age_secs
    trader, victim, liquidator = perp.trader(), perp.trader(FRAGILE), perp.trader()
    opened = perp.open(trader, LONG, SIZE)
    assert opened.ok and perp.position(trader).entry_price == PRICE
    perp.open(victim, LONG, SIZE)
    perp.set_price(PRICE + 5_000_000)
    perp.close(trader)
    assert perp.position(trader).size == 0
    perp.set_price(CRASHED)
    world.ok(perp.liquidate_ix(liquidator, victim), liquidator.kp)
    assert perp.position(victim).size == 0
    perp.warp_secs(perp.params.funding_interval_secs)
    perp.set_price(CRASHED)
    world.ok(perp.update_funding_ix())


def test_the_legacy_kind_is_unchanged(world: World) -> None:
    m = open_perp(world).state()
    assert (m.oracle_kind, bytes(m.feed_id), m.pyth_program) == (
        OracleKind.PYTH_LEGACY, NO_FEED, PYTH_PROGRAM)


# ---- attacks --------------------------------------------------------------------------------
def create_ix(w: World, oracle: Pubkey, kind: int, feed: bytes, perp_market_id: int = 9) -> object:
    return w.client.create_perp_market(w.admin.pubkey(), perp_market_id, oracle,
                                       PerpMarketParams(), oracle_kind=kind,  # type: ignore[arg-type]
                                       feed_id=feed)


def account_at(w: World, data: bytes, owner: Pubkey) -> Pubkey:
    address = Keypair().pubkey()
    w.chain.set_account(address, data, owner)
    return address


def fresh_update(w: World, feed: bytes = FEED_ID) -> PriceUpdate:
    clock = w.chain.svm.get_clock()
    return PriceUpdate(feed_id=feed, price=PRICE * 100, conf=0, exponent=-8,
                       publish_time=clock.unix_timestamp, posted_slot=clock.slot)


def test_a_legacy_account_cannot_price_a_price_update_market(world: World) -> None:
    """Neither at creation (by owner, or in the receiver's name by its bytes) nor once the
    market's oracle address holds one."""
    legacy = price_account(PRICE, slot=world.chain.svm.get_clock().slot).encode()
    world.refused("InvalidOracle", create_ix(world, account_at(world, legacy, PYTH_PROGRAM), V2,
                                             FEED_ID), world.admin)
    world.refused("InvalidOracle", create_ix(world, account_at(world, legacy, RECEIVER_PROGRAM),
                                             V2, FEED_ID), world.admin)
    perp = open_perp(world, kind=V2)
    u = perp.trader()
    perp.w.chain.set_account(perp.oracle, legacy, PYTH_PROGRAM)
    world.refused("InvalidOracle", world.client.open_position(
        u.key, perp.market, perp.oracle, LONG, SIZE, 2**64 - 1), u.kp)


def test_a_price_update_cannot_price_a_legacy_market(world: World) -> None:
    update = fresh_update(world).encode()
    world.refused("InvalidOracle", create_ix(world, account_at(world, update, RECEIVER_PROGRAM),
                                             OracleKind.PYTH_LEGACY, NO_FEED), world.admin)
    legacy = open_perp(world)
    u = legacy.trader()
    v2_oracle = open_perp(world, kind=V2, perp_market_id=2).oracle
    world.refused("OracleMismatch", world.client.open_position(
        u.key, legacy.market, v2_oracle, LONG, SIZE, 2**64 - 1), u.kp)
    world.chain.set_account(legacy.oracle, update, PYTH_PROGRAM)  # the bytes, in Pyth's name
    world.refused("InvalidOracle", world.client.open_position(
        u.key, legacy.market, legacy.oracle, LONG, SIZE, 2**64 - 1), u.kp)


def test_another_feeds_account_is_refused(world: World) -> None:
    """At creation, and as the account of another market on another feed."""
    other = account_at(world, fresh_update(world, OTHER_FEED).encode(), RECEIVER_PROGRAM)
    world.refused("OracleFeedMismatch", create_ix(world, other, V2, FEED_ID), world.admin)
    perp = open_perp(world, kind=V2)
    u = perp.trader()
    world.refused("OracleMismatch", world.client.open_position(
        u.key, perp.market, other, LONG, SIZE, 2**64 - 1), u.kp)


def test_a_partial_update_liquidates_nobody(world: World) -> None:
    """A crash price verified by fewer guardians than Full cannot liquidate; the same price
    fully verified can."""
    perp = open_perp(world, kind=V2)
    victim, liquidator = perp.trader(FRAGILE), perp.trader()
    perp.open(victim, LONG, SIZE)
    crash = perp.update(CRASHED)
    perp.set_update(replace(crash, verification=Verification.PARTIAL, num_signatures=1))
    world.refused("OracleNotFullyVerified", perp.liquidate_ix(liquidator, victim),
                  liquidator.kp, watch=[victim.token, liquidator.token])
    perp.set_update(crash)
    world.ok(perp.liquidate_ix(liquidator, victim), liquidator.kp)


@pytest.mark.parametrize(("kind", "feed"), [(V2, NO_FEED), (OracleKind.PYTH_LEGACY, FEED_ID),
                                            (2, FEED_ID)])
def test_a_kind_without_its_feed_is_refused(world: World, kind: int, feed: bytes) -> None:
    """A PriceUpdateV2 market needs a feed, a legacy one takes none, no third kind exists."""
    update = account_at(world, fresh_update(world).encode(), RECEIVER_PROGRAM)
    world.refused("InvalidArgument", create_ix(world, update, kind, feed), world.admin)
