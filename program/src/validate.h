/* Account validation, in one place. Every handler runs these before it reads or writes
 * anything; each failure has its own error so that a caller can tell what was wrong. */
#pragma once
#include "generated/accounts.h"
#include "sol/input.h"

u64 expect_accounts(const SolInput *in, u64 needed);
u64 expect_signer(const SolAccountInfo *a);
u64 expect_writable(const SolAccountInfo *a);
/* `a` is the signer whose key is `authority` (the admin, a market's creator...). */
u64 expect_authority(const SolAccountInfo *a, const SolPubkey *authority);
/* At least config->council_threshold distinct council members signed the transaction: `a`
 * (the council member who pays, a signer of the council) and any other account of the
 * instruction, so that more members are passed as extra signer accounts. */
#define COUNCIL_MAX (sizeof(((Config *)0)->council) / sizeof(SolPubkey))
u64 expect_council(const SolInput *in, const Config *config, const SolAccountInfo *a);
/* `a` is the program `id` (checked before every CPI). */
u64 expect_program(const SolAccountInfo *a, const SolPubkey *id);

/* Program accounts: owned by this program, long enough, with the type's discriminator, and
 * writable when the handler will write. */
u64 load_config(const SolInput *in, const SolAccountInfo *a, bool writable, Config **out);
u64 load_market(const SolInput *in, const SolAccountInfo *a, bool writable, Market **out);
/* Shares of `owner` in the market at `market`. */
u64 load_shares(const SolInput *in, const SolAccountInfo *a, const SolPubkey *market,
                const SolPubkey *owner, Shares **out);

u64 load_perp_market(const SolInput *in, const SolAccountInfo *a, bool writable,
                     PerpMarket **out);
/* A writable Position in the perp market at `perp_market`, of `owner` when not NULL. */
u64 load_position(const SolInput *in, const SolAccountInfo *a, const SolPubkey *perp_market,
                  const SolPubkey *owner, Position **out);
/* The protocol's vault token account (writable), and its authority when not NULL. */
u64 expect_vault(const Config *config, const SolAccountInfo *vault,
                 const SolAccountInfo *authority);
/* A writable, unfrozen token account of the quote mint other than the vault, owned by `owner`
 * when not NULL. */
u64 expect_quote_account(const Config *config, const SolAccountInfo *a, const SolPubkey *owner);
