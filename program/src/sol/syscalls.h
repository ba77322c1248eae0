/* The Solana syscalls the program uses, as the loader resolves them by name. */
#pragma once
#include "types.h"

typedef struct {
    const u8 *addr;
    u64 len;
} SolBytes;

/* A seed of a program-derived address, and the seeds of one signer. */
typedef struct {
    const u8 *addr;
    u64 len;
} SolSignerSeed;
typedef struct {
    const SolSignerSeed *addr;
    u64 len;
} SolSignerSeeds;

typedef struct {
    SolPubkey *key;
    u64 *lamports;
    u64 data_len;
    u8 *data;
    SolPubkey *owner;
    u64 rent_epoch;
    bool is_signer;
    bool is_writable;
    bool executable;
} SolAccountInfo;

typedef struct {
    SolPubkey *pubkey;
    bool is_writable;
    bool is_signer;
} SolAccountMeta;

typedef struct {
    SolPubkey *program_id;
    SolAccountMeta *accounts;
    u64 account_len;
    u8 *data;
    u64 data_len;
} SolInstruction;

/* Clock sysvar, as sol_get_clock_sysvar writes it. */
typedef struct {
    u64 slot;
    i64 epoch_start_timestamp;
    u64 epoch;
    u64 leader_schedule_epoch;
    i64 unix_timestamp;
} SolClock;

/* Rent sysvar: the threshold is an f64 that the program never reads (no floating point). */
typedef struct {
    u64 lamports_per_byte_year;
    u8 exemption_threshold[8];
    u8 burn_percent;
} SolRent;

void sol_log_(const char *message, u64 len);
void sol_log_64_(u64, u64, u64, u64, u64);
void sol_log_data(const SolBytes *slices, u64 count);
void sol_memcpy_(void *dst, const void *src, u64 n);
void sol_memmove_(void *dst, const void *src, u64 n);
void sol_memset_(void *dst, u8 c, u64 n);
void sol_memcmp_(const void *a, const void *b, u64 n, int *result);
u64 sol_invoke_signed_c(const SolInstruction *ix, const SolAccountInfo *infos, u64 infos_len,
                        const SolSignerSeeds *signers, u64 signers_len);
u64 sol_try_find_program_address(const SolSignerSeed *seeds, u64 seeds_len,
                                 const SolPubkey *program_id, SolPubkey *address, u8 *bump);
u64 sol_create_program_address(const SolSignerSeed *seeds, u64 seeds_len,
                               const SolPubkey *program_id, SolPubkey *address);
u64 sol_get_clock_sysvar(SolClock *clock);
u64 sol_get_rent_sysvar(SolRent *rent);
