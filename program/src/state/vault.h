/* Paying out of the protocol's vault (t->from), signed by the vault authority PDA
 * ["vault", bump] (t->authority). */
#pragma once
#include "../generated/accounts.h"
#include "../sol/token.h"
#include "pda.h"

static inline u64 vault_pay(const SolInput *in, const Config *config, const TokenTransfer *t,
                            u64 amount) {
    SolSignerSeed seed[2] = {SEED("vault"), SEED_VALUE(config->vault_bump)};
    SolSignerSeeds signer = {seed, 2};
    return token_transfer(in, t, amount, &signer);
}
