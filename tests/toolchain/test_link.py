"""The linker's output, checked byte by byte and by running the programs in LiteSVM."""

import re
import struct

import pytest

from program.toolchain.elf import (
    EM_BPF,
    ET_DYN,
    PHDR,
    R_BPF_64_32,
    SHF_ALLOC,
    parse_object,
)
from program.toolchain.errors import LinkError
from program.toolchain.syscalls import SYSCALLS
from tests.support.toolchain import (
    MM_PROGRAM_START,
    PRELUDE,
    call_graph,
    functions,
    link_paths,
    run,
)

STRINGS = PRELUDE + """
static const char greeting[] = "hello from the toolchain tests";
static const char *const words[3] = {"zero", "one", "two"};
u64 entrypoint(const u8 *in) {
    sol_log_(greeting, sizeof(greeting) - 1);
    const char *w = words[ix_data(in)[0] % 3];
    u64 n = 0;
    while (w[n]) n++;
    sol_log_(w, n);
    return 0;
}
"""

# s1 is static and called from another section: clang relocates that call against
# the .text section symbol with the offset folded into imm (the spike linker
# ignored it and called the first function of .text instead).
CALLS = PRELUDE + """
__attribute__((noinline)) u64 first(u64 x) { return x + 1000; }
static __attribute__((noinline)) u64 s1(u64 x) { return x * 7; }
__attribute__((noinline)) u64 g1(u64 x) { return s1(x) + 1; }
__attribute__((noinline, section(".text.other"))) u64 o1(u64 x) { return s1(x) + g1(x); }
u64 entrypoint(const u8 *in) {
    u64 x = ix_data(in)[0];
    return ret(o1(x) * 1000000 + first(x));
}
"""

FPTR = PRELUDE + """
typedef u64 (*fn)(u64);
__attribute__((noinline)) u64 inc(u64 x) { return x + 1; }
__attribute__((noinline)) u64 triple(u64 x) { return x * 3; }
__attribute__((noinline)) u64 square(u64 x) { return x * x; }
static const fn table[3] = {inc, triple, square};
u64 entrypoint(const u8 *in) {
    const u8 *d = ix_data(in);
    return ret(table[d[0] % 3](d[1]));
}
"""

FPTR_IN_CODE = PRELUDE + """
typedef u64 (*fn)(u64);
__attribute__((noinline)) u64 dbl(u64 x) { return 2 * x; }
__attribute__((noinline)) u64 neg(u64 x) { return 0 - x; }
__attribute__((noinline)) u64 apply(fn f, u64 x) { return f(x); }
u64 entrypoint(const u8 *in) {
    const u8 *d = ix_data(in);
    return ret(apply(d[0] ? dbl : neg, d[1]));
}
"""


def test_header_and_layout_follow_sbpf_v0(cc):
    so, report = link_paths(cc(STRINGS))
    assert (so.e_type, so.e_machine, so.e_flags) == (ET_DYN, EM_BPF, 0)
    for name, h in so.sections.items():
        if h.flags & SHF_ALLOC:
            assert h.addr == h.offset, name  # v0: vaddr == file offset
    text, rodata = so.sections[".text"], so.sections[".rodata"]
    load = [PHDR.unpack_from(so.data, so.phoff + i * PHDR.size) for i in range(so.phnum)]
    assert [p[0] for p in load] == [1, 1, 2]  # PT_LOAD, PT_LOAD, PT_DYNAMIC
    assert load[0][2] == text.offset and load[0][5] == rodata.offset + rodata.size - text.offset
    assert report.size == len(so.data)
    assert (report.text_size, report.rodata_size) == (text.size, rodata.size)
    assert report.syscalls == ("sol_log_",)


