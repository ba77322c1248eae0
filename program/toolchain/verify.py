"""Instruction checks on linked .text: what clang -target bpf lets through but SBPF v0 breaks.

SBPF v0 is eBPF as of 2018 with Solana's own tweaks, so some code upstream clang
emits without complaint either fails at deploy time with an opaque loader error
or, worse, runs and computes something else than the C says. This module
refuses those, naming the function and the fix:

* ALU32 instructions (`-mcpu=v3`, or v2 with `+alu32`): SBPF v0 sign-extends the
  32-bit result into the 64-bit register where eBPF zero-extends, so code runs and
  computes wrong values. Only the byte-swap opcodes `le`/`be` (0xd4/0xdc), which
  share the ALU32 class, are kept.
* JMP32 instructions (`-mcpu=v3`; includes v4 `gotol`): no such class in SBPF v0.
* BPF v4 instructions (`-mcpu=v4`): `sdiv`/`smod`/`movsx` are ordinary v0 opcodes
  with a nonzero offset field that SBPF v0 ignores, so they run silently as
  unsigned division / plain move; `bswap` and sign-extending loads are refused by
  the loader.
* Atomic instructions (`__sync_*`, `__atomic_*`; clang emits them at v2 too): SBPF
  has none; the loader refuses them at deploy time.
* Stack use outside the 4096-byte SBPF v0 frame. With `-mllvm -bpf-stack-size=N`
  above 4096 clang lays out bigger frames; at run time the access lands in the gap
  between frames ("Access violation in stack frame"). Refused: a load or store
  through r10, or through a register holding r10 plus a constant, outside
  [r10-4096, r10); and such an address passed to a call or stored to memory,
  which is how an array too big for the frame reaches `memset` or a helper. An
  oversized array only ever indexed with variables is not caught, so keep
  `-bpf-stack-size=4096`, which makes clang refuse the frame. Also refused:
  writing r10.
* Control flow leaving .text: a call or jump whose target is not an instruction
  of .text, a `call -1` with no syscall relocation, `callx` through a register
  that does not exist.
* Anything else that is not an SBPF v0 opcode.

What clang-19 `-target bpf -mcpu=v2` already refuses loudly, so nothing is checked
here: more than five arguments (also through function pointers and variadic
calls: "too many arguments"), arguments that would go on the stack ("stack
arguments are not supported", e.g. three `__int128`), structs passed by value
("pass by value not supported"), defining a function that returns a struct by
value ("aggregate returns are not supported"; a caller compiles but can only link
against a hand-written callee), defining a variadic function, a frame bigger than
`-bpf-stack-size` ("Looks like the BPF stack limit is exceeded"), variable-length
arrays and alloca ("unsupported dynamic stack allocation"), signed division
("unsupported signed division"), libcalls such as `__multi3`, `__udivti3`, soft
float and `abort` from `__builtin_trap` ("A call to built-in function ... is not
supported"), and thread-local variables. Calls to variadic declarations pass every
argument in r1-r5 exactly like prototyped calls, so they work (e.g. to a syscall).
"""

import bisect
import struct
from collections.abc import Mapping, Set
from dataclasses import dataclass

from program.toolchain.errors import LinkError

STACK_FRAME_SIZE = 4096
INSN_SIZE = 8

_LDDW = 0x18
_JA = 0x05
_CALL = 0x85
_CALLX = 0x8D
_EXIT = 0x95
_CLASS_LDX, _CLASS_STX, _CLASS_ALU32, _CLASS_JMP32, _CLASS_ALU64 = 1, 3, 4, 6, 7
_BYTE_SWAPS = frozenset({0xD4, 0xDC})
_ATOMICS = frozenset({0xC3, 0xDB})
_ACCESS_SIZE = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}  # the size bits of LDX/ST/STX
_LOADS = frozenset({0x61, 0x69, 0x71, 0x79})
_STORES = frozenset({0x62, 0x6A, 0x72, 0x7A, 0x63, 0x6B, 0x73, 0x7B})
_ALU64 = frozenset({0x07, 0x0F, 0x17, 0x1F, 0x27, 0x2F, 0x37, 0x3F, 0x47, 0x4F, 0x57, 0x5F,
                    0x67, 0x6F, 0x77, 0x7F, 0x87, 0x97, 0x9F, 0xA7, 0xAF, 0xB7, 0xBF, 0xC7, 0xCF})
_JUMPS = frozenset({0x05, 0x15, 0x1D, 0x25, 0x2D, 0x35, 0x3D, 0x45, 0x4D, 0x55, 0x5D, 0x65,
                    0x6D, 0x75, 0x7D, 0xA5, 0xAD, 0xB5, 0xBD, 0xC5, 0xCD, 0xD5, 0xDD})
