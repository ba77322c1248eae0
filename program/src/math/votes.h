/* Vote thresholds, pure. Tallies are counts of wallets, kept by the handlers so that
 * likes + dislikes (and agree + disagree) never exceed U64_MAX. */
#pragma once
#include "checked.h"
#include "units.h"


/* likes / (likes + dislikes) >= approval_bps / 10^4, with at least min_votes votes. */
static inline bool proposal_approved(u64 likes, u64 dislikes, u64 min_votes, u16 approval_bps) {
    u64 total = likes + dislikes;
    if (total < min_votes || total == 0) return false;
    u128 yes, needed;
    u128_mul64(likes, BPS_DENOMINATOR, &yes);
    u128_mul64(total, approval_bps, &needed);
    return yes >= needed;
}

/* disagree / (agree + disagree) >= overturn_bps / 10^4, with at least one vote. */
static inline bool dispute_overturned(u64 agree, u64 disagree, u16 overturn_bps) {
    u64 total = agree + disagree;
    if (total == 0) return false;
    u128 against, needed;
    u128_mul64(disagree, BPS_DENOMINATOR, &against);
    u128_mul64(total, overturn_bps, &needed);
    return against >= needed;
}
