"""Whether a worker is healthy, from what its probes saw: a pure judgement, kept apart from the
probing (fleet/observer.py) so that it is tested without servers.

A worker is healthy when
- `chain`: the chain's slot, as its RPC endpoints report it, advanced within `slot_stall_s`;
- `redis` and `postgres`: the last probe reached them;
- `success`: its role had a try that did its work (in any instance; success, not_needed or
  already_done) within `success_within_s`, the slack its schedule allows — or the worker
  started less than that long ago.
Each failing check says why, so `/healthz` names what is wrong. A check the policy lists in
`degraded_by` does not make the worker unhealthy: it still does its work without that
dependency (a role that needs PostgreSQL only for its job_runs records holds them until the
database returns), and its verdict says `degraded`, naming why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHECKS = ("chain", "redis", "postgres", "success")


@dataclass(frozen=True)
class HealthPolicy:
    """How much slack each check allows, in seconds."""

    success_within_s: float
    slot_stall_s: float = 30.0
    degraded_by: frozenset[str] = frozenset()  # checks whose failure the worker works through


@dataclass(frozen=True)
class Probe:
    """One round of probes at unix time `at_s`; an error string where a probe failed."""

    at_s: float
    slot: int | None = None
    slot_error: str | None = None
    redis_error: str | None = None
    postgres_error: str | None = None
    role_last_success_s: float | None = None  # unix time; None: never, or unknown


@dataclass
class SlotWatch:
    """The highest slot seen and since when it has been the highest."""

    slot: int | None = None
    since_s: float | None = None

    def see(self, slot: int, at_s: float) -> None:
        if self.slot is None or slot > self.slot:
            self.slot, self.since_s = slot, at_s


@dataclass(frozen=True)
class Health:
    """The verdict: each check's problem, None where it passes; a failing check among
    `tolerated` leaves the worker ok but degraded."""

    checks: dict[str, str | None] = field(default_factory=dict)
    tolerated: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return all(problem is None for name, problem in self.checks.items()
                   if name not in self.tolerated)

    @property
    def degraded(self) -> bool:
        return any(self.checks.get(name) is not None for name in self.tolerated)

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "degraded": self.degraded,
                "checks": {name: problem or "ok" for name, problem in self.checks.items()}}


def judge(probe: Probe, slots: SlotWatch, policy: HealthPolicy, started_at_s: float) -> Health:
    """The health a worker started at `started_at_s` has, given its latest `probe` and the
    slots it has seen (`slots` already holds `probe.slot`)."""
    now = probe.at_s
    return Health({
        "chain": _chain(probe, slots, policy, now),
        "redis": _unreachable("Redis", probe.redis_error),
        "postgres": _unreachable("PostgreSQL", probe.postgres_error),
        "success": _success(probe, policy, started_at_s, now),
    }, policy.degraded_by)


def _chain(probe: Probe, slots: SlotWatch, policy: HealthPolicy, now: float) -> str | None:
    if slots.slot is None or slots.since_s is None:
        return f"no slot read yet: {probe.slot_error or 'not probed'}"
    stalled_s = now - slots.since_s
    if stalled_s <= policy.slot_stall_s:
        return None
    why = f" (last read: {probe.slot_error})" if probe.slot_error else ""
    return (f"the chain's slot has stayed at {slots.slot} for {stalled_s:.0f} s "
            f"(allowed {policy.slot_stall_s:.0f} s){why}")


def _unreachable(what: str, error: str | None) -> str | None:
    return None if error is None else f"{what} unreachable: {error}"


def _success(probe: Probe, policy: HealthPolicy, started_at_s: float, now: float) -> str | None:
    last = probe.role_last_success_s
    if last is not None and now - last <= policy.success_within_s:
        return None
    if now - started_at_s <= policy.success_within_s:
        return None  # still within its first schedule
    since = "ever" if last is None else f"for {now - last:.0f} s"
    return (f"no successful job of the role {since} "
            f"(its schedule allows {policy.success_within_s:.0f} s)")
