/* open_position, close_position: trading a perp against the protocol's pool. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/perp.h"
#include "../sol/clock.h"
#include "../sol/result.h"
#include "../validate.h"
#include "instructions.h"
#include "perp_common.h"

_Static_assert(OPEN_POSITION_OWNER == CLOSE_POSITION_OWNER &&
                   OPEN_POSITION_CONFIG == CLOSE_POSITION_CONFIG &&
                   OPEN_POSITION_PERP_MARKET == CLOSE_POSITION_PERP_MARKET &&
                   OPEN_POSITION_POSITION == CLOSE_POSITION_POSITION &&
                   OPEN_POSITION_ORACLE == CLOSE_POSITION_ORACLE &&
                   OPEN_POSITION_ACCOUNTS == CLOSE_POSITION_ACCOUNTS,
               "open_position and close_position take the same accounts");

/* What open and close share: the accounts, validated and loaded, the oracle's quote, and the
 * market's funding accrued to now. */
typedef struct {
    Config *config;
    PerpMarket *market;
    Position *position;
    const SolPubkey *position_key;
    const SolPubkey *market_key;
    OracleQuote quote;
    i64 now;
} Trade;

static u64 load_trade(const SolInput *in, bool opening, Trade *t) {
    TRY(expect_accounts(in, OPEN_POSITION_ACCOUNTS));
    const SolAccountInfo *owner = &in->accounts[OPEN_POSITION_OWNER];
    const SolAccountInfo *market_acc = &in->accounts[OPEN_POSITION_PERP_MARKET];
    const SolAccountInfo *position_acc = &in->accounts[OPEN_POSITION_POSITION];
    TRY(expect_signer(owner));
    TRY(load_config(in, &in->accounts[OPEN_POSITION_CONFIG], true, &t->config));
    TRY(load_perp_market(in, market_acc, true, &t->market));
    TRY(load_position(in, position_acc, market_acc->key, owner->key, &t->position));
    SolClock clock;
    clock_now(&clock);
    TRY(perp_quote(t->market, &in->accounts[OPEN_POSITION_ORACLE], &clock, opening,
                   &t->quote));
    t->now = clock.unix_timestamp;
    t->position_key = position_acc->key;
    t->market_key = market_acc->key;
    return SUCCESS;
}

