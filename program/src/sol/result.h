/* Instruction results: 0 is success, anything else an error the runtime reports. */
#pragma once
#include "types.h"
#include "../generated/errors.h"

#define SUCCESS 0ULL

/* Return the error of a step that failed. */
#define TRY(expr)                  \
    do {                           \
        u64 try_err_ = (expr);     \
        if (try_err_) return try_err_; \
    } while (0)
