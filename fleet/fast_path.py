"""The liquidator's fast path: a position the price trigger finds is liquidated in this process at
once, backed by its arq job, deferred, as the durable fallback.

Through the queue alone a liquidation waits for arq to start it: in a crash's burst, arq starts
its jobs one at a time with several Redis round trips each while every instance races for each
one, and that wait was most of the reaction (p50 0.25 s of 0.34 s at 10,000 positions). So for
each candidate the instance whose trigger found it:

- enqueues `liquidate_position` under its deterministic id as ever, but deferred by the lease's
  short TTL and FALLBACK_MARGIN_S (`fallback_defer_s`). Whoever queues the id first owns the
  position; an instance whose enqueue finds it queued leaves it alone;
- runs try 0 of that job here, at once, as a try from the queue runs
  (`fleet.context.run_try`: the target's lease, renewed and fencing every signing, job_runs,
  metrics) — unless it could not start within LATE_START_S, when the queue takes over. Its
  first transaction is built from the trigger's verdict (`found_by_trigger`), not from a
  fresh read and a simulation: those round trips were most of the keeper's own share of the
  reaction. As the
  lease is taken and at each renewal, the fallback is put off to `fallback_defer_s` from then:
  it stays deferred while try 0 is alive, and is due as soon as its lease lapses;
- when try 0 lands the liquidation (`success`), puts the fallback off by
  `LANDED_FALLBACK_DEFER_S`, to run after the burst and find the position flat. Any other
  end — `retry`, `not_needed`, `already_done` (another holder had the lease), `failed`, an
  error, a timeout — brings the fallback forward, so that the queue takes over now (a retry
  after `RETRY_DEFER_S`, as arq retries).

At most `max_running` tries run here at once (a crash's burst on a large book finds hundreds):
the candidates beyond are enqueued due at once, for whichever instance's arq worker is free.

An instance killed, frozen or cut off from Redis during try 0 stops renewing: its lease lapses
and its fallback becomes due within `fallback_defer_s`, and any instance's arq worker takes the
position over (the lease's new fence keeps a frozen try 0 that resumes from signing). On
shutdown the tries running finish first (`drain`), as arq lets running jobs finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

import structlog
from arq.jobs import Job
from solders.pubkey import Pubkey

from fleet.context import LEASE_TTL_S, RETRY_DEFER_S, Run, WorkerDeps, run_try
from jobs.liquidation import found_by_trigger
from jobs.liquidation_plan import Candidate
from jobs.outcome import Outcome
from jobs.registry import LIQUIDATE_POSITION, enqueue, queue_name
from metrics.jobs import JobTry
from patches.arq_queue_score import reschedule

JOB = LIQUIDATE_POSITION.name
TRIGGER_TRY = 0  # job_runs' try number of the fast path's run, before the queue's tries 1, 2…
# A landed try's fallback is left queued, so that its id keeps other instances from queueing
# the same liquidation while their view of the chain catches up, but put off past the burst:
# due at once, the fallbacks of a crash's liquidations (each a read finding the position flat)
# would crowd the queue just when it is busiest.
LANDED_FALLBACK_DEFER_S = 30.0
# The fallback is due this long after try 0's lease would lapse, were it taken (or last
# renewed) when the fallback was put off: the round trips between the two calls. A try 0 that
# cannot take its lease within LATE_START_S of finding the position hands over to the queue
# instead, so that it never holds the lease when its fallback comes due.
FALLBACK_MARGIN_S = 0.25
LATE_START_S = LEASE_TTL_S / 2

log = structlog.get_logger(__name__)


@dataclass
class FastPath:
    """Liquidates the trigger's candidates in-process; see the module's docstring."""

    deps: WorkerDeps
    run: Run  # the liquidate_position job's run, as the arq function has it
    max_running: int
    fallback_defer_s: float = LEASE_TTL_S + FALLBACK_MARGIN_S  # a candidate's arq job's deferral
    _running: dict[Pubkey, asyncio.Task[None]] = field(default_factory=dict)

    async def liquidate(self, candidates: Iterable[Candidate], fresh: bool = False) -> int:
        """Start try 0 of each candidate whose fallback this call queued (not queued already,
        by this instance or another), the candidates beyond `max_running` enqueued due now;
        how many it queued. A `fresh` verdict (judged at a price just notified, the book
        current) is sent unread; any other is read first."""
        found_at = time.time()  # a liquidation's reaction runs from here (metrics/jobs.py)
        new = [c for c in candidates if c.position not in self._running]
        room = max(0, self.max_running - len(self._running))
        # every enqueue runs to its end: one failing must not leave the others' jobs queued
        # with no try 0 (their ids taken, they would wait out the deferral)
        answers = await asyncio.gather(*(
            enqueue(self.deps.redis, JOB, str(c.position), stage=c.opened_at,
                    defer_s=self.fallback_defer_s if i < room else None)
            for i, c in enumerate(new)), return_exceptions=True)
        queued = [(i, c, a) for i, (c, a) in enumerate(zip(new, answers, strict=True))
                  if isinstance(a, Job)]
        for i, candidate, job in queued:
            if i < room and candidate.position not in self._running:
                self._running[candidate.position] = asyncio.create_task(
                    self._try(candidate, fresh, job.job_id, found_at),
                    name=f"{JOB} {candidate.position}")
        failed = [a for a in answers if isinstance(a, BaseException)]
        if failed:
            log.warning("fast-path enqueues failed: the cron scan finds those positions again",
                        failed=len(failed), error=f"{type(failed[0]).__name__}: {failed[0]}")
        return len(queued)

    async def drain(self) -> None:
        """Wait for the tries running (each ends within its job's timeout)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _try(self, candidate: Candidate, fresh: bool, job_id: str,
                   found_at: float) -> None:
        position = candidate.position
        outcome = Outcome.FAILED
        try:
            if time.time() - found_at > LATE_START_S:  # a burst that outran this process
                log.warning("fast-path liquidation started late: its queued job takes over",
                            job_id=job_id)
                return
            async with asyncio.timeout(self.deps.settings.timeouts.of(JOB)):
                with found_by_trigger(candidate) if fresh else contextlib.nullcontext():
                    outcome = await run_try(self.deps, self.deps.redis, self.run, JOB,
                                            job_id, TRIGGER_TRY, [str(position)],
                                            JobTry(self.deps.role, JOB, found_at, found_at),
                                            on_renew=partial(self._put_off, job_id))
        except Exception as e:  # a timeout, or what the job raised: the queue takes over
            log.warning("fast-path liquidation failed: its queued job takes over",
                        job_id=job_id, error=f"{type(e).__name__}: {e}")
        finally:
            del self._running[position]
            await self._reschedule(job_id, LANDED_FALLBACK_DEFER_S if outcome is Outcome.SUCCESS
                                   else RETRY_DEFER_S if outcome is Outcome.RETRY else 0.0)

    async def _put_off(self, job_id: str) -> None:
        """Keep the fallback `job_id` deferred past the lease try 0 has just taken or renewed."""
        await self._reschedule(job_id, self.fallback_defer_s)

    async def _reschedule(self, job_id: str, delay_s: float) -> None:
        """Make the deferred job `job_id` due in `delay_s`."""
        try:
            await reschedule(self.deps.redis, queue_name(self.deps.role), job_id, delay_s)
        except Exception as e:  # Redis away: the fallback still runs at its deferred time
            log.warning("fast-path fallback not rescheduled: it runs when deferred",
                        job_id=job_id, error=f"{type(e).__name__}: {e}")
