"""Judging Pyth prices exactly as the program does (program/src/state/oracle.h for the
legacy price accounts, program/src/state/price_update.h for PriceUpdateV2).

A keeper that judges a price differently from the program either sends transactions the
program refuses or waits while it could act. `judge` follows the C check for check, in the
same order, and names each refusal with the program's error from the IDL.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from solana.rpc.commitment import Processed
from solders.pubkey import Pubkey

from chain.client import RpcClient
from chain.price_update import PriceUpdate, Verification
from chain.pyth import PRICE_DECIMALS, PriceStatus, read_aggregate
from jobs.errors import ProgramRefused
from program.client import NO_FEED, OracleKind

# The exponents the program accepts: 10^(6 + exponent) stays a 13-entry table.
EXPONENT_MIN, EXPONENT_MAX = -18, 6
BPS = 10_000
U64_MAX = 2**64 - 1


class OracleLimitFields(Protocol):
    """The fields of a PerpMarket account that hold its oracle limits."""

    @property
    def max_oracle_staleness_slots(self) -> int: ...
    @property
    def max_oracle_conf_bps(self) -> int: ...
    @property
    def oracle_kind(self) -> int: ...
    @property
    def feed_id(self) -> Sequence[int]: ...
    @property
    def max_price_age_secs(self) -> int: ...


@dataclass(frozen=True)
class OracleLimits:
    """The oracle limits a perp market copied from the config at creation, and the kind of
    oracle it was bound to (with, for PriceUpdateV2, its feed and the publish-time limit)."""

    max_staleness_slots: int
    max_conf_bps: int
    kind: OracleKind = OracleKind.PYTH_LEGACY
    feed_id: bytes = NO_FEED
    max_age_secs: int = 0

    @classmethod
    def from_market(cls, market: OracleLimitFields) -> OracleLimits:
        """From a PerpMarket account: the limits it copied at creation, which the program
        applies to its oracle."""
        return cls(market.max_oracle_staleness_slots, market.max_oracle_conf_bps,
                   OracleKind(market.oracle_kind), bytes(market.feed_id),
                   market.max_price_age_secs)


# The program's bound on a perp price: price + conf at most 10^6 quote per base unit.
PERP_MAX_PRICE = 10**12


@dataclass(frozen=True)
class Quote:
    """An oracle's price and confidence as the perps read them (6 decimals; the confidence
    rounded up when scaled down)."""

    price: int
    conf: int


class OracleRefused(ProgramRefused):
    """The program would refuse this price; `error` is its IDL error name."""


def judge(data: bytes, limits: OracleLimits, slot: int, now: int | None = None) -> int:
    """The price in quote per whole base unit with 6 decimals, as the program would read it
    at `slot` and unix time `now` (the wall clock when None; only PriceUpdateV2 reads it);
    raises OracleRefused with the error the program would give."""
    return _judge(data, limits, slot, now).price


def judge_quote(data: bytes, limits: OracleLimits, slot: int, now: int | None = None) -> Quote:
    """The price and confidence the perp instructions would read at `slot` and `now`
    (`perp_quote` in the program); raises OracleRefused as they would refuse it."""
    quote = _judge(data, limits, slot, now)
    if quote.price > PERP_MAX_PRICE or quote.conf > PERP_MAX_PRICE - quote.price:
        raise OracleRefused("InvalidOracle",
                            f"price {quote.price} + conf {quote.conf} beyond the bound")
    return quote


def _judge(data: bytes, limits: OracleLimits, slot: int, now: int | None) -> Quote:
    if limits.kind == OracleKind.PRICE_UPDATE_V2:
        return _judge_price_update(data, limits, slot, int(time.time()) if now is None else now)
    return _judge_legacy(data, limits, slot)


def _judge_legacy(data: bytes, limits: OracleLimits, slot: int) -> Quote:
    """`oracle_quote_e6`."""
    try:
        agg = read_aggregate(data)
    except ValueError as e:
        raise OracleRefused("InvalidOracle", str(e)) from None
    if not EXPONENT_MIN <= agg.exponent <= EXPONENT_MAX:
        raise OracleRefused("InvalidOracle", f"exponent {agg.exponent} out of range")
    if agg.status != PriceStatus.TRADING:
        raise OracleRefused("OracleNotTrading", f"status {agg.status}")
    price_e6 = _scaled_price(agg.price, agg.exponent)
    age = slot - agg.publish_slot
    if age > limits.max_staleness_slots:
        raise OracleRefused("StaleOracle", f"published {age} slots ago")
    return Quote(price_e6, _scaled_conf(agg.price, agg.confidence, agg.exponent, limits))


def _judge_price_update(data: bytes, limits: OracleLimits, slot: int, now: int) -> Quote:
    """`price_update_quote_e6`."""
    try:
        update = PriceUpdate.decode(data)
    except ValueError as e:
        raise OracleRefused("InvalidOracle", str(e)) from None
    if update.verification != Verification.FULL:
        raise OracleRefused("OracleNotFullyVerified",
                            f"{update.num_signatures} signatures verified")
    if update.feed_id != limits.feed_id:
        raise OracleRefused("OracleFeedMismatch", f"feed {update.feed_id.hex()}")
    if not EXPONENT_MIN <= update.exponent <= EXPONENT_MAX:
        raise OracleRefused("InvalidOracle", f"exponent {update.exponent} out of range")
    price_e6 = _scaled_price(update.price, update.exponent)
    age = slot - update.posted_slot
    if age > limits.max_staleness_slots:
        raise OracleRefused("StaleOracle", f"posted {age} slots ago")
    age_secs = now - update.publish_time
    if age_secs > limits.max_age_secs:
        raise OracleRefused("StalePublishTime", f"published {age_secs} s ago")
    conf = _scaled_conf(update.price, update.conf, update.exponent, limits)
    if conf > U64_MAX:
        raise OracleRefused("InvalidOracle", f"confidence {update.conf} does not fit")
    return Quote(price_e6, conf)


def _scaled_price(price: int, exponent: int) -> int:
    """`oracle_scale_price`, after the price's sign: 6 decimals, rounded down."""
    if price <= 0:
        raise OracleRefused("InvalidOracle", f"price {price} is not positive")
    shift = exponent + PRICE_DECIMALS
    scale: int = 10 ** abs(shift)  # int ** int is Any to mypy
    price_e6 = price * scale if shift >= 0 else price // scale
    if price_e6 == 0 or price_e6 > U64_MAX:
        raise OracleRefused("InvalidOracle", f"price {price}e{exponent} does not fit")
    return price_e6


