/* What the perp handlers share: the market's oracle quote under the market's own rules, and
 * continuous funding accrual. */
#pragma once
#include "../generated/accounts.h"
#include "../sol/input.h"
#include "../sol/clock.h"
#include "../state/oracle.h"
#include "../state/price_update.h"

/* The market's oracle price and confidence, read as the market's oracle kind and checked
 * against the rules the market copied at creation (oracle owner, staleness in slots and, for
 * PriceUpdateV2, its feed, verification and publish time, confidence); when `opening` (opening, or withdrawing
 * from an open position: both add risk), the price must also be no older than
 * max_open_staleness_slots. Price + conf must stay within PERP_MAX_PRICE. */
u64 perp_quote(const PerpMarket *m, const SolAccountInfo *oracle, const SolClock *clock,
               bool opening, OracleQuote *q);

/* The price a trade of `side` fills at: buying (opening a long, closing a short) at
 * price + conf, selling at price - conf (not below 0). */
u64 perp_fill(const OracleQuote *q, bool buying);

/* Accrues the market's funding from last_accrual_ts to `now` at `price` and the open
 * interest in force. */
void perp_accrue(PerpMarket *m, u64 price, i64 now);

/* The side's funding index and loss index. */
i64 perp_side_index(const PerpMarket *m, u8 side);
/* The funding index a position of `side` snapshots when it opens: the other side's, i.e. the
 * exact index rounded against the position (a long's floor, a short's ceiling). */
i64 perp_snapshot_index(const PerpMarket *m, u8 side);
u64 perp_side_loss_index(const PerpMarket *m, u8 side);
u64 *perp_side_oi(PerpMarket *m, u8 side);

