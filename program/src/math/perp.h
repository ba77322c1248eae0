/* Perpetual futures, pure: bounds, margin, PnL, continuous funding, settlement against the
 * pool with reserves, and the liquidation penalty.
 *
 * Units: sizes in base units with 6 decimals, prices in quote per whole base unit with 6
 * decimals (PRICE_PRECISION), amounts in quote units, rates per interval in parts per million.
 * Funding and loss indexes are quote units x 10^3 per whole base unit, so what a position owes
 * is size * index delta / 10^9 (FUNDING_PRECISION). The funding indexes are the ceiling (long)
 * and floor (short) of an exact index whose fraction the market carries.
 *
 * Bounds, enforced where values enter (so nothing later overflows): prices (and price + conf)
 * <= PERP_MAX_PRICE, each side's open interest <= max_open_interest <= PERP_MAX_OPEN_INTEREST,
 * collateral of an open position <= PERP_MAX_COLLATERAL. Then every notional and PnL is below
 * 2^61, and collateral + PnL - funding fits an i64. Funding owed is clamped to +-2^61 (only a
 * position left unliquidated for a very long time can reach it).
 *
 * Every rounding favours the protocol: requirements, fees, penalties and what a trader owes
 * round up; what a trader earns rounds down. */
#pragma once
#include "../generated/accounts.h"
#include "checked.h"
#include "units.h"

#define PPM 1000000ULL
#define FUNDING_PRECISION 1000000000ULL /* size (10^6) x index scale (10^3) */
#define PERP_MAX_PRICE 1000000000000ULL /* 10^6 quote per whole base unit */
#define PERP_MAX_COLLATERAL (1ULL << 61)
#define PERP_MAX_OPEN_INTEREST (PERP_MAX_COLLATERAL / (PERP_MAX_PRICE / PRICE_PRECISION))
#define PERP_AMOUNT_CLAMP ((i64)(1ULL << 61))
#define PERP_MAX_ELAPSED_SECS (1LL << 40) /* one accrual covers at most ~35,000 years */

/* size * price / 10^6, rounded down. */
static inline bool perp_notional(u64 size, u64 price, u64 *out) {
    return u64_mul_div_floor(size, price, PRICE_PRECISION, out);
}

/* A requirement, fee or penalty: amount * bps / 10^4, rounded up. */
static inline bool perp_bps_ceil(u64 amount, u16 bps, u64 *out) {
    return u64_mul_div_ceil(amount, bps, BPS_DENOMINATOR, out);
}

/* What a trader earns of a rate: amount * bps / 10^4, rounded down. */
static inline bool perp_bps_floor(u64 amount, u16 bps, u64 *out) {
    return u64_mul_div_floor(amount, bps, BPS_DENOMINATOR, out);
}

/* Unrealized PnL at `price`: size * (price - entry) / 10^6 for a long, the opposite for a
 * short, rounded down. Both prices are <= PERP_MAX_PRICE. */
static inline bool perp_pnl(u8 side, u64 size, u64 entry, u64 price, i64 *out) {
    if (entry > PERP_MAX_PRICE || price > PERP_MAX_PRICE) return false;
    i64 diff = side == SIDE_LONG ? (i64)price - (i64)entry : (i64)entry - (i64)price;
    return i64_mul_div_floor(diff, size, PRICE_PRECISION, out);
}

/* x clamped to +-PERP_AMOUNT_CLAMP */
static inline i64 perp_clamp(i64 x) {
    return x > PERP_AMOUNT_CLAMP ? PERP_AMOUNT_CLAMP : x < -PERP_AMOUNT_CLAMP ? -PERP_AMOUNT_CLAMP : x;
}

/* Funding a position owes since it opened (negative: it receives), rounded up. A long owes
 * the rise of the long index, a short owes the fall of the short index. The indexes wrap, so
 * the difference is taken modulo 2^64; the result is clamped to +-2^61. */
static inline i64 perp_funding_owed(u8 side, u64 size, i64 index, i64 snapshot) {
    u64 wrapped = side == SIDE_LONG ? (u64)index - (u64)snapshot : (u64)snapshot - (u64)index;
    i64 delta = (i64)wrapped, owed;
    if (!i64_mul_div_ceil(delta, size, FUNDING_PRECISION, &owed))
        return delta < 0 ? -PERP_AMOUNT_CLAMP : PERP_AMOUNT_CLAMP;
    return perp_clamp(owed);
}

/* The funding rate of one interval in ppm: max_bps * 100 * (long_oi - short_oi) /
 * (long_oi + short_oi), truncated toward zero; 0 without open interest. Positive: longs pay.
 * Open interest is below 2^62 per side, so the sum is exact. */
