/* Core benchmarks (make bench; never a timed test):
 *  1. this machine's memory read bandwidth, measured here, against kurtosis streaming
 *     over model-sized F32/F16/BF16 matrices, both with the same thread count;
 *  2. kurtosis against scipy.stats.kurtosis on the same matrix (when python3-scipy is
 *     installed);
 *  3. detection + allocation for an 80-layer, 560-module profile (runs on every key). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "method/analysis.h"
#include "base/half.h"
#include "method/kurtosis.h"
#include "base/parallel.h"
#include "method/profile.h"
#include "base/rng.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct read_job {
    const uint64_t *data;
    int64_t n, per_task;
    uint64_t sums[64];
} read_job;

/* Sums 64-bit words: a read-only stream with the same software prefetch the kurtosis
 * kernel uses, vectorised where the CPU allows, so the limit it measures is the memory's. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static uint64_t sum_avx512(const uint64_t *p, int64_t n)
{
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm_prefetch((const char *)(p + i + 4096), _MM_HINT_T0);
        _mm_prefetch((const char *)(p + i + 4096 + 8), _MM_HINT_T0);
        _mm_prefetch((const char *)(p + i + 4096 + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(p + i + 4096 + 24), _MM_HINT_T0);
        a = _mm512_add_epi64(a, _mm512_loadu_si512(p + i));
        b = _mm512_add_epi64(b, _mm512_loadu_si512(p + i + 8));
        c = _mm512_add_epi64(c, _mm512_loadu_si512(p + i + 16));
        d = _mm512_add_epi64(d, _mm512_loadu_si512(p + i + 24));
    }
    uint64_t s = (uint64_t)_mm512_reduce_add_epi64(
        _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
    for (; i < n; i++)
        s += p[i];
    return s;
}
#endif

static void read_task(void *ctx, int64_t t)
{
    read_job *j = ctx;
    int64_t b = t * j->per_task, e = b + j->per_task < j->n ? b + j->per_task : j->n;
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f")) {
        j->sums[t] = sum_avx512(j->data + b, e - b);
        return;
    }
#endif
    uint64_t s[8] = {0};
    for (int64_t i = b; i + 8 <= e; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += j->data[i + k];
    j->sums[t] = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

/* One timed read of buf with `threads` threads; GB/s. */
static double bandwidth_once(const uint64_t *buf, size_t bytes, int threads)
{
    read_job j = {buf, (int64_t)(bytes / 8), 0, {0}};
    j.per_task = (j.n + threads - 1) / threads;
    double t0 = now();
    ls_parallel_for(threads, threads, read_task, &j);
    return bytes / (now() - t0) / 1e9;
}

