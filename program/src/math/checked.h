/* Checked integer math for the on-chain program: pure, header-only, no syscalls, no globals.
 *
 * Builds for the host (gcc/clang) and for SBPF v0 (clang -target bpf -mcpu=v2). Upstream BPF
 * refuses every 128-bit multiply/divide/variable-shift libcall (__multi3, __udivti3,
 * __ashlti3), signed division, returns wider than 64 bits and more than 5 register arguments,
 * so everything here is built from 64-bit operations; u128 values are only added,
 * subtracted, compared and shifted by constants natively.
 *
 * Conventions:
 *   - A fallible function returns bool ok (false = overflow, division by zero or result out of
 *     range) and writes its result through its last pointer(s) only when it returns true.
 *   - Rounding is in the name: _floor rounds toward -inf, _ceil toward +inf, _trunc toward 0.
 *   - The common 64-bit cases take a short inline path; the wide paths are shared helpers.
 * On SBPF every instruction costs one compute unit and 64-bit udiv is a single instruction,
 * which is why the code prefers hardware division over bit-by-bit loops.
 */
#pragma once
#include "../sol/types.h"

#define MATH_INLINE static inline
/* Forced inline: functions taking more than 5 registers (a u128 argument takes 2) must never
 * be real calls, BPF cannot pass arguments on the stack; and the short fast paths that sit in
 * front of an out-of-line slow path. */
#define MATH_ALWAYS static inline __attribute__((always_inline))
/* Hide a value from the optimizer. LLVM rewrites the overflow tests "(a*b)/a != b" and
 * "b > MAX/a" into llvm.umul.with.overflow, which BPF lowers to the refused __multi3. */
#define MATH_OPAQUE(x) __asm__("" : "+r"(x))
#define MATH_LO32 0xffffffffULL

/* ---------------------------------------------------------------- internal helpers */

/* leading zero bits of x != 0. BPF has no clz (__builtin_clzll expands to ~40 insns); this
 * binary search is ~16, and the empty asm keeps LLVM from turning its branches into selects,
 * which BPF would lower to two branches each. */
MATH_INLINE u64 math_clz64(u64 x) {
    u64 n = 63;
    if (x >> 32) { n -= 32; x >>= 32; MATH_OPAQUE(x); }
    if (x >> 16) { n -= 16; x >>= 16; MATH_OPAQUE(x); }
    if (x >> 8) { n -= 8; x >>= 8; MATH_OPAQUE(x); }
    if (x >> 4) { n -= 4; x >>= 4; MATH_OPAQUE(x); }
    if (x >> 2) { n -= 2; x >>= 2; MATH_OPAQUE(x); }
    return n - (x >> 1);
}

/* full product a*b = (*hi << 64) + return value, from 32-bit partial products */
MATH_INLINE u64 math_mul_wide(u64 a, u64 b, u64 *hi) {
    u64 a0 = a & MATH_LO32, a1 = a >> 32, b0 = b & MATH_LO32, b1 = b >> 32;
    u64 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0;
    u64 mid = (p00 >> 32) + (p01 & MATH_LO32) + (p10 & MATH_LO32);
    *hi = a1 * b1 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
    return a * b;
}

/* floor((hi:lo) / d) and *rem for a normalised d (top bit set) and hi < d: long division
 * with 32-bit digits on the hardware 64/64 divide (Hacker's Delight divlu, Knuth D) */
MATH_INLINE u64 math_div_norm(u64 hi, u64 lo, u64 d, u64 *rem) {
    u64 vn1 = d >> 32, vn0 = d & MATH_LO32;
    u64 un1 = lo >> 32, un0 = lo & MATH_LO32;
    u64 q1 = hi / vn1, rhat = hi - q1 * vn1;
    while ((q1 >> 32) || q1 * vn0 > ((rhat << 32) | un1)) { /* at most twice */
        q1--;
        rhat += vn1;
        if (rhat >> 32) break;
    }
    u64 un21 = (hi << 32) + un1 - q1 * d;
    u64 q0 = un21 / vn1;
    rhat = un21 - q0 * vn1;
    while ((q0 >> 32) || q0 * vn0 > ((rhat << 32) | un0)) {
        q0--;
        rhat += vn1;
        if (rhat >> 32) break;
    }
    *rem = (un21 << 32) + un0 - q0 * d;
    return (q1 << 32) | q0;
}

