/* The program's derived addresses and creating accounts at them.
 *
 *   config  ["config"]                    vault authority ["vault"]
 *   Market  ["market", creator, id u64 LE] (an id is the creator's own: nobody takes another's)
 *   Shares  ["shares", market, owner]
 *   Vote    ["vote", market, kind u8, voter]
 *
 * Accounts are only ever created at the canonical address (the bump found by
 * sol_try_find_program_address), and the bump is stored: later instructions identify an
 * account by owner, discriminator and the keys it stores, never by searching again. */
#pragma once
#include "../sol/input.h"

#define SEED(s) {(const u8 *)(s), sizeof(s) - 1}
#define SEED_KEY(k) {(const u8 *)(k), 32}
#define SEED_VALUE(v) {(const u8 *)&(v), sizeof(v)}

#define PDA_MAX_SEEDS 4

/* The seeds of an address, room for the bump, and the bump once found. */
typedef struct {
    SolSignerSeed seed[PDA_MAX_SEEDS + 1];
    u64 n;
    u8 bump;
} PdaSeeds;

/* Creates `target` at the canonical PDA of `seeds` with `space` bytes, paid by `payer`;
 * sets seeds->bump. */
u64 pda_create(const SolInput *in, const SolAccountInfo *payer, const SolAccountInfo *target,
               PdaSeeds *seeds, u64 space);

/* The canonical PDA of `seeds`; false if none exists. */
bool pda_find(const SolInput *in, const SolSignerSeed *seeds, u64 n, SolPubkey *address,
              u8 *bump);
