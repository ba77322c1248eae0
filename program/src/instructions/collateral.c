/* deposit, withdraw, close_position_account: a position's collateral and its account. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/perp.h"
#include "../sol/clock.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../state/pda.h"
#include "../state/vault.h"
#include "../validate.h"
#include "instructions.h"
#include "perp_common.h"

/* The owner's Position in the market, created on their first deposit. */
static u64 load_or_create_position(const SolInput *in, const SolAccountInfo *owner,
                                   const SolAccountInfo *market, const SolAccountInfo *acc,
                                   Position **out) {
    if (pubkey_eq(acc->owner, in->program_id))
        return load_position(in, acc, market->key, owner->key, out);
    PdaSeeds seeds = {.seed = {SEED("position"), SEED_KEY(market->key), SEED_KEY(owner->key)},
                      .n = 3};
    TRY(pda_create(in, owner, acc, &seeds, POSITION_SPACE));
    Position *p = (Position *)acc->data;
    p->discriminator = DISC_POSITION;
    p->perp_market = *market->key;
    p->owner = *owner->key;
    p->bump = seeds.bump;
    *out = p;
    return SUCCESS;
}

u64 ix_deposit(const SolInput *in, const u8 *data, u64 len) {
    DepositArgs args;
    if (!deposit_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, DEPOSIT_ACCOUNTS));
    const SolAccountInfo *owner = &in->accounts[DEPOSIT_OWNER];
    const SolAccountInfo *market_acc = &in->accounts[DEPOSIT_PERP_MARKET];
    const SolAccountInfo *position_acc = &in->accounts[DEPOSIT_POSITION];
    const SolAccountInfo *source = &in->accounts[DEPOSIT_OWNER_TOKEN];
    const SolAccountInfo *vault = &in->accounts[DEPOSIT_VAULT];
    TRY(expect_signer(owner));
    Config *config;
    TRY(load_config(in, &in->accounts[DEPOSIT_CONFIG], false, &config));
    PerpMarket *market;
    TRY(load_perp_market(in, market_acc, false, &market));
    TRY(expect_quote_account(config, source, owner->key));
    TRY(expect_vault(config, vault, NULL));
    TRY(expect_program(&in->accounts[DEPOSIT_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    TRY(expect_program(&in->accounts[DEPOSIT_SYSTEM_PROGRAM], &SYSTEM_PROGRAM_ID));
    if (config->paused) return ERR_PAUSED;
    if (args.amount == 0) return ERR_ZERO_AMOUNT;
    Position *p;
    TRY(load_or_create_position(in, owner, market_acc, position_acc, &p));
    /* bounded where it enters, so that no later valuation of the position can overflow;
     * deposit reads no funding (it moves neither the index nor the open interest), so it
     * needs no oracle and accrues nothing */
    u64 collateral;
    if (!u64_add(p->collateral, args.amount, &collateral) || collateral > PERP_MAX_COLLATERAL)
        return ERR_MATH_OVERFLOW;
    TRY(vault_receive(in, &(TokenTransfer){source, vault, owner}, args.amount));
    p->collateral = collateral;
    emit_deposited(&(Deposited){.position = *position_acc->key, .owner = *owner->key,
                                .perp_market = *market_acc->key, .amount = args.amount,
                                .collateral = collateral});
    return SUCCESS;
}

/* While a position is open, what stays must cover initial margin at the price closing would
 * trade at, counting unrealized PnL only when it is a loss, and funding only when owed. It adds
 * risk as opening does, so the price must be as fresh as opening needs. */
static u64 check_margin_after(PerpMarket *market, const Position *p,
                              const SolAccountInfo *oracle, u64 amount) {
    SolClock clock;
    clock_now(&clock);
    OracleQuote q;
    TRY(perp_quote(market, oracle, &clock, true, &q));
    perp_accrue(market, q.price, clock.unix_timestamp);
    PerpValue v;
    u64 required;
    if (!perp_value(p, perp_fill(&q, p->side == SIDE_SHORT),
                    perp_side_index(market, p->side), 0, &v) ||
        !perp_bps_ceil(v.notional, market->initial_margin_bps, &required))
        return ERR_MATH_OVERFLOW;
    i64 left = (i64)(p->collateral - amount) + (v.pnl < 0 ? v.pnl : 0) - (v.owed > 0 ? v.owed : 0);
    return left >= 0 && (u64)left >= required ? SUCCESS : ERR_INSUFFICIENT_COLLATERAL;
}

u64 ix_withdraw(const SolInput *in, const u8 *data, u64 len) {
    WithdrawArgs args;
    if (!withdraw_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, WITHDRAW_ACCOUNTS));
    const SolAccountInfo *owner = &in->accounts[WITHDRAW_OWNER];
    const SolAccountInfo *market_acc = &in->accounts[WITHDRAW_PERP_MARKET];
    const SolAccountInfo *position_acc = &in->accounts[WITHDRAW_POSITION];
    const SolAccountInfo *oracle = &in->accounts[WITHDRAW_ORACLE];
    const SolAccountInfo *dest = &in->accounts[WITHDRAW_OWNER_TOKEN];
    TRY(expect_signer(owner));
    Config *config;
    TRY(load_config(in, &in->accounts[WITHDRAW_CONFIG], false, &config));
    PerpMarket *market;
    TRY(load_perp_market(in, market_acc, true, &market));
    Position *p;
    TRY(load_position(in, position_acc, market_acc->key, owner->key, &p));
    TRY(expect_quote_account(config, dest, NULL));
    TRY(expect_vault(config, &in->accounts[WITHDRAW_VAULT],
                     &in->accounts[WITHDRAW_VAULT_AUTHORITY]));
    TRY(expect_program(&in->accounts[WITHDRAW_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (!pubkey_eq(oracle->key, &market->oracle)) return ERR_ORACLE_MISMATCH;
    if (args.amount == 0) return ERR_ZERO_AMOUNT;
    if (args.amount > p->collateral) return ERR_INSUFFICIENT_COLLATERAL;
    if (p->side != SIDE_FLAT) TRY(check_margin_after(market, p, oracle, args.amount));

    TokenTransfer payout = {&in->accounts[WITHDRAW_VAULT], dest,
                            &in->accounts[WITHDRAW_VAULT_AUTHORITY]};
    TRY(vault_pay(in, config, &payout, args.amount));
    p->collateral -= args.amount;
    emit_withdrawn(&(Withdrawn){.position = *position_acc->key, .owner = *owner->key,
                                .perp_market = *market_acc->key, .amount = args.amount,
                                .collateral = p->collateral});
    return SUCCESS;
}

u64 ix_close_position_account(const SolInput *in, const u8 *data, u64 len) {
    if (!close_position_account_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, CLOSE_POSITION_ACCOUNT_ACCOUNTS));
    const SolAccountInfo *owner = &in->accounts[CLOSE_POSITION_ACCOUNT_OWNER];
    const SolAccountInfo *market_acc = &in->accounts[CLOSE_POSITION_ACCOUNT_PERP_MARKET];
    const SolAccountInfo *position_acc = &in->accounts[CLOSE_POSITION_ACCOUNT_POSITION];
    TRY(expect_signer(owner));
    TRY(expect_writable(owner));
    PerpMarket *market;
    TRY(load_perp_market(in, market_acc, false, &market));
    Position *p;
    TRY(load_position(in, position_acc, market_acc->key, owner->key, &p));
    if (p->side != SIDE_FLAT) return ERR_POSITION_OPEN;
    if (p->collateral != 0) return ERR_INSUFFICIENT_COLLATERAL;
    u64 lamports = *position_acc->lamports, after;
    if (!u64_add(*owner->lamports, lamports, &after)) return ERR_MATH_OVERFLOW;
    *owner->lamports = after;
    *position_acc->lamports = 0;
    /* handed back to the system program, empty and zeroed, as Anchor's close does: the account
     * can never be read as a Position again, even within this transaction, and a later
     * deposit creates it anew */
    for (u64 i = 0; i < position_acc->data_len; i++) position_acc->data[i] = 0;
    /* the serialized data length sits just before the data (the loader reads it back) */
    *(u64 *)(position_acc->data - sizeof(u64)) = 0;
    *position_acc->owner = SYSTEM_PROGRAM_ID;
    emit_position_account_closed(&(PositionAccountClosed){
        .position = *position_acc->key, .owner = *owner->key, .perp_market = *market_acc->key,
        .lamports = lamports});
    return SUCCESS;
}
