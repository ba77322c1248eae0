"""Every Keepernet metric, defined once.

Names are `keepernet_<area>_<what>_<unit>` in base units (seconds, slots, lamports), counters
end in `_total`, and labels are bounded: role, job, outcome, reason, instruction, an RPC
method and the operator's name for an endpoint, a health check — never an account.

The deploy/ rules and dashboard use these names; tests/deploy checks that each one they use is
defined here.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

# Keeper jobs last from a few milliseconds (a scan of prices in memory) to tens of seconds (a
# transaction waiting out its blockhash); queue waits are milliseconds when the fleet keeps up.
JOB_DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                          60.0, 120.0)
QUEUE_WAIT_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 30.0, 60.0)
# A Solana slot is ~400 ms: a reaction inside one or two slots is the goal.
REACTION_BUCKETS_S = (0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
# The keeper's own share of a reaction, price notification to transaction sent: the target is
# 20 ms at a million positions, so the buckets are finest there.
TRIGGER_TO_SEND_BUCKETS_S = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02,
                             0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5)
RPC_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONFIRMATION_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 90.0)

registry: CollectorRegistry = REGISTRY

# ---- jobs (recorded around every job by fleet/context.py) ----------------------------------
job_tries = Counter(
    "keepernet_job_runs_total", "Job tries finished, by role, job and outcome",
    ["role", "job", "outcome"], registry=registry)
job_duration = Histogram(
    "keepernet_job_duration_seconds", "Time a job try ran", ["role", "job"],
    buckets=JOB_DURATION_BUCKETS_S, registry=registry)
job_queue_wait = Histogram(
    "keepernet_job_queue_wait_seconds", "Time from a job's enqueue (or its due time) to its start",
    ["role", "job"], buckets=QUEUE_WAIT_BUCKETS_S, registry=registry)
jobs_in_progress = Gauge(
    "keepernet_jobs_in_progress", "Job tries running in this worker", ["role", "job"],
    registry=registry)
job_last_success = Gauge(
    "keepernet_job_last_success_timestamp_seconds",
    "Unix time of this worker's last try of a job that did its work (success, not_needed or "
    "already_done: nothing left to do is a success for a scheduled job)", ["role", "job"],
    registry=registry)

# ---- queues (exported by the one worker holding the collector's lease) -----------------------
queue_jobs = Gauge(
    "keepernet_queue_jobs", "Jobs due in a role's queue (not those deferred to later)",
    ["role"], registry=registry)
queue_oldest_age = Gauge(
    "keepernet_queue_oldest_job_age_seconds",
    "Age of the oldest job due in a role's queue (0 when none is due)", ["role"],
    registry=registry)

# ---- chain and RPC ---------------------------------------------------------------------------
chain_slot = Gauge(
    "keepernet_chain_slot", "The chain's latest slot as this worker last read it",
    registry=registry)
rpc_requests = Counter(
    "keepernet_rpc_requests_total", "RPC requests, by endpoint name, method and outcome",
    ["endpoint", "method", "outcome"], registry=registry)
rpc_batch_refusals = Counter(
    "keepernet_rpc_batch_refusals_total",
    "JSON-RPC batches an endpoint refused (it gets single requests from then on)", ["endpoint"],
    registry=registry)
rpc_rate_limited = Counter(
    "keepernet_rpc_rate_limited_total",
    "HTTP 429 answers from an endpoint (it rests as long as its Retry-After asks, and the call "
    "goes on to another endpoint or waits for it)", ["endpoint"], registry=registry)
rpc_latency = Histogram(
    "keepernet_rpc_request_duration_seconds", "RPC request latency, by endpoint name and method",
    ["endpoint", "method"], buckets=RPC_BUCKETS_S, registry=registry)
transactions = Counter(
    "keepernet_transactions_total", "Transactions a keeper sent, by instruction and outcome",
    ["instruction", "outcome"], registry=registry)
confirmation_time = Histogram(
    "keepernet_transaction_confirmation_seconds",
    "Time from a transaction's first send to its confirmation", ["instruction"],
    buckets=CONFIRMATION_BUCKETS_S, registry=registry)
wallet_balance = Gauge(
    "keepernet_wallet_balance_lamports", "The keeper wallet's balance", registry=registry)

# ---- indexer ---------------------------------------------------------------------------------
indexer_last_slot = Gauge(
    "keepernet_indexer_last_slot", "Slot of the newest event the indexer has stored",
    registry=registry)
indexer_lag = Gauge(
    "keepernet_indexer_lag_slots", "Slots between the chain's slot and the indexer's cursor",
    registry=registry)
indexer_events = Counter(
    "keepernet_indexer_events_total", "Program events stored by the indexer", registry=registry)

# ---- liquidations ----------------------------------------------------------------------------
liquidations = Counter(
    "keepernet_liquidations_total", "liquidate_position tries, by outcome", ["outcome"],
    registry=registry)
liquidation_reaction = Histogram(
    "keepernet_liquidation_reaction_seconds",
    "Time from the price change a keeper saw (its liquidation's enqueue) to the liquidation "
    "landing", buckets=REACTION_BUCKETS_S, registry=registry)
trigger_to_send = Histogram(
    "keepernet_trigger_to_send_seconds",
    "The keeper's own share of a liquidation's reaction: from the price notification's arrival "
    "in the liquidator to the liquidation's signed transaction handed to the node (its first "
    "send)", buckets=TRIGGER_TO_SEND_BUCKETS_S, registry=registry)
positions_at_risk = Gauge(
    "keepernet_positions_at_risk", "Liquidatable positions this worker's last scan found",
    registry=registry)
oracle_age = Gauge(
    "keepernet_oracle_age_slots",
    "Slots since the stalest oracle this worker last read was published (the program's "
    "staleness limit is in slots too)", registry=registry)
oracle_rejections = Counter(
    "keepernet_oracle_rejections_total",
    "Oracle prices a keeper would not act on, by the program's error name (StaleOracle, "
    "OracleTooUncertain, OracleNotTrading, InvalidOracle)",
    ["reason"], registry=registry)
# the usual reasons exported at 0 from the start, so that the dashboard's panel and a rate() over
# them show 0 rather than no data on a fleet that never refused a price
for _reason in ("StaleOracle", "OracleTooUncertain", "OracleNotTrading", "InvalidOracle"):
    oracle_rejections.labels(_reason)

# ---- funding and governance ------------------------------------------------------------------
funding_updates = Counter(
    "keepernet_funding_updates_total", "Funding rate updates landed", registry=registry)
config_pending_effective = Gauge(
    "keepernet_config_pending_effective_timestamp_seconds",
    "Chain unix time from which the council's pending config change can be applied (its "
    "effective_at); 0 when no change is pending. Set by the governance reconciler each run",
    registry=registry)
markets_resolved = Counter(
    "keepernet_markets_total", "Prediction markets moved on, by result (approved, rejected, "
    "finalized)", ["result"], registry=registry)

# ---- the worker's dependencies (fleet/store_link.py, fleet/worker.py) ------------------------
store_up = Gauge(
    "keepernet_store_up", "1 while this worker reaches PostgreSQL, 0 while it runs degraded "
    "without it", registry=registry)
store_backlog = Gauge(
    "keepernet_store_backlog", "job_runs writes held in memory until PostgreSQL returns",
    registry=registry)
store_backlog_dropped = Counter(
    "keepernet_store_backlog_dropped_total", "job_runs writes dropped, the oldest, beyond the "
    "backlog's bound", registry=registry)
redis_up = Gauge(
    "keepernet_redis_up", "1 while this worker's polling reaches Redis, 0 while it waits for it",
    registry=registry)
redis_poll_failures = Counter(
    "keepernet_redis_poll_failures_total", "Worker poll rounds that could not reach Redis (the "
    "worker waits and polls again)", registry=registry)

# ---- the process -----------------------------------------------------------------------------
event_loop_lag = Gauge(
    "keepernet_event_loop_lag_seconds", "How late the event loop ran a timer, last sample",
    registry=registry)
health_check = Gauge(
    "keepernet_health_check_ok", "1 when a /healthz check passes, by check", ["check"],
    registry=registry)
