"""The keeper's error model, and the one place an error becomes a job's outcome.

Three kinds of failure, each a base class the project's own exceptions derive from (their
names kept, since tests and logs use them):

- `Retryable`: passing; the same work may succeed later (an RPC endpoint down, the database
  or Redis unreachable, a node behind the others).
- `Permanent`: running again will not fix it (bad input, an account that is not there).
- `ProgramRefused`: the program refused, with its IDL error name; some refusals are harmless
  (the work is done or not due), listed in `REFUSAL_OUTCOMES`.

`outcome_of` maps an error to an `Outcome` given the errors its job retries on (the job's
`retry_on` in `jobs.registry`); the job wrapper (fleet/context.py) uses it, and so does
`maps_errors`, for the job functions that return an outcome when called directly too. An error of no
kind the model knows is a bug: it is raised as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, Protocol

import asyncpg
import structlog
from solana.rpc.core import RPCException

from jobs.outcome import Outcome

log = structlog.get_logger(__name__)


class KeeperError(Exception):
    """Any failure the error model knows."""


class Retryable(KeeperError):
    """A passing failure: run the job again."""


class Permanent(KeeperError):
    """A failure running again will not fix: the job fails."""


class ProgramRefused(KeeperError):
    """The program refuses (or would refuse) the work; `error` is its IDL error name."""

    def __init__(self, error: str, reason: str = "") -> None:
        super().__init__(f"{error}: {reason}" if reason else error)
        self.error = error
        self.reason = reason


# Errors outside the project's own classes, by kind. A store or an endpoint that cannot be
# reached (asyncpg's connection errors, a socket's OSError, a timeout) is passing for the jobs
# that read them directly; a node refusing a request or data that cannot be decoded is not.
RETRYABLE: tuple[type[Exception], ...] = (Retryable,)
UNREACHABLE: tuple[type[Exception], ...] = (
    Retryable, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError, OSError, TimeoutError)
PERMANENT: tuple[type[Exception], ...] = (Permanent, RPCException, KeyError, TypeError,
                                          ValueError)

# The program's refusals that are not failures: the guard says the work is done or not due.
# Any other refusal is `failed`.
REFUSAL_OUTCOMES: dict[str, Outcome] = {
    "InvalidState": Outcome.ALREADY_DONE,  # the target already left the state the ix needs
    "TooEarly": Outcome.NOT_NEEDED,  # its window has not closed / its interval not passed
    "ThresholdNotMet": Outcome.NOT_NEEDED,  # the votes do not (yet) reach approval
    "PositionFlat": Outcome.ALREADY_DONE,  # closed or liquidated by someone else
    "NotLiquidatable": Outcome.NOT_NEEDED,  # the price moved back above maintenance
    "StaleOracle": Outcome.RETRY,  # the publisher will write a fresh price
    "StalePublishTime": Outcome.RETRY,  # likewise, a PriceUpdateV2 by its publish time
    "OracleNotTrading": Outcome.RETRY,  # a halted feed resumes
    "NoPendingConfig": Outcome.ALREADY_DONE,  # the config change was applied or cancelled
}


def refusal_outcome(error: str) -> Outcome:
    """The outcome of a refusal by the program's error name (`failed` unless listed)."""
    return REFUSAL_OUTCOMES.get(error, Outcome.FAILED)


def outcome_of(error: Exception,
               retry_on: tuple[type[Exception], ...] = RETRYABLE) -> Outcome | None:
    """The outcome of a job that raised `error`: a refusal's by its name, `retry` for one of
    `retry_on`, `failed` for a permanent one; None for an error the model does not know."""
    if isinstance(error, ProgramRefused):
        return refusal_outcome(error.error)
    if isinstance(error, retry_on):
        return Outcome.RETRY
    if isinstance(error, PERMANENT):
        return Outcome.FAILED
    return None


class ErrorPolicy(Protocol):
    """What `maps_errors` needs of a job (a `jobs.registry.Job`): its name and the errors
    after which it runs again."""

    @property
    def name(self) -> str: ...

    @property
    def retry_on(self) -> tuple[type[Exception], ...]: ...


P = ParamSpec("P")


def maps_errors(job: ErrorPolicy) -> Callable[[Callable[P, Awaitable[Outcome]]],
                                              Callable[P, Coroutine[Any, Any, Outcome]]]:
    """Decorate the function of `job` so that, called directly too, a known error comes back
    as its outcome (logged as `<job>.<outcome>`), as the job wrapper maps it."""

    def decorate(run: Callable[P, Awaitable[Outcome]]
                 ) -> Callable[P, Coroutine[Any, Any, Outcome]]:
        @functools.wraps(run)
        async def mapped(*args: P.args, **kwargs: P.kwargs) -> Outcome:
            try:
                return await run(*args, **kwargs)
            except Exception as e:
                outcome = outcome_of(e, job.retry_on)
                if outcome is None:
                    raise
                log_mapped(f"{job.name}.{outcome}", e, outcome)
                return outcome

        return mapped

    return decorate


def log_mapped(event: str, error: Exception, outcome: Outcome) -> None:
    """Log an error mapped to `outcome`: an error when the job failed, a warning otherwise."""
    emit = log.error if outcome is Outcome.FAILED else log.warning
    emit(event, error=f"{type(error).__name__}: {error}")
