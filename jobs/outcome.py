"""The outcome every job returns, whatever its family."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What a job run came to; a string, so it serializes as itself (JSON, metrics labels).

    - `success`: the job did its work (sent its transaction, wrote its rows).
    - `already_done`: someone else did or is doing it (another instance holds the lock, the
      program's guard says it happened).
    - `not_needed`: there was nothing to do (no new transactions, a window still open).
    - `retry`: a passing failure (an RPC endpoint or the database unreachable); run again.
    - `failed`: a failure that running again will not fix; needs a person.

    An error a job raises becomes one of these in `jobs.errors`.
    """

    SUCCESS = "success"
    ALREADY_DONE = "already_done"
    NOT_NEEDED = "not_needed"
    RETRY = "retry"
    FAILED = "failed"

