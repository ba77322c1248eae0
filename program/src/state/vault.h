/* Moving quote into and out of the protocol's vault.
 *
 * Both directions check the amounts before the token program sees them, so that a refusal is
 * the program's own error and not the token program's: the source holds `amount`
 * (InsufficientFunds) and the destination's balance stays within a u64 (MathOverflow). The
 * callers have validated both accounts as token accounts. */
#pragma once
#include "../generated/accounts.h"
#include "../math/checked.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "pda.h"

static inline u64 check_transfer(const TokenTransfer *t, u64 amount) {
    const TokenAccountHead *from = (const TokenAccountHead *)t->from->data;
    const TokenAccountHead *to = (const TokenAccountHead *)t->to->data;
    u64 after;
    if (from->amount < amount) return ERR_INSUFFICIENT_FUNDS;
    return u64_add(to->amount, amount, &after) ? SUCCESS : ERR_MATH_OVERFLOW;
}

/* Paying into the vault (t->to), signed by the owner of t->from (t->authority). */
static inline u64 vault_receive(const SolInput *in, const TokenTransfer *t, u64 amount) {
    TRY(check_transfer(t, amount));
    return token_transfer(in, t, amount, NULL);
}

/* Paying out of the vault (t->from), signed by the vault authority PDA ["vault", bump]
 * (t->authority). */
static inline u64 vault_pay(const SolInput *in, const Config *config, const TokenTransfer *t,
                            u64 amount) {
    TRY(check_transfer(t, amount));
    SolSignerSeed seed[2] = {SEED("vault"), SEED_VALUE(config->vault_bump)};
    SolSignerSeeds signer = {seed, 2};
    return token_transfer(in, t, amount, &signer);
}
