"""A job's stage: the field of its target account that names the moment of the work (the
registry's `Job.stage`), which `jobs.registry` puts in the job's id (a re-opened position, the
next funding interval and a market's next state are new work; the same moment is the same
work)."""

from __future__ import annotations

from jobs.registry import job_named


def stage_of(job: str, account: object) -> int | None:
    """The stage of `job` on its target `account` (a decoded account, or anything with the
    stage's field); None for a job whose id has no stage."""
    name = job_named(job).stage
    return None if name is None else int(getattr(account, name))
