/* SplitMix64 (docs/method.md §7.2): the project's one seeded generator, for ablation draws and
 * the calibration shuffle. State lives in the caller, so there is no global state. */
#ifndef LS_RNG_H
#define LS_RNG_H

#include <stdint.h>

typedef struct ls_rng {
    uint64_t x;
} ls_rng;

static inline void ls_rng_seed(ls_rng *r, uint64_t seed)
{
    r->x = seed;
}

static inline uint64_t ls_rng_next(ls_rng *r)
{
    uint64_t z = (r->x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#endif
