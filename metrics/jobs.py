"""Recording a job try: what fleet/context.py calls around every job.

The queue wait runs from when the job became due (arq's score: its enqueue, or the end of a
deferral) to its start. A liquidation's reaction runs from its enqueue — which the price
trigger does the moment it sees an oracle's price change — to its landing, which is when its
successful try ends.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobs.registry import LIQUIDATE_POSITION
from metrics import definitions as m

LIQUIDATION = LIQUIDATE_POSITION.name
# a try with one of these outcomes did what its schedule asks — a scan that found nothing to
# liquidate, an indexer run with nothing new, as much as one that sent a transaction
DID_ITS_WORK = frozenset({"success", "not_needed", "already_done"})


@dataclass
class JobTry:
    """One try of `job` in a `role` worker; `due_at_s` and `enqueued_at_s` are unix times."""

    role: str
    job: str
    due_at_s: float
    enqueued_at_s: float
    started_at_s: float = field(default_factory=time.time)

    @classmethod
    def of(cls, role: str, job: str, ctx: Mapping[str, Any]) -> JobTry:
        """The try arq's job `ctx` describes (its score in ms, its enqueue time a datetime);
        a ctx without them (a direct call) counts as enqueued and due now."""
        now = time.time()
        score = ctx.get("score")
        enqueued = ctx.get("enqueue_time")
        return cls(role, job, due_at_s=score / 1000 if isinstance(score, int) else now,
                   enqueued_at_s=enqueued.timestamp() if isinstance(enqueued, datetime) else now,
                   started_at_s=now)

    def start(self) -> None:
        """Count the try in progress and observe its queue wait."""
        m.jobs_in_progress.labels(self.role, self.job).inc()
        m.job_queue_wait.labels(self.role, self.job).observe(
            max(0.0, self.started_at_s - self.due_at_s))

    def finish(self, outcome: str) -> None:
        """Count the try by `outcome`, observe its duration, and mark it when it did its work
        (see DID_ITS_WORK)."""
        now = time.time()
        m.jobs_in_progress.labels(self.role, self.job).dec()
        m.job_tries.labels(self.role, self.job, outcome).inc()
        m.job_duration.labels(self.role, self.job).observe(now - self.started_at_s)
        if self.job == LIQUIDATION:
            m.liquidations.labels(outcome).inc()
        if outcome in DID_ITS_WORK:
            m.job_last_success.labels(self.role, self.job).set(now)
        if self.job == LIQUIDATION and outcome == "success":
            m.liquidation_reaction.observe(max(0.0, now - self.enqueued_at_s))
