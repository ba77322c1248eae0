"""A JSON serializer pair for arq, instead of its default pickle: jobs take only JSON
arguments (public keys as base58 strings) and return an outcome's string, so nothing a queue
holds can run code when it is read, and any tool can read it."""

from __future__ import annotations

import json
from typing import Any

from jobs.errors import Permanent


class NotJson(Permanent, TypeError):
    """A job's arguments or result that JSON cannot carry."""


def job_serializer(job: dict[str, Any]) -> bytes:
    """arq's job (function, args, kwargs, tries, times) or result record, as JSON bytes."""
    try:
        return json.dumps(job, separators=(",", ":"), allow_nan=False,
                          default=_failure).encode()
    except (TypeError, ValueError) as e:
        raise NotJson(f"a job carries JSON only (public keys as base58 strings): {e}") from None


def _failure(value: object) -> str:
    """A failed job's exception, as the text arq's result then holds."""
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    raise TypeError(f"{type(value).__name__} is not JSON")


def job_deserializer(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise NotJson(f"not a job record: a JSON {type(value).__name__}")
    return value