static inline i64 perp_funding_rate_ppm(u64 long_oi, u64 short_oi, u16 max_bps) {
    u64 total = long_oi + short_oi, diff, magnitude;
    if (total == 0) return 0;
    diff = long_oi >= short_oi ? long_oi - short_oi : short_oi - long_oi;
    /* diff <= total, so the magnitude is at most max_bps * 100 <= 10^6 */
    if (!u64_mul_div_floor(diff, (u64)max_bps * 100, total, &magnitude)) return 0;
    return long_oi >= short_oi ? (i64)magnitude : -(i64)magnitude;
}

/* How far `elapsed` seconds at `rate_ppm` per interval move the funding indexes at `price`.
 * The exact index moves by rate * price * elapsed * 10^3 / (interval * 10^6); the short index
 * is its floor and the long index its ceiling, and `*remainder` (in [0, interval * 10^6)) the
 * exact index's fraction above the floor, carried from one accrual to the next: so the indexes
 * depend only on the total accrued, never on how often accrual happens. Sets *long_delta and
 * *short_delta (modulo 2^64, as the indexes wrap) and updates *remainder. */
static inline void perp_accrual(i64 rate_ppm, u64 price, i64 elapsed, i64 interval,
                                u64 *remainder, u64 *long_delta, u64 *short_delta) {
    if (elapsed > PERP_MAX_ELAPSED_SECS) elapsed = PERP_MAX_ELAPSED_SECS;
    u64 magnitude = (u64)(rate_ppm < 0 ? -rate_ppm : rate_ppm);
    u128 num, den, q, r;
    /* rate * price <= 10^18 and elapsed * 10^3 < 2^50: the product is below 2^110 */
    u128_mul64(magnitude * price, (u64)elapsed * 1000, &num);
    u128_mul64((u64)interval, PPM, &den); /* below 2^45 */
    u64 before = *remainder, after, floor_delta;
    if (rate_ppm >= 0) { /* the remainder (< den) joins the numerator: below 2^111 */
        u128_divmod(num + before, den, &q, &r);
        floor_delta = (u64)q;
        after = (u64)r;
    } else { /* floor((remainder - num) / den) */
        u128_divmod(num, den, &q, &r);
        floor_delta = (u64)0 - (u64)q;
        if (before >= (u64)r) {
            after = before - (u64)r;
        } else {
            after = before + (u64)den - (u64)r;
            floor_delta -= 1;
        }
    }
    *remainder = after;
    *short_delta = floor_delta;
    *long_delta = floor_delta + (after != 0) - (before != 0);
}

/* A position valued at the price closing it would trade at. */
typedef struct {
    i64 pnl;       /* at the mark, rounded down */
    i64 owed;      /* funding owed (negative: earned), rounded up */
    i64 gain;      /* pnl - owed, capped at the position's reserve when positive */
    u64 haircut;   /* what of a positive gain goes to the side's socialized losses */
    i64 equity;    /* collateral + gain - haircut: what settling would leave */
    u64 notional;  /* size * mark */
} PerpValue;

/* Values `p` at `mark` with the side's funding `index`, its profit first paying `loss_share`
 * of the other side's socialized bad debt (as perp_settle will); false only on a bound
 * violation. */
static inline bool perp_value(const Position *p, u64 mark, i64 index, u64 loss_share,
                              PerpValue *v) {
    if (!perp_pnl(p->side, p->size, p->entry_price, mark, &v->pnl) ||
        !perp_notional(p->size, mark, &v->notional) || p->collateral > PERP_MAX_COLLATERAL)
        return false;
    v->owed = perp_funding_owed(p->side, p->size, index, p->funding_snapshot);
    v->gain = v->pnl - v->owed; /* both within +-2^61 */
    if (v->gain > 0 && (u64)v->gain > p->reserve) v->gain = (i64)p->reserve;
    v->haircut = v->gain <= 0 ? 0 : (u64)v->gain < loss_share ? (u64)v->gain : loss_share;
    v->equity = (i64)p->collateral + v->gain - (i64)v->haircut;
    return true;
}

/* The balances a settlement moves, and what it reports. */
typedef struct {
    u64 collateral;
    u64 pool;
    u64 reserved;  /* the pool's reserved part, after this position's reserve is released */
    u64 insurance;
    u64 bad_debt;       /* the loss beyond the collateral */
    u64 insurance_paid; /* bad debt (and on liquidation the reward) paid by insurance */
    u64 pool_paid;      /* bad debt absorbed (and reward paid) from the pool's free liquidity */
    u64 socialized;     /* bad debt left to the other side's profits */
    u64 haircut;        /* taken from this position's profit for the other side's bad debt */
} PerpBook;

/* Realizes `gain` against the pool. A profit (at most the released reserve, so the pool can
 * always pay it) first pays `loss_share` of the other side's socialized bad debt. A loss
 * beyond the collateral is bad debt: insurance pays what it can into the pool, the pool's free
 * liquidity absorbs what it can, and the rest is left to socialize. The sum collateral + pool
 * + insurance never changes; false only if a balance would pass U64_MAX (it cannot: all are
 * parts of the vault's balance). */
