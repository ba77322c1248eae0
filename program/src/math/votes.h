/* Stake-weighted votes, pure. A vote's weight is its stake, so splitting one wallet's money
 * over many wallets gains nothing.
 *
 * Bounds (enforced where stake enters, in vote_proposal and vote_dispute): one vote's stake is
 * at most MAX_VOTE_STAKE and each tally (likes + dislikes, agree + disagree) at most
 * MAX_VOTE_TALLY, so every sum here fits a u64 and every product a u128. */
#pragma once
#include "checked.h"
#include "units.h"

#define MAX_VOTE_STAKE 1000000000000000ULL     /* 10^9 quote */
#define MAX_VOTE_TALLY 1000000000000000000ULL  /* 10^12 quote per tally */

/* The tally after adding `stake`, within MAX_VOTE_TALLY (else false). */
static inline bool vote_tally_add(u64 yes, u64 no, u64 stake, u64 *tally) {
    u64 total;
    return u64_add(yes, no, &total) && u64_add(total, stake, tally) && *tally <= MAX_VOTE_TALLY;
}

/* part / total >= bps / 10^4, exactly. */
static inline bool vote_share_reached(u64 part, u64 total, u16 bps) {
    u128 have, needed;
    u128_mul64(part, BPS_DENOMINATOR, &have);
    u128_mul64(total, bps, &needed);
    return have >= needed;
}

/* Approved iff the total stake reached the quorum (at least 1) and likes reached
 * approval_bps of it. Only asked once the proposal window has closed. */
static inline bool proposal_approved(u64 likes, u64 dislikes, u64 quorum, u16 approval_bps) {
    u64 total = likes + dislikes;
    if (total == 0 || total < quorum) return false;
    return vote_share_reached(likes, total, approval_bps);
}

/* The dispute stake an overturn needs: max(min_quorum, ceil(collateral * quorum_bps / 10^4)),
 * rounded up so that an overturn is never cheaper than the rule says. */
static inline bool dispute_quorum(u64 collateral, u16 quorum_bps, u64 min_quorum, u64 *out) {
    u64 share;
    if (!u64_mul_div_ceil(collateral, quorum_bps, BPS_DENOMINATOR, &share)) return false;
    *out = share > min_quorum ? share : min_quorum;
    return true;
}

/* Overturned iff the total dispute stake reached the quorum and disagree reached
 * overturn_bps of it; otherwise the proposed outcome stands. */
static inline bool dispute_overturned(u64 agree, u64 disagree, u64 quorum, u16 overturn_bps) {
    u64 total = agree + disagree;
    if (total == 0 || total < quorum) return false;
    return vote_share_reached(disagree, total, overturn_bps);
}

/* What a dispute voter gets back at claim_vote. Losers (when there are winners) lose
 * ceil(stake * slash_bps / 10^4); the slashed pool is floor(losers * slash_bps / 10^4) and
 * each winner gets floor(stake * pool / winners) of it. Both roundings keep the total paid
 * at most the total staked; the dust stays with the market until its last claim. With no
 * winners nobody is slashed. */
static inline bool dispute_claim(u64 stake, bool won, u64 winners, u64 losers, u16 slash_bps,
                                 u64 *paid) {
    if (winners == 0 || slash_bps == 0) {
        *paid = stake;
        return true;
    }
    if (!won) {
        u64 slash;
        if (!u64_mul_div_ceil(stake, slash_bps, BPS_DENOMINATOR, &slash) || slash > stake)
            return false;
        *paid = stake - slash;
        return true;
    }
    u64 pool, bonus;
    return u64_mul_div_floor(losers, slash_bps, BPS_DENOMINATOR, &pool) &&
           u64_mul_div_floor(stake, pool, winners, &bonus) && u64_add(stake, bonus, paid);
}
