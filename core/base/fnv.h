/* FNV-1a, 64-bit: the hash of the keys that sessions, caches and resumable states are
 * stored under (what they depend on). Not for security. */
#ifndef LS_FNV_H
#define LS_FNV_H

#include <stddef.h>
#include <stdint.h>

#define LS_FNV_OFFSET 0xcbf29ce484222325ull

static inline uint64_t ls_fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

#endif
