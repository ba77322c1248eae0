"""The error model: each kind of error maps to one outcome, in one place, which the job wrapper
and the job functions called directly both use; an error of no known kind is raised."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from arq import Retry
from solana.rpc.core import RPCException
from solders.keypair import Keypair

from chain.client import Endpoint, RpcClient, RpcUnavailable
from chain.prices import OracleRefused
from fleet.context import DEPS_KEY, DepsMissing, WorkerDeps, job_function, run_try
from fleet.serializer import NotJson
from fleet.settings import Settings
from jobs.deps import MissingAccount
from jobs.errors import (
    REFUSAL_OUTCOMES,
    UNREACHABLE,
    Permanent,
    ProgramRefused,
    Retryable,
    maps_errors,
    outcome_of,
)
from jobs.indexer import TransactionMissing
from jobs.outcome import Outcome
from jobs.registry import INDEX_EVENTS, TALLY_VOTES, NotAnId, UnknownJob
from metrics.jobs import JobTry
from store.events import CursorMoved
from workers.enqueue import Refused

SETTINGS = Settings(rpc=(Endpoint("local", "http://127.0.0.1:1"),),
                    database_url="postgresql://127.0.0.1:1/none",
                    program_id=Keypair().pubkey(), metrics_port=0)


def test_the_projects_errors_are_of_the_model() -> None:
    for retryable in (RpcUnavailable, TransactionMissing, CursorMoved):
        assert issubclass(retryable, Retryable)
    for permanent in (MissingAccount, DepsMissing, NotJson, UnknownJob, NotAnId, Refused):
        assert issubclass(permanent, Permanent)
    assert issubclass(OracleRefused, ProgramRefused)
    # the classes they were keep holding them
    assert issubclass(DepsMissing, RuntimeError) and issubclass(Refused, ValueError)


@pytest.mark.parametrize(("error", "outcome"), [
    (RpcUnavailable("no endpoint answered"), Outcome.RETRY),
    (CursorMoved("moved"), Outcome.RETRY),
    (MissingAccount("none there"), Outcome.FAILED),
    (RPCException("node refused"), Outcome.FAILED),
    (ValueError("undecodable"), Outcome.FAILED),
    (ProgramRefused("PositionFlat"), Outcome.ALREADY_DONE),
    (ProgramRefused("TooEarly"), Outcome.NOT_NEEDED),
    (OracleRefused("StaleOracle", "old price"), Outcome.RETRY),
    (ProgramRefused("Unauthorized"), Outcome.FAILED),
    # the database away is passing only for the jobs that say so
    (OSError("connection refused"), None),
    (asyncpg.CannotConnectNowError("starting"), None),
    (RuntimeError("a bug"), None),
])
def test_an_error_maps_to_one_outcome(error: Exception, outcome: Outcome | None) -> None:
    assert outcome_of(error) == outcome


def test_a_job_retrying_on_the_unreachable_retries_a_store_away() -> None:
    for error in (OSError("refused"), TimeoutError(), asyncpg.CannotConnectNowError("x"),
                  RpcUnavailable("down")):
        assert outcome_of(error, UNREACHABLE) == Outcome.RETRY
    assert outcome_of(ValueError("undecodable"), UNREACHABLE) == Outcome.FAILED


def test_every_harmless_refusal_maps_by_its_name() -> None:
    for name, outcome in REFUSAL_OUTCOMES.items():
        assert outcome_of(ProgramRefused(name, "why")) == outcome


async def test_a_mapped_job_function_returns_the_outcome_and_raises_a_bug() -> None:
    @maps_errors(INDEX_EVENTS)
    async def job(error: Exception | None) -> Outcome:
        if error is not None:
            raise error
        return Outcome.SUCCESS

    assert await job(None) == Outcome.SUCCESS
    assert await job(OSError("refused")) == Outcome.RETRY
    assert await job(MissingAccount("gone")) == Outcome.FAILED
    with pytest.raises(RuntimeError):
        await job(RuntimeError("a bug"))


def ctx(deps: WorkerDeps, job_try: int) -> dict[Any, Any]:
    return {"redis": None, DEPS_KEY: deps, "job_id": "tally_votes", "job_try": job_try}


async def test_the_job_wrapper_maps_what_a_run_raises() -> None:
    deps = WorkerDeps("governance", SETTINGS, RpcClient(list(SETTINGS.rpc)))
    raised: list[Exception] = []

    async def run(_deps: WorkerDeps) -> Outcome:
        raise raised[-1]

    async def outcome(error: Exception) -> Outcome:
        raised.append(error)
        return await run_try(deps, None, run, TALLY_VOTES.name,  # type: ignore[arg-type]
                             "tally_votes", 1, [], JobTry("governance", "tally_votes", 0, 0))

    try:
        assert await outcome(RpcUnavailable("down")) == Outcome.RETRY
        assert await outcome(MissingAccount("gone")) == Outcome.FAILED
        assert await outcome(ProgramRefused("InvalidState")) == Outcome.ALREADY_DONE
        with pytest.raises(RuntimeError):
            await outcome(RuntimeError("a bug"))
        # arq retries a retryable error while the job's tries last, then records `retry`
        fn = job_function(replace(TALLY_VOTES, tries=2), run, SETTINGS)
        raised.append(RpcUnavailable("down"))
        with pytest.raises(Retry):
            await fn.coroutine(ctx(deps, 1))
        assert await fn.coroutine(ctx(deps, 2)) == "retry"
    finally:
        await deps.close()