def test_lddw_gets_absolute_vm_address_of_rodata(cc):
    so, _ = link_paths(cc(STRINGS))
    greeting = so.find(b"hello from the toolchain tests\0", ".rodata")
    lddws = [(a, i) for a, i in so.text_insns() if i.opcode == 0x18]
    values = {i.imm & 0xFFFFFFFF | so.insn(a + 8).imm << 32 for a, i in lddws}
    assert MM_PROGRAM_START + greeting in values


def test_pointer_table_in_rodata_holds_absolute_addresses(cc):
    so, _ = link_paths(cc(STRINGS))
    words = [MM_PROGRAM_START + so.find(w + b"\0", ".rodata") for w in (b"zero", b"one", b"two")]
    table = so.find(struct.pack("<3Q", *words), ".rodata")
    assert table % 8 == 0


def test_function_pointer_table_holds_function_addresses(cc):
    obj = cc(FPTR)
    so, _ = link_paths(obj)
    funcs = functions(so, obj)
    addresses = [MM_PROGRAM_START + funcs[f].start for f in ("inc", "triple", "square")]
    so.find(struct.pack("<3Q", *addresses), ".rodata")


def test_calls_are_pc_relative_to_the_right_function(cc):
    obj = cc(CALLS)
    so, _ = link_paths(obj)
    assert call_graph(so, functions(so, obj)) == {
        ("g1", "s1"), ("o1", "s1"), ("o1", "g1"), ("entrypoint", "o1"), ("entrypoint", "first")}


@pytest.mark.parametrize("extra", [(), ("-ffunction-sections", "-fdata-sections")])
def test_internal_calls_run(cc, extra):
    so, _ = link_paths(cc(CALLS, extra=extra))
    x = 5
    assert run(so, bytes([x])).value == (7 * x + 7 * x + 1) * 1000000 + x + 1000


def test_syscall_call_is_a_dynamic_relocation(cc):
    so, _ = link_paths(cc(STRINGS))
    calls = [a for a, i in so.text_insns() if i.opcode == 0x85 and i.imm == -1]
    assert calls
    for a in calls:
        assert so.insn(a).src == 0
    assert sorted(so.reldyn()) == sorted((a, R_BPF_64_32, "sol_log_") for a in calls)
    undefined = [s for s in so.dynsym() if s[0] == "sol_log_"]
    assert undefined == [("sol_log_", 0x10, 0, 0)]  # GLOBAL NOTYPE, undefined


def test_entry_point_is_in_header_and_dynsym(cc):
    obj = cc(FPTR)
    so, _ = link_paths(obj)
    assert so.entry == functions(so, obj)["entrypoint"].start
    assert ("entrypoint", 0x12, 1, so.entry) in so.dynsym()  # GLOBAL FUNC in .text


def test_rodata_strings_log(cc):
    so, _ = link_paths(cc(STRINGS))
    assert run(so, bytes([2])).program_logs() == ["hello from the toolchain tests", "two"]


def test_function_pointer_table_dispatch_runs(cc):
    so, _ = link_paths(cc(FPTR))
    assert [run(so, bytes([i, 9])).value for i in range(3)] == [10, 27, 81]


def test_callx_register_moves_to_imm(cc):
    obj = cc(FPTR_IN_CODE)
    text = parse_object(obj.read_bytes(), str(obj)).sections[2]
    assert text.name == ".text"
    callx_in = [text.data[at + 1] & 0xF for at in range(0, text.size, 8) if text.data[at] == 0x8D]
    assert len(callx_in) == 1 and callx_in[0] != 0  # upstream: register in dst
    so, _ = link_paths(obj)
    callx_out = [i for _, i in so.text_insns() if i.opcode == 0x8D]
    assert [(i.dst, i.imm) for i in callx_out] == [(0, callx_in[0])]
    assert run(so, bytes([1, 21])).value == 42
    assert run(so, bytes([0, 1])).value == 2**64 - 1


