#include "vote.h"

#include "../math/votes.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "../validate.h"
#include "pda.h"
#include "vault.h"

u64 vote_cast(const SolInput *in, const Config *config, const VoteCast *a, Market *m) {
    u8 kind = a->kind;
    bool choice = a->choice;
    u64 stake = a->stake;
    TRY(expect_signer(a->voter));
    TRY(expect_quote_account(config, a->voter_token, a->voter->key));
    TRY(expect_vault(config, a->vault, NULL));
    TRY(expect_program(a->token_program, &TOKEN_PROGRAM_ID));
    TRY(expect_program(a->system_program, &SYSTEM_PROGRAM_ID));
    if (stake < m->min_vote_stake) return ERR_STAKE_TOO_SMALL;
    if (stake > MAX_VOTE_STAKE) return ERR_INVALID_ARGUMENT;
    u64 *yes = kind == VOTE_KIND_PROPOSAL ? &m->likes : &m->agree;
    u64 *no = kind == VOTE_KIND_PROPOSAL ? &m->dislikes : &m->disagree;
    u64 tally, held, open;
    if (!vote_tally_add(*yes, *no, stake, &tally) || !u64_add(m->stake_held, stake, &held) ||
        !u64_add(m->votes_open, 1, &open))
        return ERR_MATH_OVERFLOW;

    PdaSeeds seeds = {.seed = {SEED("vote"), SEED_KEY(a->market->key), SEED_VALUE(kind),
                               SEED_KEY(a->voter->key)},
                      .n = 4};
    u64 err = pda_create(in, a->voter, a->vote, &seeds, VOTE_SPACE);
    if (err) return err == ERR_ALREADY_INITIALIZED ? ERR_ALREADY_VOTED : err;
    TRY(vault_receive(in, &(TokenTransfer){a->voter_token, a->vault, a->voter}, stake));
    Vote *v = (Vote *)a->vote->data;
    v->discriminator = DISC_VOTE;
    v->market = *a->market->key;
    v->voter = *a->voter->key;
    v->stake = stake;
    v->kind = kind;
    v->choice = choice;
    v->bump = seeds.bump;
    *(choice ? yes : no) += stake; /* within the tally checked above */
    m->stake_held = held;
    m->votes_open = open;
    return SUCCESS;
}

u64 vote_load(const SolInput *in, const SolAccountInfo *a, const SolPubkey *market,
              const SolPubkey *voter, Vote **out) {
    if (!pubkey_eq(a->owner, in->program_id)) return ERR_INVALID_OWNER;
    if (a->data_len < VOTE_SPACE || *(const u64 *)a->data != DISC_VOTE)
        return ERR_WRONG_ACCOUNT_TYPE;
    TRY(expect_writable(a));
    Vote *v = (Vote *)a->data;
    if (!pubkey_eq(&v->market, market)) return ERR_INVALID_ACCOUNT;
    if (!pubkey_eq(&v->voter, voter)) return ERR_UNAUTHORIZED;
    *out = v;
    return SUCCESS;
}
