"""`apply_config(pending_config)`: make the council's timelocked config change current once
its effective_at has passed.

Reads the PendingConfig and the chain's clock in one request, plans with `jobs.config_plan`,
and sends through the Sender an intent that re-reads and re-plans before every signing; the
program's guards (TooEarly before effective_at, NoPendingConfig once applied or cancelled)
come back as `not_needed` / `already_done` (`jobs.errors.REFUSAL_OUTCOMES`). The target is
the deployment's PendingConfig PDA ["pending_config"], the only one there is.
"""

from __future__ import annotations

import structlog
from solders.pubkey import Pubkey

from jobs.config_plan import ConfigAction, apply_step
from jobs.deps import JobDeps, MissingAccount, Step, run_planned
from jobs.outcome import Outcome
from jobs.registry import APPLY_CONFIG
from program.accounts import PendingConfig

log = structlog.get_logger(__name__)


async def apply_config(ctx: JobDeps, pending_config: Pubkey) -> Outcome:
    """Apply the pending change at `pending_config` when its timelock has passed;
    `not_needed` before (or with nothing proposed), `already_done` once applied or cancelled,
    `failed` when `pending_config` is not the deployment's PendingConfig."""

    async def planner() -> Step:
        if pending_config != ctx.client.d.pending_config:
            raise MissingAccount(f"{pending_config} is not the deployment's PendingConfig "
                                 f"({ctx.client.d.pending_config})")
        now, (pending,) = await ctx.snapshot(pending_config)
        if pending is not None and not isinstance(pending, PendingConfig):
            raise MissingAccount(f"no PendingConfig account at {pending_config}")
        step = apply_step(pending, now)
        if step == ConfigAction.APPLY:
            return [ctx.client.apply_config()]
        assert isinstance(step, Outcome), step
        return step

    outcome = await run_planned(ctx, APPLY_CONFIG, planner)
    log.info(APPLY_CONFIG.name, pending_config=str(pending_config), outcome=str(outcome))
    return outcome
