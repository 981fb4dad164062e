/* Whether this CPU runs AVX-512F code, asked once (cpuid through the compiler's builtin).
 * The hand-vectorized loops (log-softmax sums, SwiGLU, weight packing, fused attention)
 * are compiled for AVX-512 with target attributes and taken only when this says yes. */
#ifndef LS_CPU_H
#define LS_CPU_H

#include <stdatomic.h>
#include <stdbool.h>

static inline bool ls_cpu_avx512f(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static atomic_int known = -1; /* threads may ask at once: each writes the same answer */
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (k < 0) {
        __builtin_cpu_init();
        k = __builtin_cpu_supports("avx512f") ? 1 : 0;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k == 1;
#else
    return false;
#endif
}

#endif
