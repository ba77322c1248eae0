"""What the linker refuses in .text, from real clang output and from hand-assembled code."""

import struct

import pytest

from program.toolchain.errors import LinkError
from program.toolchain.verify import verify_text
from tests.support.toolchain import PRELUDE, link_paths, run

# --- refusals of what clang-19 compiles -------------------------------------

# SBPF v0 sign-extends the 32-bit subtraction: at -mcpu=v3 this returns 0, not 1.
ALU32 = """
unsigned long long entrypoint(const unsigned char *in) {
  unsigned int a = *(const volatile unsigned int *)in;
  unsigned int x = a - 1;
  return ((unsigned long long)x + 1) >> 32;
}
"""

JMP32 = """
unsigned long long entrypoint(const unsigned char *in) {
  return *(const unsigned *)in < 5 ? 1 : 2;
}
"""


def test_alu32_is_refused(cc):
    with pytest.raises(LinkError, match=r"prog\.o: entrypoint\+0x8: ALU32 instruction 0x04: "
                                        r"SBPF v0 sign-extends .*; compile with -mcpu=v2"):
        link_paths(cc(ALU32, mcpu="v3"))


def test_same_code_at_v2_links_and_computes_the_c_result(cc):
    so, _ = link_paths(cc(ALU32))
    assert run(so).error.endswith("Custom(InstructionErrorCustom(1)))))")  # returned 1


def test_jmp32_is_refused(cc):
    with pytest.raises(LinkError, match=r"entrypoint\+0x10: JMP32 instruction 0xa6 .*"
                                        "compile with -mcpu=v2"):
        link_paths(cc(JMP32, mcpu="v3"))


@pytest.mark.parametrize(("function", "at", "opcode", "what"), [
    ("long long f(long long a, long long b) { return a / b; }", 8, "0x3f", "sdiv"),
    ("long long f(long long a, long long b) { return a % b; }", 8, "0x9f", "smod"),
    ("long long f(unsigned long long x) { return (long long)(int)x; }", 0, "0xbf", "movsx"),
    ("long long f(const signed char *p) { return *p; }", 0, "0x91", "sign-extending load"),
    ("unsigned long long f(unsigned long long x) { return __builtin_bswap64(x); }", 8, "0xd7",
     "bswap"),
])
def test_bpf_v4_instructions_are_refused(cc, function, at, opcode, what):
    with pytest.raises(LinkError, match=rf"f\+{at:#x}: BPF v4 instruction {opcode} \({what}\)"
                                        ".*compile with -mcpu=v2"):
        link_paths(cc(function, mcpu="v4"), entry="f")


def test_atomics_are_refused(cc):
    obj = cc(PRELUDE + """
u64 entrypoint(const u8 *in) { u64 x = in[0]; __sync_fetch_and_add(&x, 3); return x; }
""")
    with pytest.raises(LinkError, match=r"atomic instruction 0xdb .* SBPF has no atomics"):
        link_paths(obj)


def test_frame_access_beyond_4096_bytes_is_refused(cc):
    obj = cc(PRELUDE + """
__attribute__((noinline)) void use(u64 *p) { p[1] = p[0]; }
u64 entrypoint(const u8 *in) { u64 a[700]; a[0] = in[0]; use(a); return a[699]; }
""", stack_size=8192)
    with pytest.raises(LinkError, match=r"entrypoint\+0x8: 8-byte stack access at r10-5600, "
                                        "outside the 4096-byte SBPF v0 stack frame"):
        link_paths(obj)


@pytest.mark.parametrize(("size", "address"), [(6000, "r10-6000"), (40000, "r10-40000")])
def test_frame_address_beyond_4096_bytes_is_refused(cc, size, address):
    obj = cc(PRELUDE + f"""
__attribute__((noinline)) void fill(u8 *p) {{ p[0] = 1; }}
u64 entrypoint(const u8 *in) {{ u8 buf[{size}]; fill(buf); return buf[in[0]]; }}
""", stack_size=65536)
    with pytest.raises(LinkError, match=f"passes stack address {address} in r1 to a call, "
                                        "outside the 4096-byte .*-mllvm -bpf-stack-size=4096"):
        link_paths(obj)


def test_frame_of_nearly_4096_bytes_links_and_runs(cc):
    so, _ = link_paths(cc(PRELUDE + """
__attribute__((noinline)) void fill(u8 *p, u64 n) { for (u64 i = 0; i < n; i++) p[i] = i & 0x7f; }
u64 entrypoint(const u8 *in) {
  u8 buf[4064];
  fill(buf, sizeof(buf));
  u64 sum = 0;
  for (u64 i = 0; i < sizeof(buf); i++) sum += buf[i];
  return ret(sum + buf[ix_data(in)[0]]);
}
"""))
    assert run(so, bytes([200])).value == sum(i & 0x7F for i in range(4064)) + (200 & 0x7F)


