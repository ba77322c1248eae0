/* The cluster's clock. */
#pragma once
#include "syscalls.h"

static inline i64 clock_unix_timestamp(void) {
    SolClock clock;
    sol_get_clock_sysvar(&clock);
    return clock.unix_timestamp;
}

/* Slot and unix time together, for handlers that judge an oracle's age and a schedule. */
static inline void clock_now(SolClock *clock) { sol_get_clock_sysvar(clock); }