_SBPF_V0 = _LOADS | _STORES | _ALU64 | _JUMPS | _BYTE_SWAPS | {_LDDW, _CALL, _CALLX, _EXIT}
_V4_NAMES = {0xD7: "bswap", 0x81: "sign-extending load", 0x89: "sign-extending load",
             0x91: "sign-extending load", 0x99: "sign-extending load"}
_V4_OFFSET_NAMES = {0x30: "sdiv", 0x90: "smod", 0xB0: "movsx"}  # ALU64 op bits with off != 0
_MOV64_REG, _ADD64_IMM, _SUB64_IMM = 0xBF, 0x07, 0x17
_CALLER_SAVED = range(6)  # r0-r5 do not survive a call
_ARGUMENTS = range(1, 6)

_MCPU_HINT = "compile with -mcpu=v2"
_FRAME_HINT = ("the function's locals need more than one frame: compile with "
               "-mllvm -bpf-stack-size=4096 to have clang name the function, and shrink it")


@dataclass(frozen=True)
class Insn:
    """One decoded instruction slot."""

    opcode: int
    dst: int
    src: int
    off: int
    imm: int

    @property
    def cls(self) -> int:
        """The eBPF instruction class (low three opcode bits)."""
        return self.opcode & 7


def decode(text: bytes) -> list[Insn]:
    """Split .text into instruction slots (an lddw takes two)."""
    if len(text) % INSN_SIZE:
        raise LinkError(f".text is {len(text)} bytes, not a whole number of instructions")
    return [Insn(op, regs & 0xF, regs >> 4, off, imm)
            for op, regs, off, imm in struct.iter_unpack("<BBhi", text)]


def verify_text(text: bytes, syscall_sites: Set[int], functions: Mapping[int, str]) -> None:
    """Refuse linked .text that SBPF v0 would reject or run differently from the C.

    `syscall_sites` holds the instruction indices of calls the loader resolves by
    name (dynamic relocations); `functions` maps the instruction index where a
    function starts to a label for error messages.
    """
    insns = decode(text)
    locate = _Locator(functions)
    targets = _check_instructions(insns, syscall_sites, locate)
    _check_stack(insns, targets, locate)


class _Locator:
    """Turns an instruction index into `function+0xoffset` for error messages."""

    def __init__(self, functions: Mapping[int, str]) -> None:
        self._starts = sorted(functions)
        self._names = [functions[s] for s in self._starts]

    def __call__(self, pc: int) -> str:
        i = bisect.bisect_right(self._starts, pc) - 1
        if i < 0:
            return f".text+{pc * INSN_SIZE:#x}"
        return f"{self._names[i]}+{(pc - self._starts[i]) * INSN_SIZE:#x}"


def _check_instructions(insns: list[Insn], syscall_sites: Set[int], locate: _Locator) -> set[int]:
    """Check every instruction on its own; return the jump and call targets."""
    targets: set[int] = set()
    lddw_tails: set[int] = set()
    pc = 0
    while pc < len(insns):
        insn = insns[pc]
        problem = _opcode_problem(insn) or _register_problem(insn)
        if insn.opcode == _LDDW:
            if pc + 1 == len(insns) or insns[pc + 1].opcode != 0:
                problem = "lddw without its second slot"
            lddw_tails.add(pc + 1)
        if problem is None:
            problem = _control_problem(insn, pc, len(insns), syscall_sites, targets)
        if problem:
            raise LinkError(f"{locate(pc)}: {problem}")
        pc += 2 if insn.opcode == _LDDW else 1
    inside_lddw = sorted(targets & lddw_tails)
    if inside_lddw:
        raise LinkError(f"{locate(inside_lddw[0])}: jump or call into the middle of an lddw")
    return targets


def _opcode_problem(insn: Insn) -> str | None:
    op = insn.opcode
    if insn.cls == _CLASS_JMP32:
        return (f"JMP32 instruction {op:#04x} (32-bit compare or v4 gotol): "
                f"SBPF v0 has no JMP32 class; {_MCPU_HINT}")
    if insn.cls == _CLASS_ALU32 and op not in _BYTE_SWAPS:
        return (f"ALU32 instruction {op:#04x}: SBPF v0 sign-extends 32-bit ALU results where "
                f"eBPF zero-extends, so the program would compute wrong values; {_MCPU_HINT}")
    if op in _ATOMICS:
        return (f"atomic instruction {op:#04x} (__sync_*/__atomic_*): SBPF has no atomics and "
                "runs programs single-threaded; use a plain read-modify-write")
    v4 = _V4_NAMES.get(op)
    if insn.cls == _CLASS_ALU64 and insn.off:
        v4 = _V4_OFFSET_NAMES.get(op & 0xF0, "nonzero offset field")
    if v4:
        return (f"BPF v4 instruction {op:#04x} ({v4}): SBPF v0 refuses it or runs it as "
                f"something else; {_MCPU_HINT}")
    if op not in _SBPF_V0:
        return f"opcode {op:#04x} is not an SBPF v0 instruction"
    return None


