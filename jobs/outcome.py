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
    """

    SUCCESS = "success"
    ALREADY_DONE = "already_done"
    NOT_NEEDED = "not_needed"
    RETRY = "retry"
    FAILED = "failed"


# The program's refusals that are not failures: the guard says the work is done or not due.
# Any other refusal is `failed`. The single list every job maps refusals with.
REFUSAL_OUTCOMES: dict[str, Outcome] = {
    "InvalidState": Outcome.ALREADY_DONE,  # the target already left the state the ix needs
    "TooEarly": Outcome.NOT_NEEDED,  # its window has not closed / its interval not passed
    "ThresholdNotMet": Outcome.NOT_NEEDED,  # the votes do not (yet) reach approval
    "PositionFlat": Outcome.ALREADY_DONE,  # closed or liquidated by someone else
    "NotLiquidatable": Outcome.NOT_NEEDED,  # the price moved back above maintenance
    "StaleOracle": Outcome.RETRY,  # the publisher will write a fresh price
    "OracleNotTrading": Outcome.RETRY,  # a halted feed resumes
    "NoPendingConfig": Outcome.ALREADY_DONE,  # the config change was applied or cancelled
}


def refusal_outcome(error: str) -> Outcome:
    """The outcome of a refusal by the program's error name (`failed` unless listed)."""
    return REFUSAL_OUTCOMES.get(error, Outcome.FAILED)
