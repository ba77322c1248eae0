/* Reading a Pyth Solana Receiver PriceUpdateV2 account: pure, header-only, no syscalls, so it
 * builds for the host as well as for SBF.
 *
 * The account is Anchor's Borsh, 134 bytes as the receiver allocates it:
 *     0  u8[8] discriminator          41  price_message.feed_id [32]
 *     8  write_authority [32]         73  i64 price        93  i64 publish_time
 *    40  u8 verification level tag    81  u64 conf        101  i64 prev_publish_time
 *        (0 Partial, then a u8        89  i32 exponent    109  i64 ema_price
 *         num_signatures; 1 Full)                         117  u64 ema_conf
 *                                                         125  u64 posted_slot
 * The offsets after the tag are Full's: a Partial update carries one more byte there, and is
 * refused before anything past the tag is read. The fields sit at odd offsets, so they are
 * read through a packed struct (byte loads), never through an aligned pointer.
 */
#pragma once
#include "oracle.h"

#define PRICE_UPDATE_V2_LEN 134u
#define PRICE_UPDATE_FEED_ID_LEN 32u
#define VERIFICATION_PARTIAL 0u
#define VERIFICATION_FULL 1u

static const u8 PRICE_UPDATE_V2_DISCRIMINATOR[8] = {34, 241, 35, 99, 157, 126, 244, 205};

/* The bytes of a Full PriceUpdateV2 this module reads. */
typedef struct __attribute__((packed)) {
    u8 discriminator[8];
    u8 write_authority[32];
    u8 verification_level;
    u8 feed_id[PRICE_UPDATE_FEED_ID_LEN];
    i64 price;
    u64 conf;
    i32 exponent;
    i64 publish_time;
    i64 prev_publish_time;
    i64 ema_price;
    u64 ema_conf;
    u64 posted_slot;
} PriceUpdateV2Full;

_Static_assert(__builtin_offsetof(PriceUpdateV2Full, feed_id) == 41, "feed_id");
_Static_assert(__builtin_offsetof(PriceUpdateV2Full, price) == 73, "price");
_Static_assert(__builtin_offsetof(PriceUpdateV2Full, exponent) == 89, "exponent");
_Static_assert(__builtin_offsetof(PriceUpdateV2Full, publish_time) == 93, "publish_time");
_Static_assert(__builtin_offsetof(PriceUpdateV2Full, posted_slot) == 125, "posted_slot");
_Static_assert(sizeof(PriceUpdateV2Full) == PRICE_UPDATE_V2_LEN - 1, "a Full update's bytes");

static inline bool price_update_bytes_eq(const u8 *a, const u8 *b, u64 n) {
    u8 diff = 0;
    for (u64 i = 0; i < n; i++) diff |= (u8)(a[i] ^ b[i]);
    return diff == 0;
}

/* The PriceUpdateV2 in `data` as an OracleQuote at 6 decimals (written only on success), for a
 * market bound to `feed_id`, at `slot` and unix time `now`. Checks, in order:
 *   ERR_INVALID_ORACLE          fewer than 134 bytes, another discriminator, a verification
 *                               tag that is neither Partial nor Full;
 *   ERR_ORACLE_NOT_FULLY_VERIFIED  Partial verification;
 *   ERR_ORACLE_FEED_MISMATCH    another feed id;
 *   ERR_INVALID_ORACLE          exponent outside [-18, 6], price <= 0, or a price that scales
 *                               to 0 or beyond U64_MAX (as the legacy reader);
 *   ERR_STALE_ORACLE            slot > posted_slot + max_staleness_slots (a posted slot ahead
 *                               of `slot` is fresh);
 *   ERR_STALE_PUBLISH_TIME      now > publish_time + max_age_secs (a publish time ahead of
 *                               `now` is fresh; exact, no overflow);
 *   ERR_ORACLE_TOO_UNCERTAIN    the legacy rule: conf * 10^4 > max_conf_bps * price, raw;
 *   ERR_INVALID_ORACLE          a confidence that scales beyond U64_MAX.
 * publish_slot in the quote is the posted slot. */
static inline u64 price_update_quote_e6(const u8 *data, u64 len, const u8 *feed_id,
                                        const OracleLimits *limits, u64 slot, i64 now,
                                        i64 max_age_secs, OracleQuote *q) {
    if (len < PRICE_UPDATE_V2_LEN ||
        !price_update_bytes_eq(data, PRICE_UPDATE_V2_DISCRIMINATOR, 8))
        return ERR_INVALID_ORACLE;
    const PriceUpdateV2Full *u = (const PriceUpdateV2Full *)data;
    if (u->verification_level == VERIFICATION_PARTIAL) return ERR_ORACLE_NOT_FULLY_VERIFIED;
    if (u->verification_level != VERIFICATION_FULL) return ERR_INVALID_ORACLE;
    if (!price_update_bytes_eq(u->feed_id, feed_id, PRICE_UPDATE_FEED_ID_LEN))
        return ERR_ORACLE_FEED_MISMATCH;
    i64 price = u->price;
    u64 conf = u->conf;
    i32 exponent = u->exponent;
    if (exponent < ORACLE_EXPO_MIN || exponent > ORACLE_EXPO_MAX || price <= 0)
        return ERR_INVALID_ORACLE;
    u64 raw = (u64)price, scaled;
    i32 k = exponent + 6;
    if (!oracle_scale_price(raw, k, &scaled)) return ERR_INVALID_ORACLE;
    u64 posted = u->posted_slot;
    if (slot > posted && slot - posted > limits->max_staleness_slots) return ERR_STALE_ORACLE;
    i64 published = u->publish_time;
    /* the difference of two i64 fits a u64 once now > published */
    if (now > published && (u64)now - (u64)published > (u64)max_age_secs)
        return ERR_STALE_PUBLISH_TIME;
    if (oracle_mul_gt(conf, BPS_DENOMINATOR, raw, limits->max_conf_bps))
        return ERR_ORACLE_TOO_UNCERTAIN;
    if (!oracle_scale_conf(conf, k, &q->conf)) return ERR_INVALID_ORACLE;
    q->price = scaled;
    q->publish_slot = posted;
    return SUCCESS;
}
