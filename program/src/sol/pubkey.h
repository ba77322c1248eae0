/* Public keys: comparison and the well-known program ids. */
#pragma once
#include "types.h"

static inline bool pubkey_eq(const SolPubkey *a, const SolPubkey *b) {
    const u64 *x = (const u64 *)a, *y = (const u64 *)b;
    return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

static inline bool pubkey_is_zero(const SolPubkey *a) {
    const u64 *x = (const u64 *)a;
    return (x[0] | x[1] | x[2] | x[3]) == 0;
}

/* 11111111111111111111111111111111 */
static const SolPubkey SYSTEM_PROGRAM_ID = {{0}};
/* TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA */
static const SolPubkey TOKEN_PROGRAM_ID = {{
    0x06, 0xdd, 0xf6, 0xe1, 0xd7, 0x65, 0xa1, 0x93, 0xd9, 0xcb, 0xe1, 0x46, 0xce, 0xeb, 0x79, 0xac,
    0x1c, 0xb4, 0x85, 0xed, 0x5f, 0x5b, 0x37, 0x91, 0x3a, 0x8c, 0xf5, 0x85, 0x7e, 0xff, 0x00, 0xa9,
}};
