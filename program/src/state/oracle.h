/* Reading a Pyth price account (v2, the layout `pythclient` parses): pure, header-only, no
 * syscalls, so it builds for the host (tests/chain/test_oracle_c.py) as well as for SBF.
 *
 * Only the first 240 bytes matter, read in place (account data is 8-byte aligned in the
 * program's input):
 *     0  u32 magic 0xa1b2c3d4     16  u32 price type          208  i64 aggregate price
 *     4  u32 version 2            20  i32 exponent            216  u64 confidence
 *     8  u32 account type 3       24  ...                     224  u32 status (1 = trading)
 *    12  u32 used size                                        228  u32 corporate action
 *                                                             232  u64 publish slot
 * then the publisher components (96 bytes each, up to 32: a full account is 3312 bytes).
 *
 * The exponent must lie in [ORACLE_EXPO_MIN, ORACLE_EXPO_MAX] = [-18, 6], so the scale to the
 * protocol's 6 decimals is 10^k for |k| = |6 + exponent| <= 12: one multiply or one divide.
 * Real feeds use -5 to -10.
 */
#pragma once
#include "../generated/errors.h"
#include "../math/checked.h"
#include "../math/units.h"
#include "../sol/result.h"
#include "../sol/types.h"

#define PYTH_MAGIC 0xa1b2c3d4u
#define PYTH_VERSION 2u
#define PYTH_ACCOUNT_PRICE 3u
#define PYTH_STATUS_TRADING 1u
#define ORACLE_EXPO_MIN (-18)
#define ORACLE_EXPO_MAX 6

/* The bytes of a Pyth v2 price account this module reads. */
typedef struct {
    u32 magic;
    u32 version;
    u32 account_type;
    u32 size; /* bytes in use: 240 + 96 per publisher component */
    u32 price_type;
    i32 exponent;
    u8 unread[184]; /* component count, slots, EMA, keys, previous price */
    i64 price;
    u64 conf;
    u32 status;
    u32 corporate_action;
    u64 publish_slot;
} PythPriceHead;

_Static_assert(__builtin_offsetof(PythPriceHead, exponent) == 20, "PythPriceHead.exponent");
_Static_assert(__builtin_offsetof(PythPriceHead, price) == 208, "PythPriceHead.price");
_Static_assert(__builtin_offsetof(PythPriceHead, conf) == 216, "PythPriceHead.conf");
_Static_assert(__builtin_offsetof(PythPriceHead, status) == 224, "PythPriceHead.status");
_Static_assert(__builtin_offsetof(PythPriceHead, publish_slot) == 232,
               "PythPriceHead.publish_slot");
_Static_assert(sizeof(PythPriceHead) == 240, "PythPriceHead size");
_Static_assert(PRICE_PRECISION == 1000000ULL, "the scale table assumes 6 decimals");

/* The protocol's limits on an oracle price of either kind (Config.max_oracle_staleness_slots
 * and Config.max_oracle_conf_bps). */
typedef struct {
    u64 max_staleness_slots;
    u16 max_conf_bps;
} OracleLimits;

/* 10^0 .. 10^12 */
static const u64 ORACLE_POW10[13] = {
    1ULL,          10ULL,          100ULL,          1000ULL,          10000ULL,
    100000ULL,     1000000ULL,     10000000ULL,     100000000ULL,     1000000000ULL,
    10000000000ULL, 100000000000ULL, 1000000000000ULL,
};

/* a * b > c * d, exactly, for b and d below 2^32: each product as hi * 2^32 + lo with
 * lo < 2^32, from two 64-bit multiplies (no 128-bit libcall, no out-of-line helper) */
MATH_ALWAYS bool oracle_mul_gt(u64 a, u64 b, u64 c, u64 d) {
    u64 l1 = (a & MATH_LO32) * b, h1 = (a >> 32) * b + (l1 >> 32);
    u64 l2 = (c & MATH_LO32) * d, h2 = (c >> 32) * d + (l2 >> 32);
    return h1 > h2 || (h1 == h2 && (l1 & MATH_LO32) > (l2 & MATH_LO32));
}