/* floor((hi:lo) / d) and *rem; requires hi < d (so d != 0 and the quotient fits u64) */
MATH_INLINE u64 math_div_wide(u64 hi, u64 lo, u64 d, u64 *rem) {
    if (hi == 0) {
        u64 q = lo / d;
        *rem = lo - q * d;
        return q;
    }
    if (!(d >> 32)) { /* d < 2^32: two exact 64/32 steps, no normalisation */
        u64 t = (hi << 32) | (lo >> 32);
        u64 q1 = t / d;
        t = ((t - q1 * d) << 32) | (lo & MATH_LO32);
        u64 q0 = t / d;
        *rem = t - q0 * d;
        return (q1 << 32) | q0;
    }
    u64 s = math_clz64(d), r; /* 0..31; (lo >> 1) >> (63 - s) avoids a shift by 64 */
    u64 q = math_div_norm((hi << s) | ((lo >> 1) >> (63 - s)), lo << s, d << s, &r);
    *rem = r >> s;
    return q;
}

/* a*b when it fits u64, else the full product via math_mul_wide */
MATH_INLINE u64 math_mul64x64(u64 a, u64 b, u64 *hi) {
    u64 p = a * b;
    MATH_OPAQUE(p);
    if (a == 0 || p / a == b) {
        *hi = 0;
        return p;
    }
    return math_mul_wide(a, b, hi);
}

/* m with sign applied: -m when neg; false when it does not fit i64 */
MATH_INLINE bool math_to_signed(u64 m, bool neg, i64 *out) {
    if (m > (u64)I64_MAX + neg) return false;
    *out = neg ? (i64)(0 - m) : (i64)m;
    return true;
}

MATH_INLINE u64 math_abs64(i64 a) {
    return a < 0 ? 0 - (u64)a : (u64)a;
}

/* floor (up = 0) or ceil (up = 1) of a*b/c when a*b does not fit u64 (c may be 0) */
MATH_INLINE bool math_mul_div64_wide(u64 a, u64 b, u64 c, u64 *out, bool up) {
    u64 q, rem;
    if (!(c >> 32) && (!(a >> 32) || !(b >> 32))) {
        /* c and one factor (b after the swap) < 2^32, the usual 1e4/1e6/1e9 scales:
         * a*b/c = (a/c)*b + (a%c)*b/c with (a%c)*b < 2^64, no 128-bit product needed */
        if (b >> 32) {
            u64 t = a;
            a = b;
            b = t;
        }
        if (c == 0) return false;
        u64 qa = a / c, t = (a - qa * c) * b, qt = t / c, h = qa * b;
        MATH_OPAQUE(h);
        rem = t - qt * c;
        if (qa != 0 && h / qa != b) return false;
        q = h + qt;
        if (q < h) return false;
    } else {
        u64 hi, lo = math_mul_wide(a, b, &hi);
        if (hi >= c) return false; /* quotient >= 2^64, or c == 0 */
        q = math_div_wide(hi, lo, c, &rem);
    }
    if (up && rem && ++q == 0) return false;
    *out = q;
    return true;
}

/* floor (up = 0) or ceil (up = 1) of a*b/c, u64 result */
MATH_ALWAYS bool math_mul_div64(u64 a, u64 b, u64 c, u64 *out, bool up) {
    u64 p = a * b;
    MATH_OPAQUE(p);
    if (c != 0 && (a == 0 || p / a == b)) { /* a*b fits u64: ~6 insns */
        u64 q = p / c;
        if (up && p - q * c) q++; /* cannot wrap: a remainder implies c >= 2 */
        *out = q;
        return true;
    }
    return math_mul_div64_wide(a, b, c, out, up);
}

