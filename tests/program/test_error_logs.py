"""Clients name the program's errors: a refusal logs Anchor's "AnchorError occurred" line,
which @coral-xyz/anchor parses, and its custom error code, which anchorpy translates through
the IDL. Nothing is logged on success but events."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from anchorpy.error import ProgramError
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

from program.idl import spec
from program.idl.generate import anchor_error_line, error_log_h
from tests.support.node import ANCHOR_TS, node_env
from tests.support.program_world import World

# @coral-xyz/anchor's own pattern (ts/packages/anchor/src/error.ts, AnchorError.parse)
ANCHOR_TS_NO_INFO = re.compile(r"^Program log: AnchorError occurred\. Error Code: (.*)\. "
                               r"Error Number: (\d*)\. Error Message: (.*)\.")
BY_NAME = {e.name: e for e in spec.ERRORS}


def failed(w: World, error: str) -> tuple[FailedTransactionMetadata, list[str]]:
    """A stranger's pause, refused with `error` (Unauthorized), sent as raw LiteSVM does."""
    stranger = w.chain.wallet()
    ix = w.client.pause(stranger.pubkey(), True)
    blockhash = w.chain.svm.latest_blockhash()
    tx = Transaction([stranger], Message.new_with_blockhash([ix], stranger.pubkey(), blockhash),
                     blockhash)
    result = w.chain.svm.send_transaction(tx)
    assert isinstance(result, FailedTransactionMetadata)
    logs = list(result.meta().logs())
    assert w.chain.send([ix], [stranger]).error == error
    return result, logs


def anchor_lines(logs: list[str]) -> list[str]:
    return [line for line in logs if line.startswith("Program log: AnchorError")]


def test_a_refusal_logs_the_anchor_line_of_its_error(world: World) -> None:
    """Several refusals, each named by its line exactly as Anchor's client reads it."""
    stranger = world.chain.wallet()
    cases: list[tuple[str, Instruction, tuple[Keypair, ...]]] = [
        ("Unauthorized", world.client.pause(stranger.pubkey(), True), (stranger,)),
        ("NoPendingConfig", world.client.apply_config(), ()),
        ("InsufficientBalance",
         world.client.withdraw_fees(world.admin.pubkey(), world.config().treasury, 1),
         (world.admin,)),
    ]
    for name, ix, signers in cases:
        result = world.chain.send([ix], signers)
        assert result.error == name
        [line] = anchor_lines(result.logs)
        e = BY_NAME[name]
        assert line == f"Program log: {anchor_error_line(e.code, e.name, e.msg)}"
        match = ANCHOR_TS_NO_INFO.match(line)
        assert match is not None and match.groups() == (e.name, str(e.code), e.msg)


def test_anchorpy_translates_the_refusal_into_the_idl_name(world: World) -> None:
    err, logs = failed(world, "Unauthorized")
    idl_errors = {e.code: e.msg for e in world.chain.program.idl.errors}
    parsed = ProgramError.parse_tx_error(err.err(), idl_errors, world.d.program_id, logs)
    assert parsed is not None
    names = {e.code: e.name for e in world.chain.program.idl.errors}
    assert names[parsed.code] == "Unauthorized"
    [line] = anchor_lines(logs)
    assert ANCHOR_TS_NO_INFO.match(line).group(1) == "Unauthorized"  # type: ignore[union-attr]


def test_success_logs_no_error_line(world: World) -> None:
    result = world.ok(world.client.pause(world.admin.pubkey(), True), world.admin)
    assert anchor_lines(result.logs) == []
    assert not [line for line in result.logs if line.startswith("Program log:")]


NODE_PARSE = """
const { AnchorError } = require("@coral-xyz/anchor");
const logs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const e = AnchorError.parse(logs);
console.log(JSON.stringify(e && {code: e.error.errorCode.code, number: e.error.errorCode.number,
                                 message: e.error.errorMessage, program: e.program.toBase58()}));
"""


def _anchor_ts_available() -> str | None:
    """Why @coral-xyz/anchor cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    found = subprocess.run(["node", "-e", "require.resolve('@coral-xyz/anchor')"],
                           capture_output=True, check=False, env=node_env())
    if found.returncode != 0:
        return f"@coral-xyz/anchor is not installed in {ANCHOR_TS} (scripts/setup installs it)"
    return None


@pytest.mark.skipif(_anchor_ts_available() is not None,
                    reason=_anchor_ts_available() or "")
def test_anchor_ts_names_the_refusal(world: World) -> None:
    """@coral-xyz/anchor's own AnchorError.parse, run by node on the refusal's logs."""
    _, logs = failed(world, "Unauthorized")
    out = subprocess.run(["node", "-e", NODE_PARSE], input=json.dumps(logs), text=True,
                         capture_output=True, check=True, env=node_env())
    e = BY_NAME["Unauthorized"]
    assert json.loads(out.stdout) == {"code": e.name, "number": e.code, "message": e.msg,
                                      "program": str(world.d.program_id)}


def test_the_generated_table_holds_every_errors_line() -> None:
    """Read back from the C header the program is built from: the text at each error's
    offsets is its Anchor line, for every error of the spec."""
    header = error_log_h(spec.INTERFACE)
    text_part, offsets_part = header.split("static const u16 ERROR_LOG_OFFSETS")
    text = "".join(json.loads(line.strip().rstrip(";")) for line in text_part.splitlines()
                   if line.startswith('    "'))
    offsets = [int(n) for n in re.findall(r"\d+", offsets_part.split("{", 1)[1].split("}")[0])]
    assert len(offsets) == len(spec.ERRORS) + 1
    for i, e in enumerate(spec.ERRORS):
        line = text[offsets[i]:offsets[i + 1]]
        assert line == anchor_error_line(e.code, e.name, e.msg)
        assert ANCHOR_TS_NO_INFO.match(f"Program log: {line}") is not None
