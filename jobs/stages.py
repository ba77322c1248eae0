"""A job's stage: the field of its target account that names the moment of the work, which
`jobs.registry` puts in the job's id (a re-opened position, the next funding interval and a
market's next state are new work; the same moment is the same work)."""

from __future__ import annotations

# job -> the field of its target account that is its stage; a job not listed has none
STAGE_FIELDS: dict[str, str] = {
    "liquidate_position": "opened_at",
    "update_funding": "last_funding_ts",
    "finalize_market": "state",
    "apply_config": "proposed_at",  # a new proposal is new work
}


def stage_of(job: str, account: object) -> int | None:
    """The stage of `job` on its target `account` (a decoded account, or anything with the
    stage's field); None for a job whose id has no stage."""
    name = STAGE_FIELDS.get(job)
    return None if name is None else int(getattr(account, name))
