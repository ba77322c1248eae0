/* Creating program-owned accounts through the System Program. */
#pragma once
#include "input.h"

/* Lamports that keep an account of `space` bytes rent-exempt. */
u64 rent_exempt_lamports(u64 space);

/* Makes `target` an account of `space` zeroed bytes owned by this program, paid by `payer`
 * and signed for by the PDA `seeds`. An address someone already sent lamports to is topped
 * up, allocated and assigned instead (create_account refuses it), so nobody can block a PDA
 * by funding it first. */
u64 system_create_pda(const SolInput *in, const SolAccountInfo *payer,
                      const SolAccountInfo *target, u64 space, const SolSignerSeeds *seeds);
