"""Judging Pyth prices exactly as the program does (program/src/state/oracle.h).

A keeper that judges a price differently from the program either sends transactions the
program refuses or waits while it could act. `judge` follows the C check for check, in the
same order, and names each refusal with the program's error from the IDL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from solana.rpc.commitment import Processed
from solders.pubkey import Pubkey

from chain.client import RpcClient
from chain.pyth import PRICE_DECIMALS, PriceStatus, read_aggregate
from jobs.errors import ProgramRefused

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


@dataclass(frozen=True)
class OracleLimits:
    """The oracle limits a perp market copied from the config at creation."""

    max_staleness_slots: int
    max_conf_bps: int

    @classmethod
    def from_market(cls, market: OracleLimitFields) -> OracleLimits:
        """From a PerpMarket account: the limits it copied at creation, which the program
        applies to its oracle."""
        return cls(market.max_oracle_staleness_slots, market.max_oracle_conf_bps)


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


def judge(data: bytes, limits: OracleLimits, slot: int) -> int:
    """The price in quote per whole base unit with 6 decimals, as the program would read it
    at `slot`; raises OracleRefused with the error the program would give."""
    try:
        agg = read_aggregate(data)
    except ValueError as e:
        raise OracleRefused("InvalidOracle", str(e)) from None
    if not EXPONENT_MIN <= agg.exponent <= EXPONENT_MAX:
        raise OracleRefused("InvalidOracle", f"exponent {agg.exponent} out of range")
    if agg.status != PriceStatus.TRADING:
        raise OracleRefused("OracleNotTrading", f"status {agg.status}")
    if agg.price <= 0:
        raise OracleRefused("InvalidOracle", f"price {agg.price} is not positive")
    shift = agg.exponent + PRICE_DECIMALS
    scale: int = 10 ** abs(shift)  # int ** int is Any to mypy
    price_e6 = agg.price * scale if shift >= 0 else agg.price // scale
    if price_e6 == 0 or price_e6 > U64_MAX:
        raise OracleRefused("InvalidOracle", f"price {agg.price}e{agg.exponent} does not fit")
    age = slot - agg.publish_slot
    if age > limits.max_staleness_slots:
        raise OracleRefused("StaleOracle", f"published {age} slots ago")
    if agg.confidence * BPS > limits.max_conf_bps * agg.price:
        raise OracleRefused("OracleTooUncertain",
                            f"confidence {agg.confidence} of price {agg.price}")
    return price_e6


def judge_quote(data: bytes, limits: OracleLimits, slot: int) -> Quote:
    """The price and confidence the perp instructions would read at `slot` (`perp_quote` in
    the program); raises OracleRefused as they would refuse it."""
    price = judge(data, limits, slot)
    agg = read_aggregate(data)
    shift = agg.exponent + PRICE_DECIMALS
    scale: int = 10 ** abs(shift)
    conf = agg.confidence * scale if shift >= 0 else -(-agg.confidence // scale)
    if price > PERP_MAX_PRICE or conf > PERP_MAX_PRICE - price:
        raise OracleRefused("InvalidOracle", f"price {price} + conf {conf} beyond the bound")
    return Quote(price, conf)


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
