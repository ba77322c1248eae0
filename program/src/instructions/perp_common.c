/* The perp handlers' shared steps: reading the oracle under the market's rules, accruing. */
#include "perp_common.h"
#include "../math/perp.h"
#include "../sol/pubkey.h"
#include "../sol/result.h"

u64 perp_quote(const PerpMarket *m, const SolAccountInfo *oracle, const SolClock *clock,
               bool opening, OracleQuote *q) {
    if (!pubkey_eq(oracle->key, &m->oracle)) return ERR_ORACLE_MISMATCH;
    if (!pubkey_eq(oracle->owner, &m->pyth_program)) return ERR_INVALID_ORACLE;
    u64 staleness = m->max_oracle_staleness_slots;
    if (opening && m->max_open_staleness_slots < staleness) staleness = m->max_open_staleness_slots;
    OracleLimits limits = {staleness, m->max_oracle_conf_bps};
    if (m->oracle_kind == ORACLE_KIND_PRICE_UPDATE_V2)
        TRY(price_update_quote_e6(oracle->data, oracle->data_len, m->feed_id, &limits,
                                  clock->slot, clock->unix_timestamp, m->max_price_age_secs, q));
    else
        TRY(oracle_quote_e6(oracle->data, oracle->data_len, &limits, clock->slot, q));
    if (q->price > PERP_MAX_PRICE || q->conf > PERP_MAX_PRICE - q->price)
        return ERR_INVALID_ORACLE;
    return SUCCESS;
}

u64 perp_fill(const OracleQuote *q, bool buying) {
    if (buying) return q->price + q->conf;
    return q->price > q->conf ? q->price - q->conf : 0;
}

void perp_accrue(PerpMarket *m, u64 price, i64 now) {
    if (now <= m->last_accrual_ts) return;
    i64 rate = perp_funding_rate_ppm(m->long_oi, m->short_oi, m->max_funding_bps);
    if (rate != 0) {
        u64 up, down;
        perp_accrual(rate, price, now - m->last_accrual_ts, m->funding_interval_secs,
                     &m->funding_remainder, &up, &down);
        m->cumulative_funding = (i64)((u64)m->cumulative_funding + up);
        m->cumulative_funding_short = (i64)((u64)m->cumulative_funding_short + down);
    }
    m->last_accrual_ts = now;
}

i64 perp_side_index(const PerpMarket *m, u8 side) {
    return side == SIDE_LONG ? m->cumulative_funding : m->cumulative_funding_short;
}

i64 perp_snapshot_index(const PerpMarket *m, u8 side) {
    return perp_side_index(m, side == SIDE_LONG ? SIDE_SHORT : SIDE_LONG);
}

u64 perp_side_loss_index(const PerpMarket *m, u8 side) {
    return side == SIDE_LONG ? m->loss_index_long : m->loss_index_short;
}

u64 *perp_side_oi(PerpMarket *m, u8 side) {
    return side == SIDE_LONG ? &m->long_oi : &m->short_oi;
}