static inline bool perp_settle(PerpBook *b, i64 gain, u64 loss_share) {
    if (gain >= 0) {
        b->haircut = (u64)gain < loss_share ? (u64)gain : loss_share;
        u64 paid = (u64)gain - b->haircut;
        if (paid > b->pool) return false;
        b->pool -= paid;
        return u64_add(b->collateral, paid, &b->collateral);
    }
    u64 loss = (u64)(-gain); /* gain > -2^63 */
    if (loss <= b->collateral) {
        b->collateral -= loss;
        return u64_add(b->pool, loss, &b->pool);
    }
    b->bad_debt = loss - b->collateral;
    b->insurance_paid = b->bad_debt < b->insurance ? b->bad_debt : b->insurance;
    b->insurance -= b->insurance_paid;
    if (!u64_add(b->pool, b->collateral, &b->pool) ||
        !u64_add(b->pool, b->insurance_paid, &b->pool))
        return false;
    b->collateral = 0;
    u64 rest = b->bad_debt - b->insurance_paid;
    u64 free = b->pool > b->reserved ? b->pool - b->reserved : 0;
    b->pool_paid = rest < free ? rest : free;
    b->socialized = rest - b->pool_paid;
    return true;
}

/* A liquidation's penalty, ceil(notional * liquidation_fee_bps / 10^4), and its liquidator's
 * reward, floor(penalty * liquidator_share_bps / 10^4): a function of the notional only. */
static inline bool perp_liquidation_reward(u64 notional, u16 fee_bps, u16 share_bps,
                                           u64 *penalty, u64 *reward) {
    return perp_bps_ceil(notional, fee_bps, penalty) && perp_bps_floor(*penalty, share_bps, reward);
}

/* The liquidation penalty `penalty` is taken from what is left of the collateral. Insurance
 * first gets `fee` of it (the taker fee a close would have paid, or all that was taken when
 * less), the liquidator up to `reward` of the rest, insurance the remainder. Whatever of the
 * reward that left short (all of it when the equity is gone) insurance and then the pool's
 * free liquidity make up: a liquidator is paid the same reward whatever equity is left, so
 * waiting for bad debt never pays better. The owner, liquidating itself, cannot gain by it:
 * closing is refused below fee + reward, and above it the collateral pays the whole reward.
 * Returns what the liquidator is paid. */
static inline u64 perp_penalize(PerpBook *b, u64 penalty, u64 reward, u64 fee,
                                u64 *insurance_share) {
    u64 taken = penalty < b->collateral ? penalty : b->collateral;
    b->collateral -= taken;
    u64 first = fee < taken ? fee : taken;
    u64 paid = reward < taken - first ? reward : taken - first;
    *insurance_share = taken - paid;
    b->insurance += *insurance_share; /* part of the vault: cannot pass U64_MAX */
    u64 missing = reward - paid;
    u64 from_insurance = missing < b->insurance ? missing : b->insurance;
    b->insurance -= from_insurance;
    b->insurance_paid += from_insurance;
    missing -= from_insurance;
    u64 free = b->pool > b->reserved ? b->pool - b->reserved : 0;
    u64 from_pool = missing < free ? missing : free;
    b->pool -= from_pool;
    b->pool_paid += from_pool;
    return paid + from_insurance + from_pool;
}

/* The largest loss index increase worth recording: a whole base unit's largest possible
 * profit (its notional at PERP_MAX_PRICE), in index units. A larger one would only take profit
 * no position can have. */
#define PERP_MAX_LOSS_DELTA (PERP_MAX_PRICE * 1000ULL)

/* Charges `socialized` to `oi` (> 0, <= PERP_MAX_OPEN_INTEREST) of the other side: the loss
 * index rises by ceil(socialized * 10^9 / oi), capped at PERP_MAX_LOSS_DELTA, so that the side
 * is never charged more than was socialized nor more than it could ever pay. Returns what the
 * side is charged: all of `socialized`, oi * PERP_MAX_LOSS_DELTA / 10^9 when capped (a dust
 * open interest), 0 when the index cannot rise that far any more; the rest is left to the
 * pool. The index never saturates, so positions opened later are charged as usual. */
static inline u64 perp_loss_index_add(u64 *index, u64 socialized, u64 oi) {
    u64 delta, charged = socialized;
    if (!u64_mul_div_ceil(socialized, FUNDING_PRECISION, oi, &delta) ||
        delta > PERP_MAX_LOSS_DELTA) {
        delta = PERP_MAX_LOSS_DELTA;
        charged = oi * (PERP_MAX_LOSS_DELTA / FUNDING_PRECISION); /* < socialized, < 2^62 */
    }
    if (*index > U64_MAX - delta) return 0;
    *index += delta;
    return charged;
}

/* A position's share of its side's socialized losses since it opened, rounded up. */
static inline u64 perp_loss_share(u64 size, u64 index, u64 snapshot) {
    u64 share;
    if (!u64_mul_div_ceil(size, index - snapshot, FUNDING_PRECISION, &share)) return U64_MAX;
    return share;
}
