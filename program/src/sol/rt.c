/* The routines clang emits calls to for struct copies and large zeroing, on top of the
 * memory syscalls (-fno-builtin means the program has no libc). */
#include "syscalls.h"

void *memcpy(void *dst, const void *src, u64 n) {
    sol_memcpy_(dst, src, n);
    return dst;
}
void *memmove(void *dst, const void *src, u64 n) {
    sol_memmove_(dst, src, n);
    return dst;
}
void *memset(void *dst, int c, u64 n) {
    sol_memset_(dst, (u8)c, n);
    return dst;
}
int memcmp(const void *a, const void *b, u64 n) {
    int result;
    sol_memcmp_(a, b, n, &result);
    return result;
}
