/* The cluster's clock. */
#pragma once
#include "syscalls.h"

static inline i64 clock_unix_timestamp(void) {
    SolClock clock;
    sol_get_clock_sysvar(&clock);
    return clock.unix_timestamp;
}
