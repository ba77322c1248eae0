/* Logging: the program logs nothing on success but its events. */
#pragma once
#include "syscalls.h"

/* One "Program data: <base64>" line, the form Anchor's event parsers read. */
static inline void sol_log_bytes(const u8 *bytes, u64 len) {
    SolBytes slice = {bytes, len};
    sol_log_data(&slice, 1);
}
