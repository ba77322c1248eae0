"""The work due on chain now, read from the chain itself: what the reconciler enqueues.

`read_due(deps, role)` reads every account the role acts on (Market for governance,
PerpMarket for funding) with one getProgramAccounts filtered by its discriminator, then the
Config, the PendingConfig and the chain's clock in one getMultipleAccounts, and judges each
account with the jobs' own pure planners, so that a job is due here exactly when the job
itself would send:

    tally_votes(market)               tally_step says approve or reject
    finalize_market(market), state    finalize_step says finalize
    update_funding(perp), last_funding_ts    funding_plan.is_due
    apply_config(pending_config), proposed_at   config_plan.apply_step says apply

The stage is `jobs.stages.stage_of`, what `jobs.registry` puts in the job's id. The
governance read also sets `keepernet_config_pending_effective_timestamp_seconds` from the
PendingConfig it read (the ConfigProposed alert watches it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from solders.pubkey import Pubkey

from jobs.config_plan import ConfigAction, PendingConfigView, apply_step
from jobs.deps import JobDeps, MissingAccount
from jobs.funding_plan import PerpMarketView, is_due
from jobs.governance_plan import Action, MarketView, finalize_step, tally_step
from jobs.registry import APPLY_CONFIG, FINALIZE_MARKET, TALLY_VOTES, UPDATE_FUNDING
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
    return funding_due([(a, p) for a, p in accounts if isinstance(p, PerpMarket)], now)
