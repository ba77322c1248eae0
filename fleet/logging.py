"""The workers' logs: one JSON object per line on stderr.

Each line carries `timestamp` (ISO 8601, UTC), `level`, `event`, whatever the call adds, and
the context bound with `structlog.contextvars` — per job the wrapper binds `role`, `job`,
`job_id` and `try`, so every line a job's code logs says which try of which job wrote it.
`configure_logging(role)` also stamps the worker's role on lines logged outside a job.
"""

from __future__ import annotations

import sys
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger


class _Stderr:
    """The current `sys.stderr`, looked up at every write, so that a replaced stderr (a test's
    capture, a supervisor's redirection) gets the lines written after it changed."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _default_role(role: str) -> structlog.typing.Processor:
    def add(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
        event.setdefault("role", role)
        return event
    return add


def configure_logging(role: str | None = None) -> None:
    """Send structlog's lines to stderr as JSON (see the module docstring). Calling it again
    replaces the configuration with the same one: every worker's start-up may call it."""
    processors: list[Any] = [structlog.contextvars.merge_contextvars]
    if role is not None:
        processors.append(_default_role(role))
    processors += [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]
    structlog.configure(
        processors=processors,
        logger_factory=structlog.PrintLoggerFactory(_Stderr()),  # type: ignore[arg-type]
        # module-level loggers made before this call must follow it: no caching
        cache_logger_on_first_use=False,
    )
