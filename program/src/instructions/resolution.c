/* propose_resolution, dispute, vote_dispute, finalize_market: fixing a market's outcome. */
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

/* When the dispute window of a market in Resolving closes. */
static u64 dispute_deadline(const Config *config, const Market *m, i64 *deadline) {
    return i64_add(m->resolution_proposed_at, config->dispute_window_secs, deadline)
               ? SUCCESS
               : ERR_MATH_OVERFLOW;
}

u64 ix_propose_resolution(const SolInput *in, const u8 *data, u64 len) {
    ProposeResolutionArgs args;
    if (!propose_resolution_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, PROPOSE_RESOLUTION_ACCOUNTS));
    Config *config;
    TRY(load_config(in, &in->accounts[PROPOSE_RESOLUTION_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, &in->accounts[PROPOSE_RESOLUTION_MARKET], true, &m));
    TRY(expect_authority(&in->accounts[PROPOSE_RESOLUTION_CREATOR], &m->creator));
    if (args.outcome > OUTCOME_YES) return ERR_INVALID_ARGUMENT;
    if (m->state != MARKET_STATE_ACTIVE) return ERR_INVALID_STATE;
    i64 now = clock_unix_timestamp();
    if (now < m->trading_ends_at) return ERR_TOO_EARLY;
    m->state = MARKET_STATE_RESOLVING;
    m->proposed_outcome = args.outcome;
    m->resolution_proposed_at = now;
    i64 deadline;
    TRY(dispute_deadline(config, m, &deadline));
    emit_resolution_proposed(&(ResolutionProposed){
        .market = *in->accounts[PROPOSE_RESOLUTION_MARKET].key, .outcome = args.outcome,
        .resolution_proposed_at = now, .dispute_deadline = deadline});
    return SUCCESS;
}

u64 ix_dispute(const SolInput *in, const u8 *data, u64 len) {
    if (!dispute_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, DISPUTE_ACCOUNTS));
    const SolAccountInfo *disputer = &in->accounts[DISPUTE_DISPUTER];
    const SolAccountInfo *source = &in->accounts[DISPUTE_DISPUTER_TOKEN];
    const SolAccountInfo *vault = &in->accounts[DISPUTE_VAULT];
    TRY(expect_signer(disputer));
    Config *config;
    TRY(load_config(in, &in->accounts[DISPUTE_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, &in->accounts[DISPUTE_MARKET], true, &m));
    TRY(expect_quote_account(config, source, disputer->key));
    TRY(expect_vault(config, vault, NULL));
    TRY(expect_program(&in->accounts[DISPUTE_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (m->state != MARKET_STATE_RESOLVING) return ERR_INVALID_STATE;
    i64 now = clock_unix_timestamp(), deadline, ends_at;
    TRY(dispute_deadline(config, m, &deadline));
    if (now >= deadline) return ERR_TOO_LATE;
    if (!i64_add(now, config->dispute_vote_secs, &ends_at)) return ERR_MATH_OVERFLOW;

    if (config->dispute_bond)
        TRY(vault_receive(in, &(TokenTransfer){source, vault, disputer}, config->dispute_bond));
    m->state = MARKET_STATE_DISPUTED;
    m->disputer = *disputer->key;
    m->bond_held = config->dispute_bond;
    m->dispute_ends_at = ends_at;
    emit_market_disputed(&(MarketDisputed){.market = *in->accounts[DISPUTE_MARKET].key,
                                           .disputer = *disputer->key, .bond = m->bond_held,
                                           .dispute_ends_at = ends_at});
    return SUCCESS;
}

u64 ix_vote_dispute(const SolInput *in, const u8 *data, u64 len) {
    VoteDisputeArgs args;
    if (!vote_dispute_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, VOTE_DISPUTE_ACCOUNTS));
    const SolAccountInfo *voter = &in->accounts[VOTE_DISPUTE_VOTER];
    const SolAccountInfo *market_acc = &in->accounts[VOTE_DISPUTE_MARKET];
    TRY(expect_signer(voter));
    TRY(expect_program(&in->accounts[VOTE_DISPUTE_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    Market *m;
    TRY(load_market(in, market_acc, true, &m));
    if (m->state != MARKET_STATE_DISPUTED) return ERR_INVALID_STATE;
    if (clock_unix_timestamp() >= m->dispute_ends_at) return ERR_TOO_LATE;
    /* the tallies' sum stays within a u64 (math/votes.h relies on it) */
    if (m->agree + m->disagree == U64_MAX) return ERR_MATH_OVERFLOW;

    TRY(vote_record(in, &(VoteAccounts){voter, market_acc, &in->accounts[VOTE_DISPUTE_VOTE]},
                    VOTE_KIND_DISPUTE, args.agree));
    if (args.agree)
        m->agree += 1;
    else
        m->disagree += 1;
    emit_dispute_voted(&(DisputeVoted){.market = *market_acc->key, .voter = *voter->key,
                                       .agree = args.agree, .agree_total = m->agree,
                                       .disagree_total = m->disagree});
    return SUCCESS;
}

u64 ix_finalize_market(const SolInput *in, const u8 *data, u64 len) {
    if (!finalize_market_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, FINALIZE_MARKET_ACCOUNTS));
    const SolAccountInfo *vault = &in->accounts[FINALIZE_MARKET_VAULT];
    const SolAccountInfo *authority = &in->accounts[FINALIZE_MARKET_VAULT_AUTHORITY];
    Config *config;
    TRY(load_config(in, &in->accounts[FINALIZE_MARKET_CONFIG], true, &config));
    Market *m;
    TRY(load_market(in, &in->accounts[FINALIZE_MARKET_MARKET], true, &m));
    TRY(expect_vault(config, vault, authority));
    TRY(expect_program(&in->accounts[FINALIZE_MARKET_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    i64 now = clock_unix_timestamp();
    bool overturned = false;
    if (m->state == MARKET_STATE_RESOLVING) {
        i64 deadline;
        TRY(dispute_deadline(config, m, &deadline));
        if (now < deadline) return ERR_TOO_EARLY;
    } else if (m->state == MARKET_STATE_DISPUTED) {
        if (now < m->dispute_ends_at) return ERR_TOO_EARLY;
        overturned = dispute_overturned(m->agree, m->disagree, config->dispute_overturn_bps);
    } else {
        return ERR_INVALID_STATE;
    }

    /* The bond goes back to a disputer who was right, else to the protocol. */
    if (m->bond_held && overturned) {
        const SolAccountInfo *dest = &in->accounts[FINALIZE_MARKET_DISPUTER_TOKEN];
        TRY(expect_quote_account(config, dest, &m->disputer));
        TRY(vault_pay(in, config, &(TokenTransfer){vault, dest, authority}, m->bond_held));
    } else if (m->bond_held) {
        if (!u64_add(config->protocol_fees, m->bond_held, &config->protocol_fees))
            return ERR_MATH_OVERFLOW;
    }
    m->bond_held = 0;
    m->final_outcome = overturned ? (u8)(1 - m->proposed_outcome) : m->proposed_outcome;
    m->state = MARKET_STATE_FINALIZED;
    emit_market_finalized(&(MarketFinalized){.market = *in->accounts[FINALIZE_MARKET_MARKET].key,
                                             .outcome = m->final_outcome,
                                             .overturned = overturned, .agree = m->agree,
                                             .disagree = m->disagree});
    return SUCCESS;
}
