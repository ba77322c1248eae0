"""When a timelocked config change is due: the pure decision of `apply_config`, shared by the
job (which re-reads the chain before every signing) and the reconciler (jobs/due.py), so that
the job is due exactly when it would send."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from jobs.outcome import Outcome


class PendingConfigView(Protocol):
    """The PendingConfig fields the plan reads (a decoded account has them)."""

    @property
    def pending(self) -> bool: ...
    @property
    def effective_at(self) -> int: ...


class ConfigAction(StrEnum):
    APPLY = "apply"


def apply_step(pending: PendingConfigView | None, now: int) -> ConfigAction | Outcome:
    """Apply a pending change once chain time `now` has reached its effective_at.

    No PendingConfig yet (nothing was ever proposed) is `not_needed`; one no longer pending was
    applied (by another keeper, say) or cancelled, which settles it: `already_done`. Before
    effective_at the timelock still runs: `not_needed`."""
    if pending is None:
        return Outcome.NOT_NEEDED
    if not pending.pending:
        return Outcome.ALREADY_DONE
    if now < pending.effective_at:
        return Outcome.NOT_NEEDED
    return ConfigAction.APPLY
