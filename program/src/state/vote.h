/* A wallet's single vote on a market's proposal or dispute. */
#pragma once
#include "../sol/input.h"

typedef struct {
    const SolAccountInfo *voter; /* signer, pays for the Vote account */
    const SolAccountInfo *market;
    const SolAccountInfo *vote; /* Vote PDA ["vote", market, kind, voter] */
} VoteAccounts;

/* Creates the Vote account holding `choice`; AlreadyVoted when the wallet voted before, since
 * the account exists once per (market, kind, voter). */
u64 vote_record(const SolInput *in, const VoteAccounts *a, u8 kind, u8 choice);
