/* Base types shared by the program and by host-compiled pure modules (math/).
 * No syscalls here: this header must compile for the host as well as for SBF. */
#pragma once

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char i8;
typedef short i16;
typedef int i32;
typedef long long i64;
/* 128-bit values are stored and added natively; multiply, divide and variable
 * shifts go through math/ because upstream BPF refuses their libcalls. */
typedef unsigned __int128 u128;
typedef __int128 i128;
typedef _Bool bool;

#define true 1
#define false 0
#ifndef NULL
#define NULL ((void *)0)
#endif

#define U64_MAX 0xffffffffffffffffULL
#define I64_MAX 0x7fffffffffffffffLL
#define I64_MIN (-I64_MAX - 1)

/* A public key, as Solana's C SDK names it. */
typedef struct {
    u8 x[32];
} SolPubkey;
