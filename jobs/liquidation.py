"""`scan_positions` → `liquidate_position(position)`: find the positions below maintenance and
liquidate each once.

The scan loads the open positions and their perp markets (getProgramAccounts, filtered by
the node), judges the oracles exactly as the program does, and lets `jobs.liquidation_plan`
pick the liquidatable positions. Either job that meets a pull oracle stale queues its post
(`jobs.price_request`). A liquidation re-reads the position, its market, the Config,
the oracle and the clock in one request before every signing and sends nothing when the
position is flat (`already_done`), healthy (`not_needed`) or its oracle refused (`retry`) —
except the fast path's first send (`found_by_trigger`): the trigger has just judged the
position at the price notified, so its transaction is built from that verdict and sent at
once, unread and unsimulated; the program judges it all the same, and any later send of the
job reads and simulates as ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import structlog
from solders.account import Account
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from chain.funding import Funding
from chain.prices import OracleRefused, Quote, judge_quote, published_slot
from chain.sender import Presigned
from jobs.deps import JobDeps, MissingAccount, Step, run_planned
from jobs.liquidation_plan import (
    FLAT,
    LONG,
    Candidate,
    OracleRule,
    PositionBook,
    is_liquidatable,
)
from jobs.outcome import Outcome
from jobs.position_load import load_positions
from jobs.price_request import STALE, request_posts
from jobs.registry import LIQUIDATE_POSITION, SCAN_POSITIONS
from jobs.reward_token import creating_reward_token, reward_token_address
from metrics import definitions as metric
from program.accounts import Config, PerpMarket, Position, ProgramAccount

# Facts that never change once on chain (a position's market is in its PDA's seeds, a
# market's oracle is set at creation), so each keeper process looks them up once. Bounded:
# cleared when full, the cost of which is one more lookup per position.
_ROUTES_MAX = 200_000
_ROUTES_CHUNK = 10_000
_markets: dict[Pubkey, Pubkey] = {}  # position -> its perp market
_oracles: dict[Pubkey, Pubkey] = {}  # perp market -> its oracle

# The compute-unit limits of the fast path's unsimulated liquidation: `liquidate` uses under
# 9,000 units on either kind of oracle (program/compute_units.json, held by bench-cu's test),
# and creating the reward token account about 21,000 more (29,130 together, measured).
LIQUIDATE_UNITS = 15_000
CREATE_REWARD_TOKEN_UNITS = 35_000
# the trigger's verdict on the position of the try running, and its transaction when signed
# already (fleet/fast_path.py sets them)
_found: ContextVar[tuple[Candidate, Presigned | None] | None] = ContextVar(
    "keepernet_liquidation_found", default=None)
# reward token accounts seen on chain: a fast send need not create them
_reward_tokens: set[Pubkey] = set()

log = structlog.get_logger(__name__)
A = TypeVar("A", bound=ProgramAccount)


@contextlib.contextmanager
def found_by_trigger(candidate: Candidate, presigned: Presigned | None = None) -> Iterator[None]:
    """Within the block (and the tasks it starts), a liquidation of `candidate.position` sends
    its first transaction built from `candidate` (found liquidatable at a price just
    notified) without reading the chain or simulating: `presigned` when given (signed from
    `verdict_instructions`)."""
    token = _found.set((candidate, presigned))
    try:
        yield
    finally:
        _found.reset(token)


def verdict_instructions(deps: JobDeps, candidate: Candidate) -> tuple[list[Instruction], int]:
    """The liquidation of `candidate` as the trigger found it, with no read of the chain: its
    instructions (the keeper's reward account created first until it is seen on chain) and
    their compute units."""
    keeper, quote_mint = deps.sender.payer.pubkey(), deps.client.d.quote_mint
    token = reward_token_address(keeper, quote_mint, deps.reward_token)
    creating = [] if token in _reward_tokens else creating_reward_token(
        keeper, quote_mint, deps.reward_token, None)
    return ([*creating, deps.client.liquidate(keeper, candidate.perp_market,
                                              candidate.position, candidate.oracle, token)],
            LIQUIDATE_UNITS + (CREATE_REWARD_TOKEN_UNITS if creating else 0))


@dataclass(frozen=True)
class ScanResult:
    """What a scan found: the positions to liquidate, how many positions had a price to be
    judged at, and the markets whose oracle the program would refuse now (perp market → its
    error name)."""

    candidates: list[Candidate]
    judged: int
    refused: dict[Pubkey, str]


def _expect(account: ProgramAccount | None, kind: type[A], address: Pubkey) -> A:
    """The decoded `account`; MissingAccount unless it is a `kind`."""
    if not isinstance(account, kind):
        raise MissingAccount(f"no {kind.KIND} account at {address}")
    return account


async def load_book(deps: JobDeps, perp_market: Pubkey | None = None, *,
                    partitions: int = 1) -> PositionBook:
    """The open positions of every perp market (or of `perp_market`) with their markets; the
    node sends only open ones (a filter on the side byte per side), in `partitions` answers
    per side (jobs/position_load.py)."""
    if perp_market is None:
        markets = dict(await deps.rpc.program_accounts(deps.program, PerpMarket))
    else:
        _, (m,) = await deps.snapshot(perp_market)
        markets = {perp_market: m} if isinstance(m, PerpMarket) else {}
    # the positions as raw records: decoding each with the IDL would block the event loop
    # for half a second per 10,000
    keys, records = await load_positions(deps, perp_market, partitions=partitions)
    # what a liquidation must otherwise look up first: the worker that loaded the book skips it
    _oracles.update((address, m.oracle) for address, m in markets.items())
    # on a worker thread: at a million positions building the book is seconds of work
    return await asyncio.to_thread(_built, markets, keys, records)


def _built(markets: Mapping[Pubkey, PerpMarket], keys: Sequence[Pubkey],
           records: np.ndarray) -> PositionBook:
    """The book of `records`, each position's market remembered for its liquidation (in
    chunks, so that the event loop's thread gets the interpreter between them)."""
    if len(_markets) + len(keys) > _ROUTES_MAX:
        _markets.clear()
    routed = min(len(keys), _ROUTES_MAX)
    for start in range(0, routed, _ROUTES_CHUNK):
        end = min(start + _ROUTES_CHUNK, routed)
        _markets.update(zip(keys[start:end], map(Pubkey, records["perp_market"][
            start:end].tolist()), strict=True))
    return PositionBook.from_records(markets, keys, records)


def judge_oracle(account: Account | None, rule: OracleRule, slot: int, now: int) -> Quote:
    """The oracle's quote as `perp_quote` reads it for a market with `rule` at the chain's
    `slot` and unix time `now` (the market's own oracle kind, owner and limits); OracleRefused
    as it refuses (the caller has checked the oracle is the market's)."""
    if account is None or account.owner != rule.pyth_program:
        # the market copied its kind's owner (the legacy Pyth program or the receiver)
        raise OracleRefused("InvalidOracle", "not a price account of the Pyth program")
    return judge_quote(bytes(account.data), rule.limits, slot, now)


@dataclass(frozen=True)
class Prices:
    """Quotes as the program would take them now for each perp market (market → quote), the
    markets whose oracle it would refuse (market → its error name), and the chain's unix time
    they were read at (funding accrues to it)."""

    quotes: dict[Pubkey, Quote]
    refused: dict[Pubkey, str]
    now: int


async def read_prices(deps: JobDeps, rules: Mapping[Pubkey, OracleRule]) -> Prices:
    """Each perp market's quote as the program would take it now (its oracle judged with the
    owner and limits that market copied, at the chain's slot; every oracle read once, all in
    one getMultipleAccounts), and the error names of those it would refuse."""
    oracles = sorted({r.oracle for r in rules.values()}, key=bytes)
    clock, accounts = await deps.raw_snapshot(*oracles)
    by_oracle = dict(zip(oracles, accounts, strict=True))
    quotes: dict[Pubkey, Quote] = {}
    refused: dict[Pubkey, str] = {}
    for market, rule in rules.items():
        try:
            quotes[market] = judge_oracle(by_oracle[rule.oracle], rule, clock.slot,
                                          clock.unix_timestamp)
        except OracleRefused as e:
            refused[market] = e.error
            metric.oracle_rejections.labels(e.error).inc()
    # the age of the price accounts only: an account that is no price (refused by name) has
    # no age, and counting it as published at slot 0 would report it as stale instead
    priced = {r.oracle: published_slot(bytes(a.data), r.limits.kind) for r in rules.values()
              if (a := by_oracle[r.oracle]) is not None and a.owner == r.pyth_program}
    ages = [clock.slot - s for s in priced.values() if s is not None]
    if ages:
        metric.oracle_age.set(max(ages))
    return Prices(quotes, refused, clock.unix_timestamp)


async def scan_positions(deps: JobDeps, perp_market: Pubkey | None = None, *,
                         instances: Sequence[str] | None = None,
                         me: str | None = None, partitions: int = 1) -> ScanResult:
    """The positions to liquidate now (of `perp_market`, or all; with `instances` and `me`,
    this instance's share), read in `partitions` answers per side."""
    book = await load_book(deps, perp_market, partitions=partitions)
    prices = await read_prices(deps, book.rules)
    refused = prices.refused
    await request_posts(deps, [(m, book.rules[m].oracle, book.rules[m].limits)
                               for m, error in refused.items() if error in STALE])
    result = ScanResult(book.liquidatable(prices.quotes, now=prices.now, instances=instances,
                                          me=me),
                        book.priced(prices.quotes), refused)
    metric.positions_at_risk.set(len(result.candidates))
    log.info(SCAN_POSITIONS.name, positions=len(book), judged=result.judged,
             candidates=len(result.candidates), refused={str(k): v for k, v in refused.items()})
    return result


async def _route(deps: JobDeps, position: Pubkey) -> tuple[Pubkey, Pubkey]:
    """The position's perp market and that market's oracle."""
    # (read with get: a book being built on a worker thread may clear the routes meanwhile)
    market = _markets.get(position)
    if market is None:
        p = _expect((await deps.snapshot(position))[1][0], Position, position)
        if len(_markets) >= _ROUTES_MAX:
            _markets.clear()
        market = _markets[position] = p.perp_market
    oracle = _oracles.get(market)
    if oracle is None:
        m = _expect((await deps.snapshot(market))[1][0], PerpMarket, market)
        oracle = _oracles[market] = m.oracle
    return market, oracle


async def liquidate_position(deps: JobDeps, position: Pubkey) -> Outcome:
    """Liquidate `position` when the program would: `already_done` once flat, `not_needed`
    while healthy, `retry` while its oracle is refused, `failed` when an account is missing."""

    keeper, quote_mint = deps.sender.payer.pubkey(), deps.client.d.quote_mint
    token = reward_token_address(keeper, quote_mint, deps.reward_token)
    read: tuple[Pubkey, OracleRule] | None = None  # the market and its rule, once read

    async def stale(error: str) -> None:
        if error in STALE and read is not None:
            market, rule = read
            await request_posts(deps, [(market, rule.oracle, rule.limits)])

    async def planner() -> Step:
        nonlocal read
        perp_market, oracle = await _route(deps, position)
        clock, accounts = await deps.raw_snapshot(position, perp_market, deps.client.d.config,
                                                  oracle, token)
        p = _expect(deps.decode(accounts[0]), Position, position)
        m = _expect(deps.decode(accounts[1]), PerpMarket, perp_market)
        _expect(deps.decode(accounts[2]), Config, deps.client.d.config)
        if accounts[4] is not None:
            _reward_tokens.add(token)
        if p.side == FLAT:
            return Outcome.ALREADY_DONE
        rule = OracleRule.of(m)
        read = perp_market, rule
        try:
            quote = judge_oracle(accounts[3], rule, clock.slot, clock.unix_timestamp)
        except OracleRefused as e:
            log.info("liquidate_position oracle refused", position=str(position),
                     oracle=str(oracle), error=e.error, reason=e.reason)
            await stale(e.error)
            return Outcome.RETRY
        long_index, short_index = Funding.of(m).indexes(quote.price, clock.unix_timestamp)
        if not is_liquidatable(p.side, p.size, p.entry_price, p.collateral, p.funding_snapshot,
                               p.reserve, quote=quote,
                               index=long_index if p.side == LONG else short_index,
                               maintenance_bps=m.maintenance_margin_bps):
            return Outcome.NOT_NEEDED
        return [*creating_reward_token(keeper, quote_mint, deps.reward_token, accounts[4]),
                deps.client.liquidate(keeper, perp_market, position, oracle, token)]

    found = _found.get()
    if found is not None and found[0].position == position:
        candidate, presigned = found
        if presigned is not None:  # signed already, from verdict_instructions
            outcome = await run_planned(deps, LIQUIDATE_POSITION, planner, stale,
                                        first=presigned.ixs, presigned=presigned)
        else:
            first, units = verdict_instructions(deps, candidate)
            outcome = await run_planned(deps, LIQUIDATE_POSITION, planner, stale, first=first,
                                        units=units)
    else:
        outcome = await run_planned(deps, LIQUIDATE_POSITION, planner, stale)
    if outcome is Outcome.SUCCESS:  # the liquidation paid into it: it exists
        _reward_tokens.add(token)
    log.info(LIQUIDATE_POSITION.name, position=str(position), outcome=str(outcome))
    return outcome
