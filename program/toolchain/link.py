"""Linking clang `-target bpf -mcpu=v2` objects into one Solana SBPF v0 program.

Layout: the headers, then every executable input section (.text*) in input
order, then every read-only data section (.rodata*). Addresses
equal file offsets; at run time the file is mapped at MM_PROGRAM_START.

Everything internal is resolved here, so the loader only has syscalls left:

* R_BPF_64_64 (`lddw rX, sym`): the absolute VM address MM_PROGRAM_START + address.
* R_BPF_64_32 (`call sym`) to a defined function: the pc-relative instruction
  count, which SBPF v0's loader registers as a function.
* R_BPF_64_32 to an undefined known syscall: imm stays -1 and a dynamic
  R_BPF_64_32 against a .dynsym entry is emitted; the loader writes murmur3(name).
* R_BPF_64_ABS64 (pointers in read-only data, e.g. function tables): absolute VM
  addresses.
* `callx`: upstream eBPF names the register in dst, SBPF v0 reads it from imm.

Refused: writable data (.data, .bss, common symbols: SBPF v0 programs have no
writable globals), undefined symbols other than syscalls, duplicate definitions,
a missing entry point, and whatever `verify.verify_text` refuses.
"""

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from program.toolchain.elf import (
    R_BPF_64_32,
    R_BPF_64_64,
    R_BPF_64_ABS64,
    SHF_ALLOC,
    SHF_EXECINSTR,
    SHF_WRITE,
    SHN_COMMON,
    SHN_UNDEF,
    SHT_NOBITS,
    STB_GLOBAL,
    STB_LOCAL,
    STB_WEAK,
    STT_FUNC,
    ObjectFile,
    Relocation,
    Section,
    read_object,
)
from program.toolchain.emit import HEADERS_SIZE, ProgramImage, SyscallSite, build_shared_object
from program.toolchain.errors import LinkError
from program.toolchain.syscalls import RETIRED_SYSCALLS, SYSCALLS
from program.toolchain.verify import INSN_SIZE, verify_text

MM_PROGRAM_START = 0x1_0000_0000
ENTRYPOINT = "entrypoint"

_LDDW = 0x18
_CALL = 0x85
_CALLX = 0x8D
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")


@dataclass(frozen=True)
class LinkReport:
    """What went into the linked program."""

    size: int
    text_size: int
    rodata_size: int
    syscalls: tuple[str, ...]

    def summary(self) -> str:
        """One line for `-v`."""
        used = ", ".join(self.syscalls) or "none"
        return (f"{self.size} bytes, .text {self.text_size} B, .rodata {self.rodata_size} B, "
                f"syscalls: {used}")


def link_files(inputs: Sequence[Path], output: Path, entry: str = ENTRYPOINT) -> LinkReport:
    """Link the objects at `inputs` and write the program to `output`."""
    so, report = link([read_object(p) for p in inputs], entry)
    try:
        output.write_bytes(so)
    except OSError as e:
        raise LinkError(f"cannot write {output}: {e.strerror}") from e
    return report


def link(objects: Sequence[ObjectFile], entry: str = ENTRYPOINT) -> tuple[bytes, LinkReport]:
    """Link parsed objects into an SBPF v0 shared object; return its bytes and a report."""
    layout = _Layout.of(objects)
    symbols = _global_symbols(objects, layout)
    sites = [site for oi, obj in enumerate(objects)
             for site in _relocate_object(oi, obj, layout, symbols)]
    _move_callx_registers(layout.image, layout.text)
    entry_address = _entry_address(symbols, entry, layout.text)
    _verify(objects, layout, sites)
    program = ProgramImage(bytes(layout.image), layout.text, layout.rodata, entry,
                           entry_address, sites)
    so = build_shared_object(program)
    report = LinkReport(len(so), len(layout.text), len(layout.rodata),
                        tuple(sorted({s.name for s in sites})))
    return so, report


class _Kind(enum.Enum):
    TEXT = "text"
    RODATA = "rodata"


def _kind(obj: ObjectFile, sec: Section) -> _Kind | None:
    """Which output section an input section goes to; None if it is not loaded."""
    if not sec.flags & SHF_ALLOC:
        return None  # symbol tables, debug info, BTF...
    if sec.flags & SHF_EXECINSTR:
        return _Kind.TEXT
    if sec.name.startswith(".rodata"):
        return _Kind.RODATA
    if sec.flags & SHF_WRITE or sec.type == SHT_NOBITS:
        raise LinkError(
            f"{obj.path}: writable section {sec.name} ({sec.size} bytes): SBPF v0 programs "
            "have no writable globals or statics; make them const or keep state in accounts")
    raise LinkError(f"{obj.path}: unsupported allocated section {sec.name}")


