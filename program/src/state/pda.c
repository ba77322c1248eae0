#include "pda.h"

#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/system.h"

bool pda_find(const SolInput *in, const SolSignerSeed *seeds, u64 n, SolPubkey *address,
              u8 *bump) {
    return sol_try_find_program_address(seeds, n, in->program_id, address, bump) == 0;
}

u64 pda_create(const SolInput *in, const SolAccountInfo *payer, const SolAccountInfo *target,
               PdaSeeds *seeds, u64 space) {
    SolPubkey address;
    u64 n = seeds->n;
    if (!pda_find(in, seeds->seed, n, &address, &seeds->bump) ||
        !pubkey_eq(&address, target->key))
        return ERR_INVALID_PDA;
    if (pubkey_eq(target->owner, in->program_id)) return ERR_ALREADY_INITIALIZED;
    if (!target->is_writable || !payer->is_writable) return ERR_NOT_WRITABLE;
    seeds->seed[n].addr = &seeds->bump;
    seeds->seed[n].len = 1;
    SolSignerSeeds signer = {seeds->seed, n + 1};
    return system_create_pda(in, payer, target, space, &signer);
}