/* u128 a / u128 b -> qr[0] = quotient, qr[1] = remainder; false when b == 0 */
MATH_INLINE bool math_divmod128(u128 a, u128 b, u128 *qr) {
    u64 ah = (u64)(a >> 64), al = (u64)a, bh = (u64)(b >> 64), bl = (u64)b;
    if (bh == 0) { /* 64-bit divisor: two 128/64 steps */
        u64 qh = 0, rl;
        if (bl == 0) return false;
        if (ah >= bl) {
            qh = ah / bl;
            ah -= qh * bl;
        }
        u64 ql = math_div_wide(ah, al, bl, &rl);
        qr[0] = ((u128)qh << 64) | ql;
        qr[1] = rl;
        return true;
    }
    if (a < b) {
        qr[0] = 0;
        qr[1] = a;
        return true;
    }
    /* quotient < 2^64: estimate from the top 64 bits of b (normalised) and a/2, then correct
     * by one (Hacker's Delight, udivti3 from 64-bit divlu) */
    u64 s = math_clz64(bh), r;
    u64 v1 = (bh << s) | ((bl >> 1) >> (63 - s));
    u64 q = math_div_norm(ah >> 1, (al >> 1) | (ah << 63), v1, &r) >> (63 - s);
    if (q) q--;
    u64 ph, pl = math_mul_wide(q, bl, &ph);
    u128 rem = a - ((((u128)(ph + q * bh)) << 64) | pl);
    if (rem >= b) {
        q++;
        rem -= b;
    }
    qr[0] = q;
    qr[1] = rem;
    return true;
}

/* io[0] = floor (up = 0) or ceil (up = 1) of io[0]*io[1]/c through a 256-bit product, written
 * only when the quotient fits u128. Knuth D with 64-bit digits (digit estimates from
 * math_div_norm). io is read and written: a read-only pointer would let -O3's argument
 * promotion turn it back into 4 registers, 7 in all, which BPF cannot pass. */
MATH_INLINE bool math_mul_div128(u128 *io, u128 c, bool up) {
    u64 a1 = (u64)(io[0] >> 64), a0 = (u64)io[0], b1 = (u64)(io[1] >> 64), b0 = (u64)io[1];
    u64 c1 = (u64)(c >> 64), c0 = (u64)c;
    u64 p3 = 0, p2 = 0, p1, p0 = math_mul64x64(a0, b0, &p1), h, l;
    u128 acc;
    if (a1) { /* + a1*b0 << 64 */
        l = math_mul_wide(a1, b0, &h);
        acc = (u128)p1 + l;
        p1 = (u64)acc;
        p2 = h + (u64)(acc >> 64); /* no carry: p2 was 0 */
    }
    if (b1) { /* + a0*b1 << 64 */
        l = math_mul_wide(a0, b1, &h);
        acc = (u128)p1 + l;
        p1 = (u64)acc;
        acc = (acc >> 64) + p2 + h;
        p2 = (u64)acc;
        p3 = (u64)(acc >> 64);
    }
    if (a1 && b1) { /* + a1*b1 << 128 */
        l = math_mul_wide(a1, b1, &h);
        acc = (u128)p2 + l;
        p2 = (u64)acc;
        p3 += h + (u64)(acc >> 64);
    }
    u64 q1, q0, rnz;
    if (c1 == 0) {
        u64 r;
        if (p3 != 0 || p2 >= c0) return false; /* quotient >= 2^128, or c == 0 */
        if (p2 == 0 && p1 < c0) { /* quotient fits u64 (the usual AMM case): one division */
            q1 = 0;
            q0 = math_div_wide(p1, p0, c0, &r);
        } else if (!(c0 >> 32)) {
            q1 = math_div_wide(p2, p1, c0, &r);
            q0 = math_div_wide(r, p0, c0, &r);
        } else { /* normalise once for both digits; p2 < c0 keeps the shift within 3 words */
            u64 s = math_clz64(c0), t1 = 63 - s;
            u64 v = c0 << s, u1 = (p1 << s) | ((p0 >> 1) >> t1);
            q1 = math_div_norm((p2 << s) | ((p1 >> 1) >> t1), u1, v, &r);
            q0 = math_div_norm(r, p0 << s, v, &r);
        }
        rnz = r; /* zero or not, whatever the normalisation */
    } else {
        if (p3 > c1 || (p3 == c1 && p2 >= c0)) return false; /* quotient >= 2^128 */
        /* normalise so v1 has its top bit set; (p3:p2) < c means no bits spill past u3 */
        u64 s = math_clz64(c1), t = 63 - s;
        u64 v1 = (c1 << s) | ((c0 >> 1) >> t), v0 = c0 << s;
        u64 r1 = (p3 << s) | ((p2 >> 1) >> t);
        u64 r0 = (p2 << s) | ((p1 >> 1) >> t);
        u64 u1 = (p1 << s) | ((p0 >> 1) >> t), u0 = p0 << s;
        u64 q[2];
        for (int j = 0; j < 2; j++) { /* (r1:r0:nd) / (v1:v0), with (r1:r0) < (v1:v0) */
            u64 nd = j ? u0 : u1, qh, rh, ph, pl;
            bool big = false; /* rh >= 2^64: the estimate can no longer be too large */
            if (r1 < v1) {
                qh = math_div_norm(r1, r0, v1, &rh);
            } else { /* r1 == v1 */
                qh = U64_MAX;
                rh = r0 + v1;
                big = rh < v1;
            }
            pl = math_mul_wide(qh, v0, &ph);
            while (!big && (ph > rh || (ph == rh && pl > nd))) { /* at most twice */
                qh--;
                rh += v1;
                big = rh < v1;
                ph -= pl < v0;
                pl -= v0;
            }
            /* remainder (rh:nd) - (ph:pl) < (v1:v0), exact modulo 2^128 */
            r1 = rh - ph - (nd < pl);
            r0 = nd - pl;
            q[j] = qh;
        }
        q1 = q[0];
        q0 = q[1];
        rnz = r1 | r0;
    }
    if (up && rnz) {
        if (++q0 == 0 && ++q1 == 0) return false;
    }
    io[0] = ((u128)q1 << 64) | q0;
    return true;
}

