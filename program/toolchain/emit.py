"""Writing the linked program as the SBPF v0 shared object Solana's loaders accept.

The file mirrors what solana-sbpf expects of a v0 program (ELF64 LE, ET_DYN,
EM_BPF, e_flags 0) and what Solana's own toolchain writes:

    ELF header | 3 program headers | .text | .rodata | .dynamic | .dynsym | .dynstr
    | .rel.dyn | .shstrtab | section headers

Every allocated section's address equals its file offset, which SBPF v0 requires.
Program headers: PT_LOAD R+X over .text/.rodata, PT_LOAD R over the dynamic
tables, PT_DYNAMIC. `.dynsym` lists each syscall used (undefined) and the entry
point; `.rel.dyn` holds one R_BPF_64_32 per syscall call site, for which the
loader writes murmur3(name) into the call's imm.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from program.toolchain.elf import (
    DYN,
    EHDR,
    EM_BPF,
    ET_DYN,
    PHDR,
    R_BPF_64_32,
    REL,
    SHDR,
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHF_WRITE,
    SHT_DYNAMIC,
    SHT_DYNSYM,
    SHT_PROGBITS,
    SHT_REL,
    SHT_STRTAB,
    STB_GLOBAL,
    STT_FUNC,
    STT_NOTYPE,
    SYM,
)

PROGRAM_HEADERS = 3
HEADERS_SIZE = EHDR.size + PROGRAM_HEADERS * PHDR.size  # .text starts after these

_PT_LOAD, _PT_DYNAMIC = 1, 2
_PF_X, _PF_W, _PF_R = 1, 2, 4
_DT_NULL, _DT_STRTAB, _DT_SYMTAB, _DT_STRSZ, _DT_SYMENT = 0, 5, 6, 10, 11
_DT_REL, _DT_RELSZ, _DT_RELENT = 17, 18, 19
_TEXT_SECTION_INDEX = 1  # .text is always the first section after the null one


@dataclass(frozen=True)
class SyscallSite:
    """A `call -1` at `address` that the loader resolves to the syscall `name`."""

    address: int
    name: str


@dataclass(frozen=True)
class ProgramImage:
    """The linked program: `image` is the file up to the end of .rodata, headers zeroed."""

    image: bytes
    text: range
    rodata: range
    entry: str
    entry_address: int
    syscall_sites: Sequence[SyscallSite]


def build_shared_object(program: ProgramImage) -> bytes:
    """Lay out the dynamic tables and headers after `program.image` and return the file."""
    dynsym, dynstr, reldyn = _dynamic_tables(program)
    dyn_off = _align(len(program.image), 8)
    dynsym_off = _align(dyn_off + _dynamic_size(reldyn), 8)
    dynstr_off = dynsym_off + len(dynsym)
    reldyn_off = _align(dynstr_off + len(dynstr), 8)
    dyn_end = reldyn_off + len(reldyn)
    dynamic = _dynamic_section(dynsym_off, dynstr_off, len(dynstr), reldyn_off, len(reldyn))

    headers = _SectionHeaders()
    headers.add(".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, program.text.start,
                len(program.text), align=8)
    if program.rodata:
        headers.add(".rodata", SHT_PROGBITS, SHF_ALLOC, program.rodata.start,
                    len(program.rodata), align=8)
    dynstr_index = headers.count + 3  # .dynamic, .dynsym, then .dynstr
    headers.add(".dynamic", SHT_DYNAMIC, SHF_ALLOC | SHF_WRITE, dyn_off, len(dynamic),
                link=dynstr_index, align=8, entsize=DYN.size)
    dynsym_index = headers.add(".dynsym", SHT_DYNSYM, SHF_ALLOC, dynsym_off, len(dynsym),
                               link=dynstr_index, info=1, align=8, entsize=SYM.size)
    headers.add(".dynstr", SHT_STRTAB, SHF_ALLOC, dynstr_off, len(dynstr))
    if reldyn:
        headers.add(".rel.dyn", SHT_REL, SHF_ALLOC, reldyn_off, len(reldyn),
                    link=dynsym_index, align=8, entsize=REL.size)
    shstrtab_off = dyn_end
    shstrtab = headers.finish_names(shstrtab_off)
    shoff = _align(shstrtab_off + len(shstrtab), 8)

    out = bytearray(shoff + SHDR.size * headers.count_with_null)
    out[:len(program.image)] = program.image
    for offset, blob in ((dyn_off, dynamic), (dynsym_off, dynsym), (dynstr_off, dynstr),
                         (reldyn_off, reldyn), (shstrtab_off, shstrtab)):
        out[offset:offset + len(blob)] = blob
    headers.write(out, shoff)
    _write_elf_header(out, program.entry_address, shoff, headers.count_with_null)
    _write_program_headers(out, program.text.start, len(program.image), dyn_off, dyn_end,
                           len(dynamic))
    return bytes(out)


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) & ~(alignment - 1)


class _StringTable:
    """An ELF string table: a NUL, then NUL-terminated names."""

    def __init__(self) -> None:
        self.data = bytearray(b"\0")

    def add(self, name: str) -> int:
        offset = len(self.data)
        self.data += name.encode() + b"\0"
        return offset


def _dynamic_tables(program: ProgramImage) -> tuple[bytes, bytes, bytes]:
    """.dynsym (null, each syscall, the entry point), .dynstr and .rel.dyn."""
    dynstr = _StringTable()
    dynsym = bytearray(SYM.size)
    index: dict[str, int] = {}
    for name in sorted({site.name for site in program.syscall_sites}):
        index[name] = len(dynsym) // SYM.size
        dynsym += SYM.pack(dynstr.add(name), STB_GLOBAL << 4 | STT_NOTYPE, 0, 0, 0, 0)
    dynsym += SYM.pack(dynstr.add(program.entry), STB_GLOBAL << 4 | STT_FUNC, 0,
                       _TEXT_SECTION_INDEX, program.entry_address, 0)
    reldyn = b"".join(REL.pack(site.address, index[site.name] << 32 | R_BPF_64_32)
                      for site in program.syscall_sites)
    return bytes(dynsym), bytes(dynstr.data), reldyn


def _dynamic_size(reldyn: bytes) -> int:
    return (8 if reldyn else 5) * DYN.size


def _dynamic_section(
    dynsym_off: int, dynstr_off: int, dynstr_size: int, reldyn_off: int, reldyn_size: int
) -> bytes:
    entries = [(_DT_SYMTAB, dynsym_off), (_DT_SYMENT, SYM.size), (_DT_STRTAB, dynstr_off),
               (_DT_STRSZ, dynstr_size)]
    if reldyn_size:
        entries += [(_DT_REL, reldyn_off), (_DT_RELSZ, reldyn_size), (_DT_RELENT, REL.size)]
    entries.append((_DT_NULL, 0))
    return b"".join(DYN.pack(tag, value) for tag, value in entries)


class _SectionHeaders:
    """Collects section headers, then a .shstrtab naming them, which comes last."""

    def __init__(self) -> None:
        self._names = _StringTable()
        self._headers: list[tuple[int, ...]] = []

    @property
    def count(self) -> int:
        """Headers added so far, without the null one: the index of the last added."""
        return len(self._headers)

    @property
    def count_with_null(self) -> int:
        """The e_shnum of the file."""
        return len(self._headers) + 1

    def add(self, name: str, sh_type: int, flags: int, offset: int, size: int, *,
            link: int = 0, info: int = 0, align: int = 1, entsize: int = 0) -> int:
        """Add a section whose address is its offset; return its index."""
        self._headers.append((self._names.add(name), sh_type, flags, offset, offset, size,
                              link, info, align, entsize))
        return self.count

    def finish_names(self, offset: int) -> bytes:
        """Add .shstrtab (unallocated, so address 0) at `offset` and return its bytes."""
        name = self._names.add(".shstrtab")
        self._headers.append((name, SHT_STRTAB, 0, 0, offset, len(self._names.data), 0, 0, 1, 0))
        return bytes(self._names.data)

    def write(self, out: bytearray, shoff: int) -> None:
        for i, header in enumerate(self._headers, 1):
            SHDR.pack_into(out, shoff + i * SHDR.size, *header)


def _write_elf_header(out: bytearray, entry: int, shoff: int, shnum: int) -> None:
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # ELF64, LE, version 1, SysV ABI
    EHDR.pack_into(out, 0, ident, ET_DYN, EM_BPF, 1, entry, EHDR.size, shoff, 0, EHDR.size,
                   PHDR.size, PROGRAM_HEADERS, SHDR.size, shnum, shnum - 1)


def _write_program_headers(
    out: bytearray, text_start: int, image_end: int, dyn_off: int, dyn_end: int,
    dynamic_size: int,
) -> None:
    segments = [(_PT_LOAD, _PF_R | _PF_X, text_start, image_end - text_start),
                (_PT_LOAD, _PF_R, dyn_off, dyn_end - dyn_off),
                (_PT_DYNAMIC, _PF_R | _PF_W, dyn_off, dynamic_size)]
    for i, (p_type, p_flags, offset, size) in enumerate(segments):
        PHDR.pack_into(out, EHDR.size + i * PHDR.size, p_type, p_flags, offset, offset, offset,
                       size, size, 8)
