"""Reading relocatable objects, and refusing input that is not one clang -target bpf wrote."""

import subprocess

import pytest

from program.toolchain.elf import (
    EHDR,
    R_BPF_64_32,
    R_BPF_64_64,
    SHDR,
    SHT_RELA,
    STB_GLOBAL,
    STT_FUNC,
    parse_object,
    read_object,
)
from program.toolchain.errors import LinkError
from tests.support.toolchain import CLANG, PRELUDE, link_paths

SOURCE = PRELUDE + """
static const char msg[] = "hi";
u64 entrypoint(const u8 *in) { sol_log_(msg, 2); return 0; }
"""


def test_reads_sections_symbols_and_relocations(cc):
    obj = read_object(cc(SOURCE))
    names = [s.name for s in obj.sections]
    text = obj.sections[names.index(".text")]
    assert obj.sections[names.index(".rodata")].data == b"hi\0"
    entry = next(s for s in obj.symbols if s.name == "entrypoint")
    assert (entry.bind, entry.type, entry.section) == (STB_GLOBAL, STT_FUNC, text.index)
    relocs = obj.relocations[text.index]
    assert {(obj.symbols[r.symbol].name, r.type) for r in relocs} == {
        (".rodata", R_BPF_64_64), ("sol_log_", R_BPF_64_32)}  # section symbols get a name


def test_not_an_elf_file():
    with pytest.raises(LinkError, match=r"^x\.o: not an ELF file$"):
        parse_object(b"#!/bin/sh\n", "x.o")


def test_32_bit_elf():
    with pytest.raises(LinkError, match="not a 64-bit little-endian ELF file"):
        parse_object(b"\x7fELF\x01\x01\x01" + bytes(60), "x.o")


def test_wrong_machine(tmp_path):
    src = tmp_path / "x.c"
    src.write_text("int f(int x) { return x + 1; }\n")
    obj = tmp_path / "x.o"
    subprocess.run([CLANG, "-target", "x86_64-linux-gnu", "-c", str(src), "-o", str(obj)],
                   check=True)
    with pytest.raises(LinkError, match=r"ELF machine 62, not BPF \(247\): compile with clang "
                                        "-target bpf"):
        read_object(obj)


def test_linked_program_is_not_an_input(cc, tmp_path):
    so, _ = link_paths(cc(SOURCE))
    with pytest.raises(LinkError, match="ELF type 3, not a relocatable object"):
        parse_object(so.data, "prog.so")


def test_truncated_object(cc):
    data = cc(SOURCE).read_bytes()
    with pytest.raises(LinkError, match=r"prog\.o: truncated or corrupt"):
        parse_object(data[:200], "prog.o")


def test_rela_relocations_are_refused(cc):
    data = bytearray(cc(SOURCE).read_bytes())
    shoff, shnum = EHDR.unpack_from(data, 0)[6], EHDR.unpack_from(data, 0)[12]
    rel = next(i for i in range(shnum) if SHDR.unpack_from(data, shoff + i * SHDR.size)[1] == 9)
    data[shoff + rel * SHDR.size + 4] = SHT_RELA
    with pytest.raises(LinkError, match=r"\.rel\.text: RELA relocations"):
        parse_object(bytes(data), "prog.o")


def test_missing_file(tmp_path):
    with pytest.raises(LinkError, match=r"cannot read .*nope\.o: No such file"):
        read_object(tmp_path / "nope.o")
