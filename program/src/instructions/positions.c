/* open_position, close_position: trading a perp against the protocol's pool. */
#include "../generated/events.h"
#include "../generated/instructions.h"
#include "../math/fees.h"
#include "../math/perp.h"
#include "../sol/clock.h"
#include "../sol/result.h"
#include "../validate.h"
#include "instructions.h"

_Static_assert(OPEN_POSITION_OWNER == CLOSE_POSITION_OWNER &&
                   OPEN_POSITION_CONFIG == CLOSE_POSITION_CONFIG &&
                   OPEN_POSITION_PERP_MARKET == CLOSE_POSITION_PERP_MARKET &&
                   OPEN_POSITION_POSITION == CLOSE_POSITION_POSITION &&
                   OPEN_POSITION_ORACLE == CLOSE_POSITION_ORACLE &&
                   OPEN_POSITION_ACCOUNTS == CLOSE_POSITION_ACCOUNTS,
               "open_position and close_position take the same accounts");

/* What open and close share: the accounts, validated and loaded, and the oracle's price. */
typedef struct {
    Config *config;
    PerpMarket *market;
    Position *position;
    const SolPubkey *position_key;
    const SolPubkey *market_key;
    u64 price;
    i64 now;
} Trade;

static u64 load_trade(const SolInput *in, Trade *t) {
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
    TRY(load_oracle_price(t->config, t->market, &in->accounts[OPEN_POSITION_ORACLE], clock.slot,
                          &t->price));
    t->now = clock.unix_timestamp;
    t->position_key = position_acc->key;
    t->market_key = market_acc->key;
    return SUCCESS;
}

static u64 *open_interest(PerpMarket *m, u8 side) {
    return side == SIDE_LONG ? &m->long_oi : &m->short_oi;
}

u64 ix_open_position(const SolInput *in, const u8 *data, u64 len) {
    OpenPositionArgs args;
    if (!open_position_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    Trade t;
    TRY(load_trade(in, &t));
    Config *config = t.config;
    PerpMarket *m = t.market;
    Position *p = t.position;
    if (config->paused) return ERR_PAUSED;
    if (args.side != SIDE_LONG && args.side != SIDE_SHORT) return ERR_INVALID_ARGUMENT;
    if (args.size == 0) return ERR_ZERO_AMOUNT;
    if (p->side != SIDE_FLAT) return ERR_POSITION_OPEN;
    /* a long buys: no higher than acceptable; a short sells: no lower */
    if (args.side == SIDE_LONG ? t.price > args.acceptable_price
                               : t.price < args.acceptable_price)
        return ERR_SLIPPAGE_EXCEEDED;

    u64 notional, fee, required, fees, oi;
    u64 *side_oi = open_interest(m, args.side);
    if (!perp_notional(args.size, t.price, &notional) ||
        !fee_ceil(notional, m->taker_fee_bps, &fee) ||
        !perp_margin(notional, m->initial_margin_bps, &required) ||
        !u64_add(config->protocol_fees, fee, &fees) || !u64_add(*side_oi, args.size, &oi))
        return ERR_MATH_OVERFLOW;
    /* dust: a notional that rounds to 0 would need no margin and pay no fee */
    if (notional == 0) return ERR_ZERO_AMOUNT;
    if (p->collateral < fee || p->collateral - fee < required) return ERR_INSUFFICIENT_COLLATERAL;

    p->collateral -= fee;
    config->protocol_fees = fees;
    *side_oi = oi;
    p->side = args.side;
    p->size = args.size;
    p->entry_price = t.price;
    p->funding_snapshot = m->cumulative_funding;
    p->opened_at = t.now;
    emit_position_opened(&(PositionOpened){
        .position = *t.position_key, .owner = p->owner, .perp_market = *t.market_key,
        .side = p->side, .size = p->size, .entry_price = t.price, .collateral = p->collateral,
        .fee = fee, .funding_snapshot = p->funding_snapshot, .long_oi = m->long_oi,
        .short_oi = m->short_oi});
    return SUCCESS;
}

u64 ix_close_position(const SolInput *in, const u8 *data, u64 len) {
    ClosePositionArgs args;
    if (!close_position_args_parse(data, len, &args)) return ERR_INVALID_INSTRUCTION_DATA;
    Trade t;
    TRY(load_trade(in, &t));
    Config *config = t.config;
    PerpMarket *m = t.market;
    Position *p = t.position;
    if (p->side == SIDE_FLAT) return ERR_POSITION_FLAT;
    /* closing a long sells: no lower than acceptable; closing a short buys: no higher */
    if (p->side == SIDE_LONG ? t.price < args.acceptable_price
                             : t.price > args.acceptable_price)
        return ERR_SLIPPAGE_EXCEEDED;

    i64 pnl, owed, equity, gain;
    u64 notional, fee, fees;
    if (!perp_pnl(p->side, p->size, p->entry_price, t.price, &pnl) ||
        !perp_funding_owed(p->side, p->size, m->cumulative_funding, p->funding_snapshot,
                           &owed) ||
        !i64_sub(pnl, owed, &gain) || !perp_equity(p->collateral, pnl, owed, &equity) ||
        !perp_notional(p->size, t.price, &notional) ||
        !fee_ceil(notional, m->taker_fee_bps, &fee) ||
        !u64_add(config->protocol_fees, fee, &fees))
        return ERR_MATH_OVERFLOW;
    /* an owner cannot walk away from a loss: below the fee, the position is for liquidators */
    if (equity < 0 || (u64)equity < fee) return ERR_INSUFFICIENT_COLLATERAL;
    Settlement s = {p->collateral, config->perp_pool, config->insurance_balance, 0};
    if (!perp_settle(&s, gain)) return ERR_INSUFFICIENT_LIQUIDITY;

    *open_interest(m, p->side) -= p->size;
    config->perp_pool = s.pool;
    config->protocol_fees = fees;
    p->collateral = s.collateral - fee;
    emit_position_closed(&(PositionClosed){
        .position = *t.position_key, .owner = p->owner, .perp_market = *t.market_key,
        .side = p->side, .size = p->size, .entry_price = p->entry_price, .exit_price = t.price,
        .pnl = pnl, .funding = owed, .fee = fee, .collateral = p->collateral,
        .long_oi = m->long_oi, .short_oi = m->short_oi});
    p->side = SIDE_FLAT;
    p->size = p->entry_price = 0;
    p->funding_snapshot = 0;
    return SUCCESS;
}
