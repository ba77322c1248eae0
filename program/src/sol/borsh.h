/* Borsh reading (instruction arguments) and writing (events), little-endian.
 * Instruction data is not aligned, so values are read and written byte-wise-safe through
 * may_alias types; SBPF allows unaligned loads and stores. */
#pragma once
#include "syscalls.h"
#include "types.h"

typedef u16 __attribute__((may_alias, aligned(1))) u16_unaligned;
typedef u32 __attribute__((may_alias, aligned(1))) u32_unaligned;
typedef u64 __attribute__((may_alias, aligned(1))) u64_unaligned;

/* A reader with a sticky failure flag: reads past the end yield 0 and fail br_done. */
typedef struct {
    const u8 *p;
    u64 left;
    bool ok;
} BorshReader;

static inline BorshReader br_new(const u8 *data, u64 len) {
    BorshReader r = {data, len, true};
    return r;
}

static inline const u8 *br_take(BorshReader *r, u64 n) {
    if (!r->ok || r->left < n) {
        r->ok = false;
        return NULL;
    }
    const u8 *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static inline u8 br_u8(BorshReader *r) {
    const u8 *at = br_take(r, 1);
    return at ? *at : 0;
}

/* Borsh booleans are exactly 0 or 1; anything else is malformed. */
static inline u8 br_bool(BorshReader *r) {
    u8 v = br_u8(r);
    if (v > 1) r->ok = false;
    return v;
}

static inline u16 br_u16(BorshReader *r) {
    const u8 *at = br_take(r, 2);
    return at ? *(const u16_unaligned *)at : 0;
}

static inline u32 br_u32(BorshReader *r) {
    const u8 *at = br_take(r, 4);
    return at ? *(const u32_unaligned *)at : 0;
}

static inline u64 br_u64(BorshReader *r) {
    const u8 *at = br_take(r, 8);
    return at ? *(const u64_unaligned *)at : 0;
}

static inline i64 br_i64(BorshReader *r) { return (i64)br_u64(r); }

static inline void br_pubkey(BorshReader *r, SolPubkey *out) {
    const u8 *at = br_take(r, 32);
    for (int i = 0; i < 32; i++) out->x[i] = at ? at[i] : 0;
}

/* A string of at most max_len bytes: returns a pointer into the data. */
static inline const u8 *br_string(BorshReader *r, u32 max_len, u32 *len) {
    *len = br_u32(r);
    if (*len > max_len) {
        r->ok = false;
        *len = 0;
        return NULL;
    }
    return br_take(r, *len);
}

static inline bool br_done(const BorshReader *r) { return r->ok && r->left == 0; }

/* A writer into a buffer the caller sized for the largest value (events are bounded). */
typedef struct {
    u8 *p;
} BorshWriter;

static inline BorshWriter bw_new(u8 *buf) {
    BorshWriter w = {buf};
    return w;
}
static inline void bw_u8(BorshWriter *w, u8 v) { *w->p++ = v; }
static inline void bw_u16(BorshWriter *w, u16 v) {
    *(u16_unaligned *)w->p = v;
    w->p += 2;
}
static inline void bw_u32(BorshWriter *w, u32 v) {
    *(u32_unaligned *)w->p = v;
    w->p += 4;
}
static inline void bw_u64(BorshWriter *w, u64 v) {
    *(u64_unaligned *)w->p = v;
    w->p += 8;
}
static inline void bw_i64(BorshWriter *w, i64 v) { bw_u64(w, (u64)v); }
static inline void bw_pubkey(BorshWriter *w, const SolPubkey *k) {
    const u64 *src = (const u64 *)k;
    for (int i = 0; i < 4; i++) bw_u64(w, src[i]);
}
/* Strings longer than max_len are cut to max_len so the buffer never overflows; the handlers
 * only pass strings they validated at that bound. */
static inline void bw_string(BorshWriter *w, const u8 *s, u32 len, u32 max_len) {
    if (len > max_len) len = max_len;
    bw_u32(w, len);
    sol_memcpy_(w->p, s, len); /* a syscall: cheaper per byte than a loop */
    w->p += len;
}
static inline u64 bw_len(const BorshWriter *w, const u8 *buf) { return (u64)(w->p - buf); }