static float *normal_matrix(int64_t n, uint64_t seed)
{
    float *x = malloc((size_t)n * 4);
    ls_rng r;
    ls_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = ((ls_rng_next(&r) >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((ls_rng_next(&r) >> 11) + 0.5) / 9007199254740992.0;
        double rad = sqrt(-2 * log(u1)) * 0.02;
        x[i] = (float)(rad * cos(6.283185307179586 * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(rad * sin(6.283185307179586 * u2));
    }
    return x;
}

/* Kurtosis over n_mat matrices in sequence, as the model job does; GB/s of tensor data. */
static double kurtosis_once(void *const *mats, int n_mat, ls_dtype dt, int64_t n, int threads)
{
    ls_kurtosis_result r;
    double t0 = now();
    for (int i = 0; i < n_mat; i++)
        ls_kurtosis_data(mats[i], dt, n, threads, &r);
    return (double)n_mat * n * ls_dtype_size(dt) / (now() - t0) / 1e9;
}

/* Eight 11008x4096 matrices (a Llama-2-7B MLP's size) per dtype, about 1.4 GB in F32: far
 * beyond the caches. Bandwidth and kurtosis runs alternate and each keeps its best of 5,
 * so a noisy neighbour affects both alike. */
static void bench_kurtosis(int threads)
{
    enum { N_MAT = 8 };
    const int64_t n = (int64_t)11008 * 4096;
    const size_t bw_bytes = (size_t)2 << 30; /* beyond the L3 cache */
    uint64_t *bw_buf = malloc(bw_bytes);
    memset(bw_buf, 1, bw_bytes);
    static const char *const names[3] = {"F32", "F16", "BF16"};
    static const ls_dtype dts[3] = {LS_DT_F32, LS_DT_F16, LS_DT_BF16};
    void *mats[3][N_MAT];
    float *f = normal_matrix(n, 1);
    for (int k = 0; k < N_MAT; k++) {
        mats[0][k] = malloc((size_t)n * 4);
        mats[1][k] = malloc((size_t)n * 2);
        mats[2][k] = malloc((size_t)n * 2);
        memcpy(mats[0][k], f, (size_t)n * 4);
        for (int64_t i = 0; i < n; i++) {
            ((uint16_t *)mats[1][k])[i] = ls_f32_to_f16(f[i]);
            ((uint16_t *)mats[2][k])[i] = ls_f32_to_bf16(f[i]);
        }
    }
    double bw = 0, kg[3] = {0};
    for (int rep = 0; rep < 5; rep++) {
        double b = bandwidth_once(bw_buf, bw_bytes, threads);
        bw = b > bw ? b : bw;
        for (int d = 0; d < 3; d++) {
            double g = kurtosis_once(mats[d], N_MAT, dts[d], n, threads);
            kg[d] = g > kg[d] ? g : kg[d];
        }
    }
    printf("memory read bandwidth, %d thread%s, 2 GiB, best of 5: %.2f GB/s\n", threads,
           threads > 1 ? "s" : "", bw);
    for (int d = 0; d < 3; d++)
        printf("kurtosis %-4s 8 x 11008x4096, %d thread%s, best of 5: %6.2f GB/s = %5.1f %% "
               "of that bandwidth (%.3f ns/weight)\n", names[d], threads, threads > 1 ? "s" : "",
               kg[d], 100 * kg[d] / bw, ls_dtype_size(dts[d]) / kg[d]);
    /* scipy on one of the same F32 matrices */
    const char *py = NULL;
    if (system("/usr/bin/python3 -c 'import scipy.stats' >/dev/null 2>&1") == 0)
        py = "/usr/bin/python3";
    else if (system("python3 -c 'import scipy.stats' >/dev/null 2>&1") == 0)
        py = "python3";
    if (!py) {
        printf("scipy: python3-scipy not installed; no ratio\n");
    } else {
        const char *path = "build/bench_kurtosis.f32";
        FILE *fp = fopen(path, "wb");
        fwrite(f, 4, (size_t)n, fp);
        fclose(fp);
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "%s -c \"import numpy as np, scipy.stats as s, time\n"
                 "x=np.fromfile('%s', dtype=np.float32)\n"
                 "best=1e9\n"
                 "for _ in range(3):\n"
                 "  t=time.perf_counter(); k=s.kurtosis(x, fisher=False, bias=True); "
                 "best=min(best, time.perf_counter()-t)\n"
                 "print(best, float(k))\"",
                 py, path);
        FILE *p = popen(cmd, "r");
        double secs = 0, k = 0;
        if (p && fscanf(p, "%lf %lf", &secs, &k) == 2) {
            double ours = 1e9;
            ls_kurtosis_result r;
            for (int rep = 0; rep < 3; rep++) {
                double t0 = now();
                ls_kurtosis_data(f, LS_DT_F32, n, threads, &r);
                double t = now() - t0;
                ours = t < ours ? t : ours;
            }
            printf("scipy.stats.kurtosis on one F32 11008x4096 matrix (best of 3): %.1f ms; "
                   "layerscope %.1f ms with %d thread%s: %.1fx faster (values %.9f and %.9f; "
                   "scipy accumulates float32 input in float32)\n", secs * 1e3, ours * 1e3,
                   threads, threads > 1 ? "s" : "", secs / ours, k, r.kurtosis);
        } else {
            printf("scipy: run failed; no ratio\n");
        }
        if (p)
            pclose(p);
        remove(path);
    }
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < N_MAT; k++)
            free(mats[d][k]);
    free(f);
    free(bw_buf);
}

static void bench_analysis(void)
{
    const int L = 80;
    ls_profile *p = ls_profile_new(L, "bench-80", "synthetic", "synthetic", NULL);
    ls_rng r;
    ls_rng_seed(&r, 7);
    for (int i = 0; i < L * 7; i++) {
        p->params[i] = 8192LL * 8192;
        p->kurtosis[i] = 3 + (ls_rng_next(&r) % 1000) / 100.0;
        p->sensitivity[i] = 1e-6 * (1 + (ls_rng_next(&r) % 1000) / 10.0);
    }
    ls_analysis *a = malloc(sizeof *a);
    ls_settings s = ls_settings_default();
    static const ls_method methods[] = {LS_METHOD_SENSI, LS_METHOD_KURT, LS_METHOD_BOTH};
    for (int k = 0; k < 3; k++) {
        s.method = methods[k];
        const int reps = 2000;
        double t0 = now();
        for (int i = 0; i < reps; i++)
            ls_analyze(p, &s, NULL, a, NULL);
        double us = (now() - t0) / reps * 1e6;
        printf("detection + allocation + memory, 80 layers x 7 modules, method %-5s: "
               "%.1f us per call (limit 1000 us)\n", ls_method_name(methods[k]), us);
    }
    free(a);
    ls_profile_free(p);
}

int main(void)
{
    int threads = ls_cpu_count();
    printf("== core benchmarks (%d cores)\n", threads);
    bench_kurtosis(threads);
    if (threads > 1)
        bench_kurtosis(1);
    bench_analysis();
    return 0;
}
