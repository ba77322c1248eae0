"""A real arq Worker run in burst mode: it works the queue empty, then stops."""

from __future__ import annotations

import asyncio
from typing import Any

from arq.worker import Worker, create_worker


async def run_burst(worker_settings: type, **overrides: Any) -> Worker:
    worker = create_worker(worker_settings, burst=True, handle_signals=False, poll_delay=0.05,
                           **{"cron_jobs": [], **overrides})
    try:
        await asyncio.wait_for(worker.async_run(), 20)
    finally:
        await worker.close()
    return worker
