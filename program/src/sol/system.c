#include "system.h"

#include "pubkey.h"
#include "result.h"

/* Every account pays for 128 bytes of metadata beyond its data. */
#define ACCOUNT_STORAGE_OVERHEAD 128
/* Solana's rent-exemption threshold is two years on every cluster; the sysvar gives it as
 * an f64, which the program does not use. */
#define EXEMPTION_YEARS 2

enum { SYS_CREATE_ACCOUNT = 0, SYS_ASSIGN = 1, SYS_TRANSFER = 2, SYS_ALLOCATE = 8 };

u64 rent_exempt_lamports(u64 space) {
    SolRent rent;
    sol_get_rent_sysvar(&rent);
    return (ACCOUNT_STORAGE_OVERHEAD + space) * rent.lamports_per_byte_year * EXEMPTION_YEARS;
}

static u64 invoke_system(const SolInput *in, SolAccountMeta *metas, u64 metas_len, u8 *data,
                         u64 data_len, const SolSignerSeeds *seeds) {
    SolInstruction ix = {(SolPubkey *)&SYSTEM_PROGRAM_ID, metas, metas_len, data, data_len};
    return sol_invoke_signed_c(&ix, in->accounts, in->count, seeds, seeds ? 1 : 0);
}

static void put_u32(u8 *p, u32 v) {
    for (int i = 0; i < 4; i++) p[i] = (u8)(v >> (8 * i));
}
static void put_u64(u8 *p, u64 v) {
    for (int i = 0; i < 8; i++) p[i] = (u8)(v >> (8 * i));
}
static void put_key(u8 *p, const SolPubkey *k) {
    for (int i = 0; i < 32; i++) p[i] = k->x[i];
}

u64 system_create_pda(const SolInput *in, const SolAccountInfo *payer,
                      const SolAccountInfo *target, u64 space, const SolSignerSeeds *seeds) {
    u64 needed = rent_exempt_lamports(space);
    u64 have = *target->lamports;
    SolAccountMeta both[2] = {{payer->key, true, true}, {target->key, true, true}};
    SolAccountMeta only[1] = {{target->key, true, true}};
    if (have == 0) {
        u8 data[4 + 8 + 8 + 32];
        put_u32(data, SYS_CREATE_ACCOUNT);
        put_u64(data + 4, needed);
        put_u64(data + 12, space);
        put_key(data + 20, in->program_id);
        return invoke_system(in, both, 2, data, sizeof(data), seeds);
    }
    if (have < needed) {
        u8 data[4 + 8];
        put_u32(data, SYS_TRANSFER);
        put_u64(data + 4, needed - have);
        SolAccountMeta transfer[2] = {{payer->key, true, true}, {target->key, true, false}};
        TRY(invoke_system(in, transfer, 2, data, sizeof(data), NULL));
    }
    u8 allocate[4 + 8];
    put_u32(allocate, SYS_ALLOCATE);
    put_u64(allocate + 4, space);
    TRY(invoke_system(in, only, 1, allocate, sizeof(allocate), seeds));
    u8 assign[4 + 32];
    put_u32(assign, SYS_ASSIGN);
    put_key(assign + 4, in->program_id);
    return invoke_system(in, only, 1, assign, sizeof(assign), seeds);
}
