"""Pins what patches/arq_redis_away.py relies on in arq 0.28: `Worker.main` makes its pool only
when none is given and loops on `_poll_iteration`; `start_jobs` takes a job's slot before the
Redis pipeline that claims it. The behaviour itself is tests/faults/test_redis_resets.py's."""

from __future__ import annotations

import inspect

import arq
from arq.worker import Worker


def test_arq_is_the_pinned_version() -> None:
    assert arq.VERSION == "0.28.0"


def test_main_makes_its_pool_only_when_none_is_given_and_polls_in_a_loop() -> None:
    source = inspect.getsource(Worker.main)
    assert "if self._pool is None:" in source
    assert "await self._poll_iteration()" in source


def test_start_jobs_takes_the_slot_before_the_pipeline() -> None:
    source = inspect.getsource(Worker.start_jobs)
    acquire = source.index("await self.sem.acquire()")
    counted = source.index("self.job_counter = self.job_counter + 1")
    pipeline = source.index("self.pool.pipeline(")
    assert acquire < counted < pipeline
