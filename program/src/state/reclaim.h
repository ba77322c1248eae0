/* Closing a program account as Anchor's `close` does: its lamports to `dest`, its data
 * zeroed and shrunk to nothing, and the account given back to the System Program, so that
 * neither a later instruction of the same transaction nor a later transaction can read it as
 * the account it was (the runtime removes an account left with no lamports). */
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
    /* the serialized data length sits just before the data: the runtime reads it back */
    *(u64 *)(target->data - 8) = 0;
    for (u64 i = 0; i < sizeof(SolPubkey); i++) target->owner->x[i] = 0; /* System Program */
    return SUCCESS;
}