/* floor(sqrt(m)) for m in [2^62, 2^64). Newton never goes below the floor; started on the
 * tangent of sqrt at 2.25 * 2^62 (at most 8.4% high) three steps leave it within 0.06 of
 * sqrt(m), so on the floor or one above, and m / x < x tells which (x * x could wrap). */
MATH_INLINE u64 math_isqrt_top(u64 m) {
    u64 x = ((m / 3) >> 31) + (3ULL << 29) + 1; /* >= sqrt(m) */
    x = (x + m / x) >> 1;
    x = (x + m / x) >> 1;
    x = (x + m / x) >> 1;
    return m / x < x ? x - 1 : x;
}

/* ---------------------------------------------------------------- u64 */

/* a + b */
MATH_INLINE bool u64_add(u64 a, u64 b, u64 *out) {
    u64 s = a + b;
    if (s < a) return false;
    *out = s;
    return true;
}

/* a - b; false when b > a */
MATH_INLINE bool u64_sub(u64 a, u64 b, u64 *out) {
    if (b > a) return false;
    *out = a - b;
    return true;
}

/* a * b */
MATH_INLINE bool u64_mul(u64 a, u64 b, u64 *out) {
    u64 p = a * b;
    MATH_OPAQUE(p);
    if (a != 0 && p / a != b) return false;
    *out = p;
    return true;
}

/* a + b for a signed delta b (e.g. collateral + pnl); false below 0 or above U64_MAX */
MATH_INLINE bool u64_add_i64(u64 a, i64 b, u64 *out) {
    if (b >= 0) return u64_add(a, (u64)b, out);
    return u64_sub(a, 0 - (u64)b, out);
}

/* floor(a * b / c), exact 128-bit intermediate; false when c == 0 or the result > U64_MAX */
MATH_ALWAYS bool u64_mul_div_floor(u64 a, u64 b, u64 c, u64 *out) {
    return math_mul_div64(a, b, c, out, false);
}

