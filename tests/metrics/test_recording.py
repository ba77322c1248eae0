"""What a job try and a send leave in the registry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from solders.signature import Signature

from chain.sender import AlreadyDone, Fenced, GaveUp, Landed, Refused
from metrics.definitions import registry
from metrics.jobs import JobTry
from metrics.sends import record_send


def sample(name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_a_try_is_counted_timed_and_marks_its_success() -> None:
    labels = {"role": "test-role", "job": "test_job"}
    runs = sample("keepernet_job_runs_total", **labels, outcome="success")
    waits = sample("keepernet_job_queue_wait_seconds_count", **labels)
    ctx = {"score": 1_000_000, "enqueue_time": datetime.fromtimestamp(999.0, UTC)}
    tried = JobTry.of("test-role", "test_job", ctx)
    assert (tried.due_at_s, tried.enqueued_at_s) == (1_000.0, 999.0)
    tried.start()
    assert sample("keepernet_jobs_in_progress", **labels) == 1
    assert sample("keepernet_job_queue_wait_seconds_count", **labels) == waits + 1
    tried.finish("success")
    assert sample("keepernet_jobs_in_progress", **labels) == 0
    assert sample("keepernet_job_runs_total", **labels, outcome="success") == runs + 1
    assert sample("keepernet_job_last_success_timestamp_seconds", **labels) >= tried.started_at_s


def test_a_failed_try_marks_no_success_and_one_with_nothing_to_do_does() -> None:
    labels = {"role": "test-role", "job": "failing_job"}
    for outcome in ("failed", "retry"):
        before = sample("keepernet_job_runs_total", **labels, outcome=outcome)
        tried = JobTry.of("test-role", "failing_job", {})
        tried.start()
        tried.finish(outcome)
        assert sample("keepernet_job_runs_total", **labels, outcome=outcome) == before + 1
    assert registry.get_sample_value("keepernet_job_last_success_timestamp_seconds",
                                     labels) is None
    tried = JobTry.of("test-role", "failing_job", {})
    tried.start()
    tried.finish("not_needed")  # a scan with nothing to liquidate did its work
    assert sample("keepernet_job_last_success_timestamp_seconds", **labels) > 0


def test_a_landed_liquidation_observes_its_reaction_from_its_enqueue() -> None:
    reactions = sample("keepernet_liquidation_reaction_seconds_count")
    slow = sample("keepernet_liquidation_reaction_seconds_bucket", le="+Inf") - \
        sample("keepernet_liquidation_reaction_seconds_bucket", le="2.0")
    landed = sample("keepernet_liquidations_total", outcome="success")
    tried = JobTry.of("liquidator", "liquidate_position", {})
    tried.enqueued_at_s -= 2.5  # the price moved 2.5 s before the try
    tried.start()
    tried.finish("success")
    assert sample("keepernet_liquidations_total", outcome="success") == landed + 1
    assert sample("keepernet_liquidation_reaction_seconds_count") == reactions + 1
    assert sample("keepernet_liquidation_reaction_seconds_bucket", le="+Inf") - \
        sample("keepernet_liquidation_reaction_seconds_bucket", le="2.0") == slow + 1


def test_sends_are_counted_by_instruction_and_result() -> None:
    approved = sample("keepernet_markets_total", result="approved")
    funding = sample("keepernet_funding_updates_total")
    sent = {outcome: sample("keepernet_transactions_total", instruction="liquidate",
                            outcome=outcome)
            for outcome in ("refused", "already_done", "gave_up", "fenced")}
    confirmation = sample("keepernet_transaction_confirmation_seconds_sum",
                          instruction="approve_market")
    record_send("approve_market", Landed(Signature.default(), 5, confirmed_after_s=0.7))
    record_send("update_funding", Landed(Signature.default(), 6))
    record_send("liquidate", Refused("NotLiquidatable"))
    record_send("liquidate", AlreadyDone())
    record_send("liquidate", GaveUp("no endpoint"))
    record_send("liquidate", Fenced())
    assert sample("keepernet_markets_total", result="approved") == approved + 1
    assert sample("keepernet_funding_updates_total") == funding + 1
    for outcome, before in sent.items():
        assert sample("keepernet_transactions_total", instruction="liquidate",
                      outcome=outcome) == before + 1
    assert sample("keepernet_transaction_confirmation_seconds_sum",
                  instruction="approve_market") == pytest.approx(confirmation + 0.7)