@dataclass
class _Layout:
    """Where each loaded input section lives in the output, and the bytes so far."""

    place: dict[tuple[int, int], int]  # (object index, section index) -> address
    text: range
    rodata: range
    image: bytearray  # the output up to the end of .rodata; headers left zero

    @classmethod
    def of(cls, objects: Sequence[ObjectFile]) -> "_Layout":
        kinds = {(oi, sec.index): kind for oi, obj in enumerate(objects)
                 for sec in obj.sections if (kind := _kind(obj, sec))}
        place: dict[tuple[int, int], int] = {}
        ranges: dict[_Kind, range] = {}
        end = HEADERS_SIZE
        for kind in _Kind:
            start = end = _align(end, 8)
            for key, k in kinds.items():
                if k is kind:
                    sec = objects[key[0]].sections[key[1]]
                    place[key] = end = _align(end, sec.align)
                    end += sec.size
            ranges[kind] = range(start, end)
        image = bytearray(end)
        for (oi, si), address in place.items():
            data = objects[oi].sections[si].data
            image[address:address + len(data)] = data
        return cls(place, ranges[_Kind.TEXT], ranges[_Kind.RODATA], image)


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class _Definition:
    address: int
    strong: bool
    path: str


def _global_symbols(objects: Sequence[ObjectFile], layout: _Layout) -> dict[str, _Definition]:
    """Global and weak definitions by name: a global beats weaks, two globals clash."""
    table: dict[str, _Definition] = {}
    for oi, obj in enumerate(objects):
        for sym in obj.symbols:
            if sym.bind not in (STB_GLOBAL, STB_WEAK) or sym.section == SHN_UNDEF:
                continue
            if sym.section == SHN_COMMON:
                raise LinkError(f"{obj.path}: common symbol {sym.name}: SBPF v0 programs have "
                                "no writable globals; make it const or keep state in accounts")
            address = layout.place.get((oi, sym.section))
            if address is None:
                continue  # not in a loaded section; an error only if something refers to it
            new = _Definition(address + sym.value, sym.bind == STB_GLOBAL, obj.path)
            old = table.get(sym.name)
            if old and old.strong and new.strong:
                raise LinkError(f"duplicate symbol {sym.name}: defined in {old.path} "
                                f"and {obj.path}")
            if old is None or (new.strong and not old.strong):
                table[sym.name] = new
    return table


def _resolve(
    oi: int, obj: ObjectFile, index: int, layout: _Layout, symbols: dict[str, _Definition]
) -> tuple[str, int | None]:
    """A relocation's symbol: its name and address, or None if undefined."""
    sym = obj.symbols[index]
    if sym.bind != STB_LOCAL and sym.name in symbols:
        return sym.name, symbols[sym.name].address
    if sym.section == SHN_UNDEF:
        return sym.name, None
    address = layout.place.get((oi, sym.section))
    if address is None:
        raise LinkError(f"{obj.path}: {sym.name} is referenced but defined outside the "
                        "linked .text/.rodata sections")
    return sym.name, address + sym.value


def _relocate_object(
    oi: int, obj: ObjectFile, layout: _Layout, symbols: dict[str, _Definition]
) -> list[SyscallSite]:
    """Apply an object's relocations to the image; return its syscall call sites."""
    sites = []
    for si, relocs in obj.relocations.items():
        base = layout.place.get((oi, si))
        if base is None:
            continue  # relocations of debug info and BTF
        sec = obj.sections[si]
        for rel in relocs:
            where = f"{obj.path}: {sec.name}+{rel.offset:#x}"
            if rel.offset + _patch_size(rel) > sec.size:
                raise LinkError(f"{where}: relocation past the end of the section")
            name, address = _resolve(oi, obj, rel.symbol, layout, symbols)
            site = _apply(layout, base + rel.offset, rel, name, address, where)
            if site:
                sites.append(site)
    return sites


def _patch_size(rel: Relocation) -> int:
    return 16 if rel.type == R_BPF_64_64 else 8


