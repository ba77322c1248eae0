/* claim_vote, claim_bond, close_shares: taking back what a market held for its voters,
 * bonders and holders, and the rent of accounts no longer needed. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/checked.h"
#include "../math/votes.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "../state/reclaim.h"
#include "../state/vault.h"
#include "../state/vote.h"
#include "../validate.h"
#include "instructions.h"

/* What claim_vote pays for `v`, once its question is decided (InvalidState before): a
 * proposal vote its stake (never slashed), a dispute vote its stake plus its share of the
 * slashed pool when its side won, minus the slash when it lost (math/votes.h). */
static u64 vote_payout(const Market *m, const Vote *v, u64 *paid) {
    if (v->kind == VOTE_KIND_PROPOSAL) {
        if (m->state == MARKET_STATE_PROPOSED) return ERR_INVALID_STATE;
        *paid = v->stake;
        return SUCCESS;
    }
    if (m->state != MARKET_STATE_FINALIZED) return ERR_INVALID_STATE;
    bool agree_won = !m->overturned;
    bool won = (v->choice != 0) == agree_won;
    u64 winners = agree_won ? m->agree : m->disagree;
    u64 losers = agree_won ? m->disagree : m->agree;
    return dispute_claim(v->stake, won, winners, losers, m->vote_slash_bps, paid)
               ? SUCCESS
               : ERR_MATH_OVERFLOW;
}

u64 ix_claim_vote(const SolInput *in, const u8 *data, u64 len) {
    if (!claim_vote_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, CLAIM_VOTE_ACCOUNTS));
    const SolAccountInfo *voter = &in->accounts[CLAIM_VOTE_VOTER];
    const SolAccountInfo *market_acc = &in->accounts[CLAIM_VOTE_MARKET];
    const SolAccountInfo *vote_acc = &in->accounts[CLAIM_VOTE_VOTE];
    const SolAccountInfo *dest = &in->accounts[CLAIM_VOTE_VOTER_TOKEN];
    const SolAccountInfo *vault = &in->accounts[CLAIM_VOTE_VAULT];
    const SolAccountInfo *authority = &in->accounts[CLAIM_VOTE_VAULT_AUTHORITY];
    TRY(expect_signer(voter));
    TRY(expect_writable(voter));
    Config *config;
    TRY(load_config(in, &in->accounts[CLAIM_VOTE_CONFIG], true, &config));
    Market *m;
    TRY(load_market(in, market_acc, true, &m));
    Vote *v;
    TRY(vote_load(in, vote_acc, market_acc->key, voter->key, &v));
    TRY(expect_quote_account(config, dest, NULL));
    TRY(expect_vault(config, vault, authority));
    TRY(expect_program(&in->accounts[CLAIM_VOTE_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    u64 paid;
    TRY(vote_payout(m, v, &paid));
    /* what the claims pay never exceeds what the votes locked (math/votes.h) */
    if (paid > m->stake_held || m->votes_open == 0) return ERR_MATH_OVERFLOW;
    u64 held = m->stake_held - paid, open = m->votes_open - 1, fees = config->protocol_fees;
    /* the last claim of a closed market leaves the rounding dust to the protocol */
    bool closed = m->state == MARKET_STATE_FINALIZED || m->state == MARKET_STATE_CANCELLED;
    if (open == 0 && closed) {
        if (!u64_add(fees, held, &fees)) return ERR_MATH_OVERFLOW;
        held = 0;
    }

    if (paid) TRY(vault_pay(in, config, &(TokenTransfer){vault, dest, authority}, paid));
    VoteClaimed event = {.market = *market_acc->key, .voter = *voter->key, .kind = v->kind,
                         .choice = v->choice, .stake = v->stake, .amount = paid};
    TRY(account_reclaim(vote_acc, voter));
    m->stake_held = held;
    m->votes_open = open;
    config->protocol_fees = fees;
    emit_vote_claimed(&event);
    return SUCCESS;
}

u64 ix_claim_bond(const SolInput *in, const u8 *data, u64 len) {
    if (!claim_bond_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, CLAIM_BOND_ACCOUNTS));
    const SolAccountInfo *claimant = &in->accounts[CLAIM_BOND_CLAIMANT];
    const SolAccountInfo *market_acc = &in->accounts[CLAIM_BOND_MARKET];
    const SolAccountInfo *dest = &in->accounts[CLAIM_BOND_CLAIMANT_TOKEN];
    const SolAccountInfo *vault = &in->accounts[CLAIM_BOND_VAULT];
    const SolAccountInfo *authority = &in->accounts[CLAIM_BOND_VAULT_AUTHORITY];
    TRY(expect_signer(claimant));
    Config *config;
    TRY(load_config(in, &in->accounts[CLAIM_BOND_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, market_acc, true, &m));
    /* any quote account the claimant names: a frozen one of its own never strands the bond */
    TRY(expect_quote_account(config, dest, NULL));
    TRY(expect_vault(config, vault, authority));
    TRY(expect_program(&in->accounts[CLAIM_BOND_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (m->state != MARKET_STATE_FINALIZED) return ERR_INVALID_STATE;
    bool is_proposer = pubkey_eq(claimant->key, &m->proposer);
    bool is_disputer = m->disputed && pubkey_eq(claimant->key, &m->disputer);
    if (!is_proposer && !is_disputer) return ERR_UNAUTHORIZED;
    u64 amount = 0;
    if ((is_proposer && !u64_add(amount, m->proposer_bond, &amount)) ||
        (is_disputer && !u64_add(amount, m->disputer_bond, &amount)))
        return ERR_MATH_OVERFLOW;
    if (amount == 0) return ERR_NOTHING_TO_REDEEM;

    TRY(vault_pay(in, config, &(TokenTransfer){vault, dest, authority}, amount));
    if (is_proposer) m->proposer_bond = 0;
    if (is_disputer) m->disputer_bond = 0;
    emit_bond_claimed(&(BondClaimed){.market = *market_acc->key, .claimant = *claimant->key,
                                     .amount = amount});
    return SUCCESS;
}

u64 ix_close_shares(const SolInput *in, const u8 *data, u64 len) {
    if (!close_shares_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, CLOSE_SHARES_ACCOUNTS));
    const SolAccountInfo *owner = &in->accounts[CLOSE_SHARES_OWNER];
    const SolAccountInfo *market_acc = &in->accounts[CLOSE_SHARES_MARKET];
    const SolAccountInfo *shares_acc = &in->accounts[CLOSE_SHARES_SHARES];
    TRY(expect_signer(owner));
    Market *m;
    TRY(load_market(in, market_acc, false, &m));
    Shares *s;
    TRY(load_shares(in, shares_acc, market_acc->key, owner->key, &s));
    /* nothing of value: no shares at all, or only losing shares of a finalized market */
    bool finalized = m->state == MARKET_STATE_FINALIZED;
    u64 winning = m->final_outcome == OUTCOME_YES ? s->yes : s->no;
    if (!(s->yes == 0 && s->no == 0) && !(finalized && winning == 0))
        return ERR_INSUFFICIENT_SHARES;

    TRY(account_reclaim(shares_acc, owner));
    emit_shares_closed(&(SharesClosed){.market = *market_acc->key, .owner = *owner->key});
    return SUCCESS;
}
