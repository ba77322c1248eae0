/* redeem, withdraw_liquidity: paying out a finalized market. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "../state/vault.h"
#include "../validate.h"
#include "instructions.h"

u64 ix_redeem(const SolInput *in, const u8 *data, u64 len) {
    if (!redeem_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, REDEEM_ACCOUNTS));
    const SolAccountInfo *holder = &in->accounts[REDEEM_HOLDER];
    const SolAccountInfo *market_acc = &in->accounts[REDEEM_MARKET];
    const SolAccountInfo *dest = &in->accounts[REDEEM_HOLDER_TOKEN];
    TRY(expect_signer(holder));
    Config *config;
    TRY(load_config(in, &in->accounts[REDEEM_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, market_acc, true, &m));
    Shares *s;
    TRY(load_shares(in, &in->accounts[REDEEM_SHARES], market_acc->key, holder->key, &s));
    TRY(expect_quote_account(config, dest, NULL));
    TRY(expect_vault(config, &in->accounts[REDEEM_VAULT], &in->accounts[REDEEM_VAULT_AUTHORITY]));
    TRY(expect_program(&in->accounts[REDEEM_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (m->state != MARKET_STATE_FINALIZED) return ERR_INVALID_STATE;
    u64 winning = m->final_outcome == OUTCOME_YES ? s->yes : s->no;
    if (winning == 0) return ERR_NOTHING_TO_REDEEM;
    /* total winning shares = collateral, so this never underflows; checked all the same */
    if (winning > m->collateral) return ERR_MATH_OVERFLOW;

    TokenTransfer payout = {&in->accounts[REDEEM_VAULT], dest,
                            &in->accounts[REDEEM_VAULT_AUTHORITY]};
    TRY(vault_pay(in, config, &payout, winning));
    s->yes = s->no = 0;
    m->collateral -= winning;
    emit_redeemed(&(Redeemed){.market = *market_acc->key, .holder = *holder->key,
                              .outcome = m->final_outcome, .shares = winning, .amount = winning});
    return SUCCESS;
}

u64 ix_withdraw_liquidity(const SolInput *in, const u8 *data, u64 len) {
    if (!withdraw_liquidity_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, WITHDRAW_LIQUIDITY_ACCOUNTS));
    const SolAccountInfo *creator = &in->accounts[WITHDRAW_LIQUIDITY_CREATOR];
    const SolAccountInfo *market_acc = &in->accounts[WITHDRAW_LIQUIDITY_MARKET];
    const SolAccountInfo *dest = &in->accounts[WITHDRAW_LIQUIDITY_CREATOR_TOKEN];
    Config *config;
    TRY(load_config(in, &in->accounts[WITHDRAW_LIQUIDITY_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, market_acc, true, &m));
    TRY(expect_authority(creator, &m->creator));
    TRY(expect_quote_account(config, dest, NULL));
    TRY(expect_vault(config, &in->accounts[WITHDRAW_LIQUIDITY_VAULT],
                     &in->accounts[WITHDRAW_LIQUIDITY_VAULT_AUTHORITY]));
    TRY(expect_program(&in->accounts[WITHDRAW_LIQUIDITY_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (m->state != MARKET_STATE_FINALIZED) return ERR_INVALID_STATE;
    /* The pool's reserves are zeroed on withdrawal: that is what makes it happen once. */
    u64 amount = m->final_outcome == OUTCOME_YES ? m->yes_reserve : m->no_reserve;
    if (amount == 0) return ERR_NOTHING_TO_REDEEM;
    if (amount > m->collateral) return ERR_MATH_OVERFLOW;

    TokenTransfer payout = {&in->accounts[WITHDRAW_LIQUIDITY_VAULT], dest,
                            &in->accounts[WITHDRAW_LIQUIDITY_VAULT_AUTHORITY]};
    TRY(vault_pay(in, config, &payout, amount));
    m->yes_reserve = m->no_reserve = 0;
    m->collateral -= amount;
    emit_liquidity_withdrawn(&(LiquidityWithdrawn){.market = *market_acc->key,
                                                   .creator = *creator->key, .amount = amount});
    return SUCCESS;
}