/* A raw price at exponent k - 6 as 6-decimal units, rounded down; false when it scales to 0
 * or beyond U64_MAX. k lies in [-12, 12]. */
MATH_ALWAYS bool oracle_scale_price(u64 raw, i32 k, u64 *out) {
    if (k >= 0) return u64_mul(raw, ORACLE_POW10[k], out);
    *out = raw / ORACLE_POW10[-k];
    return *out != 0;
}

/* A raw confidence at exponent k - 6 as 6-decimal units, rounded up: the uncertainty is never
 * understated; false beyond U64_MAX. */
MATH_ALWAYS bool oracle_scale_conf(u64 conf, i32 k, u64 *out) {
    if (k >= 0) return u64_mul(conf, ORACLE_POW10[k], out);
    u64 d = ORACLE_POW10[-k];
    *out = conf / d + (conf % d != 0);
    return true;
}

/* The price of the account in `data` as quote units per whole base unit with 6 decimals
 * (PRICE_PRECISION), rounded down, in *price_e6 (written only on success). Checks, in order:
 *   ERR_INVALID_ORACLE        fewer than 240 bytes, wrong magic, version or account type, a
 *                             used size below 240 or beyond `len`, exponent outside [-18, 6];
 *   ERR_ORACLE_NOT_TRADING    status != 1;
 *   ERR_INVALID_ORACLE        price <= 0, or a price that scales to 0 or beyond U64_MAX;
 *   ERR_STALE_ORACLE          slot > publish_slot + max_staleness_slots (exact, no overflow;
 *                             a publish slot ahead of `slot` is fresh);
 *   ERR_ORACLE_TOO_UNCERTAIN  conf * 10^4 > max_conf_bps * price, exact in raw units (96-bit
 *                             products).
 * The price value is checked after the status: a halted or unknown feed often carries a zero
 * price, and "not trading" is the cause a keeper can wait out. */
static inline u64 oracle_price_e6(const u8 *data, u64 len, const OracleLimits *limits, u64 slot,
                                  u64 *price_e6) {
    if (len < sizeof(PythPriceHead)) return ERR_INVALID_ORACLE;
    const PythPriceHead *h = (const PythPriceHead *)data;
    if (h->magic != PYTH_MAGIC || h->version != PYTH_VERSION ||
        h->account_type != PYTH_ACCOUNT_PRICE || h->size < sizeof(PythPriceHead) ||
        h->size > len || h->exponent < ORACLE_EXPO_MIN || h->exponent > ORACLE_EXPO_MAX)
        return ERR_INVALID_ORACLE;
    if (h->status != PYTH_STATUS_TRADING) return ERR_ORACLE_NOT_TRADING;
    if (h->price <= 0) return ERR_INVALID_ORACLE;
    u64 raw = (u64)h->price, scaled;
    if (!oracle_scale_price(raw, h->exponent + 6, &scaled)) return ERR_INVALID_ORACLE;
    if (slot > h->publish_slot && slot - h->publish_slot > limits->max_staleness_slots)
        return ERR_STALE_ORACLE;
    if (oracle_mul_gt(h->conf, BPS_DENOMINATOR, raw, limits->max_conf_bps))
        return ERR_ORACLE_TOO_UNCERTAIN;
    *price_e6 = scaled;
    return SUCCESS;
}

/* A price and its confidence, both at 6 decimals, and the slot it was published at. */
typedef struct {
    u64 price;
    u64 conf; /* rounded up when scaled down: the uncertainty is never understated */
    u64 publish_slot;
} OracleQuote;

/* oracle_price_e6's checks, and the confidence scaled like the price. */
static inline u64 oracle_quote_e6(const u8 *data, u64 len, const OracleLimits *limits, u64 slot,
                                  OracleQuote *q) {
    TRY(oracle_price_e6(data, len, limits, slot, &q->price));
    const PythPriceHead *h = (const PythPriceHead *)data;
    if (!oracle_scale_conf(h->conf, h->exponent + 6, &q->conf)) return ERR_INVALID_ORACLE;
    q->publish_slot = h->publish_slot;
    return SUCCESS;
}
