"""job_runs on a real PostgreSQL: a try recorded when it starts and ends, every run of the same
try a row of its own (none overwritten), a lease loser never hiding a holder's row, the
readers, and retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import pytest
import pytest_asyncio

from store import job_runs
from store.migrate import migrate

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def pool(pg_database: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(pg_database)
    got = await asyncpg.create_pool(pg_database, min_size=1, max_size=2)
    yield got
    await got.close()


async def rows(pool: asyncpg.Pool) -> list[tuple[str, int, str | None, bool]]:
    found = await pool.fetch("SELECT job_id, try, outcome, finished_at IS NOT NULL AS ended "
                             "FROM job_runs ORDER BY job_id, try, started_at")
    return [(r["job_id"], r["try"], r["outcome"], r["ended"]) for r in found]


async def started(pool: asyncpg.Pool, job_id: str, try_: int, role: str, job: str,
                  args: list[str]) -> UUID:
    """A new run of try `try_` of `job_id`, started now; its run id."""
    run = uuid4()
    await job_runs.started(pool, run, job_id, try_, role, job, args)
    return run


async def test_a_try_is_recorded_when_it_starts_and_ends(pool: asyncpg.Pool) -> None:
    first = await started(pool, "tally_votes:M", 1, "governance", "tally_votes", ["M"])
    assert await rows(pool) == [("tally_votes:M", 1, None, False)]
    detail = await pool.fetchval("SELECT detail FROM job_runs")
    assert detail == '{"args": ["M"]}'
    await job_runs.finished(pool, first, "retry")
    second = await started(pool, "tally_votes:M", 2, "governance", "tally_votes", ["M"])
    await job_runs.finished(pool, second, "success")
    assert await rows(pool) == [("tally_votes:M", 1, "retry", True),
                                ("tally_votes:M", 2, "success", True)]


async def test_every_run_of_the_same_try_is_a_row_of_its_own(pool: asyncpg.Pool) -> None:
    # the same id enqueued again once its first run is done: arq's try 1 again
    first = await started(pool, "update_funding:P:7", 1, "funding", "update_funding", ["P"])
    await job_runs.finished(pool, first, "success")
    again = await started(pool, "update_funding:P:7", 1, "funding", "update_funding", ["P"])
    assert await rows(pool) == [("update_funding:P:7", 1, "success", True),
                                ("update_funding:P:7", 1, None, False)]
    await job_runs.finished(pool, again, "already_done")
    assert await rows(pool) == [("update_funding:P:7", 1, "success", True),
                                ("update_funding:P:7", 1, "already_done", True)]


async def test_writing_a_run_again_changes_nothing(pool: asyncpg.Pool) -> None:
    run = await started(pool, "tally_votes:M", 1, "governance", "tally_votes", ["M"])
    await job_runs.finished(pool, run, "success")
    await job_runs.started(pool, run, "tally_votes:M", 1, "governance", "tally_votes", ["M"])
    assert await rows(pool) == [("tally_votes:M", 1, "success", True)]


async def test_a_skipped_try_never_hides_a_holders_row(pool: asyncpg.Pool) -> None:
    await started(pool, "tally_votes:M", 1, "governance", "tally_votes", ["M"])
    await job_runs.skipped(pool, uuid4(), "tally_votes:M", 1, "governance", "tally_votes",
                           ["M"], "already_done")
    await job_runs.skipped(pool, uuid4(), "tally_votes:M:x", 1, "governance", "tally_votes",
                           ["M"], "already_done")
    assert await rows(pool) == [("tally_votes:M", 1, None, False),
                                ("tally_votes:M:x", 1, "already_done", True)]


async def test_last_success_by_job(pool: asyncpg.Pool) -> None:
    assert await job_runs.last_success(pool) == {}
    for job_id, job, outcome in [("tally_votes:A", "tally_votes", "success"),
                                 ("tally_votes:B", "tally_votes", "success"),
                                 ("finalize_market:A:3", "finalize_market", "failed")]:
        run = await started(pool, job_id, 1, "governance", job, ["A"])
        await job_runs.finished(pool, run, outcome)
    newest = await pool.fetchval("SELECT max(finished_at) FROM job_runs "
                                 "WHERE job = 'tally_votes'")
    assert await job_runs.last_success(pool) == {"tally_votes": newest}


async def test_unfinished_runs_are_the_newest_tries_that_never_ended(
        pool: asyncpg.Pool) -> None:
    async def started_ago(job_id: str, try_: int, role: str, seconds: int) -> UUID:
        run = await started(pool, job_id, try_, role, job_id.split(":")[0],
                            [job_id.split(":")[1]])
        await pool.execute("UPDATE job_runs SET started_at = now() - make_interval(secs => $2) "
                           "WHERE run_id = $1", run, float(seconds))
        return run

    await started_ago("tally_votes:old", 1, "governance", 600)  # lost
    await started_ago("tally_votes:young", 1, "governance", 5)  # may still be running
    await started_ago("tally_votes:rerun", 1, "governance", 600)  # its worker died...
    rerun = await started_ago("tally_votes:rerun", 2, "governance", 300)  # ...arq ran it again
    await job_runs.finished(pool, rerun, "success")
    await started_ago("tally_votes:again", 1, "governance", 600)  # its worker died...
    again = await started_ago("tally_votes:again", 1, "governance", 300)  # ...enqueued again
    await job_runs.finished(pool, again, "success")
    done = await started_ago("tally_votes:done", 1, "governance", 600)
    await job_runs.finished(pool, done, "not_needed")
    await started_ago("update_funding:P:1", 1, "funding", 600)  # another role's

    lost = await job_runs.unfinished(pool, "governance", 60)
    assert [(r.job_id, r.try_, r.job, r.args) for r in lost] == \
        [("tally_votes:old", 1, "tally_votes", ["old"])]
    assert [r.job_id for r in await job_runs.unfinished(pool, "funding", 60)] == \
        ["update_funding:P:1"]
    assert len(await job_runs.unfinished(pool, "governance", 1)) == 2


async def test_a_start_is_recorded_at_the_time_given(pool: asyncpg.Pool) -> None:
    began = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    await job_runs.started(pool, uuid4(), "tally_votes:T", 1, "governance", "tally_votes", ["T"],
                           began)
    assert await pool.fetchval("SELECT started_at FROM job_runs WHERE job_id = 'tally_votes:T'") \
        == began


async def test_prune_deletes_the_runs_started_before_the_retention(pool: asyncpg.Pool) -> None:
    for job_id, days in [("tally_votes:old", 40.0), ("tally_votes:edge", 29.9),
                         ("tally_votes:new", 0.0)]:
        run = await started(pool, job_id, 1, "governance", "tally_votes", ["A"])
        await job_runs.finished(pool, run, "success")
        await pool.execute("UPDATE job_runs SET started_at = now() - make_interval(secs => $2) "
                           "WHERE run_id = $1", run, days * 86_400)
    await started(pool, "tally_votes:lost", 1, "governance", "tally_votes", ["A"])
    await pool.execute("UPDATE job_runs SET started_at = now() - interval '31 days' "
                       "WHERE job_id = 'tally_votes:lost'")  # never finished, old all the same

    assert await job_runs.prune(pool, 30) == 2
    assert [r[0] for r in await rows(pool)] == ["tally_votes:edge", "tally_votes:new"]
    assert await job_runs.prune(pool, 30) == 0
    assert await job_runs.prune(pool, 0.5) == 1  # half a day
    assert [r[0] for r in await rows(pool)] == ["tally_votes:new"]


async def test_prune_deletes_a_batch_at_a_time(pool: asyncpg.Pool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(job_runs, "PRUNE_BATCH", 3)
    for i in range(5):
        await started(pool, f"tally_votes:{i}", 1, "governance", "tally_votes", ["A"])
    await pool.execute("UPDATE job_runs SET started_at = now() - interval '2 days'")
    assert [await job_runs.prune(pool, 1) for _ in range(3)] == [3, 2, 0]
