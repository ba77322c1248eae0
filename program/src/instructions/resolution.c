/* propose_resolution, dispute, vote_dispute, finalize_market: fixing a market's outcome.
 *
 * No instruction here pays out: finalize_market only credits the bonds to the winning
 * bonder (claim_bond) and the stakes to the voters (claim_vote), so that no party's frozen or
 * closed token account can ever block a market's finalization. */
#include "../generated/events.h"
#include "../generated/instructions.h"
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

/* When the dispute window of a market in Resolving closes. Deadlines are bounded at
 * creation (MAX_MARKET_SECS, windows of at most a year), so the sums fit; checked all the
 * same. */
static u64 dispute_deadline(const Market *m, i64 *deadline) {
    return i64_add(m->resolution_proposed_at, m->dispute_window_secs, deadline)
               ? SUCCESS
               : ERR_MATH_OVERFLOW;
}

/* A bonder's accounts: the signer and its own quote account paying into the vault. */
static u64 expect_bonder(const SolInput *in, const Config *config, const SolAccountInfo *signer,
                         const SolAccountInfo *source, const SolAccountInfo *vault,
                         const SolAccountInfo *token_program) {
    TRY(expect_signer(signer));
    TRY(expect_quote_account(config, source, signer->key));
    TRY(expect_vault(config, vault, NULL));
    (void)in;
    return expect_program(token_program, &TOKEN_PROGRAM_ID);
}

u64 ix_propose_resolution(const SolInput *in, const u8 *data, u64 len) {
    ProposeResolutionArgs args;
    if (!propose_resolution_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, PROPOSE_RESOLUTION_ACCOUNTS));
    const SolAccountInfo *proposer = &in->accounts[PROPOSE_RESOLUTION_PROPOSER];
    const SolAccountInfo *source = &in->accounts[PROPOSE_RESOLUTION_PROPOSER_TOKEN];
    const SolAccountInfo *vault = &in->accounts[PROPOSE_RESOLUTION_VAULT];
    Config *config;
    TRY(load_config(in, &in->accounts[PROPOSE_RESOLUTION_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, &in->accounts[PROPOSE_RESOLUTION_MARKET], true, &m));
    TRY(expect_bonder(in, config, proposer, source, vault,
                      &in->accounts[PROPOSE_RESOLUTION_TOKEN_PROGRAM]));
    if (args.outcome > OUTCOME_YES) return ERR_INVALID_ARGUMENT;
    if (m->state != MARKET_STATE_ACTIVE) return ERR_INVALID_STATE;
    i64 now = clock_unix_timestamp(), creator_until, deadline;
    if (now < m->trading_ends_at) return ERR_TOO_EARLY;
    if (!i64_add(m->trading_ends_at, m->creator_resolve_secs, &creator_until) ||
        !i64_add(now, m->dispute_window_secs, &deadline))
        return ERR_MATH_OVERFLOW;
    /* the creator's window first; after it anyone, so no market stays unresolvable */
    if (now < creator_until && !pubkey_eq(proposer->key, &m->creator)) return ERR_UNAUTHORIZED;

    TRY(vault_receive(in, &(TokenTransfer){source, vault, proposer}, m->resolution_bond));
    m->state = MARKET_STATE_RESOLVING;
    m->proposed_outcome = args.outcome;
    m->resolution_proposed_at = now;
    m->proposer = *proposer->key;
    m->proposer_bond = m->resolution_bond;
    emit_resolution_proposed(&(ResolutionProposed){
        .market = *in->accounts[PROPOSE_RESOLUTION_MARKET].key, .proposer = *proposer->key,
        .outcome = args.outcome, .bond = m->resolution_bond, .resolution_proposed_at = now,
        .dispute_deadline = deadline});
    return SUCCESS;
}

u64 ix_dispute(const SolInput *in, const u8 *data, u64 len) {
    if (!dispute_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, DISPUTE_ACCOUNTS));
    const SolAccountInfo *disputer = &in->accounts[DISPUTE_DISPUTER];
    const SolAccountInfo *source = &in->accounts[DISPUTE_DISPUTER_TOKEN];
    const SolAccountInfo *vault = &in->accounts[DISPUTE_VAULT];
    Config *config;
    TRY(load_config(in, &in->accounts[DISPUTE_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, &in->accounts[DISPUTE_MARKET], true, &m));
    TRY(expect_bonder(in, config, disputer, source, vault, &in->accounts[DISPUTE_TOKEN_PROGRAM]));
    if (m->state != MARKET_STATE_RESOLVING) return ERR_INVALID_STATE;
    i64 now = clock_unix_timestamp(), deadline, ends_at;
    TRY(dispute_deadline(m, &deadline));
    if (now >= deadline) return ERR_TOO_LATE;
    if (!i64_add(now, m->dispute_vote_secs, &ends_at)) return ERR_MATH_OVERFLOW;

    TRY(vault_receive(in, &(TokenTransfer){source, vault, disputer}, m->dispute_bond));
    m->state = MARKET_STATE_DISPUTED;
    m->disputed = true;
    m->disputer = *disputer->key;
    m->disputer_bond = m->dispute_bond;
    m->dispute_ends_at = ends_at;
    emit_market_disputed(&(MarketDisputed){.market = *in->accounts[DISPUTE_MARKET].key,
                                           .disputer = *disputer->key, .bond = m->dispute_bond,
                                           .dispute_ends_at = ends_at});
    return SUCCESS;
}