/* ceil(a * b / c), exact 128-bit intermediate; false when c == 0 or the result > U64_MAX */
MATH_ALWAYS bool u64_mul_div_ceil(u64 a, u64 b, u64 c, u64 *out) {
    return math_mul_div64(a, b, c, out, true);
}

/* ---------------------------------------------------------------- i64 */

/* a + b */
MATH_INLINE bool i64_add(i64 a, i64 b, i64 *out) {
    i64 s;
    if (__builtin_add_overflow(a, b, &s)) return false;
    *out = s;
    return true;
}

/* a - b */
MATH_INLINE bool i64_sub(i64 a, i64 b, i64 *out) {
    i64 s;
    if (__builtin_sub_overflow(a, b, &s)) return false;
    *out = s;
    return true;
}

/* a * b */
MATH_INLINE bool i64_mul(i64 a, i64 b, i64 *out) {
    u64 ua = math_abs64(a), ub = math_abs64(b), p = ua * ub;
    MATH_OPAQUE(p);
    if (ua != 0 && p / ua != ub) return false;
    return math_to_signed(p, (a ^ b) < 0, out);
}

/* -a; false for I64_MIN */
MATH_INLINE bool i64_neg(i64 a, i64 *out) {
    if (a == I64_MIN) return false;
    *out = -a;
    return true;
}

/* a / b rounded toward -inf (floor); false when b == 0 or I64_MIN / -1 */
MATH_INLINE bool i64_div_floor(i64 a, i64 b, i64 *out) {
    if (b == 0) return false;
    u64 ua = math_abs64(a), ub = math_abs64(b), q = ua / ub;
    bool neg = (a ^ b) < 0;
    if (neg && q * ub != ua) q++;
    return math_to_signed(q, neg, out);
}

/* a / b rounded toward 0 (C semantics); false when b == 0 or I64_MIN / -1 */
MATH_INLINE bool i64_div_trunc(i64 a, i64 b, i64 *out) {
    if (b == 0) return false;
    u64 ua = math_abs64(a), ub = math_abs64(b);
    return math_to_signed(ua / ub, (a ^ b) < 0, out);
}

/* floor(a * b / c) for signed a (pnl, funding): rounds toward -inf; false when c == 0 or the
 * result does not fit i64 */
MATH_INLINE bool i64_mul_div_floor(i64 a, u64 b, u64 c, i64 *out) {
    u64 m;
    bool neg = a < 0;
    if (!math_mul_div64(math_abs64(a), b, c, &m, neg)) return false;
    return math_to_signed(m, neg, out);
}

/* ceil(a * b / c) for signed a: rounds toward +inf; false when c == 0 or out of i64 range */
MATH_INLINE bool i64_mul_div_ceil(i64 a, u64 b, u64 c, i64 *out) {
    u64 m;
    bool neg = a < 0;
    if (!math_mul_div64(math_abs64(a), b, c, &m, !neg)) return false;
    return math_to_signed(m, neg, out);
}

/* ---------------------------------------------------------------- u128 */

/* a + b */
MATH_INLINE bool u128_add(u128 a, u128 b, u128 *out) {
    u128 s = a + b;
    if (s < a) return false;
    *out = s;
    return true;
}

/* a - b; false when b > a */
MATH_INLINE bool u128_sub(u128 a, u128 b, u128 *out) {
    if (b > a) return false;
    *out = a - b;
    return true;
}

/* a * b; false when the product >= 2^128 */
MATH_INLINE bool u128_mul(u128 a, u128 b, u128 *out) {
    u64 ah = (u64)(a >> 64), al = (u64)a, bh = (u64)(b >> 64), bl = (u64)b;
    if (ah && bh) return false;
    u64 hi, lo = math_mul64x64(al, bl, &hi);
    if (ah | bh) { /* one cross product: ah*bl or al*bh */
        u64 x = ah ? ah : bh, y = ah ? bl : al, c = x * y;
        MATH_OPAQUE(c);
        if (c / x != y) return false;
        hi += c;
        if (hi < c) return false;
    }
    *out = ((u128)hi << 64) | lo;
    return true;
}