def test_objects_link_across_files_and_weak_yields_to_global(cc):
    a = cc(PRELUDE + """
__attribute__((weak)) u64 hook(u64 x) { return x; }
u64 helper(u64);
u64 entrypoint(const u8 *in) { return ret(helper(hook(ix_data(in)[0]))); }
""", name="a")
    b = cc(PRELUDE + """
u64 hook(u64 x) { return x + 100; }
u64 helper(u64 x) { return x * 2; }
""", name="b")
    so, _ = link_paths(a, b)
    assert run(so, bytes([1])).value == 202


def test_duplicate_global_is_refused(cc):
    a = cc(PRELUDE + "u64 f(u64 x) { return x; }\nu64 entrypoint(const u8 *in) { return 0; }",
           name="a")
    b = cc(PRELUDE + "u64 f(u64 x) { return x + 1; }", name="b")
    with pytest.raises(LinkError, match=r"duplicate symbol f: defined in .*a\.o and .*b\.o"):
        link_paths(a, b)


def test_missing_entry_point_is_refused(cc):
    obj = cc(PRELUDE + "u64 main(const u8 *in) { return 0; }")
    with pytest.raises(LinkError, match="entry point entrypoint is not defined"):
        link_paths(obj)
    so, _ = link_paths(obj, entry="main")
    assert run(so).ok


def test_unknown_syscall_is_refused(cc):
    obj = cc(PRELUDE + """
void sol_not_a_syscall(void);
u64 entrypoint(const u8 *in) { sol_not_a_syscall(); return 0; }
""")
    with pytest.raises(LinkError, match=r"prog\.o: \.text\+0x0: undefined symbol "
                                        r"sol_not_a_syscall \(not a known Solana syscall\)"):
        link_paths(obj)


def test_retired_syscall_is_refused(cc):
    obj = cc(PRELUDE + """
void *sol_alloc_free_(u64, void *);
u64 entrypoint(const u8 *in) { return (u64)sol_alloc_free_(8, 0); }
""")
    with pytest.raises(LinkError, match="sol_alloc_free_ is a retired Solana syscall"):
        link_paths(obj)


def test_address_of_syscall_is_refused(cc):
    obj = cc(PRELUDE + """
u64 entrypoint(const u8 *in) { void (*volatile f)(const char *, u64) = sol_log_; f("x", 1);
                               return 0; }
""")
    with pytest.raises(LinkError, match="address of undefined symbol sol_log_ taken "
                                        r"\(syscalls can only be called directly\)"):
        link_paths(obj)


@pytest.mark.parametrize(("source", "extra", "section"), [
    ("u64 counter = 5;", (), "writable section .data (8 bytes)"),
    ("u64 counter;", (), "writable section .bss (8 bytes)"),
    ("static u64 counter;", (), "writable section .bss (8 bytes)"),
    ("u64 counter;", ("-fcommon",), "common symbol counter"),
])
def test_writable_data_is_refused(cc, source, extra, section):
    obj = cc(PRELUDE + source + "\nu64 entrypoint(const u8 *in) { return ++counter; }",
             extra=extra)
    with pytest.raises(LinkError, match=re.escape(section) + ".*no writable globals"):
        link_paths(obj)


def test_every_known_syscall_links_and_deploys(cc):
    """The list matches the runtime: a program calling each one passes deploy-time checks."""
    names = sorted(SYSCALLS)
    obj = cc("".join(f"void {name}(void);\n" for name in names)
             + "unsigned long long entrypoint(const unsigned char *in) {\n"
             + "".join(f"  if (in[16] == {i}) {name}();\n" for i, name in enumerate(names))
             + "  return 0;\n}\n")
    so, report = link_paths(obj)
    assert set(report.syscalls) == SYSCALLS
    assert run(so, bytes([255])).ok


def test_debug_info_changes_nothing(cc):
    plain, _ = link_paths(cc(CALLS))
    debug, _ = link_paths(cc(CALLS, name="debug", extra=("-g",)))
    assert debug.data == plain.data