u64 ix_vote_dispute(const SolInput *in, const u8 *data, u64 len) {
    VoteDisputeArgs args;
    if (!vote_dispute_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, VOTE_DISPUTE_ACCOUNTS));
    const SolAccountInfo *voter = &in->accounts[VOTE_DISPUTE_VOTER];
    const SolAccountInfo *market_acc = &in->accounts[VOTE_DISPUTE_MARKET];
    Config *config;
    TRY(load_config(in, &in->accounts[VOTE_DISPUTE_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, market_acc, true, &m));
    VoteCast a = {voter,
                      market_acc,
                      &in->accounts[VOTE_DISPUTE_VOTE],
                      &in->accounts[VOTE_DISPUTE_VOTER_TOKEN],
                      &in->accounts[VOTE_DISPUTE_VAULT],
                      &in->accounts[VOTE_DISPUTE_TOKEN_PROGRAM],
                      &in->accounts[VOTE_DISPUTE_SYSTEM_PROGRAM],
                      VOTE_KIND_DISPUTE,
                      args.agree,
                      args.stake};
    if (m->state != MARKET_STATE_DISPUTED) return ERR_INVALID_STATE;
    if (clock_unix_timestamp() >= m->dispute_ends_at) return ERR_TOO_LATE;

    TRY(vote_cast(in, config, &a, m));
    emit_dispute_voted(&(DisputeVoted){.market = *market_acc->key, .voter = *voter->key,
                                       .agree = args.agree, .stake = args.stake,
                                       .agree_total = m->agree, .disagree_total = m->disagree});
    return SUCCESS;
}

u64 ix_finalize_market(const SolInput *in, const u8 *data, u64 len) {
    if (!finalize_market_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, FINALIZE_MARKET_ACCOUNTS));
    Config *config;
    TRY(load_config(in, &in->accounts[FINALIZE_MARKET_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, &in->accounts[FINALIZE_MARKET_MARKET], true, &m));
    i64 now = clock_unix_timestamp();
    bool overturned = false;
    u64 quorum = 0;
    if (m->state == MARKET_STATE_RESOLVING) {
        i64 deadline;
        TRY(dispute_deadline(m, &deadline));
        if (now < deadline) return ERR_TOO_EARLY;
    } else if (m->state == MARKET_STATE_DISPUTED) {
        if (now < m->dispute_ends_at) return ERR_TOO_EARLY;
        if (!dispute_quorum(m->collateral, m->dispute_quorum_bps, m->min_dispute_quorum,
                            &quorum))
            return ERR_MATH_OVERFLOW;
        overturned = dispute_overturned(m->agree, m->disagree, quorum, m->dispute_overturn_bps);
    } else {
        return ERR_INVALID_STATE;
    }

    /* The losing bonder's bond goes to the winning one; both bonds are at most MAX_BOND. */
    u64 both;
    if (!u64_add(m->proposer_bond, m->disputer_bond, &both)) return ERR_MATH_OVERFLOW;
    if (m->state == MARKET_STATE_DISPUTED) {
        m->proposer_bond = overturned ? 0 : both;
        m->disputer_bond = overturned ? both : 0;
    }
    m->overturned = overturned;
    m->final_outcome = overturned ? (u8)(1 - m->proposed_outcome) : m->proposed_outcome;
    m->state = MARKET_STATE_FINALIZED;
    emit_market_finalized(&(MarketFinalized){.market = *in->accounts[FINALIZE_MARKET_MARKET].key,
                                             .outcome = m->final_outcome,
                                             .overturned = overturned, .agree = m->agree,
                                             .disagree = m->disagree, .quorum = quorum,
                                             .proposer_bond = m->proposer_bond,
                                             .disputer_bond = m->disputer_bond});
    return SUCCESS;
}
