/* create_market, vote_proposal, approve_market, reject_market: a market's proposal. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/amm.h"
#include "../math/checked.h"
#include "../math/votes.h"
#include "../sol/clock.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "../state/pda.h"
#include "../state/vault.h"
#include "../state/vote.h"
#include "../validate.h"
#include "instructions.h"

/* The rules a market runs under, fixed at its creation: a later config change applies to
 * new markets only. */
static void copy_rules(Market *m, const Config *c) {
    m->proposal_window_secs = c->proposal_window_secs;
    m->dispute_window_secs = c->dispute_window_secs;
    m->dispute_vote_secs = c->dispute_vote_secs;
    m->creator_resolve_secs = c->creator_resolve_secs;
    m->creation_bond = c->creation_bond;
    m->min_vote_stake = c->min_vote_stake;
    m->proposal_quorum = c->proposal_quorum;
    m->resolution_bond = c->resolution_bond;
    m->dispute_bond = c->dispute_bond;
    m->min_dispute_quorum = c->min_dispute_quorum;
    m->proposal_approval_bps = c->proposal_approval_bps;
    m->dispute_overturn_bps = c->dispute_overturn_bps;
    m->dispute_quorum_bps = c->dispute_quorum_bps;
    m->vote_slash_bps = c->vote_slash_bps;
    m->trade_fee_bps = c->trade_fee_bps;
}

