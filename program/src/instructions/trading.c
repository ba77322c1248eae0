/* activate_market, buy, sell: funding a market's pool and trading against it. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/amm.h"
#include "../math/fees.h"
#include "../sol/clock.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../sol/token.h"
#include "../state/pda.h"
#include "../state/vault.h"
#include "../validate.h"
#include "instructions.h"

u64 ix_activate_market(const SolInput *in, const u8 *data, u64 len) {
    ActivateMarketArgs args;
    if (!activate_market_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, ACTIVATE_MARKET_ACCOUNTS));
    const SolAccountInfo *creator = &in->accounts[ACTIVATE_MARKET_CREATOR];
    const SolAccountInfo *account = &in->accounts[ACTIVATE_MARKET_CREATOR_TOKEN];
    const SolAccountInfo *vault = &in->accounts[ACTIVATE_MARKET_VAULT];
    const SolAccountInfo *authority = &in->accounts[ACTIVATE_MARKET_VAULT_AUTHORITY];
    Config *config;
    TRY(load_config(in, &in->accounts[ACTIVATE_MARKET_CONFIG], false, &config));
    Market *m;
    TRY(load_market(in, &in->accounts[ACTIVATE_MARKET_MARKET], true, &m));
    TRY(expect_authority(creator, &m->creator));
    TRY(expect_quote_account(config, account, creator->key));
    TRY(expect_vault(config, vault, authority));
    TRY(expect_program(&in->accounts[ACTIVATE_MARKET_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (m->state != MARKET_STATE_APPROVED) return ERR_INVALID_STATE;
    if (clock_unix_timestamp() >= m->trading_ends_at) return ERR_TOO_LATE;
    if (args.liquidity == 0) return ERR_ZERO_AMOUNT;
    if (args.liquidity > MAX_MARKET_COLLATERAL) return ERR_INVALID_ARGUMENT;

    /* the liquidity in and the creation bond back, netted into one transfer */
    u64 bond = m->creation_bond_held;
    if (args.liquidity > bond)
        TRY(vault_receive(in, &(TokenTransfer){account, vault, creator}, args.liquidity - bond));
    else if (bond > args.liquidity)
        TRY(vault_pay(in, config, &(TokenTransfer){vault, account, authority},
                      bond - args.liquidity));
    m->creation_bond_held = 0;
    m->yes_reserve = m->no_reserve = m->collateral = args.liquidity;
    m->state = MARKET_STATE_ACTIVE;
    emit_market_activated(&(MarketActivated){.market = *in->accounts[ACTIVATE_MARKET_MARKET].key,
                                             .liquidity = args.liquidity,
                                             .trading_ends_at = m->trading_ends_at,
                                             .bond_returned = bond});
    return SUCCESS;
}

/* The pool's reserves of the traded outcome and of the other one. */
static void reserves(Market *m, u8 outcome, u64 **traded, u64 **other) {
    *traded = outcome == OUTCOME_YES ? &m->yes_reserve : &m->no_reserve;
    *other = outcome == OUTCOME_YES ? &m->no_reserve : &m->yes_reserve;
}

/* The checks buy and sell share: config, an Active market still trading, the vault. Pause is
 * buy's own check: selling always works. */
static u64 load_trade(const SolInput *in, u64 config_i, u64 market_i, u64 vault_i,
                      u64 token_program_i, Config **config, Market **m) {
    TRY(load_config(in, &in->accounts[config_i], true, config));
    TRY(load_market(in, &in->accounts[market_i], true, m));
    TRY(expect_vault(*config, &in->accounts[vault_i], NULL));
    TRY(expect_program(&in->accounts[token_program_i], &TOKEN_PROGRAM_ID));
    if ((*m)->state != MARKET_STATE_ACTIVE) return ERR_INVALID_STATE;
    if (clock_unix_timestamp() >= (*m)->trading_ends_at) return ERR_TOO_LATE;
    return SUCCESS;
}

/* The trader's Shares, created on their first buy. */
static u64 load_or_create_shares(const SolInput *in, const SolAccountInfo *trader,
                                 const SolAccountInfo *market, const SolAccountInfo *acc,
                                 Shares **out) {
    if (pubkey_eq(acc->owner, in->program_id))
        return load_shares(in, acc, market->key, trader->key, out);
    PdaSeeds seeds = {.seed = {SEED("shares"), SEED_KEY(market->key), SEED_KEY(trader->key)},
                      .n = 3};
    TRY(pda_create(in, trader, acc, &seeds, SHARES_SPACE));
    Shares *s = (Shares *)acc->data;
    s->discriminator = DISC_SHARES;
    s->market = *market->key;
    s->owner = *trader->key;
    s->bump = seeds.bump;
    *out = s;
    return SUCCESS;
}

