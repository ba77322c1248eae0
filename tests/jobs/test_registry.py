"""Every job of the registry is wired everywhere a job must be: an arq function in its role's
WorkerSettings with the registry's tries, timeout and result keeping, a settings timeout (with
its environment variable), `keepernet enqueue`'s checks of its target, its stage and its
metrics labels; and the registry refuses a role wired with other jobs than its own."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from chain.client import Endpoint
from fleet.settings import JOBS as SETTINGS_JOBS
from fleet.settings import Settings, load_settings
from jobs.outcome import Outcome
from jobs.registry import JOBS, ROLES, Job, jobs_of, queue_name, role_of
from jobs.stages import stage_of
from metrics.definitions import registry as metrics
from metrics.jobs import LIQUIDATION, JobTry
from workers.enqueue import Refused, parse_request
from workers.role import role_functions, worker_settings_of

SETTINGS = Settings(rpc=(Endpoint("local", "http://127.0.0.1:1"),),
                    database_url="postgresql://127.0.0.1:1/none",
                    program_id=Keypair().pubkey(), metrics_port=0)


@pytest.mark.parametrize("job", JOBS.values(), ids=list(JOBS))
def test_the_job_is_an_arq_function_of_its_role_as_the_registry_says(job: Job) -> None:
    settings = worker_settings_of(job.role, SETTINGS)
    (function,) = [f for f in settings.functions if f.name == job.name]
    assert function.max_tries == job.tries
    assert function.timeout_s == job.timeout_s == SETTINGS.timeouts.of(job.name)
    assert function.keep_result_s == job.keep_result_s
    assert settings.queue_name == queue_name(role_of(job.name))


def test_each_role_runs_its_jobs_and_no_other() -> None:
    for role in ROLES:
        names = {f.name for f in worker_settings_of(role, SETTINGS).functions}
        assert names == {job.name for job in jobs_of(role)}


@pytest.mark.parametrize("job", JOBS.values(), ids=list(JOBS))
def test_the_settings_time_the_job(job: Job) -> None:
    assert job.name in SETTINGS_JOBS
    env = {"KEEPERNET_RPC_URLS": "http://127.0.0.1:1",
           "KEEPERNET_DATABASE_URL": "postgresql://127.0.0.1:1/none",
           "KEEPERNET_PROGRAM_ID": str(Keypair().pubkey()),
           f"KEEPERNET_TIMEOUT_{job.name.upper()}_S": "7.5"}
    assert load_settings(config=None, env=env).timeouts.of(job.name) == 7.5


@pytest.mark.parametrize("job", JOBS.values(), ids=list(JOBS))
def test_keepernet_enqueue_checks_the_jobs_target(job: Job) -> None:
    key = Keypair().pubkey()
    if job.target is None:
        assert parse_request(job.name, []).target is None
        with pytest.raises(Refused, match="takes no argument"):
            parse_request(job.name, [str(key)])
        return
    assert parse_request(job.name, [str(key)]).target == key
    if job.target.optional:
        assert parse_request(job.name, []).target is None
    else:
        with pytest.raises(Refused, match=f"one argument, the {job.target.kind}'s address"):
            parse_request(job.name, [])


@pytest.mark.parametrize("job", JOBS.values(), ids=list(JOBS))
def test_the_jobs_stage_is_its_targets_field(job: Job) -> None:
    class Account:
        pass

    account = Account()
    if job.stage is not None:
        assert job.target is not None  # a stage is read from the target
        setattr(account, job.stage, 42)
    assert stage_of(job.name, account) == (None if job.stage is None else 42)


@pytest.mark.parametrize("job", JOBS.values(), ids=list(JOBS))
def test_the_jobs_tries_are_counted_under_its_role_and_name(job: Job) -> None:
    labels = {"role": job.role, "job": job.name, "outcome": str(Outcome.SUCCESS)}
    before = metrics.get_sample_value("keepernet_job_runs_total", labels) or 0.0
    tried = JobTry(job.role, job.name, due_at_s=0.0, enqueued_at_s=0.0)
    tried.start()
    tried.finish(str(Outcome.SUCCESS))
    assert metrics.get_sample_value("keepernet_job_runs_total", labels) == before + 1


def test_the_liquidation_metrics_follow_the_liquidation_job() -> None:
    assert LIQUIDATION in JOBS and JOBS[LIQUIDATION].target is not None
    assert JOBS[LIQUIDATION].target.kind == "Position"  # type: ignore[union-attr]


def test_a_role_wired_with_a_missing_or_stray_run_is_refused() -> None:
    async def run() -> Outcome:
        return Outcome.SUCCESS

    with pytest.raises(ValueError, match="not its jobs"):
        role_functions("funding", {}, SETTINGS)
    with pytest.raises(ValueError, match="not its jobs"):
        role_functions("funding", {"update_funding": run, "index_events": run}, SETTINGS)
