#include "nn/blas_check.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/parallel.h"

char *openblas_get_config(void); /* OpenBLAS; not declared by every cblas.h */

const char *ls_blas_corename(void)
{
    const char *c = openblas_get_corename();
    return c ? c : "unknown";
}

int ls_blas_threads(void)
{
    return openblas_get_num_threads();
}

void ls_blas_use_caller_thread_only(void)
{
    openblas_set_num_threads(1);
}

const char *ls_blas_better_core(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    if (__builtin_cpu_supports("avx"))
        return "Sandybridge";
#endif
    return NULL;
}

/* Kernels without AVX: generic choices of DYNAMIC_ARCH for an unknown CPU. */
static bool generic_core(const char *c)
{
    static const char *const g[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem",
                                    "Atom", "Generic", "Katmai", "Coppermine", "Northwood",
                                    "Banias", "Athlon", "Opteron", "Barcelona", NULL};
    for (int i = 0; g[i]; i++)
        if (strcasecmp(c, g[i]) == 0)
            return true;
    return false;
}

bool ls_blas_check(char *msg, size_t cap)
{
    if (cap)
        msg[0] = '\0';
    const char *core = ls_blas_corename();
    const char *better = ls_blas_better_core();
    if (!better || !generic_core(core))
        return false;
    const char *env = getenv("OPENBLAS_CORETYPE");
    if (env && *env)
        snprintf(msg, cap, "OpenBLAS uses its generic %s kernel on this CPU although "
                 "OPENBLAS_CORETYPE=%s is set; try OPENBLAS_CORETYPE=%s", core, env, better);
    else
        snprintf(msg, cap, "OpenBLAS uses its generic %s kernel on this CPU; run with "
                 "OPENBLAS_CORETYPE=%s for %s faster matrix products", core, better,
                 strcmp(better, "SkylakeX") == 0 ? "about 7x" : "much");
    return true;
}

void ls_blas_describe(char *buf, size_t cap)
{
    const char *cfg = openblas_get_config();
    if (ls_blas_threads() > 1)
        snprintf(buf, cap, "%s, core %s, %d threads", cfg ? cfg : "OpenBLAS",
                 ls_blas_corename(), ls_blas_threads());
    else
        snprintf(buf, cap, "%s, core %s, one thread per call (large products split over "
                 "%d CPUs by layerscope)", cfg ? cfg : "OpenBLAS", ls_blas_corename(),
                 ls_cpu_count());
}
