"""job_runs on a real PostgreSQL: a try recorded when it starts and ends, a rerun of the same
try overwriting its row, a lease loser never overwriting a holder's, and the readers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

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
                             "FROM job_runs ORDER BY job_id, try")
    return [(r["job_id"], r["try"], r["outcome"], r["ended"]) for r in found]


async def test_a_try_is_recorded_when_it_starts_and_ends(pool: asyncpg.Pool) -> None:
    await job_runs.started(pool, "tally_votes:M", 1, "governance", "tally_votes", ["M"])
    assert await rows(pool) == [("tally_votes:M", 1, None, False)]
    detail = await pool.fetchval("SELECT detail FROM job_runs")
    assert detail == '{"args": ["M"]}'
    await job_runs.finished(pool, "tally_votes:M", 1, "retry")
    await job_runs.started(pool, "tally_votes:M", 2, "governance", "tally_votes", ["M"])
    await job_runs.finished(pool, "tally_votes:M", 2, "success")
    assert await rows(pool) == [("tally_votes:M", 1, "retry", True),
                                ("tally_votes:M", 2, "success", True)]


async def test_a_rerun_of_the_same_try_overwrites_its_row(pool: asyncpg.Pool) -> None:
    await job_runs.started(pool, "update_funding:P:7", 1, "funding", "update_funding", ["P"])
    await job_runs.finished(pool, "update_funding:P:7", 1, "retry")
    await job_runs.started(pool, "update_funding:P:7", 1, "funding", "update_funding", ["P"])
    assert await rows(pool) == [("update_funding:P:7", 1, None, False)]
    await job_runs.finished(pool, "update_funding:P:7", 1, "success")
    assert await rows(pool) == [("update_funding:P:7", 1, "success", True)]


async def test_a_skipped_try_never_overwrites_a_holders_row(pool: asyncpg.Pool) -> None:
    await job_runs.started(pool, "tally_votes:M", 1, "governance", "tally_votes", ["M"])
    await job_runs.skipped(pool, "tally_votes:M", 1, "governance", "tally_votes", ["M"],
                           "already_done")
    await job_runs.skipped(pool, "tally_votes:M:x", 1, "governance", "tally_votes", ["M"],
                           "already_done")
    assert await rows(pool) == [("tally_votes:M", 1, None, False),
                                ("tally_votes:M:x", 1, "already_done", True)]


async def test_last_success_by_job(pool: asyncpg.Pool) -> None:
    assert await job_runs.last_success(pool) == {}
    for job_id, job, outcome in [("tally_votes:A", "tally_votes", "success"),
                                 ("tally_votes:B", "tally_votes", "success"),
                                 ("finalize_market:A:3", "finalize_market", "failed")]:
        await job_runs.started(pool, job_id, 1, "governance", job, ["A"])
        await job_runs.finished(pool, job_id, 1, outcome)
    newest = await pool.fetchval("SELECT max(finished_at) FROM job_runs "
                                 "WHERE job = 'tally_votes'")
    assert await job_runs.last_success(pool) == {"tally_votes": newest}


async def test_unfinished_runs_are_the_newest_tries_that_never_ended(
        pool: asyncpg.Pool) -> None:
    async def started_ago(job_id: str, try_: int, role: str, seconds: int) -> None:
        await job_runs.started(pool, job_id, try_, role, job_id.split(":")[0],
                               [job_id.split(":")[1]])
        await pool.execute("UPDATE job_runs SET started_at = now() - make_interval(secs => $3) "
                           "WHERE job_id = $1 AND try = $2", job_id, try_, float(seconds))

    await started_ago("tally_votes:old", 1, "governance", 600)  # lost
    await started_ago("tally_votes:young", 1, "governance", 5)  # may still be running
    await started_ago("tally_votes:rerun", 1, "governance", 600)  # its worker died...
    await started_ago("tally_votes:rerun", 2, "governance", 300)  # ...arq ran it again
    await job_runs.finished(pool, "tally_votes:rerun", 2, "success")
    await started_ago("tally_votes:done", 1, "governance", 600)
    await job_runs.finished(pool, "tally_votes:done", 1, "not_needed")
    await started_ago("update_funding:P:1", 1, "funding", 600)  # another role's

    lost = await job_runs.unfinished(pool, "governance", 60)
    assert [(r.job_id, r.try_, r.job, r.args) for r in lost] == \
        [("tally_votes:old", 1, "tally_votes", ["old"])]
    assert [r.job_id for r in await job_runs.unfinished(pool, "funding", 60)] == \
        ["update_funding:P:1"]
    assert len(await job_runs.unfinished(pool, "governance", 1)) == 2


async def test_a_start_is_recorded_at_the_time_given(pool: asyncpg.Pool) -> None:
    began = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    await job_runs.started(pool, "tally_votes:T", 1, "governance", "tally_votes", ["T"], began)
    assert await pool.fetchval("SELECT started_at FROM job_runs WHERE job_id = 'tally_votes:T'") \
        == began