def test_variadic_call_passes_arguments_in_registers(cc):
    so, _ = link_paths(cc("""
typedef unsigned long long u64;
void sol_log_64_(u64, ...);
u64 entrypoint(const unsigned char *in) { sol_log_64_(1, 2, 3, 4, 5); return 0; }
"""))
    assert run(so).program_logs() == ["0x1, 0x2, 0x3, 0x4, 0x5"]


# What the verify.py docstring says clang refuses itself; if a clang update
# starts accepting one of these, verify.py has to learn to refuse it.
CLANG_REFUSES = {
    "six arguments": ("u64 f(u64, u64, u64, u64, u64, u64);\n"
                      "u64 g(void) { return f(1, 2, 3, 4, 5, 6); }", "too many arguments"),
    "six arguments through a pointer": (
        "typedef u64 (*fn)(u64, u64, u64, u64, u64, u64);\n"
        "u64 g(fn f) { return f(1, 2, 3, 4, 5, 6); }", "too many arguments"),
    "variadic call with six arguments": ("u64 f(u64, ...);\n"
                                         "u64 g(void) { return f(1, 2, 3, 4, 5, 6); }",
                                         "too many arguments"),
    "arguments on the stack": ("u64 f(__int128 a, __int128 b, __int128 c) { return a + b + c; }",
                               "stack arguments are not supported"),
    "struct by value": ("typedef struct { u64 a, b, c; } S;\nu64 f(S s);\n"
                        "u64 g(void) { S s = {1, 2, 3}; return f(s); }",
                        "pass by value not supported"),
    "struct return": ("typedef struct { u64 a, b; } S;\nS f(u64 x) { S s = {x, x}; return s; }",
                      "aggregate returns are not supported"),
    "variadic definition": ("u64 f(u64 a, ...) { return a; }",
                            "variadic functions are not supported"),
    "frame over the limit": ("void use(u8 *);\nu64 g(void) { u8 b[5000]; use(b); return b[1]; }",
                             "stack limit is exceeded"),
    "variable-length array": ("void use(u8 *);\nu64 g(u64 n) { u8 b[n]; use(b); return b[0]; }",
                              "unsupported dynamic stack allocation"),
    "signed division": ("long long f(long long a, long long b) { return a / b; }",
                        "unsupported signed division"),
    "128-bit multiply": ("u64 f(unsigned __int128 a) { return (u64)((a * a) >> 64); }",
                         "built-in function '__multi3' is not supported"),
    "floating point": ("u64 f(u64 x) { return (u64)(x * 1.5); }",
                       "is not supported"),
    "__builtin_trap": ("void f(void) { __builtin_trap(); }",
                       "built-in function 'abort' is not supported"),
    "thread-local": ("_Thread_local u64 t;\nu64 f(void) { return t; }",
                     "thread-local storage is not supported"),
}


@pytest.mark.parametrize("case", sorted(CLANG_REFUSES))
def test_clang_refuses(cc_refused, case):
    source, message = CLANG_REFUSES[case]
    assert message in cc_refused("typedef unsigned char u8;\ntypedef unsigned long long u64;\n"
                                 + source)


# --- hand-assembled .text ----------------------------------------------------


def asm(*insns: tuple[int, int, int, int, int]) -> bytes:
    """(opcode, dst, src, off, imm) slots."""
    return b"".join(struct.pack("<BBhi", op, src << 4 | dst, off, imm)
                    for op, dst, src, off, imm in insns)


EXIT = (0x95, 0, 0, 0, 0)
MOV_R10 = (0xBF, 1, 10, 0, 0)  # r1 = r10


def add(reg: int, imm: int) -> tuple[int, int, int, int, int]:
    return (0x07, reg, 0, 0, imm)


def ldxdw(dst: int, src: int, off: int) -> tuple[int, int, int, int, int]:
    return (0x79, dst, src, off, 0)


def check(*insns: tuple[int, int, int, int, int]) -> None:
    """Verify as the single function f, with a syscall relocation at instruction 1."""
    verify_text(asm(*insns), frozenset({1}), {0: "f"})


