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
#include "perp_common.h"

/* Bad debt neither insurance nor the pool's free liquidity covered is charged to the profits
 * of the other side's open positions, pro rata to size; what that side cannot be charged (all
 * of it with no position on the other side, the excess over what a dust open interest could
 * ever pay) the pool takes (its cash is unaffected: it only receives less). */
static void socialize(PerpMarket *m, u8 side, PerpBook *b) {
    if (b->socialized == 0) return;
    u8 other = side == SIDE_LONG ? SIDE_SHORT : SIDE_LONG;
    u64 oi = *perp_side_oi(m, other);
    if (oi == 0) {
        b->pool_paid += b->socialized;
        b->socialized = 0;
        return;
    }
    u64 *index = other == SIDE_LONG ? &m->loss_index_long : &m->loss_index_short;
    u64 charged = perp_loss_index_add(index, b->socialized, oi);
    b->pool_paid += b->socialized - charged; /* both parts of the bad debt */
    b->socialized = charged;
}

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
    OracleQuote q;
    TRY(perp_quote(m, &in->accounts[LIQUIDATE_ORACLE], &clock, false, &q));

    /* valued where closing would trade: a long sells at price - conf, a short buys at
     * price + conf; funding accrued to now; profit capped at the reserve */
    perp_accrue(m, q.price, clock.unix_timestamp);
    u64 mark = perp_fill(&q, p->side == SIDE_SHORT);
    /* health is judged after the profit pays the side's socialized losses */
    u64 share = perp_loss_share(p->size, perp_side_loss_index(m, p->side), p->loss_snapshot);
    PerpValue v;
    u64 maintenance, penalty, reward, fee;
    if (!perp_value(p, mark, perp_side_index(m, p->side), share, &v) ||
        !perp_bps_ceil(v.notional, m->maintenance_margin_bps, &maintenance) ||
        !perp_liquidation_reward(v.notional, m->liquidation_fee_bps, m->liquidator_share_bps,
                                 &penalty, &reward) ||
        !perp_bps_ceil(v.notional, m->taker_fee_bps, &fee))
        return ERR_MATH_OVERFLOW;
    if (v.equity >= 0 && (u64)v.equity >= maintenance) return ERR_NOT_LIQUIDATABLE;
    PerpBook b = {.collateral = p->collateral, .pool = config->perp_pool,
                  .insurance = config->insurance_balance};
    u64 *side_oi = perp_side_oi(m, p->side), oi;
    if (!u64_sub(config->perp_pool_reserved, p->reserve, &b.reserved) ||
        !u64_sub(*side_oi, p->size, &oi) || !perp_settle(&b, v.gain, share))
        return ERR_MATH_OVERFLOW;
    u64 insurance_share;
    u64 paid = perp_penalize(&b, penalty, reward, fee, &insurance_share);
    *side_oi = oi;
    socialize(m, p->side, &b);

    if (paid) {
        TokenTransfer payout = {&in->accounts[LIQUIDATE_VAULT], dest,
                                &in->accounts[LIQUIDATE_VAULT_AUTHORITY]};
        TRY(vault_pay(in, config, &payout, paid));
    }
    config->perp_pool = b.pool;
    config->perp_pool_reserved = b.reserved;
    config->insurance_balance = b.insurance;
    p->collateral = b.collateral;
    emit_position_liquidated(&(PositionLiquidated){
        .position = *position_acc->key, .owner = p->owner, .perp_market = *market_acc->key,
        .liquidator = *liquidator->key, .side = p->side, .size = p->size,
        .entry_price = p->entry_price, .price = mark, .pnl = v.pnl, .funding = v.owed,
        .equity = v.equity, .maintenance = maintenance, .penalty = penalty, .reward = paid,
        .insurance_share = insurance_share, .collateral = p->collateral,
        .bad_debt = b.bad_debt, .insurance_paid = b.insurance_paid, .pool_paid = b.pool_paid,
        .socialized_loss = b.socialized, .reserve = p->reserve, .long_oi = m->long_oi,
        .short_oi = m->short_oi});
    p->side = SIDE_FLAT;
    p->size = p->entry_price = p->reserve = p->loss_snapshot = 0;
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
    /* last_funding_ts + interval cannot overflow: both are bounded (a year at most, and
     * last_funding_ts <= now) */
    if (clock.unix_timestamp - m->last_funding_ts < m->funding_interval_secs) return ERR_TOO_EARLY;
    OracleQuote q;
    TRY(perp_quote(m, &in->accounts[UPDATE_FUNDING_ORACLE], &clock, false, &q));

    /* funding accrues continuously (every position instruction accrues first); the crank
     * accrues too, and reports once per interval on the interval grid */
    i64 rate = perp_funding_rate_ppm(m->long_oi, m->short_oi, m->max_funding_bps);
    perp_accrue(m, q.price, clock.unix_timestamp);
    u64 intervals =
        (u64)(clock.unix_timestamp - m->last_funding_ts) / (u64)m->funding_interval_secs;
    m->last_funding_ts += (i64)intervals * m->funding_interval_secs;
    emit_funding_updated(&(FundingUpdated){
        .perp_market = *market_acc->key, .rate_ppm = rate, .intervals = intervals,
        .price = q.price, .cumulative_funding = m->cumulative_funding,
        .cumulative_funding_short = m->cumulative_funding_short,
        .last_funding_ts = m->last_funding_ts, .long_oi = m->long_oi, .short_oi = m->short_oi});
    return SUCCESS;
}
