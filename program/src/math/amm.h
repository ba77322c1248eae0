/* The prediction market's fixed-product pool, pure.
 *
 * Every quote unit paid in mints one complete set (1 YES + 1 NO), so total YES = total NO =
 * collateral at all times and each winning share is worth exactly 1 quote unit at the end.
 * Trades keep yes_reserve * no_reserve from falling; every rounding favours the pool. */
#pragma once
#include "checked.h"

/* A market's collateral (and so each reserve, and each holder's shares) is at most this, set
 * where quote enters (activate_market, buy): every sum and product below then fits, and a
 * pool that could be bought into can always be sold from and redeemed. */
#define MAX_MARKET_COLLATERAL 1000000000000000000ULL /* 10^12 quote */
/* The longest a market may trade, from its creation (ten years): its later deadlines fit. */
#define MAX_MARKET_SECS (10LL * 365 * 86400)

/* Buying with `amount` net quote: both reserves grow by `amount`, then the trader takes
 * `*out` shares of the bought side, leaving bought' = ceil(k / other'). `bought` and `other`
 * are the pool's reserves of the chosen and the opposite outcome; updated in place. */
static inline bool amm_buy(u64 *bought, u64 *other, u64 amount, u64 *out) {
    u128 k, q, r;
    u64 b1, o1;
    u128_mul64(*bought, *other, &k);
    if (!u64_add(*bought, amount, &b1) ||
        !u64_add(*other, amount, &o1) || !u128_divmod(k, o1, &q, &r))
        return false;
    if (r) q += 1;
    /* q <= k / other' < bought', so it fits and out > 0 whenever amount > 0 */
    *out = b1 - (u64)q;
    *bought = (u64)q;
    *other = o1;
    return true;
}

/* Selling `shares` of the `sold` side: they go into the pool, which then burns `*out`
 * complete sets, paying `*out` quote. out is the largest r with (sold' - r)(other - r) >= k,
 * found from the root of r^2 - (sold' + other) r + shares * other = 0. */
static inline bool amm_sell(u64 *sold, u64 *other, u64 shares, u64 *out) {
    u64 s1, root;
    u128 k, sq_diff, four_k, disc;
    u128_mul64(*sold, *other, &k);
    if (!u64_add(*sold, shares, &s1)) return false;
    u64 diff = s1 > *other ? s1 - *other : *other - s1;
    u128_mul64(diff, diff, &sq_diff);
    if (k >> 126) return false;
    four_k = k << 2;
    if (!u128_add(sq_diff, four_k, &disc)) return false;
    u128_isqrt(disc, &root);
    u128 root_sq;
    u128_mul64(root, root, &root_sq);
    u128 sum = (u128)s1 + *other;
    u128 ceil_root = (u128)root + (root_sq < disc);
    u128 r = sum > ceil_root ? (sum - ceil_root) >> 1 : 0;
    /* the ceiling of the root makes r at most the exact root; step down if rounding left
     * the product under k */
    for (;;) {
        u128 after;
        if (r > *other || r > s1) return false;
        u128_mul64(s1 - (u64)r, *other - (u64)r, &after);
        if (after >= k || r == 0) break;
        r -= 1;
    }
    *out = (u64)r;
    *sold = s1 - (u64)r;
    *other -= (u64)r;
    return true;
}
