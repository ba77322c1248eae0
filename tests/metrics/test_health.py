"""The health verdict, from probes alone."""

from __future__ import annotations

from metrics.health import Health, HealthPolicy, Probe, SlotWatch, judge

POLICY = HealthPolicy(success_within_s=60, slot_stall_s=30)
STARTED = 1_000.0


def verdict(probe: Probe, slots: SlotWatch | None = None, started: float = STARTED) -> Health:
    watch = slots or SlotWatch()
    if probe.slot is not None:
        watch.see(probe.slot, probe.at_s)
    return judge(probe, watch, POLICY, started)


def test_all_well() -> None:
    health = verdict(Probe(2_000.0, slot=5, role_last_success_s=1_990.0))
    assert health.ok
    assert health.as_json() == {"ok": True, "degraded": False, "checks": {
        "chain": "ok", "redis": "ok", "postgres": "ok", "success": "ok"}}


def test_a_check_the_role_works_through_degrades_it_without_failing_it() -> None:
    policy = HealthPolicy(success_within_s=60, degraded_by=frozenset({"postgres"}))
    probe = Probe(2_000.0, slot=5, postgres_error="OSError: refused",
                  role_last_success_s=1_990.0)
    health = judge(probe, SlotWatch(5, 2_000.0), policy, started_at_s=0.0)
    assert health.ok and health.degraded
    assert health.as_json()["checks"] == {"chain": "ok", "redis": "ok", "success": "ok",
                                          "postgres": "PostgreSQL unreachable: OSError: refused"}
    assert not judge(probe, SlotWatch(5, 2_000.0), POLICY, started_at_s=0.0).ok


def test_a_slot_that_stops_advancing_fails_the_chain_check_after_the_allowance() -> None:
    slots = SlotWatch()
    assert verdict(Probe(2_000.0, slot=7, role_last_success_s=2_000.0), slots).ok
    assert verdict(Probe(2_030.0, slot=7, role_last_success_s=2_030.0), slots).ok
    stalled = verdict(Probe(2_031.0, slot=7, role_last_success_s=2_031.0), slots)
    assert not stalled.ok
    assert stalled.checks["chain"] == ("the chain's slot has stayed at 7 for 31 s "
                                       "(allowed 30 s)")
    assert verdict(Probe(2_032.0, slot=8, role_last_success_s=2_032.0), slots).ok


def test_an_unreachable_rpc_keeps_the_last_slot_and_says_why() -> None:
    slots = SlotWatch()
    verdict(Probe(2_000.0, slot=7, role_last_success_s=2_000.0), slots)
    down = verdict(Probe(2_040.0, slot_error="RpcUnavailable: local: timeout",
                         role_last_success_s=2_040.0), slots)
    assert down.checks["chain"] == ("the chain's slot has stayed at 7 for 40 s (allowed 30 s)"
                                    " (last read: RpcUnavailable: local: timeout)")


def test_a_slot_never_read_fails_at_once() -> None:
    health = verdict(Probe(1_001.0, slot_error="ConnectionRefused"))
    assert health.checks["chain"] == "no slot read yet: ConnectionRefused"


def test_redis_and_postgres_unreachable_are_named() -> None:
    health = verdict(Probe(2_000.0, slot=5, redis_error="ConnectionError: refused",
                           postgres_error="no answer within 4 s", role_last_success_s=2_000.0))
    assert health.checks["redis"] == "Redis unreachable: ConnectionError: refused"
    assert health.checks["postgres"] == "PostgreSQL unreachable: no answer within 4 s"
    assert health.checks["chain"] is None and health.checks["success"] is None


def test_no_success_is_allowed_within_the_schedule_only() -> None:
    assert verdict(Probe(1_059.0, slot=5), started=1_000.0).ok  # just started
    late = verdict(Probe(1_061.0, slot=5), started=1_000.0)
    assert late.checks["success"] == ("no successful job of the role ever "
                                      "(its schedule allows 60 s)")
    stale = verdict(Probe(2_000.0, slot=5, role_last_success_s=1_900.0))
    assert stale.checks["success"] == ("no successful job of the role for 100 s "
                                       "(its schedule allows 60 s)")
