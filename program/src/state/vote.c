#include "vote.h"

#include "../generated/accounts.h"
#include "../sol/result.h"
#include "pda.h"

u64 vote_record(const SolInput *in, const VoteAccounts *a, u8 kind, u8 choice) {
    PdaSeeds seeds = {.seed = {SEED("vote"), SEED_KEY(a->market->key), SEED_VALUE(kind),
                               SEED_KEY(a->voter->key)},
                      .n = 4};
    u64 err = pda_create(in, a->voter, a->vote, &seeds, VOTE_SPACE);
    if (err) return err == ERR_ALREADY_INITIALIZED ? ERR_ALREADY_VOTED : err;
    Vote *v = (Vote *)a->vote->data;
    v->discriminator = DISC_VOTE;
    v->market = *a->market->key;
    v->voter = *a->voter->key;
    v->kind = kind;
    v->choice = choice;
    v->bump = seeds.bump;
    return SUCCESS;
}
