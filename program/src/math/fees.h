/* Fees in basis points, pure. */
#pragma once
#include "checked.h"
#include "units.h"


/* ceil(amount * bps / 10^4): fees round up, in the protocol's favour; never above amount
 * while bps <= 10^4. */
static inline bool fee_ceil(u64 amount, u16 bps, u64 *fee) {
    return u64_mul_div_ceil(amount, bps, BPS_DENOMINATOR, fee);
}
