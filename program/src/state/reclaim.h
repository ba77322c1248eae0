/* Closing a program account: its lamports to `dest`, its data zeroed so that nothing later in
 * the same transaction can read it as the account it was (the runtime removes an account
 * left with no lamports at the end of the transaction). */
#pragma once
#include "../generated/errors.h"
#include "../math/checked.h"
#include "../sol/input.h"
#include "../sol/result.h"

static inline u64 account_reclaim(const SolAccountInfo *target, const SolAccountInfo *dest) {
    u64 lamports;
    if (!dest->is_writable || !target->is_writable) return ERR_NOT_WRITABLE;
    if (!u64_add(*dest->lamports, *target->lamports, &lamports)) return ERR_MATH_OVERFLOW;
    *dest->lamports = lamports;
    *target->lamports = 0;
    for (u64 i = 0; i < target->data_len; i++) target->data[i] = 0;
    return SUCCESS;
}
