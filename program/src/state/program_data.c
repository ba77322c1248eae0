#include "program_data.h"

#include "../sol/pubkey.h"
#include "../sol/result.h"

u64 expect_upgrade_authority(const SolInput *in, const SolAccountInfo *program_data,
                             const SolAccountInfo *signer) {
    if (!signer->is_signer) return ERR_MISSING_SIGNER;
    if (!pubkey_eq(program_data->owner, &BPF_LOADER_UPGRADEABLE_ID))
        return ERR_INVALID_PROGRAM_DATA;
    /* Found once, at initialize: the loader derives it with the canonical bump. */
    SolSignerSeed seed[1] = {{(const u8 *)in->program_id, 32}};
    SolPubkey expected;
    u8 bump;
    if (sol_try_find_program_address(seed, 1, &BPF_LOADER_UPGRADEABLE_ID, &expected, &bump) ||
        !pubkey_eq(&expected, program_data->key))
        return ERR_INVALID_PROGRAM_DATA;
    const u8 *d = program_data->data;
    if (program_data->data_len < PROGRAM_DATA_METADATA_LEN || d[0] != PROGRAM_DATA_TAG ||
        d[1] | d[2] | d[3])
        return ERR_INVALID_PROGRAM_DATA;
    if (d[PROGRAM_DATA_AUTHORITY_TAG_OFFSET] != 1) return ERR_UNAUTHORIZED; /* immutable */
    /* the key sits at an odd offset: compare bytes, not words */
    const u8 *authority = d + PROGRAM_DATA_AUTHORITY_OFFSET;
    for (u8 i = 0; i < 32; i++)
        if (authority[i] != signer->key->x[i]) return ERR_UNAUTHORIZED;
    return SUCCESS;
}
