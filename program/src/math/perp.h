/* Perpetual futures, pure: margin, PnL, funding, settlement and liquidation.
 *
 * Units: sizes in base units with 6 decimals, prices in quote per whole base unit with 6
 * decimals (PRICE_PRECISION), amounts in quote units, rates in basis points. Every rounding
 * favours the protocol: requirements and what a trader owes round up, what a trader earns
 * rounds down. */
#pragma once
#include "../generated/accounts.h"
#include "checked.h"
#include "units.h"

/* size * price / 10^6, rounded down. */
static inline bool perp_notional(u64 size, u64 price, u64 *out) {
    return u64_mul_div_floor(size, price, PRICE_PRECISION, out);
}

/* A margin requirement: notional * bps / 10^4, rounded up. */
static inline bool perp_margin(u64 notional, u16 bps, u64 *out) {
    return u64_mul_div_ceil(notional, bps, BPS_DENOMINATOR, out);
}

/* Unrealized PnL at `price`: size * (price - entry) / 10^6 for a long, the opposite for a
 * short, rounded down. */
static inline bool perp_pnl(u8 side, u64 size, u64 entry, u64 price, i64 *out) {
    if (entry > (u64)I64_MAX || price > (u64)I64_MAX) return false;
    i64 diff = side == SIDE_LONG ? (i64)price - (i64)entry : (i64)entry - (i64)price;
    return i64_mul_div_floor(diff, size, PRICE_PRECISION, out);
}

/* Funding a position owes since it opened (negative: it receives). Longs pay the index's rise
 * and shorts receive it: size * (index - snapshot) / 10^6, signed by side, rounded up. */
static inline bool perp_funding_owed(u8 side, u64 size, i64 index, i64 snapshot, i64 *out) {
    i64 delta;
    if (!i64_sub(index, snapshot, &delta)) return false;
    if (side != SIDE_LONG && !i64_neg(delta, &delta)) return false;
    return i64_mul_div_ceil(delta, size, PRICE_PRECISION, out);
}

/* collateral + pnl - funding owed. */
static inline bool perp_equity(u64 collateral, i64 pnl, i64 funding_owed, i64 *out) {
    i64 gain;
    if (collateral > (u64)I64_MAX || !i64_sub(pnl, funding_owed, &gain)) return false;
    return i64_add((i64)collateral, gain, out);
}

/* The funding rate of one interval: max_bps * (long_oi - short_oi) / (long_oi + short_oi),
 * rounded toward zero so that neither side is favoured; 0 with no open interest. Positive:
 * longs pay. */
static inline bool perp_funding_rate(u64 long_oi, u64 short_oi, u16 max_bps, i64 *out) {
    u64 total, diff, magnitude;
    if (!u64_add(long_oi, short_oi, &total)) return false;
    if (total == 0) {
        *out = 0;
        return true;
    }
    diff = long_oi >= short_oi ? long_oi - short_oi : short_oi - long_oi;
    /* diff <= total, so the magnitude is at most max_bps */
    if (!u64_mul_div_floor(diff, max_bps, total, &magnitude)) return false;
    *out = long_oi >= short_oi ? (i64)magnitude : -(i64)magnitude;
    return true;
}

/* How far `intervals` intervals at rate_bps move the funding index at `price`:
 * intervals * rate_bps * price / 10^4, rounded down. */
static inline bool perp_funding_delta(u64 intervals, i64 rate_bps, u64 price, i64 *out) {
    i64 rate_total;
    if (intervals > (u64)I64_MAX || !i64_mul((i64)intervals, rate_bps, &rate_total))
        return false;
    return i64_mul_div_floor(rate_total, price, BPS_DENOMINATOR, out);
}

/* Balances a settlement moves: the position's collateral, the perps' pool (the counterparty)
 * and the insurance balance. */
typedef struct {
    u64 collateral;
    u64 pool;
    u64 insurance;
    u64 bad_debt; /* the loss beyond the collateral; insurance covers what it can */
} Settlement;

/* Realizes `gain` (pnl - funding owed) against the pool. A loss beyond the collateral is bad
 * debt: the pool takes all the collateral and the insurance pays the rest while it can. False
 * when the pool cannot pay a profit. The sum collateral + pool + insurance never changes. */
static inline bool perp_settle(Settlement *s, i64 gain) {
    if (gain >= 0) {
        if ((u64)gain > s->pool) return false;
        s->pool -= (u64)gain;
        return u64_add(s->collateral, (u64)gain, &s->collateral);
    }
    u64 loss = (u64)0 - (u64)gain; /* |gain|, also for I64_MIN */
    if (loss <= s->collateral) {
        s->collateral -= loss;
        s->bad_debt = 0;
        return u64_add(s->pool, loss, &s->pool);
    }
    s->bad_debt = loss - s->collateral;
    u64 covered = s->bad_debt < s->insurance ? s->bad_debt : s->insurance;
    s->insurance -= covered;
    u64 received = s->collateral + covered; /* both came out of the vault's balance */
    s->collateral = 0;
    return u64_add(s->pool, received, &s->pool);
}

/* The liquidator's reward: notional * liquidation_fee_bps / 10^4 rounded down, capped by the
 * equity left after settlement (never negative). */
static inline bool perp_liquidation_reward(u64 notional, u16 fee_bps, u64 remaining_collateral,
                                           u64 *out) {
    u64 reward;
    if (!u64_mul_div_floor(notional, fee_bps, BPS_DENOMINATOR, &reward)) return false;
    *out = reward < remaining_collateral ? reward : remaining_collateral;
    return true;
}
