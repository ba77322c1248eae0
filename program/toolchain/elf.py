"""Reading ELF64 little-endian relocatable BPF objects (what `clang -target bpf -c` writes).

Only what the linker needs is kept: sections with their bytes, the symbol table
and the REL relocation tables, keyed by the section they patch. Anything
malformed or unexpected becomes a `LinkError` naming the file.
"""

import struct
from dataclasses import dataclass
from pathlib import Path

from program.toolchain.errors import LinkError

EM_BPF = 247
ET_REL = 1
ET_DYN = 3

SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_DYNAMIC = 6
SHT_NOBITS = 8
SHT_REL = 9
SHT_DYNSYM = 11

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4

SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_COMMON = 0xFFF2

STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2

STT_NOTYPE = 0
STT_FUNC = 2
STT_SECTION = 3

R_BPF_64_64 = 1  # lddw rX, sym: 64-bit absolute address split over the two imm fields
R_BPF_64_ABS64 = 2  # 8-byte absolute address in data
R_BPF_64_32 = 10  # call sym: pc-relative in instruction slots

EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
SHDR = struct.Struct("<IIQQQQIIQQ")
SYM = struct.Struct("<IBBHQQ")
REL = struct.Struct("<QQ")
PHDR = struct.Struct("<IIQQQQQQ")
DYN = struct.Struct("<qQ")


@dataclass(frozen=True)
class Section:
    """One section of an object; `data` is empty for SHT_NOBITS (.bss)."""

    index: int
    name: str
    type: int
    flags: int
    size: int
    align: int
    link: int
    info: int
    data: bytes


@dataclass(frozen=True)
class Symbol:
    """One symbol table entry; `section` is the st_shndx (or SHN_UNDEF/ABS/COMMON)."""

    name: str
    bind: int
    type: int
    section: int
    value: int
    size: int


@dataclass(frozen=True)
class Relocation:
    """One REL entry: patch at `offset` of the target section, against `symbol` (an index)."""

    offset: int
    type: int
    symbol: int


@dataclass(frozen=True)
class ObjectFile:
    """A parsed relocatable object; `relocations` maps a section index to its REL entries."""

    path: str
    sections: tuple[Section, ...]
    symbols: tuple[Symbol, ...]
    relocations: dict[int, tuple[Relocation, ...]]


def read_object(path: Path) -> ObjectFile:
    """Read and parse the relocatable object at `path`."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LinkError(f"cannot read {path}: {e.strerror}") from e
    return parse_object(data, str(path))


def parse_object(data: bytes, path: str) -> ObjectFile:
    """Parse the bytes of an ELF64 LE relocatable EM_BPF object; `path` names it in errors."""
    if data[:4] != b"\x7fELF":
        raise LinkError(f"{path}: not an ELF file")
    if len(data) < EHDR.size or data[4] != 2 or data[5] != 1:
        raise LinkError(f"{path}: not a 64-bit little-endian ELF file")
    (_, e_type, e_machine, _, _, _, shoff, _, _, _, _, shentsize, shnum, shstrndx) = (
        EHDR.unpack_from(data, 0)
    )
    if e_machine != EM_BPF:
        raise LinkError(
            f"{path}: ELF machine {e_machine}, not BPF ({EM_BPF}): compile with clang -target bpf"
        )
    if e_type != ET_REL:
        raise LinkError(f"{path}: ELF type {e_type}, not a relocatable object (compile with -c)")
    if shentsize != SHDR.size:
        raise LinkError(f"{path}: section header entry size {shentsize}, expected {SHDR.size}")
    headers = [SHDR.unpack_from(_span(data, shoff + i * SHDR.size, SHDR.size, path), 0)
               for i in range(shnum)]
    if not 0 < shstrndx < shnum:
        raise LinkError(f"{path}: no section name table")
    names = _span(data, headers[shstrndx][4], headers[shstrndx][5], path)
    sections = tuple(_section(data, i, h, names, path) for i, h in enumerate(headers))
    symbols = _symbols(sections, path)
    relocations = _relocations(sections, len(symbols), path)
    return ObjectFile(path, sections, symbols, relocations)


def _span(data: bytes, offset: int, size: int, path: str) -> bytes:
    """`data[offset:offset+size]`, refusing a range that runs past the end of the file."""
    if offset < 0 or size < 0 or offset + size > len(data):
        raise LinkError(f"{path}: truncated or corrupt (range {offset:#x}+{size:#x} past the end)")
    return data[offset:offset + size]


def _cstr(table: bytes, offset: int, path: str) -> str:
    """The NUL-terminated string at `offset` of a string table."""
    end = table.find(b"\0", offset)
    if offset >= len(table) or end < 0:
        raise LinkError(f"{path}: string table offset {offset:#x} out of range")
    return table[offset:end].decode("utf-8", errors="replace")


def _section(
    data: bytes, index: int, header: tuple[int, ...], names: bytes, path: str
) -> Section:
    sh_name, sh_type, sh_flags, _, sh_offset, sh_size, sh_link, sh_info, sh_align, _ = header
    body = b"" if sh_type == SHT_NOBITS else _span(data, sh_offset, sh_size, path)
    return Section(index, _cstr(names, sh_name, path), sh_type, sh_flags, sh_size,
                   max(1, sh_align), sh_link, sh_info, body)


def _symbols(sections: tuple[Section, ...], path: str) -> tuple[Symbol, ...]:
    tables = [s for s in sections if s.type == SHT_SYMTAB]
    if len(tables) != 1:
        raise LinkError(f"{path}: expected one symbol table, found {len(tables)}")
    table = tables[0]
    if not 0 < table.link < len(sections) or table.size % SYM.size:
        raise LinkError(f"{path}: malformed symbol table")
    strings = sections[table.link].data
    symbols = []
    for off in range(0, table.size, SYM.size):
        st_name, st_info, _, st_shndx, st_value, st_size = SYM.unpack_from(table.data, off)
        if len(sections) <= st_shndx < SHN_LORESERVE:
            raise LinkError(f"{path}: symbol #{off // SYM.size} in missing section {st_shndx}")
        name = _cstr(strings, st_name, path)
        if st_info & 0xF == STT_SECTION and st_shndx < len(sections):
            name = sections[st_shndx].name  # unnamed in the table; named for error messages
        symbols.append(Symbol(name, st_info >> 4, st_info & 0xF, st_shndx, st_value, st_size))
    return tuple(symbols)


def _relocations(
    sections: tuple[Section, ...], nsymbols: int, path: str
) -> dict[int, tuple[Relocation, ...]]:
    result: dict[int, tuple[Relocation, ...]] = {}
    for sec in sections:
        if sec.type == SHT_RELA:
            raise LinkError(f"{path}: {sec.name}: RELA relocations (clang -target bpf writes REL)")
        if sec.type != SHT_REL:
            continue
        if not 0 < sec.info < len(sections) or sec.size % REL.size:
            raise LinkError(f"{path}: {sec.name}: malformed relocation section")
        relocs = []
        for off in range(0, sec.size, REL.size):
            r_offset, r_info = REL.unpack_from(sec.data, off)
            rel = Relocation(r_offset, r_info & 0xFFFFFFFF, r_info >> 32)
            if rel.symbol >= nsymbols:
                raise LinkError(f"{path}: {sec.name}: relocation against missing symbol")
            relocs.append(rel)
        result[sec.info] = tuple(relocs)
    return result