def _scaled_conf(price: int, conf: int, exponent: int, limits: OracleLimits) -> int:
    """The confidence rule on raw units, then `oracle_scale_conf`: 6 decimals, rounded up."""
    if conf * BPS > limits.max_conf_bps * price:
        raise OracleRefused("OracleTooUncertain", f"confidence {conf} of price {price}")
    shift = exponent + PRICE_DECIMALS
    scale: int = 10 ** abs(shift)
    # beyond U64_MAX the program refuses it as InvalidOracle: the legacy path through
    # perp_quote's bound (judge_quote), PriceUpdateV2 at once (_judge_price_update)
    scaled: int = conf * scale if shift >= 0 else -(-conf // scale)
    return scaled


def published_slot(data: bytes, kind: OracleKind) -> int | None:
    """The slot the program counts an oracle's age from (a legacy account's aggregate publish
    slot, a PriceUpdateV2's posted slot); None when the data is no account of that kind."""
    try:
        if kind == OracleKind.PRICE_UPDATE_V2:
            return PriceUpdate.decode(data).posted_slot
        return read_aggregate(data).publish_slot
    except ValueError:
        return None


async def read_price(rpc: RpcClient, oracle: Pubkey, limits: OracleLimits) -> int:
    """The oracle's price now, judged at the slot of the very response that carried it;
    raises OracleRefused as the program would refuse it (InvalidOracle when it is absent)."""
    # processed: the newest slot, the one the program's clock is at when a transaction sent
    # now runs (at confirmed a jump of many slots would still show the price fresh)
    response = await rpc.call("get_account_info", oracle, Processed)
    account = response.value
    if account is None:
        raise OracleRefused("InvalidOracle", f"no account at {oracle}")
    return judge(bytes(account.data), limits, response.context.slot)
