/* Test-only program: runs the checked.h helpers on vectors from instruction data so that
 * tests/math can compare them with Python integers on the host (-DMATH_PROBE_HOST, loaded
 * with ctypes) and on the real SBF runtime. Not part of the deployed program.
 *
 * Vector: 6 little-endian u64 words = three u128 operands x, y, z as (lo, hi) pairs; signed
 * operands are two's complement in the lo word.
 * Result: 4 words v0 lo, v0 hi, v1 lo, v1 hi, written only on success and only for the words
 * of the result (u64/i64: v0 lo; u128: v0; divmod: v0 = quotient, v1 = remainder); the
 * caller fills them with a sentinel first.
 *
 * Instruction data (no accounts): word 0 = op | count << 8 | nonce << 16, then count vectors.
 * Return data: count records of 6 words: ok, compute units, v0 lo, v0 hi, v1 lo, v1 hi.
 */
#include "checked.h"

enum {
    OP_NOP = 0,
    OP_U64_ADD, OP_U64_SUB, OP_U64_MUL, OP_U64_ADD_I64,
    OP_U64_MUL_DIV_FLOOR, OP_U64_MUL_DIV_CEIL,
    OP_I64_ADD, OP_I64_SUB, OP_I64_MUL, OP_I64_NEG, OP_I64_DIV_FLOOR, OP_I64_DIV_TRUNC,
    OP_I64_MUL_DIV_FLOOR, OP_I64_MUL_DIV_CEIL,
    OP_U128_ADD, OP_U128_SUB, OP_U128_MUL, OP_U128_MUL64, OP_U128_DIVMOD, OP_U128_DIV,
    OP_U128_TO_U64, OP_U128_MUL_DIV_FLOOR, OP_U128_MUL_DIV_CEIL, OP_U128_ISQRT,
    OP_COUNT
};

#ifdef MATH_PROBE_HOST
#define PROBE_FN __attribute__((visibility("default")))
#define METER(stmt) stmt
#else
/* syscalls, declared locally (the program's runtime headers live elsewhere) */
void sol_set_return_data(const u8 *data, u64 len);
u64 sol_remaining_compute_units(void);
#define PROBE_FN static inline __attribute__((always_inline))
/* compute units of stmt (the helper call and the stores of its result). The empty volatile
 * asms pin the operands after the first meter reading (else LLVM hoists cheap arithmetic
 * above the syscall) and the result stores before the second. */
#define PROBE_PIN(v) __asm__ volatile("" : "+r"(v))
#define METER(stmt)                                                                       \
    do {                                                                                  \
        u64 t0_ = sol_remaining_compute_units();                                          \
        PROBE_PIN(i0); PROBE_PIN(i1); PROBE_PIN(i2);                                      \
        PROBE_PIN(i3); PROBE_PIN(i4); PROBE_PIN(i5);                                      \
        stmt;                                                                             \
        __asm__ volatile("" : : "r"(out) : "memory");                                     \
        *cu = t0_ - sol_remaining_compute_units();                                        \
    } while (0)
#endif

/* result stores: u64/i64 in word 0, u128 in words 0-1, a second u128 in words 2-3 */
#define PUT64(v) (out[0] = (u64)(v))
#define PUT128(v) (out[0] = (u64)(v), out[1] = (u64)((v) >> 64))
#define PUT128B(v) (out[2] = (u64)(v), out[3] = (u64)((v) >> 64))

/* runs one vector; returns 1 when the helper succeeded, 0 when it failed, 2 on a bad op.
 * Results are written only on success (the helpers leave their outputs alone on failure). */