/* a * b widened to 128 bits; cannot fail */
MATH_INLINE void u128_mul64(u64 a, u64 b, u128 *out) {
    u64 hi, lo = math_mul64x64(a, b, &hi);
    *out = ((u128)hi << 64) | lo;
}

/* *q = floor(a / b), *r = a mod b (r may be NULL); false when b == 0 */
MATH_ALWAYS bool u128_divmod(u128 a, u128 b, u128 *q, u128 *r) {
    if (!((a | b) >> 64)) { /* both fit u64: one hardware divide */
        u64 al = (u64)a, bl = (u64)b;
        if (bl == 0) return false;
        u64 qq = al / bl;
        *q = qq;
        if (r) *r = al - qq * bl;
        return true;
    }
    u128 qr[2];
    if (!math_divmod128(a, b, qr)) return false;
    *q = qr[0];
    if (r) *r = qr[1];
    return true;
}

/* a as u64; false when a > U64_MAX */
MATH_INLINE bool u128_to_u64(u128 a, u64 *out) {
    if (a >> 64) return false;
    *out = (u64)a;
    return true;
}

/* floor(a * b / c) with an exact 256-bit intermediate; false when c == 0 or result >= 2^128 */
MATH_ALWAYS bool u128_mul_div_floor(u128 a, u128 b, u128 c, u128 *out) {
    u128 io[2] = {a, b};
    if (!math_mul_div128(io, c, false)) return false;
    *out = io[0];
    return true;
}

/* ceil(a * b / c) with an exact 256-bit intermediate; false when c == 0 or result >= 2^128 */
MATH_ALWAYS bool u128_mul_div_ceil(u128 a, u128 b, u128 c, u128 *out) {
    u128 io[2] = {a, b};
    if (!math_mul_div128(io, c, true)) return false;
    *out = io[0];
    return true;
}

/* floor(sqrt(n)); cannot fail (the root of a u128 fits u64) */
MATH_INLINE void u128_isqrt(u128 n, u64 *out) {
    u64 hi = (u64)(n >> 64), lo = (u64)n;
    if (hi == 0) {
        if (lo < 2) {
            *out = lo;
        } else { /* isqrt(lo) = isqrt(lo * 4^j) / 2^j, with lo * 4^j in [2^62, 2^64) */
            u64 j = math_clz64(lo) >> 1;
            *out = math_isqrt_top(lo << 2 * j) >> j;
        }
        return;
    }
    /* One step of Zimmermann's Karatsuba square root in base b = 2^k:
     * n = m*b^2 + a1*b + a0 with m in [2^62, 2^64), s = isqrt(m), r = m - s^2 <= 2s,
     * (q, u) = divmod(r*b + a1, 2s); then n - (s*b + q)^2 = u*b + a0 - q^2, and as s >= b/2
     * the root is s*b + q, or one less when that is negative. */
    u64 k = (65 - math_clz64(hi)) >> 1; /* 1..32 */
    u64 m = (hi << (64 - 2 * k)) | ((lo >> (2 * k - 1)) >> 1);
    u64 s = math_isqrt_top(m), r = m - s * s, mask = U64_MAX >> (64 - k);
    u64 a1 = (lo >> k) & mask, a0 = lo & mask;
    /* r*b + a1 can reach 2^66: divide by d = 2s < 2^33 in two steps of <= 16 bits */
    u64 d = 2 * s, h2 = k >> 1, h1 = k - h2;
    u64 n1 = (r << h1) | (a1 >> h2), q1 = n1 / d;
    u64 n2 = ((n1 - q1 * d) << h2) | (a1 & ((1ULL << h2) - 1)), q2 = n2 / d;
    u64 q = (q1 << h2) + q2, u = n2 - q2 * d; /* q <= b <= 2^32 */
    u128 ub = ((u128)((u >> 1) >> (63 - k)) << 64) | (u << k) | a0;
    u128 qq = (q >> 32) ? (u128)1 << 64 : (u128)(q * q);
    u64 root = (s << k) + q; /* wraps to 0 only at 2^64, where the decrement applies */
    *out = ub < qq ? root - 1 : root;
}
