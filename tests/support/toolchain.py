"""Reading linked programs back at the byte level, and running them in LiteSVM."""

import struct
from dataclasses import dataclass
from pathlib import Path

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction
from solders.transaction_metadata import FailedTransactionMetadata

from program.toolchain.deploy import deploy_upgradeable, new_svm
from program.toolchain.elf import EHDR, REL, SHDR, STT_FUNC, SYM, parse_object
from program.toolchain.link import LinkReport, link
from program.toolchain.verify import Insn

MM_PROGRAM_START = 0x1_0000_0000
CLANG = "clang-19"


def cflags(mcpu: str = "v2", stack_size: int = 4096) -> list[str]:
    """The project's compiler flags, with the CPU and stack limit a test varies."""
    return ["-target", "bpf", f"-mcpu={mcpu}", "-O2", "-ffreestanding", "-fno-builtin",
            "-nostdlib", "-mllvm", f"-bpf-stack-size={stack_size}"]


# C prelude for programs run in tests: called with no accounts, the input is
# u64 0 (accounts), u64 data length, the data, then the program id.
PRELUDE = """
typedef unsigned char u8;
typedef unsigned long long u64;
void sol_log_(const char *, u64);
void sol_set_return_data(const u8 *, u64);
static inline const u8 *ix_data(const u8 *in) { return in + 16; }
static inline u64 ret(u64 v) { sol_set_return_data((const u8 *)&v, 8); return 0; }
"""


@dataclass(frozen=True)
class SectionHeader:
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int


class SharedObject:
    """Just enough of an ELF reader to check what the linker wrote."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        header = EHDR.unpack_from(data, 0)
        self.e_type, self.e_machine, self.e_flags = header[1], header[2], header[7]
        self.entry, self.phoff, self.phnum = header[4], header[5], header[10]
        shoff, shnum, shstrndx = header[6], header[12], header[13]
        raw = [SHDR.unpack_from(data, shoff + i * SHDR.size) for i in range(shnum)]
        names = raw[shstrndx]
        self.sections: dict[str, SectionHeader] = {}
        for h in raw[1:]:
            name = self._cstr(names[4] + h[0])
            self.sections[name] = SectionHeader(h[1], h[2], h[3], h[4], h[5], h[6], h[7])

    def _cstr(self, offset: int) -> str:
        return self.data[offset:self.data.index(b"\0", offset)].decode()

    def section(self, name: str) -> bytes:
        h = self.sections[name]
        return self.data[h.offset:h.offset + h.size]

    def insn(self, address: int) -> Insn:
        op, regs, off, imm = struct.unpack_from("<BBhi", self.data, address)
        return Insn(op, regs & 0xF, regs >> 4, off, imm)

    def text_insns(self) -> list[tuple[int, Insn]]:
        text = self.sections[".text"]
        return [(a, self.insn(a)) for a in range(text.offset, text.offset + text.size, 8)]

    def find(self, code: bytes, section: str = ".text") -> int:
        """The address of the only occurrence of `code` in a section."""
        body = self.section(section)
        at = body.find(code)
        assert at >= 0 and body.find(code, at + 1) < 0, f"{code.hex()} not unique in {section}"
        return self.sections[section].addr + at

    def dynsym(self) -> list[tuple[str, int, int, int]]:
        """(name, st_info, st_shndx, st_value) of each .dynsym entry."""
        strtab = self.sections[".dynstr"].offset
        body = self.section(".dynsym")
        out = []
        for i in range(0, len(body), SYM.size):
            st_name, info, _, shndx, value, _ = SYM.unpack_from(body, i)
            out.append((self._cstr(strtab + st_name), info, shndx, value))
        return out

    def reldyn(self) -> list[tuple[int, int, str]]:
        """(offset, type, symbol name) of each .rel.dyn entry."""
        if ".rel.dyn" not in self.sections:
            return []
        syms = self.dynsym()
        body = self.section(".rel.dyn")
        return [(off, info & 0xFFFFFFFF, syms[info >> 32][0])
                for off, info in (REL.unpack_from(body, i) for i in range(0, len(body), REL.size))]


def functions(so: SharedObject, obj: Path) -> dict[str, range]:
    """Where each function of `obj` ended up in `so`, found by matching its code.

    The immediates of calls and lddw, and the register fields of calls, callx and
    lddw's second slot, are what linking changes, so they are not compared.
    """
    parsed = parse_object(obj.read_bytes(), str(obj))
    text = so.section(".text")
    base = so.sections[".text"].addr
    found = {}
    for sym in parsed.symbols:
        if sym.type != STT_FUNC:
            continue
        code = parsed.sections[sym.section].data[sym.value:sym.value + sym.size]
        hits = [at for at in range(0, len(text) - len(code) + 1, 8)
                if _same_code(code, text[at:at + len(code)])]
        assert len(hits) == 1, f"{sym.name} found {len(hits)} times"
        found[sym.name] = range(base + hits[0], base + hits[0] + len(code))
    return found


def _same_code(compiled: bytes, linked: bytes) -> bool:
    for at in range(0, len(compiled), 8):
        a, b = compiled[at:at + 8], linked[at:at + 8]
        if a[0] in (0x85, 0x8D) or (a[0] == 0 and at and compiled[at - 8] == 0x18):
            same = a[0] == b[0]
        elif a[0] == 0x18:
            same = a[:4] == b[:4]
        else:
            same = a == b
        if not same:
            return False
    return True


def call_graph(so: SharedObject, funcs: dict[str, range]) -> set[tuple[str, str]]:
    """(caller, callee) for every pc-relative call in .text."""
    def owner(address: int) -> str:
        return next(name for name, r in funcs.items() if address in r)

    return {(owner(a), owner(a + 8 + i.imm * 8)) for a, i in so.text_insns()
            if i.opcode == 0x85 and i.imm != -1}


def link_paths(*objs: Path, entry: str = "entrypoint") -> tuple[SharedObject, LinkReport]:
    so, report = link([parse_object(p.read_bytes(), str(p)) for p in objs], entry)
    return SharedObject(so), report


@dataclass(frozen=True)
class Run:
    ok: bool
    logs: list[str]
    error: str
    return_data: bytes

    @property
    def value(self) -> int:
        assert self.ok, f"{self.error}\n" + "\n".join(self.logs)
        return int.from_bytes(self.return_data, "little")

    def program_logs(self) -> list[str]:
        return [line.removeprefix("Program log: ") for line in self.logs
                if line.startswith("Program log: ")]


def run(so: SharedObject | bytes, data: bytes = b"") -> Run:
    """Deploy through the upgradeable loader into a fresh LiteSVM and invoke with `data`."""
    raw = so.data if isinstance(so, SharedObject) else so
    svm = new_svm()
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**10)
    program_id = deploy_upgradeable(svm, payer, raw)
    blockhash = svm.latest_blockhash()
    msg = Message.new_with_blockhash([Instruction(program_id, data, [])], payer.pubkey(),
                                     blockhash)
    result = svm.send_transaction(Transaction([payer], msg, blockhash))
    if isinstance(result, FailedTransactionMetadata):
        meta = result.meta()
        return Run(False, list(meta.logs()), str(result.err()), b"")
    returned = result.return_data()
    return Run(True, list(result.logs()), "", bytes(returned.data) if returned else b"")
