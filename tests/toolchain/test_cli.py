"""`python -m program.toolchain`: arguments, output, and the sbfld: error: convention."""

import subprocess
import sys

import pytest

from program.toolchain.__main__ import main
from tests.support.toolchain import PRELUDE, SharedObject

HELLO = PRELUDE + 'u64 entrypoint(const u8 *in) { sol_log_("hi", 2); return 0; }\n'


def test_links_and_reports(cc, tmp_path, capsys):
    out = tmp_path / "hello.so"
    assert main(["-v", "-o", str(out), str(cc(HELLO))]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"sbfld: {out}: {out.stat().st_size} bytes, .text ")
    assert line.rstrip().endswith("syscalls: sol_log_")
    assert SharedObject(out.read_bytes()).e_type == 3


def test_entry_option(cc, tmp_path):
    obj = cc(PRELUDE + "u64 start(const u8 *in) { return 0; }\n")
    assert main(["-o", str(tmp_path / "a.so"), "-e", "start", str(obj)]) == 0


def test_link_error_goes_to_stderr_and_removes_stale_output(cc, tmp_path, capsys):
    out = tmp_path / "bad.so"
    out.write_bytes(b"stale")
    obj = cc(PRELUDE + "u64 counter;\nu64 entrypoint(const u8 *in) { return ++counter; }\n")
    assert main(["-o", str(out), str(obj)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sbfld: error: ") and "writable section .bss" in err
    assert not out.exists()


def test_usage_error_exits_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main([str(tmp_path / "a.o")])
    assert exited.value.code == 1
    assert "sbfld: error: the following arguments are required: -o" in capsys.readouterr().err


def test_runs_as_a_module(cc, tmp_path):
    done = subprocess.run([sys.executable, "-m", "program.toolchain", "-o",
                           str(tmp_path / "x.so"), str(tmp_path / "missing.o")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("sbfld: error: cannot read ")
