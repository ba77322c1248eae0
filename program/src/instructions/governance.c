/* create_market, vote_proposal, approve_market, reject_market: a market's proposal. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/checked.h"
#include "../math/votes.h"
#include "../sol/clock.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../state/pda.h"
#include "../state/vote.h"
#include "../validate.h"
#include "instructions.h"

u64 ix_create_market(const SolInput *in, const u8 *data, u64 len) {
    CreateMarketArgs args;
    if (!create_market_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, CREATE_MARKET_ACCOUNTS));
    const SolAccountInfo *creator = &in->accounts[CREATE_MARKET_CREATOR];
    const SolAccountInfo *market_acc = &in->accounts[CREATE_MARKET_MARKET];
    TRY(expect_signer(creator));
    TRY(expect_program(&in->accounts[CREATE_MARKET_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    Config *config;
    TRY(load_config(in, &in->accounts[CREATE_MARKET_CONFIG], false, &config));
    if (config->paused) return ERR_PAUSED;
    if (args.question_len == 0) return ERR_INVALID_ARGUMENT;
    i64 now = clock_unix_timestamp(), proposal_ends_at;
    if (!i64_add(now, config->proposal_window_secs, &proposal_ends_at)) return ERR_MATH_OVERFLOW;
    if (args.trading_ends_at <= proposal_ends_at) return ERR_INVALID_ARGUMENT;

    PdaSeeds seeds = {.seed = {SEED("market"), SEED_VALUE(args.market_id)}, .n = 2};
    TRY(pda_create(in, creator, market_acc, &seeds, MARKET_SPACE));
    Market *m = (Market *)market_acc->data;
    m->discriminator = DISC_MARKET;
    m->id = args.market_id;
    m->creator = *creator->key;
    m->created_at = now;
    m->proposal_ends_at = proposal_ends_at;
    m->trading_ends_at = args.trading_ends_at;
    m->state = MARKET_STATE_PROPOSED;
    m->bump = seeds.bump;
    m->question_len = args.question_len;
    for (u32 i = 0; i < args.question_len; i++) m->question[i] = args.question[i];
    emit_market_created(&(MarketCreated){
        .market = *market_acc->key, .id = m->id, .creator = m->creator, .created_at = now,
        .proposal_ends_at = proposal_ends_at, .trading_ends_at = m->trading_ends_at,
        .question = m->question, .question_len = m->question_len});
    return SUCCESS;
}

u64 ix_vote_proposal(const SolInput *in, const u8 *data, u64 len) {
    VoteProposalArgs args;
    if (!vote_proposal_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, VOTE_PROPOSAL_ACCOUNTS));
    const SolAccountInfo *voter = &in->accounts[VOTE_PROPOSAL_VOTER];
    const SolAccountInfo *market_acc = &in->accounts[VOTE_PROPOSAL_MARKET];
    const SolAccountInfo *vote_acc = &in->accounts[VOTE_PROPOSAL_VOTE];
    TRY(expect_signer(voter));
    TRY(expect_program(&in->accounts[VOTE_PROPOSAL_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    Config *config;
    TRY(load_config(in, &in->accounts[VOTE_PROPOSAL_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, market_acc, true, &m));
    if (m->state != MARKET_STATE_PROPOSED) return ERR_INVALID_STATE;
    if (clock_unix_timestamp() >= m->proposal_ends_at) return ERR_TOO_LATE;
    /* the tallies' sum stays within a u64 (math/votes.h relies on it) */
    if (m->likes + m->dislikes == U64_MAX) return ERR_MATH_OVERFLOW;

    TRY(vote_record(in, &(VoteAccounts){voter, market_acc, vote_acc}, VOTE_KIND_PROPOSAL,
                    args.approve));
    u64 *tally = args.approve ? &m->likes : &m->dislikes;
    *tally += 1;
    emit_proposal_voted(&(ProposalVoted){.market = *market_acc->key, .voter = *voter->key,
                                         .approve = args.approve, .likes = m->likes,
                                         .dislikes = m->dislikes});
    return SUCCESS;
}

_Static_assert(APPROVE_MARKET_CONFIG == REJECT_MARKET_CONFIG &&
                   APPROVE_MARKET_MARKET == REJECT_MARKET_MARKET &&
                   APPROVE_MARKET_ACCOUNTS == REJECT_MARKET_ACCOUNTS,
               "approve_market and reject_market take the same accounts");

/* Shared by approve and reject: the config and a writable market in Proposed. */
static u64 load_proposal(const SolInput *in, const u8 *data, u64 len, Config **config,
                         Market **m) {
    if (len != 0) return ERR_INVALID_INSTRUCTION_DATA;
    (void)data;
    TRY(expect_accounts(in, APPROVE_MARKET_ACCOUNTS));
    TRY(load_config(in, &in->accounts[APPROVE_MARKET_CONFIG], false, config));
    TRY(load_market(in, &in->accounts[APPROVE_MARKET_MARKET], true, m));
    return (*m)->state == MARKET_STATE_PROPOSED ? SUCCESS : ERR_INVALID_STATE;
}

u64 ix_approve_market(const SolInput *in, const u8 *data, u64 len) {
    Config *config;
    Market *m;
    TRY(load_proposal(in, data, len, &config, &m));
    if (!proposal_approved(m->likes, m->dislikes, config->proposal_quorum,
                           config->proposal_approval_bps))
        return ERR_THRESHOLD_NOT_MET;
    m->state = MARKET_STATE_APPROVED;
    emit_market_approved(&(MarketApproved){.market = *in->accounts[APPROVE_MARKET_MARKET].key,
                                           .likes = m->likes, .dislikes = m->dislikes});
    return SUCCESS;
}

u64 ix_reject_market(const SolInput *in, const u8 *data, u64 len) {
    Config *config;
    Market *m;
    TRY(load_proposal(in, data, len, &config, &m));
    if (clock_unix_timestamp() < m->proposal_ends_at) return ERR_TOO_EARLY;
    if (proposal_approved(m->likes, m->dislikes, config->proposal_quorum,
                          config->proposal_approval_bps))
        return ERR_APPROVAL_REACHED;
    m->state = MARKET_STATE_CANCELLED;
    emit_market_rejected(&(MarketRejected){.market = *in->accounts[REJECT_MARKET_MARKET].key,
                                           .likes = m->likes, .dislikes = m->dislikes});
    return SUCCESS;
}