u64 ix_create_market(const SolInput *in, const u8 *data, u64 len) {
    CreateMarketArgs args;
    if (!create_market_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, CREATE_MARKET_ACCOUNTS));
    const SolAccountInfo *creator = &in->accounts[CREATE_MARKET_CREATOR];
    const SolAccountInfo *market_acc = &in->accounts[CREATE_MARKET_MARKET];
    const SolAccountInfo *source = &in->accounts[CREATE_MARKET_CREATOR_TOKEN];
    const SolAccountInfo *vault = &in->accounts[CREATE_MARKET_VAULT];
    TRY(expect_signer(creator));
    TRY(expect_program(&in->accounts[CREATE_MARKET_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    TRY(expect_program(&in->accounts[CREATE_MARKET_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    Config *config;
    TRY(load_config(in, &in->accounts[CREATE_MARKET_CONFIG], false, &config));
    TRY(expect_quote_account(config, source, creator->key));
    TRY(expect_vault(config, vault, NULL));
    if (config->paused) return ERR_PAUSED;
    if (args.question_len == 0) return ERR_INVALID_ARGUMENT;
    i64 now = clock_unix_timestamp(), proposal_ends_at, latest_end;
    if (!i64_add(now, config->proposal_window_secs, &proposal_ends_at) ||
        !i64_add(now, MAX_MARKET_SECS, &latest_end))
        return ERR_MATH_OVERFLOW;
    /* bounded so that every later deadline (creator window, dispute window and vote) fits */
    if (args.trading_ends_at <= proposal_ends_at || args.trading_ends_at > latest_end)
        return ERR_INVALID_ARGUMENT;

    PdaSeeds seeds = {.seed = {SEED("market"), SEED_KEY(creator->key), SEED_VALUE(args.market_id)},
                      .n = 3};
    TRY(pda_create(in, creator, market_acc, &seeds, MARKET_SPACE));
    TRY(vault_receive(in, &(TokenTransfer){source, vault, creator}, config->creation_bond));
    Market *m = (Market *)market_acc->data;
    m->discriminator = DISC_MARKET;
    m->id = args.market_id;
    m->creator = *creator->key;
    m->created_at = now;
    m->proposal_ends_at = proposal_ends_at;
    m->trading_ends_at = args.trading_ends_at;
    m->state = MARKET_STATE_PROPOSED;
    m->bump = seeds.bump;
    copy_rules(m, config);
    m->creation_bond_held = config->creation_bond;
    m->question_len = args.question_len;
    sol_memcpy_(m->question, args.question, args.question_len); /* a syscall: cheaper than a loop */
    emit_market_created(&(MarketCreated){
        .market = *market_acc->key, .id = m->id, .creator = m->creator, .created_at = now,
        .proposal_ends_at = proposal_ends_at, .trading_ends_at = m->trading_ends_at,
        .creation_bond = m->creation_bond, .question = m->question,
        .question_len = m->question_len});
    return SUCCESS;
}

u64 ix_vote_proposal(const SolInput *in, const u8 *data, u64 len) {
    VoteProposalArgs args;
    if (!vote_proposal_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, VOTE_PROPOSAL_ACCOUNTS));
    const SolAccountInfo *voter = &in->accounts[VOTE_PROPOSAL_VOTER];
    const SolAccountInfo *market_acc = &in->accounts[VOTE_PROPOSAL_MARKET];
    Config *config;
    TRY(load_config(in, &in->accounts[VOTE_PROPOSAL_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, market_acc, true, &m));
    VoteCast a = {voter,
                      market_acc,
                      &in->accounts[VOTE_PROPOSAL_VOTE],
                      &in->accounts[VOTE_PROPOSAL_VOTER_TOKEN],
                      &in->accounts[VOTE_PROPOSAL_VAULT],
                      &in->accounts[VOTE_PROPOSAL_TOKEN_PROGRAM],
                      &in->accounts[VOTE_PROPOSAL_SYSTEM_PROGRAM],
                      VOTE_KIND_PROPOSAL,
                      args.approve,
                      args.stake};
    if (m->state != MARKET_STATE_PROPOSED) return ERR_INVALID_STATE;
    if (clock_unix_timestamp() >= m->proposal_ends_at) return ERR_TOO_LATE;

    TRY(vote_cast(in, config, &a, m));
    emit_proposal_voted(&(ProposalVoted){.market = *market_acc->key, .voter = *voter->key,
                                         .approve = args.approve, .stake = args.stake,
                                         .likes = m->likes, .dislikes = m->dislikes});
    return SUCCESS;
}

_Static_assert(APPROVE_MARKET_CONFIG == REJECT_MARKET_CONFIG &&
                   APPROVE_MARKET_MARKET == REJECT_MARKET_MARKET &&
                   APPROVE_MARKET_ACCOUNTS == REJECT_MARKET_ACCOUNTS,
               "approve_market and reject_market take the same accounts");

/* Shared by approve and reject: the config (written by reject only: the forfeited bond) and
 * a writable market. */
static u64 load_proposal(const SolInput *in, const u8 *data, u64 len, bool config_writable,
                         Config **config, Market **m) {
    if (len != 0) return ERR_INVALID_INSTRUCTION_DATA;
    (void)data;
    TRY(expect_accounts(in, APPROVE_MARKET_ACCOUNTS));
    TRY(load_config(in, &in->accounts[APPROVE_MARKET_CONFIG], config_writable, config));
    return load_market(in, &in->accounts[APPROVE_MARKET_MARKET], true, m);
}

static bool approved(const Market *m) {
    return proposal_approved(m->likes, m->dislikes, m->proposal_quorum,
                             m->proposal_approval_bps);
}

u64 ix_approve_market(const SolInput *in, const u8 *data, u64 len) {
    Config *config;
    Market *m;
    TRY(load_proposal(in, data, len, false, &config, &m));
    if (m->state != MARKET_STATE_PROPOSED) return ERR_INVALID_STATE;
    /* decided only once the window has closed: no vote can come after the verdict */
    if (clock_unix_timestamp() < m->proposal_ends_at) return ERR_TOO_EARLY;
    if (!approved(m)) return ERR_THRESHOLD_NOT_MET;
    m->state = MARKET_STATE_APPROVED;
    emit_market_approved(&(MarketApproved){.market = *in->accounts[APPROVE_MARKET_MARKET].key,
                                           .likes = m->likes, .dislikes = m->dislikes});
    return SUCCESS;
}

/* A Proposed market whose window closed without approval, or an Approved market its creator
 * never activated before trading would have ended: Cancelled, the creation bond kept as
 * protocol fees. */
u64 ix_reject_market(const SolInput *in, const u8 *data, u64 len) {
    Config *config;
    Market *m;
    TRY(load_proposal(in, data, len, true, &config, &m));
    i64 now = clock_unix_timestamp();
    if (m->state == MARKET_STATE_PROPOSED) {
        if (now < m->proposal_ends_at) return ERR_TOO_EARLY;
        if (approved(m)) return ERR_APPROVAL_REACHED;
    } else if (m->state == MARKET_STATE_APPROVED) {
        if (now < m->trading_ends_at) return ERR_TOO_EARLY;
    } else {
        return ERR_INVALID_STATE;
    }
    u64 fees;
    if (!u64_add(config->protocol_fees, m->creation_bond_held, &fees)) return ERR_MATH_OVERFLOW;
    config->protocol_fees = fees;
    u64 forfeited = m->creation_bond_held;
    m->creation_bond_held = 0;
    m->state = MARKET_STATE_CANCELLED;
    emit_market_rejected(&(MarketRejected){.market = *in->accounts[REJECT_MARKET_MARKET].key,
                                           .likes = m->likes, .dislikes = m->dislikes,
                                           .bond_forfeited = forfeited});
    return SUCCESS;
}
