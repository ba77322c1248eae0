"""The program's errors by their IDL names, decoded from what the runtime reports."""

from __future__ import annotations

import functools
import json
from typing import Any

from solders.transaction_status import InstructionErrorCustom, TransactionErrorInstructionError

from program.idl.generate import IDL_PATH


@functools.cache
def error_names() -> dict[int, str]:
    """The program's custom error codes and their IDL names."""
    return {e["code"]: e["name"] for e in json.loads(IDL_PATH.read_text())["errors"]}


def program_error(err: Any) -> str | None:
    """The IDL name of a program error in a transaction error, None when `err` is another kind
    of failure (a signature, a blockhash, another program's error...)."""
    if isinstance(err, TransactionErrorInstructionError) and isinstance(
            err.err, InstructionErrorCustom):
        return error_names().get(err.err.code)
    return None


def describe(err: Any) -> str:
    """A transaction error for people: the IDL name when it is one of the program's."""
    return program_error(err) or str(err)
