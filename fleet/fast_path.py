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
- for a fresh verdict, a burst costs two round trips before its transactions leave: one
  enqueues every fallback (patches/arq_enqueue_many.py), one takes every lease; then each
  transaction is signed as the leases' answer arrives (that answer is the fence's check, and
  nothing runs between it and the signing) and all are handed to the node in one request,
  before any try's bookkeeping. One at a time, each try's enqueue, lease, fence check,
  job_runs row and fallback put-off ran before the last transaction of a burst left (the
  keeper's share at 10,000 positions was 0.15 s at its median);
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
from solders.pubkey import Pubkey

from chain.sender import Presigned
from fleet.context import LEASE_TTL_S, RETRY_DEFER_S, Run, WorkerDeps, run_try
from fleet.lease import Lease, fence_key, lease_key, take_each
from jobs.liquidation import found_by_trigger, verdict_instructions
from jobs.liquidation_plan import Candidate
from jobs.outcome import Outcome
from jobs.registry import LIQUIDATE_POSITION, enqueue_each, queue_name
from jobs.registry import job_id as job_id_of
from metrics.jobs import JobTry
from metrics.trigger_to_send import handed_elsewhere
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
        current) is signed as its lease is taken and sent unread; any other is read first."""
        found_at = time.time()  # a liquidation's reaction runs from here (metrics/jobs.py)
        new = [c for c in candidates if c.position not in self._running]
        room = max(0, self.max_running - len(self._running))
        try:
            queued = await enqueue_each(self.deps.redis, JOB, [
                (str(c.position), c.opened_at, self.fallback_defer_s if i < room else None)
                for i, c in enumerate(new)])
        except Exception as e:  # Redis away: nothing was queued
            log.warning("fast-path enqueues failed: the cron scan finds those positions again",
                        failed=len(new), error=f"{type(e).__name__}: {e}")
            return 0
        starting = [c for i, (c, q) in enumerate(zip(new, queued, strict=True))
                    if q and i < room and c.position not in self._running]
        leases = await self._leases(starting) if fresh else [None] * len(starting)
        # signed at once as the leases' answer arrives, and handed to the node (in one request)
        # before anything else: nothing has run since Redis said the leases are this try's
        presigned = [self._presigned(c) if lease is not None else None
                     for c, lease in zip(starting, leases, strict=True)]
        if signed_ahead := [p for p in presigned if p is not None]:
            self.deps.chain.sender.broadcast(signed_ahead)
        tries = list(zip(starting, leases, presigned, strict=True))
        # the tries that sign for themselves observe the keeper's share at their first send;
        # the broadcasts observed it for the others
        for candidate, lease, signed in sorted(tries, key=lambda t: t[2] is not None):
            if signed is not None:
                handed_elsewhere()
            self._running[candidate.position] = asyncio.create_task(
                self._try(candidate, fresh, job_id_of(JOB, str(candidate.position),
                                                      candidate.opened_at),
                          found_at, lease, signed), name=f"{JOB} {candidate.position}")
        return sum(queued)

    async def _leases(self, candidates: list[Candidate]) -> list[Lease | None]:
        """Each candidate's lease, taken in one round trip (None where another holds it, or
        for every one when Redis did not answer: each try then asks for its own)."""
        try:
            return await take_each(self.deps.redis, [
                (lease_key(JOB, str(c.position)), fence_key(JOB, str(c.position)))
                for c in candidates], LEASE_TTL_S)
        except Exception as e:
            log.warning("fast-path leases not taken at once: each try takes its own",
                        error=f"{type(e).__name__}: {e}")
            return [None] * len(candidates)

    def _presigned(self, candidate: Candidate) -> Presigned | None:
        ixs, units = verdict_instructions(self.deps.chain, candidate)
        return self.deps.chain.sender.presign(ixs, units)

    async def drain(self) -> None:
        """Wait for the tries running (each ends within its job's timeout)."""
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _try(self, candidate: Candidate, fresh: bool, job_id: str, found_at: float,
                   lease: Lease | None = None, presigned: Presigned | None = None) -> None:
        position = candidate.position
        outcome = Outcome.FAILED
        try:
            # (a try holding its lease goes on: its transaction may be in flight)
            if lease is None and time.time() - found_at > LATE_START_S:
                log.warning("fast-path liquidation started late: its queued job takes over",
                            job_id=job_id)
                return
            async with asyncio.timeout(self.deps.settings.timeouts.of(JOB)):
                with (found_by_trigger(candidate, presigned) if fresh
                      else contextlib.nullcontext()):
                    outcome = await run_try(self.deps, self.deps.redis, self.run, JOB,
                                            job_id, TRIGGER_TRY, [str(position)],
                                            JobTry(self.deps.role, JOB, found_at, found_at),
                                            on_renew=partial(self._put_off, job_id),
                                            taken=lease)
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
