"""The work due on chain now, read from the chain itself: what the reconciler enqueues.

`read_due(deps, role)` reads every account the role acts on (Market for governance,
PerpMarket for funding) with one getProgramAccounts filtered by its discriminator, then the
Config, the PendingConfig and the chain's clock in one getMultipleAccounts, and judges each
account with the jobs' own pure planners, so that a job is due here exactly when the job
itself would send:

    tally_votes(market)               tally_step says approve or reject
    finalize_market(market), state    finalize_step says finalize
    update_funding(perp), last_funding_ts    funding_plan.is_due
    post_price(perp), oracle's publish_time  price_post_plan: a pull oracle that is old
    apply_config(pending_config), proposed_at   config_plan.apply_step says apply

The stage is `jobs.stages.stage_of`, what `jobs.registry` puts in the job's id. The
governance read also sets `keepernet_config_pending_effective_timestamp_seconds` from the
PendingConfig it read (the ConfigProposed alert watches it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from solders.pubkey import Pubkey

from chain.price_update import PriceUpdate
from chain.prices import OracleLimits
from jobs.config_plan import ConfigAction, PendingConfigView, apply_step
from jobs.deps import JobDeps, MissingAccount
from jobs.funding_plan import PerpMarketView, is_due
from jobs.governance_plan import Action, MarketView, finalize_step, tally_step
from jobs.price_post import readable
from jobs.price_post_plan import PostStage, is_old, is_pull
from jobs.registry import APPLY_CONFIG, FINALIZE_MARKET, POST_PRICE, TALLY_VOTES, UPDATE_FUNDING
from jobs.stages import stage_of
from metrics import definitions as metric
from program.accounts import Market, PendingConfig, PerpMarket

ROLE_ACCOUNTS: dict[str, type[Market | PerpMarket]] = {"governance": Market,
                                                         "funding": PerpMarket}


@dataclass(frozen=True)
class DueJob:
    """`job` is due on `target`; `stage` names the moment of the work (None: no stage)."""

    job: str
    target: Pubkey
    stage: int | None = None


def governance_due(markets: Iterable[tuple[Pubkey, MarketView]], now: int) -> list[DueJob]:
    """The tally and finalize jobs due at chain time `now` on `markets` (each market carries
    the rules it runs under)."""
    due = []
    for address, market in markets:
        if tally_step(market, now) in (Action.APPROVE, Action.REJECT):
            due.append(DueJob(TALLY_VOTES.name, address))
        elif finalize_step(market, now) == Action.FINALIZE:
            due.append(DueJob(FINALIZE_MARKET.name, address,
                              stage_of(FINALIZE_MARKET.name, market)))
    return due


def config_due(address: Pubkey, pending: PendingConfigView | None, now: int) -> list[DueJob]:
    """apply_config on the PendingConfig at `address`, when its change is due at `now`."""
    if apply_step(pending, now) != ConfigAction.APPLY:
        return []
    return [DueJob(APPLY_CONFIG.name, address, stage_of(APPLY_CONFIG.name, pending))]


def pending_effective_at(pending: PendingConfigView | None) -> int:
    """The effective_at of the pending config change; 0 when none is pending."""
    return pending.effective_at if pending is not None and pending.pending else 0


def funding_due(perps: Iterable[tuple[Pubkey, PerpMarketView]], now: int) -> list[DueJob]:
    """The funding updates due at chain time `now` on `perps`."""
    return [DueJob(UPDATE_FUNDING.name, address, stage_of(UPDATE_FUNDING.name, perp))
            for address, perp in perps if is_due(perp, now)]


def posts_due(pulls: Iterable[tuple[Pubkey, OracleLimits, PriceUpdate | None]], slot: int,
              now: int) -> list[DueJob]:
    """The price posts due at `slot` and unix time `now` on the perp markets of `pulls`, each
    with its limits and its pull oracle's update (None: none readable)."""
    return [DueJob(POST_PRICE.name, address, stage_of(POST_PRICE.name, PostStage.of(update)))
            for address, limits, update in pulls if is_old(update, limits, slot, now)]


async def read_posts_due(deps: JobDeps,
                         oracles: Iterable[tuple[Pubkey, Pubkey, OracleLimits]]) -> list[DueJob]:
    """The price posts due now on the pull oracles of `oracles` (perp market, its oracle and
    the limits it copied), read with the chain's clock."""
    pulls = [(a, oracle, limits) for a, oracle, limits in oracles if is_pull(oracle, limits)]
    if not pulls:
        return []
    clock, accounts = await deps.raw_snapshot(*(oracle for _, oracle, _ in pulls))
    return posts_due([(a, limits, readable(None if account is None else bytes(account.data)))
                      for (a, _, limits), account in zip(pulls, accounts, strict=True)],
                     clock.slot, clock.unix_timestamp)


async def read_due(deps: JobDeps, role: str) -> list[DueJob]:
    """The jobs of `role` due now on chain (see the module docstring); ValueError for a role
    with no accounts to judge, MissingAccount when the Config is not on chain."""
    kind = ROLE_ACCOUNTS.get(role)
    if kind is None:
        raise ValueError(f"no due work to read for role {role!r}: one of "
                         f"{', '.join(ROLE_ACCOUNTS)}")
    accounts = await deps.rpc.program_accounts(deps.program, kind)
    # the clock is read after the accounts: a job judged due on a slightly later clock re-reads
    # the chain before it sends, so at worst it is `not_needed`
    pending_address = deps.client.d.pending_config
    now, (config, pending) = await deps.snapshot(deps.client.d.config, pending_address)
    if config is None:
        raise MissingAccount("the program's Config account is missing")
    if role == "governance":
        pending_config = pending if isinstance(pending, PendingConfig) else None
        metric.config_pending_effective.set(pending_effective_at(pending_config))
        markets = [(a, m) for a, m in accounts if isinstance(m, Market)]
        return governance_due(markets, now) + config_due(pending_address, pending_config, now)
    perps = [(a, p) for a, p in accounts if isinstance(p, PerpMarket)]
    return funding_due(perps, now) + await read_posts_due(
        deps, [(a, p.oracle, OracleLimits.from_market(p)) for a, p in perps])