def _apply(
    layout: _Layout, at: int, rel: Relocation, name: str, address: int | None, where: str
) -> SyscallSite | None:
    if rel.type == R_BPF_64_64:
        _patch_lddw(layout.image, at, name, address, where)
    elif rel.type == R_BPF_64_32:
        return _patch_call(layout, at, name, address, where)
    elif rel.type == R_BPF_64_ABS64:
        if address is None:
            raise LinkError(f"{where}: pointer to undefined symbol {name}")
        addend = _U64.unpack_from(layout.image, at)[0]
        _U64.pack_into(layout.image, at, MM_PROGRAM_START + address + addend)
    else:
        raise LinkError(f"{where}: unsupported relocation type {rel.type} against {name}")
    return None


def _patch_lddw(image: bytearray, at: int, name: str, address: int | None, where: str) -> None:
    """lddw rX, name+addend: the addend sits in the first imm; the address spans both."""
    if image[at] != _LDDW:
        raise LinkError(f"{where}: R_BPF_64_64 on opcode {image[at]:#04x}, not lddw")
    if address is None:
        hint = " (syscalls can only be called directly)" if name in SYSCALLS else ""
        raise LinkError(f"{where}: address of undefined symbol {name} taken{hint}")
    value = MM_PROGRAM_START + address + _U32.unpack_from(image, at + 4)[0]
    _U32.pack_into(image, at + 4, value & 0xFFFF_FFFF)
    _U32.pack_into(image, at + INSN_SIZE + 4, value >> 32)


def _patch_call(
    layout: _Layout, at: int, name: str, address: int | None, where: str
) -> SyscallSite | None:
    """call name: pc-relative for a defined function, or a syscall site."""
    image = layout.image
    if image[at] != _CALL:
        raise LinkError(f"{where}: R_BPF_64_32 on opcode {image[at]:#04x}, not call")
    if address is None:
        return _syscall_site(image, at, name, where)
    # clang stores the addend as imm = addend / 8 - 1 (against a section symbol,
    # e.g. a static function in another section; -1 against a function symbol)
    target = address + (_I32.unpack_from(image, at + 4)[0] + 1) * INSN_SIZE
    if target not in layout.text or (target - layout.text.start) % INSN_SIZE:
        raise LinkError(f"{where}: call to {name}, which is not a function in .text")
    _I32.pack_into(image, at + 4, (target - at) // INSN_SIZE - 1)
    return None


def _syscall_site(image: bytearray, at: int, name: str, where: str) -> SyscallSite:
    if name in RETIRED_SYSCALLS:
        raise LinkError(f"{where}: {name} is a retired Solana syscall that new deployments "
                        f"cannot use (feature {RETIRED_SYSCALLS[name]})")
    if name not in SYSCALLS:
        raise LinkError(f"{where}: undefined symbol {name} (not a known Solana syscall)")
    _I32.pack_into(image, at + 4, -1)
    image[at + 1] = 0  # src 0, as Solana's toolchain writes syscall calls
    return SyscallSite(at, name)


def _move_callx_registers(image: bytearray, text: range) -> None:
    """callx: move the register from dst (eBPF) to imm (SBPF v0)."""
    for at in range(text.start, text.stop, INSN_SIZE):
        if image[at] == _CALLX and image[at + 1] & 0x0F:
            _I32.pack_into(image, at + 4, image[at + 1] & 0x0F)
            image[at + 1] &= 0xF0


def _verify(objects: Sequence[ObjectFile], layout: _Layout, sites: Sequence[SyscallSite]) -> None:
    """Run the instruction checks, with function names for the messages."""
    text = layout.text
    functions = {
        (layout.place[(oi, sym.section)] + sym.value - text.start) // INSN_SIZE:
            f"{Path(obj.path).name}: {sym.name}"
        for oi, obj in enumerate(objects) for sym in obj.symbols
        if sym.type == STT_FUNC and (oi, sym.section) in layout.place
    }
    verify_text(bytes(layout.image[text.start:text.stop]),
                {(s.address - text.start) // INSN_SIZE for s in sites}, functions)


def _entry_address(symbols: dict[str, _Definition], entry: str, text: range) -> int:
    definition = symbols.get(entry)
    if definition is None:
        raise LinkError(f"entry point {entry} is not defined (as a global function)")
    if definition.address not in text:
        raise LinkError(f"entry point {entry} is not a function in .text")
    return definition.address