def _register_problem(insn: Insn) -> str | None:
    if insn.dst > 10 or insn.src > 10:
        return f"register r{max(insn.dst, insn.src)} does not exist"
    writes_dst = insn.cls in (_CLASS_ALU32, _CLASS_ALU64, _CLASS_LDX) or insn.opcode == _LDDW
    if writes_dst and insn.dst == 10:
        return "writes r10: the frame pointer is read-only in SBPF"
    return None


def _control_problem(
    insn: Insn, pc: int, count: int, syscall_sites: Set[int], targets: set[int]
) -> str | None:
    """Check a call or jump; record its target in `targets`."""
    op = insn.opcode
    if op == _CALL:
        if insn.imm == -1:
            return None if pc in syscall_sites else "call -1 without a syscall relocation"
        target = pc + 1 + insn.imm
        if not 0 <= target < count:
            return f"call to instruction {target}, outside .text ({count} instructions)"
        targets.add(target)
    elif op == _CALLX:
        # SBPF v0 reads the callx register from imm (the linker moved it there)
        if not 0 <= insn.imm <= 9 or insn.dst:
            return f"callx with register field dst={insn.dst} imm={insn.imm}: expected r0-r9 in imm"
    elif op in _JUMPS:
        target = pc + 1 + insn.off
        if not 0 <= target < count:
            return f"jump to instruction {target}, outside .text ({count} instructions)"
        targets.add(target)
    return None


def _check_stack(insns: list[Insn], targets: set[int], locate: _Locator) -> None:
    """Refuse stack accesses, and stack addresses handed on, outside the 4096-byte frame.

    Follows registers holding r10 plus a known constant through straight-line
    code; where paths merge (jump and call targets) or after a jump/exit nothing
    is known. Merely forming an address below the frame is allowed: loop strength
    reduction starts pointers one element below an array and only ever
    dereferences them above it.
    """
    known: dict[int, int] = {}  # register -> its value minus r10
    pc = 0
    while pc < len(insns):
        insn = insns[pc]
        if pc in targets:
            known.clear()
        problem = _stack_problem(insn, known)
        if problem:
            raise LinkError(f"{locate(pc)}: {problem}")
        _track(insn, known)
        pc += 2 if insn.opcode == _LDDW else 1


def _in_frame(start: int, size: int = 0) -> bool:
    return start >= -STACK_FRAME_SIZE and start + size <= 0


def _stack_problem(insn: Insn, known: dict[int, int]) -> str | None:
    op = insn.opcode
    frame = f"outside the {STACK_FRAME_SIZE}-byte SBPF v0 stack frame; {_FRAME_HINT}"
    base = insn.src if op in _LOADS else insn.dst if op in _STORES else None
    if base is not None and (base == 10 or base in known):
        start = known.get(base, 0) + insn.off
        size = _ACCESS_SIZE[op & 0x18]
        if not _in_frame(start, size):
            return f"{size}-byte stack access at r10{start:+d}, {frame}"
    stored = insn.src if insn.cls == _CLASS_STX else None
    if stored in known and not _in_frame(known[stored]):
        return f"stores stack address r10{known[stored]:+d}, {frame}"
    if op in (_CALL, _CALLX):
        for reg in _ARGUMENTS:
            if reg in known and not _in_frame(known[reg]):
                return f"passes stack address r10{known[reg]:+d} in r{reg} to a call, {frame}"
    return None


def _track(insn: Insn, known: dict[int, int]) -> None:
    """Update which registers hold r10 plus a constant after `insn`."""
    op = insn.opcode
    if op == _MOV64_REG and (insn.src == 10 or insn.src in known):
        known[insn.dst] = known.get(insn.src, 0)
    elif op in (_ADD64_IMM, _SUB64_IMM) and insn.dst in known:
        known[insn.dst] += insn.imm if op == _ADD64_IMM else -insn.imm
    elif op in (_CALL, _CALLX):
        for reg in _CALLER_SAVED:
            known.pop(reg, None)
    elif op in (_EXIT, _JA):
        known.clear()  # what follows is reached only by a jump, or is another function
    elif insn.cls in (_CLASS_ALU32, _CLASS_ALU64, _CLASS_LDX) or op == _LDDW:
        known.pop(insn.dst, None)