u64 ix_open_position(const SolInput *in, const u8 *data, u64 len) {
    OpenPositionArgs args;
    if (!open_position_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    Trade t;
    TRY(load_trade(in, true, &t));
    Config *config = t.config;
    PerpMarket *m = t.market;
    Position *p = t.position;
    if (config->paused) return ERR_PAUSED;
    if (args.side != SIDE_LONG && args.side != SIDE_SHORT) return ERR_INVALID_ARGUMENT;
    if (args.size == 0) return ERR_ZERO_AMOUNT;
    if (p->side != SIDE_FLAT) return ERR_POSITION_OPEN;
    /* a long buys at price + conf, no higher than acceptable; a short sells at price - conf,
     * no lower */
    u64 fill = perp_fill(&t.quote, args.side == SIDE_LONG);
    if (args.side == SIDE_LONG ? fill > args.acceptable_price : fill < args.acceptable_price)
        return ERR_SLIPPAGE_EXCEEDED;
    u64 *side_oi = perp_side_oi(m, args.side);
    if (args.size > m->max_open_interest || *side_oi > m->max_open_interest - args.size)
        return ERR_OPEN_INTEREST_LIMIT;
    if (p->collateral > PERP_MAX_COLLATERAL) return ERR_MATH_OVERFLOW;

    u64 notional, fee, required, reserve, fees, reserved;
    if (!perp_notional(args.size, fill, &notional) ||
        !perp_bps_ceil(notional, m->taker_fee_bps, &fee) ||
        !perp_bps_ceil(notional, m->initial_margin_bps, &required) ||
        !perp_bps_floor(notional, m->max_profit_bps, &reserve) ||
        !u64_add(config->protocol_fees, fee, &fees) ||
        !u64_add(config->perp_pool_reserved, reserve, &reserved))
        return ERR_MATH_OVERFLOW;
    /* dust: a notional that rounds to 0 would need no margin and pay no fee */
    if (notional == 0) return ERR_ZERO_AMOUNT;
    if (p->collateral < fee || p->collateral - fee < required) return ERR_INSUFFICIENT_COLLATERAL;
    /* the pool reserves the position's largest payout from its free liquidity */
    if (reserved > config->perp_pool) return ERR_INSUFFICIENT_LIQUIDITY;

    perp_accrue(m, t.quote.price, t.now);
    p->collateral -= fee;
    config->protocol_fees = fees;
    config->perp_pool_reserved = reserved;
    *side_oi += args.size;
    p->side = args.side;
    p->size = args.size;
    p->entry_price = fill;
    p->reserve = reserve;
    /* The other side's index: the exact index rounded against the position (a long's floor, a
     * short's ceiling), so what it owes later is never below the exact amount. */
    p->funding_snapshot = perp_snapshot_index(m, args.side);
    p->loss_snapshot = perp_side_loss_index(m, args.side);
    p->opened_at = t.now;
    emit_position_opened(&(PositionOpened){
        .position = *t.position_key, .owner = p->owner, .perp_market = *t.market_key,
        .side = p->side, .size = p->size, .entry_price = fill, .oracle_price = t.quote.price,
        .conf = t.quote.conf, .collateral = p->collateral, .fee = fee, .reserve = reserve,
        .funding_snapshot = p->funding_snapshot, .long_oi = m->long_oi,
        .short_oi = m->short_oi, .pool_reserved = reserved});
    return SUCCESS;
}

u64 ix_close_position(const SolInput *in, const u8 *data, u64 len) {
    ClosePositionArgs args;
    if (!close_position_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    Trade t;
    TRY(load_trade(in, false, &t));
    Config *config = t.config;
    PerpMarket *m = t.market;
    Position *p = t.position;
    if (p->side == SIDE_FLAT) return ERR_POSITION_FLAT;
    /* closing a long sells at price - conf, no lower than acceptable; closing a short buys at
     * price + conf, no higher */
    u64 fill = perp_fill(&t.quote, p->side == SIDE_SHORT);
    if (p->side == SIDE_LONG ? fill < args.acceptable_price : fill > args.acceptable_price)
        return ERR_SLIPPAGE_EXCEEDED;

    perp_accrue(m, t.quote.price, t.now);
    /* the profit pays the side's socialized losses first: the fee and the refusal below are
     * judged on what is left */
    u64 share = perp_loss_share(p->size, perp_side_loss_index(m, p->side), p->loss_snapshot);
    PerpValue v;
    u64 fee, fees, penalty, reward, floor;
    if (!perp_value(p, fill, perp_side_index(m, p->side), share, &v) ||
        !perp_bps_ceil(v.notional, m->taker_fee_bps, &fee) ||
        !u64_add(config->protocol_fees, fee, &fees) ||
        !perp_liquidation_reward(v.notional, m->liquidation_fee_bps, m->liquidator_share_bps,
                                 &penalty, &reward) ||
        !u64_add(fee, reward, &floor))
        return ERR_MATH_OVERFLOW;
    /* an owner cannot walk away from a loss: below fee + reward (where a liquidator's reward
     * would be more than closing leaves, so liquidating itself would beat closing) the
     * position is for liquidators */
    if (v.equity < 0 || (u64)v.equity < floor) return ERR_INSUFFICIENT_COLLATERAL;
    PerpBook b = {.collateral = p->collateral, .pool = config->perp_pool,
                  .insurance = config->insurance_balance};
    u64 *side_oi = perp_side_oi(m, p->side), oi;
    /* equity >= fee >= 0: no bad debt, a profit is at most the reserve, and what settling
     * leaves (the equity) covers the fee; every balance that decreases is checked */
    u64 collateral;
    if (!u64_sub(config->perp_pool_reserved, p->reserve, &b.reserved) ||
        !u64_sub(*side_oi, p->size, &oi) || !perp_settle(&b, v.gain, share) ||
        !u64_sub(b.collateral, fee, &collateral))
        return ERR_MATH_OVERFLOW;

    *side_oi = oi;
    config->perp_pool = b.pool;
    config->perp_pool_reserved = b.reserved;
    config->protocol_fees = fees;
    p->collateral = collateral;
    emit_position_closed(&(PositionClosed){
        .position = *t.position_key, .owner = p->owner, .perp_market = *t.market_key,
        .side = p->side, .size = p->size, .entry_price = p->entry_price, .exit_price = fill,
        .pnl = v.pnl, .funding = v.owed, .settled = v.gain - (i64)b.haircut,
        .socialized_loss = b.haircut, .fee = fee, .collateral = p->collateral,
        .reserve = p->reserve, .long_oi = m->long_oi, .short_oi = m->short_oi});
    p->side = SIDE_FLAT;
    p->size = p->entry_price = p->reserve = p->loss_snapshot = 0;
    p->funding_snapshot = 0;
    return SUCCESS;
}
