/* SPL Token: reading token accounts and mints, and transfers by CPI. */
#pragma once
#include "input.h"

#define TOKEN_ACCOUNT_LEN 165
#define MINT_LEN 82

/* The fixed part of an SPL token account (COption fields are a u32 tag then the value). */
typedef struct {
    SolPubkey mint;
    SolPubkey owner;
    u64 amount;
    u32 delegate_tag;
    SolPubkey delegate;
    u8 state; /* 0 uninitialized, 1 initialized, 2 frozen */
} TokenAccountHead;

#define TOKEN_STATE_INITIALIZED 1
/* close_authority's COption tag sits at byte 129 of a token account. */
#define TOKEN_CLOSE_AUTHORITY_TAG_OFFSET 129
/* A mint's is_initialized flag is at byte 45. */
#define MINT_IS_INITIALIZED_OFFSET 45

typedef struct {
    const SolAccountInfo *from;
    const SolAccountInfo *to;
    const SolAccountInfo *authority;
} TokenTransfer;

/* Moves `amount` tokens from t->from to t->to; t->authority signs, or the PDA of `seeds`
 * does when seeds is not NULL. */
u64 token_transfer(const SolInput *in, const TokenTransfer *t, u64 amount,
                   const SolSignerSeeds *seeds);
