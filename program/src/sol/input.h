/* Parsing the loader's serialized input (the aligned format of loader v2/v3) in place. */
#pragma once
#include "syscalls.h"

#define MAX_ACCOUNTS 16
/* Each account's data is followed by room to grow, then padding to 8 bytes. */
#define MAX_PERMITTED_DATA_INCREASE (1024 * 10)
#define NON_DUP_MARKER 0xff

typedef struct {
    const SolPubkey *program_id;
    SolAccountInfo *accounts;
    u64 count;
    const u8 *data;
    u64 data_len;
} SolInput;

/* Fills `in`; false when the instruction passes more than MAX_ACCOUNTS accounts. Duplicated
 * accounts share the first occurrence's pointers, so writes through either are the same. */
static inline bool sol_input_parse(const u8 *input, SolInput *in) {
    u64 n = *(const u64 *)input;
    input += 8;
    if (n > MAX_ACCOUNTS) return false;
    in->count = n;
    for (u64 i = 0; i < n; i++) {
        SolAccountInfo *a = &in->accounts[i];
        u8 dup = input[0];
        if (dup != NON_DUP_MARKER) {
            *a = in->accounts[dup];
            input += 8;
            continue;
        }
        a->is_signer = input[1];
        a->is_writable = input[2];
        a->executable = input[3];
        a->key = (SolPubkey *)(input + 8);
        a->owner = (SolPubkey *)(input + 40);
        a->lamports = (u64 *)(input + 72);
        a->data_len = *(const u64 *)(input + 80);
        a->data = (u8 *)(input + 88);
        input += 88 + a->data_len + MAX_PERMITTED_DATA_INCREASE;
        input = (const u8 *)(((u64)input + 7) & ~7ULL);
        a->rent_epoch = *(const u64 *)input;
        input += 8;
    }
    in->data_len = *(const u64 *)input;
    input += 8;
    in->data = input;
    in->program_id = (const SolPubkey *)(input + in->data_len);
    return true;
}
