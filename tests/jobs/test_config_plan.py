"""apply_config's pure decision and the reconciler's view of it, without servers."""

from __future__ import annotations

from dataclasses import dataclass

from solders.pubkey import Pubkey

from jobs.config_plan import ConfigAction, apply_step
from jobs.due import DueJob, config_due
from jobs.outcome import Outcome

EFFECTIVE_AT = 1_700_086_400
ADDRESS = Pubkey.new_unique()


@dataclass
class Pending:
    pending: bool
    effective_at: int = EFFECTIVE_AT
    proposed_at: int = EFFECTIVE_AT - 86_400


def test_nothing_proposed_is_not_needed() -> None:
    assert apply_step(None, EFFECTIVE_AT) == Outcome.NOT_NEEDED
    assert config_due(ADDRESS, None, EFFECTIVE_AT) == []


def test_the_timelock_decides_to_the_second() -> None:
    assert apply_step(Pending(True), EFFECTIVE_AT - 1) == Outcome.NOT_NEEDED
    assert apply_step(Pending(True), EFFECTIVE_AT) == ConfigAction.APPLY
    assert config_due(ADDRESS, Pending(True), EFFECTIVE_AT - 1) == []
    assert config_due(ADDRESS, Pending(True), EFFECTIVE_AT) == [
        DueJob("apply_config", ADDRESS, EFFECTIVE_AT - 86_400)]


def test_applied_or_cancelled_is_already_done() -> None:
    assert apply_step(Pending(False), EFFECTIVE_AT + 10**6) == Outcome.ALREADY_DONE
    assert config_due(ADDRESS, Pending(False), EFFECTIVE_AT + 10**6) == []