u64 ix_buy(const SolInput *in, const u8 *data, u64 len) {
    BuyArgs args;
    if (!buy_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, BUY_ACCOUNTS));
    const SolAccountInfo *trader = &in->accounts[BUY_TRADER];
    const SolAccountInfo *market_acc = &in->accounts[BUY_MARKET];
    const SolAccountInfo *source = &in->accounts[BUY_TRADER_TOKEN];
    TRY(expect_signer(trader));
    Config *config;
    Market *m;
    TRY(load_trade(in, BUY_CONFIG, BUY_MARKET, BUY_VAULT, BUY_TOKEN_PROGRAM, &config, &m));
    TRY(expect_quote_account(config, source, trader->key));
    TRY(expect_program(&in->accounts[BUY_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    if (config->paused) return ERR_PAUSED;
    if (args.outcome > OUTCOME_YES) return ERR_INVALID_ARGUMENT;
    if (args.amount_in == 0) return ERR_ZERO_AMOUNT;

    u64 fee, net, shares_out, collateral, fees;
    if (!fee_ceil(args.amount_in, m->trade_fee_bps, &fee)) return ERR_MATH_OVERFLOW;
    net = args.amount_in - fee;
    u64 *traded, *other;
    reserves(m, args.outcome, &traded, &other);
    u64 new_traded = *traded, new_other = *other;
    if (!amm_buy(&new_traded, &new_other, net, &shares_out) ||
        !u64_add(m->collateral, net, &collateral) ||
        !u64_add(config->protocol_fees, fee, &fees) || collateral > MAX_MARKET_COLLATERAL)
        return ERR_MATH_OVERFLOW;
    if (shares_out == 0) return ERR_ZERO_AMOUNT;
    if (shares_out < args.min_shares_out) return ERR_SLIPPAGE_EXCEEDED;
    Shares *s;
    TRY(load_or_create_shares(in, trader, market_acc, &in->accounts[BUY_SHARES], &s));
    u64 *held = args.outcome == OUTCOME_YES ? &s->yes : &s->no;
    /* held <= total shares of the outcome = collateral, which just fit in a u64 */
    TRY(vault_receive(in, &(TokenTransfer){source, &in->accounts[BUY_VAULT], trader},
                      args.amount_in));
    *held += shares_out;
    *traded = new_traded;
    *other = new_other;
    m->collateral = collateral;
    config->protocol_fees = fees;
    emit_traded(&(Traded){.market = *market_acc->key, .trader = *trader->key,
                          .outcome = args.outcome, .is_buy = true, .amount = args.amount_in,
                          .shares = shares_out, .fee = fee, .yes_reserve = m->yes_reserve,
                          .no_reserve = m->no_reserve});
    return SUCCESS;
}

u64 ix_sell(const SolInput *in, const u8 *data, u64 len) {
    SellArgs args;
    if (!sell_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, SELL_ACCOUNTS));
    const SolAccountInfo *trader = &in->accounts[SELL_TRADER];
    const SolAccountInfo *market_acc = &in->accounts[SELL_MARKET];
    const SolAccountInfo *dest = &in->accounts[SELL_TRADER_TOKEN];
    TRY(expect_signer(trader));
    Config *config;
    Market *m;
    TRY(load_trade(in, SELL_CONFIG, SELL_MARKET, SELL_VAULT, SELL_TOKEN_PROGRAM, &config, &m));
    TRY(expect_vault(config, &in->accounts[SELL_VAULT], &in->accounts[SELL_VAULT_AUTHORITY]));
    TRY(expect_quote_account(config, dest, NULL));
    Shares *s;
    TRY(load_shares(in, &in->accounts[SELL_SHARES], market_acc->key, trader->key, &s));
    if (args.outcome > OUTCOME_YES) return ERR_INVALID_ARGUMENT;
    if (args.shares_in == 0) return ERR_ZERO_AMOUNT;
    u64 *held = args.outcome == OUTCOME_YES ? &s->yes : &s->no;
    if (*held < args.shares_in) return ERR_INSUFFICIENT_SHARES;

    u64 gross, fee, fees;
    u64 *traded, *other;
    reserves(m, args.outcome, &traded, &other);
    u64 new_traded = *traded, new_other = *other;
    if (!amm_sell(&new_traded, &new_other, args.shares_in, &gross) ||
        !fee_ceil(gross, m->trade_fee_bps, &fee) ||
        !u64_add(config->protocol_fees, fee, &fees) || gross > m->collateral)
        return ERR_MATH_OVERFLOW;
    u64 paid = gross - fee;
    if (paid == 0) return ERR_ZERO_AMOUNT;
    if (paid < args.min_amount_out) return ERR_SLIPPAGE_EXCEEDED;
    TokenTransfer payout = {&in->accounts[SELL_VAULT], dest, &in->accounts[SELL_VAULT_AUTHORITY]};
    TRY(vault_pay(in, config, &payout, paid));
    *held -= args.shares_in;
    *traded = new_traded;
    *other = new_other;
    m->collateral -= gross;
    config->protocol_fees = fees;
    emit_traded(&(Traded){.market = *market_acc->key, .trader = *trader->key,
                          .outcome = args.outcome, .is_buy = false, .amount = paid,
                          .shares = args.shares_in, .fee = fee, .yes_reserve = m->yes_reserve,
                          .no_reserve = m->no_reserve});
    return SUCCESS;
}
