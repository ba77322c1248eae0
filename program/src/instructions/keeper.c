/* liquidate, update_funding: what keepers call to keep the perps healthy. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/perp.h"
#include "../sol/clock.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"
#include "../state/vault.h"
#include "../validate.h"
#include "instructions.h"

u64 ix_liquidate(const SolInput *in, const u8 *data, u64 len) {
    if (!liquidate_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, LIQUIDATE_ACCOUNTS));
    const SolAccountInfo *liquidator = &in->accounts[LIQUIDATE_LIQUIDATOR];
    const SolAccountInfo *market_acc = &in->accounts[LIQUIDATE_PERP_MARKET];
    const SolAccountInfo *position_acc = &in->accounts[LIQUIDATE_POSITION];
    const SolAccountInfo *dest = &in->accounts[LIQUIDATE_LIQUIDATOR_TOKEN];
    TRY(expect_signer(liquidator));
    Config *config;
    TRY(load_config(in, &in->accounts[LIQUIDATE_CONFIG], true, &config));
    PerpMarket *m;
    TRY(load_perp_market(in, market_acc, true, &m));
    Position *p;
    TRY(load_position(in, position_acc, market_acc->key, NULL, &p));
    TRY(expect_quote_account(config, dest, NULL));
    TRY(expect_vault(config, &in->accounts[LIQUIDATE_VAULT],
                     &in->accounts[LIQUIDATE_VAULT_AUTHORITY]));
    TRY(expect_program(&in->accounts[LIQUIDATE_TOKEN_PROGRAM], &TOKEN_PROGRAM_ID));
    if (p->side == SIDE_FLAT) return ERR_POSITION_FLAT;
    SolClock clock;
    clock_now(&clock);
    u64 price;
    TRY(load_oracle_price(config, m, &in->accounts[LIQUIDATE_ORACLE], clock.slot, &price));

    i64 pnl, owed, equity, gain;
    u64 notional, maintenance, reward;
    if (!perp_pnl(p->side, p->size, p->entry_price, price, &pnl) ||
        !perp_funding_owed(p->side, p->size, m->cumulative_funding, p->funding_snapshot,
                           &owed) ||
        !i64_sub(pnl, owed, &gain) || !perp_equity(p->collateral, pnl, owed, &equity) ||
        !perp_notional(p->size, price, &notional) ||
        !perp_margin(notional, m->maintenance_margin_bps, &maintenance))
        return ERR_MATH_OVERFLOW;
    if (equity >= 0 && (u64)equity >= maintenance) return ERR_NOT_LIQUIDATABLE;
    Settlement s = {p->collateral, config->perp_pool, config->insurance_balance, 0};
    if (!perp_settle(&s, gain)) return ERR_INSUFFICIENT_LIQUIDITY;
    if (!perp_liquidation_reward(notional, m->liquidation_fee_bps, s.collateral, &reward))
        return ERR_MATH_OVERFLOW;

    if (reward) {
        TokenTransfer payout = {&in->accounts[LIQUIDATE_VAULT], dest,
                                &in->accounts[LIQUIDATE_VAULT_AUTHORITY]};
        TRY(vault_pay(in, config, &payout, reward));
    }
    *(p->side == SIDE_LONG ? &m->long_oi : &m->short_oi) -= p->size;
    config->perp_pool = s.pool;
    config->insurance_balance = s.insurance;
    p->collateral = s.collateral - reward;
    emit_position_liquidated(&(PositionLiquidated){
        .position = *position_acc->key, .owner = p->owner, .perp_market = *market_acc->key,
        .liquidator = *liquidator->key, .side = p->side, .size = p->size,
        .entry_price = p->entry_price, .price = price, .pnl = pnl, .funding = owed,
        .equity = equity, .maintenance = maintenance, .reward = reward,
        .collateral = p->collateral, .bad_debt = s.bad_debt, .long_oi = m->long_oi,
        .short_oi = m->short_oi});
    p->side = SIDE_FLAT;
    p->size = p->entry_price = 0;
    p->funding_snapshot = 0;
    return SUCCESS;
}

u64 ix_update_funding(const SolInput *in, const u8 *data, u64 len) {
    if (!update_funding_args_parse(data, len)) return ERR_INVALID_INSTRUCTION_DATA;
    TRY(expect_accounts(in, UPDATE_FUNDING_ACCOUNTS));
    const SolAccountInfo *market_acc = &in->accounts[UPDATE_FUNDING_PERP_MARKET];
    Config *config;
    TRY(load_config(in, &in->accounts[UPDATE_FUNDING_CONFIG], false, &config));
    PerpMarket *m;
    TRY(load_perp_market(in, market_acc, true, &m));
    SolClock clock;
    clock_now(&clock);
    i64 due;
    if (!i64_add(m->last_funding_ts, m->funding_interval_secs, &due)) return ERR_MATH_OVERFLOW;
    if (clock.unix_timestamp < due) return ERR_TOO_EARLY;
    u64 price;
    TRY(load_oracle_price(config, m, &in->accounts[UPDATE_FUNDING_ORACLE], clock.slot, &price));

    /* every interval that ended since the last update, so a late keeper loses nobody's
     * funding; the schedule stays on its grid */
    u64 intervals = (u64)(clock.unix_timestamp - m->last_funding_ts) / (u64)m->funding_interval_secs;
    i64 rate, delta, index, elapsed, last;
    if (!perp_funding_rate(m->long_oi, m->short_oi, m->max_funding_bps, &rate) ||
        !perp_funding_delta(intervals, rate, price, &delta) ||
        !i64_add(m->cumulative_funding, delta, &index) ||
        !i64_mul((i64)intervals, m->funding_interval_secs, &elapsed) ||
        !i64_add(m->last_funding_ts, elapsed, &last))
        return ERR_MATH_OVERFLOW;
    m->cumulative_funding = index;
    m->last_funding_ts = last;
    emit_funding_updated(&(FundingUpdated){
        .perp_market = *market_acc->key, .rate_bps = rate, .intervals = intervals,
        .price = price, .cumulative_funding = index, .last_funding_ts = last,
        .long_oi = m->long_oi, .short_oi = m->short_oi});
    return SUCCESS;
}
