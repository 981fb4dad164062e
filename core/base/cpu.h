/* Whether this CPU runs AVX-512F code, asked once (cpuid through the compiler's builtin).
 * The hand-vectorized loops (log-softmax sums, SwiGLU, weight packing, fused attention)
 * are compiled for AVX-512 with target attributes and taken only when this says yes. */
#ifndef LS_CPU_H
#define LS_CPU_H

#include <stdbool.h>

static inline bool ls_cpu_avx512f(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static int known = -1; /* a race only writes the same answer twice */
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx512f") ? 1 : 0;
    }
    return known == 1;
#else
    return false;
#endif
}

#endif