@pytest.mark.parametrize(("insns", "message"), [
    ([(0xB7, 10, 0, 0, 0), EXIT], r"f\+0x0: writes r10"),
    ([ldxdw(10, 1, 0), EXIT], "writes r10"),
    ([(0x18, 10, 0, 0, 0), (0, 0, 0, 0, 0), EXIT], "writes r10"),
    ([(0xBF, 11, 1, 0, 0), EXIT], "register r11 does not exist"),
    ([(0x7B, 10, 1, 0, 0), EXIT], "8-byte stack access at r10\\+0"),
    ([(0x72, 10, 0, -4097, 0), EXIT], "1-byte stack access at r10-4097"),
    ([(0x79, 0, 10, -4, 0), EXIT], "8-byte stack access at r10-4"),
    ([MOV_R10, add(1, -4000), ldxdw(0, 1, -100), EXIT], r"f\+0x10: 8-byte stack access at "
                                                         "r10-4100"),
    ([MOV_R10, (0x17, 1, 0, 0, 5000), (0x85, 0, 1, 0, 0), EXIT],
     r"f\+0x10: passes stack address r10-5000 in r1 to a call"),
    ([MOV_R10, add(1, 8), (0x8D, 0, 0, 0, 2), EXIT], "passes stack address r10\\+8 in r1"),
    ([MOV_R10, (0xBF, 5, 1, 0, 0), add(5, -4097), (0x8D, 0, 0, 0, 5), EXIT],
     "passes stack address r10-4097 in r5"),
    ([(0xBF, 6, 10, 0, 0), (0x85, 0, 0, 0, -1), add(6, -5000), (0x7B, 1, 6, 0, 0), EXIT],
     r"f\+0x18: stores stack address r10-5000"),
    ([(0x85, 0, 1, 0, 5), EXIT], "call to instruction 6, outside .text"),
    ([(0x85, 0, 0, 0, -1), EXIT], "call -1 without a syscall relocation"),
    ([(0x05, 0, 0, 10, 0), EXIT], "jump to instruction 11, outside .text"),
    ([(0x15, 1, 0, -3, 0), EXIT], "jump to instruction -2, outside .text"),
    ([(0x05, 0, 0, 1, 0), (0x18, 1, 0, 0, 0), (0, 0, 0, 0, 0), EXIT], "into the middle of an lddw"),
    ([EXIT, (0x18, 1, 0, 0, 0)], r"f\+0x8: lddw without its second slot"),
    ([(0x8D, 0, 0, 0, 10), EXIT], "callx with register field dst=0 imm=10"),
    ([(0x8D, 2, 0, 0, 0), EXIT], "callx with register field dst=2 imm=0"),
    ([(0x07, 1, 0, 1, 1), EXIT], r"BPF v4 instruction 0x07 \(nonzero offset field\)"),
    ([(0x20, 0, 0, 0, 0), EXIT], "opcode 0x20 is not an SBPF v0 instruction"),
    ([(0xF7, 1, 0, 0, 0), EXIT], "opcode 0xf7 is not an SBPF v0 instruction"),
    ([(0xC3, 1, 2, 0, 0), EXIT], "atomic instruction 0xc3"),
    ([(0x06, 0, 0, 0, 0), EXIT], "JMP32 instruction 0x06"),
])
def test_hand_assembled_refusals(insns, message):
    with pytest.raises(LinkError, match=message):
        check(*insns)


@pytest.mark.parametrize("insns", [
    [(0x7A, 10, 0, -4096, 1), ldxdw(0, 10, -8), EXIT],  # the frame's first and last words
    [MOV_R10, add(1, -4096), ldxdw(0, 1, 4088), EXIT],
    [MOV_R10, (0x85, 0, 0, 0, -1), EXIT],  # r10 itself, one past the frame, as an address
    # a pointer below an array, as loop strength reduction makes, used above it
    [MOV_R10, add(1, -4104), ldxdw(0, 1, 8), EXIT],
    [(0xD4, 1, 0, 0, 16), (0xDC, 1, 0, 0, 64), EXIT],  # le16, be64 share the ALU32 class
    # r1 may come from r3 at the jump target, so nothing is known there
    [MOV_R10, (0x15, 2, 0, 1, 0), (0xBF, 1, 3, 0, 0), ldxdw(0, 1, -5000), EXIT],
    # a call clobbers r1-r5
    [MOV_R10, (0x85, 0, 0, 0, -1), add(1, -5000), (0x8D, 0, 0, 0, 1), EXIT],
    [(0x8D, 0, 0, 0, 9), EXIT],
])
def test_hand_assembled_accepted(insns):
    check(*insns)


def test_location_without_a_function_is_a_text_offset():
    with pytest.raises(LinkError, match=r"^\.text\+0x8: writes r10"):
        verify_text(asm(EXIT, (0xB7, 10, 0, 0, 0), EXIT), frozenset(), {})


def test_text_must_be_whole_instructions():
    with pytest.raises(LinkError, match="not a whole number of instructions"):
        verify_text(asm(EXIT)[:-1], frozenset(), {0: "f"})