PROBE_FN u64 math_probe(u64 op, const u64 *in, u64 *out, u64 *cu) {
    u64 i0 = in[0], i1 = in[1], i2 = in[2], i3 = in[3], i4 = in[4], i5 = in[5];
    u64 w = 0, ok = 1;
    i64 sw = 0;
    u128 v0 = 0, v1 = 0;
/* operands: three u128, their low words as u64, or as i64 */
#define X (((u128)i1 << 64) | i0)
#define Y (((u128)i3 << 64) | i2)
#define Z (((u128)i5 << 64) | i4)
#define A i0
#define B i2
#define C i4
#define SA ((i64)i0)
#define SB ((i64)i2)
    *cu = 0;
    switch (op) {
    case OP_NOP: METER(PUT64(A)); break;
    case OP_U64_ADD: METER(if ((ok = u64_add(A, B, &w))) PUT64(w)); break;
    case OP_U64_SUB: METER(if ((ok = u64_sub(A, B, &w))) PUT64(w)); break;
    case OP_U64_MUL: METER(if ((ok = u64_mul(A, B, &w))) PUT64(w)); break;
    case OP_U64_ADD_I64: METER(if ((ok = u64_add_i64(A, SB, &w))) PUT64(w)); break;
    case OP_U64_MUL_DIV_FLOOR: METER(if ((ok = u64_mul_div_floor(A, B, C, &w))) PUT64(w)); break;
    case OP_U64_MUL_DIV_CEIL: METER(if ((ok = u64_mul_div_ceil(A, B, C, &w))) PUT64(w)); break;
    case OP_I64_ADD: METER(if ((ok = i64_add(SA, SB, &sw))) PUT64(sw)); break;
    case OP_I64_SUB: METER(if ((ok = i64_sub(SA, SB, &sw))) PUT64(sw)); break;
    case OP_I64_MUL: METER(if ((ok = i64_mul(SA, SB, &sw))) PUT64(sw)); break;
    case OP_I64_NEG: METER(if ((ok = i64_neg(SA, &sw))) PUT64(sw)); break;
    case OP_I64_DIV_FLOOR: METER(if ((ok = i64_div_floor(SA, SB, &sw))) PUT64(sw)); break;
    case OP_I64_DIV_TRUNC: METER(if ((ok = i64_div_trunc(SA, SB, &sw))) PUT64(sw)); break;
    case OP_I64_MUL_DIV_FLOOR: METER(if ((ok = i64_mul_div_floor(SA, B, C, &sw))) PUT64(sw)); break;
    case OP_I64_MUL_DIV_CEIL: METER(if ((ok = i64_mul_div_ceil(SA, B, C, &sw))) PUT64(sw)); break;
    case OP_U128_ADD: METER(if ((ok = u128_add(X, Y, &v0))) PUT128(v0)); break;
    case OP_U128_SUB: METER(if ((ok = u128_sub(X, Y, &v0))) PUT128(v0)); break;
    case OP_U128_MUL: METER(if ((ok = u128_mul(X, Y, &v0))) PUT128(v0)); break;
    case OP_U128_MUL64: METER(u128_mul64(A, B, &v0); PUT128(v0)); break;
    case OP_U128_DIVMOD:
        METER(if ((ok = u128_divmod(X, Y, &v0, &v1))) { PUT128(v0); PUT128B(v1); });
        break;
    case OP_U128_DIV: METER(if ((ok = u128_divmod(X, Y, &v0, NULL))) PUT128(v0)); break;
    case OP_U128_TO_U64: METER(if ((ok = u128_to_u64(X, &w))) PUT64(w)); break;
    case OP_U128_MUL_DIV_FLOOR:
        METER(if ((ok = u128_mul_div_floor(X, Y, Z, &v0))) PUT128(v0));
        break;
    case OP_U128_MUL_DIV_CEIL: METER(if ((ok = u128_mul_div_ceil(X, Y, Z, &v0))) PUT128(v0)); break;
    case OP_U128_ISQRT: METER(u128_isqrt(X, &w); PUT64(w)); break;
    default: return 2;
    }
    return ok;
#undef X
#undef Y
#undef Z
#undef A
#undef B
#undef C
#undef SA
#undef SB
}

#ifndef MATH_PROBE_HOST
#define PROBE_MAX 20
#define PROBE_SENTINEL 0xa5a5a5a5a5a5a5a5ULL
#define PROBE_ERR_INPUT 1ULL /* ProgramError::Custom(1) */
#define PROBE_ERR_OP 2ULL

u64 entrypoint(const u8 *input) {
    const u64 *p = (const u64 *)input;
    if (p[0] != 0) return PROBE_ERR_INPUT; /* no accounts: data length is word 1 */
    u64 len = p[1];
    const u64 *data = p + 2;
    if (len < 8) return PROBE_ERR_INPUT;
    u64 op = data[0] & 0xff, n = (data[0] >> 8) & 0xff;
    if (n > PROBE_MAX || len != 8 + n * 48) return PROBE_ERR_INPUT;
    u64 rec[PROBE_MAX * 6];
    for (u64 i = 0; i < n; i++) {
        u64 *r = rec + i * 6;
        r[2] = r[3] = r[4] = r[5] = PROBE_SENTINEL;
        u64 ok = math_probe(op, data + 1 + i * 6, r + 2, r + 1);
        if (ok > 1) return PROBE_ERR_OP;
        r[0] = ok;
    }
    sol_set_return_data((const u8 *)rec, n * 48);
    return 0;
}
#endif
