/* A wallet's single staked vote on a market's proposal or dispute. */
#pragma once
#include "../generated/accounts.h"
#include "../sol/input.h"

typedef struct {
    const SolAccountInfo *voter; /* signer, pays for the Vote account and the stake */
    const SolAccountInfo *market;
    const SolAccountInfo *vote; /* Vote PDA ["vote", market, kind, voter] */
    const SolAccountInfo *voter_token; /* the voter's own quote account: pays the stake */
    const SolAccountInfo *vault;
    const SolAccountInfo *token_program;
    const SolAccountInfo *system_program;
    u8 kind; /* VoteKind */
    bool choice;
    u64 stake;
} VoteCast;

/* Validates the accounts, locks `a->stake quote of the voter in the vault, creates the Vote
 * account holding stake and choice, and adds the stake to the market's tally of a->kind and to
 * stake_held. Refusals: StakeTooSmall below the market's min_vote_stake, InvalidArgument above
 * MAX_VOTE_STAKE, MathOverflow when the tally would pass MAX_VOTE_TALLY, AlreadyVoted when the
 * wallet voted before (the account exists once per market, kind and voter). The caller checks
 * the market's state and window. */
u64 vote_cast(const SolInput *in, const Config *config, const VoteCast *a, Market *m);

/* The writable Vote at `a` of `voter` in `market` (InvalidOwner, WrongAccountType, then
 * InvalidAccount for another market's vote and Unauthorized for another wallet's). */
u64 vote_load(const SolInput *in, const SolAccountInfo *a, const SolPubkey *market,
              const SolPubkey *voter, Vote **out);
