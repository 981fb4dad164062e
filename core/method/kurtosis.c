#include "method/kurtosis.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/half.h"
#include "base/mapfile.h"
#include "base/parallel.h"

#define BLOCK 2048              /* elements converted to double at once: 16 KiB, in L1 */
#define CHUNK ((int64_t)1 << 18) /* elements per task; fixed so results never depend on threads */

/* Central moment sums of a set: n, mean, M2 = sum (x-mean)^2, M3, M4. */
typedef struct moments {
    double n, mean, M2, M3, M4;
} moments;

/* Pebay (2008) pairwise update: a <- a U b. */
static void merge(moments *a, const moments *b)
{
    if (b->n == 0)
        return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    double na = a->n, nb = b->n, n = na + nb;
    double d = b->mean - a->mean, d2 = d * d;
    double M2 = a->M2 + b->M2 + d2 * na * nb / n;
    double M3 = a->M3 + b->M3 + d * d2 * na * nb * (na - nb) / (n * n) +
                3.0 * d * (na * b->M2 - nb * a->M2) / n;
    double M4 = a->M4 + b->M4 + d2 * d2 * na * nb * (na * na - na * nb + nb * nb) / (n * n * n) +
                6.0 * d2 * (na * na * b->M2 + nb * nb * a->M2) / (n * n) +
                4.0 * d * (na * b->M3 - nb * a->M3) / n;
    a->mean += d * nb / n;
    a->M2 = M2;
    a->M3 = M3;
    a->M4 = M4;
    a->n = n;
}

/* Converts up to BLOCK elements to double, dropping non-finite ones. Returns the count. */
static int load_block(const void *data, ls_dtype dt, int64_t start, int len, double *buf,
                      int64_t *nonfinite)
{
    /* Mapped tensors need not be aligned: elements are copied out, never dereferenced
     * through a cast pointer. */
    const unsigned char *p = (const unsigned char *)data + start * (int64_t)ls_dtype_size(dt);
    int k = 0;
    for (int i = 0; i < len; i++) {
        float f;
        if (dt == LS_DT_F32) {
            memcpy(&f, p + 4 * (int64_t)i, 4);
        } else {
            uint16_t h;
            memcpy(&h, p + 2 * (int64_t)i, 2);
            f = dt == LS_DT_F16 ? ls_f16_to_f32(h) : ls_bf16_to_f32(h);
        }
        buf[k] = f;
        k += isfinite(f) ? 1 : 0;
    }
    *nonfinite += len - k;
    return k;
}

/* Moments of one block in two passes over data that sits in L1. Eight independent
 * accumulators let the compiler vectorise without reassociating a single sum. */
static moments block_moments(const double *x, int n)
{
    moments m = {0};
    if (n == 0)
        return m;
    double s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += x[i + j];
    double sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < n; i++)
        sum += x[i];
    double mean = sum / n;
    double a2[8] = {0}, a3[8] = {0}, a4[8] = {0};
    i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            double d = x[i + j] - mean, d2 = d * d;
            a2[j] += d2;
            a3[j] += d2 * d;
            a4[j] += d2 * d2;
        }
    double M2 = 0, M3 = 0, M4 = 0;
    for (int j = 0; j < 8; j++) {
        M2 += a2[j];
        M3 += a3[j];
        M4 += a4[j];
    }
    for (; i < n; i++) {
        double d = x[i] - mean, d2 = d * d;
        M2 += d2;
        M3 += d2 * d;
        M4 += d2 * d2;
    }
    m.n = n;
    m.mean = mean;
    m.M2 = M2;
    m.M3 = M3;
    m.M4 = M4;
    return m;
}


#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LS_KURT_SIMD 1
#define PREFETCH_ELEMS (4 * BLOCK)

/* Vector kernels for one block of len elements (a multiple of the vector width): pass 1
 * sums the block, pass 2 re-reads it (it is in L1) for the central sums. They return false
 * when the block holds a non-finite value; the scalar path then handles that block. */
__attribute__((target("avx512f,avx512dq"), always_inline))
static inline __m512 load16(const void *data, ls_dtype dt, int64_t i)
{
    switch (dt) {
    case LS_DT_F16:
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)data + i)));
    case LS_DT_BF16: {
        __m512i w = _mm512_cvtepu16_epi32(
            _mm256_loadu_si256((const __m256i *)((const uint16_t *)data + i)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    }
    default:
        return _mm512_loadu_ps((const float *)data + i);
    }
}

__attribute__((target("avx512f,avx512dq")))
static bool block_avx512(const void *data, ls_dtype dt, int64_t start, int len, moments *out)
{
    const __m512 inf = _mm512_set1_ps(INFINITY);
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    __mmask16 finite = 0xffff;
    for (int i = 0; i < len; i += 16) {
        __m512 x = load16(data, dt, start + i);
        finite &= _mm512_cmp_ps_mask(_mm512_abs_ps(x), inf, _CMP_LT_OQ);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(x)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
    }
    if (finite != 0xffff)
        return false;
    double mean = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) / len;
    __m512d m = _mm512_set1_pd(mean);
    __m512d a2 = _mm512_setzero_pd(), a3 = a2, a4 = a2, b2 = a2, b3 = a2, b4 = a2;
    for (int i = 0; i < len; i += 16) {
        __m512 x = load16(data, dt, start + i);
        __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(x)), m);
        __m512d e = _mm512_sub_pd(
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))), m);
        __m512d d2 = _mm512_mul_pd(d, d), e2 = _mm512_mul_pd(e, e);
        a2 = _mm512_add_pd(a2, d2);
        b2 = _mm512_add_pd(b2, e2);
        a3 = _mm512_fmadd_pd(d2, d, a3);
        b3 = _mm512_fmadd_pd(e2, e, b3);
        a4 = _mm512_fmadd_pd(d2, d2, a4);
        b4 = _mm512_fmadd_pd(e2, e2, b4);
    }
    out->n = len;
    out->mean = mean;
    out->M2 = _mm512_reduce_add_pd(_mm512_add_pd(a2, b2));
    out->M3 = _mm512_reduce_add_pd(_mm512_add_pd(a3, b3));
    out->M4 = _mm512_reduce_add_pd(_mm512_add_pd(a4, b4));
    return true;
}

/* Raw sums of d = x - c, d^2, d^3, d^4 in one pass (8 double lanes, two accumulator sets),
 * for a shift c close to the block mean; the caller turns them into central moments. The
 * body is instantiated once per dtype so the loop carries no dtype branch. */
__attribute__((target("avx512f,avx512dq"), always_inline))
static inline bool shifted_body(const void *data, ls_dtype dt, int64_t start, int len,
                                double c, bool at_origin, double sums[4])
{
    const __m512d cc = _mm512_set1_pd(c);
    __m512d s1 = _mm512_setzero_pd(), s2 = s1, s3 = s1, s4 = s1;
    __m512d t1 = s1, t2 = s1, t3 = s1, t4 = s1;
    const int64_t esize = (int64_t)ls_dtype_size(dt);
    const char *ahead = (const char *)data + (start + PREFETCH_ELEMS) * esize;
    for (int i = 0; i < len; i += 16) {
        /* Software prefetch a few blocks ahead: the hardware streamer stops at page
         * boundaries and alone leaves this loop latency-bound. */
        _mm_prefetch(ahead + i * esize, _MM_HINT_T0);
        __m512 x = load16(data, dt, start + i);
        __m512d d = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
        __m512d e =
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
        if (!at_origin) { /* constant-folded: the origin variant saves two subtractions */
            d = _mm512_sub_pd(d, cc);
            e = _mm512_sub_pd(e, cc);
        }
        __m512d d2 = _mm512_mul_pd(d, d), e2 = _mm512_mul_pd(e, e);
        s1 = _mm512_add_pd(s1, d);
        t1 = _mm512_add_pd(t1, e);
        s2 = _mm512_add_pd(s2, d2);
        t2 = _mm512_add_pd(t2, e2);
        s3 = _mm512_fmadd_pd(d2, d, s3);
        t3 = _mm512_fmadd_pd(e2, e, t3);
        s4 = _mm512_fmadd_pd(d2, d2, s4);
        t4 = _mm512_fmadd_pd(e2, e2, t4);
    }
    sums[0] = _mm512_reduce_add_pd(_mm512_add_pd(s1, t1));
    sums[1] = _mm512_reduce_add_pd(_mm512_add_pd(s2, t2));
    sums[2] = _mm512_reduce_add_pd(_mm512_add_pd(s3, t3));
    sums[3] = _mm512_reduce_add_pd(_mm512_add_pd(s4, t4));
    /* A NaN or Inf element makes the sums non-finite, so no per-element test is needed. */
    return isfinite(sums[0]) && isfinite(sums[1]) && isfinite(sums[2]) && isfinite(sums[3]);
}

__attribute__((target("avx512f,avx512dq")))
static bool shifted_avx512(const void *data, ls_dtype dt, int64_t start, int len, double c,
                           double sums[4])
{
    bool o = c == 0;
    switch (dt) {
    case LS_DT_F16:
        return o ? shifted_body(data, LS_DT_F16, start, len, 0, true, sums)
                 : shifted_body(data, LS_DT_F16, start, len, c, false, sums);
    case LS_DT_BF16:
        return o ? shifted_body(data, LS_DT_BF16, start, len, 0, true, sums)
                 : shifted_body(data, LS_DT_BF16, start, len, c, false, sums);
    default:
        return o ? shifted_body(data, LS_DT_F32, start, len, 0, true, sums)
                 : shifted_body(data, LS_DT_F32, start, len, c, false, sums);
    }
}

__attribute__((target("avx2,f16c,fma")))
static inline __m256 load8(const void *data, ls_dtype dt, int64_t i)
{
    switch (dt) {
    case LS_DT_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)data + i)));
    case LS_DT_BF16: {
        __m256i w = _mm256_cvtepu16_epi32(
            _mm_loadu_si128((const __m128i *)((const uint16_t *)data + i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    default:
        return _mm256_loadu_ps((const float *)data + i);
    }
}

__attribute__((target("avx2,f16c,fma")))
static double hsum256(__m256d v)
{
    __m128d lo = _mm256_castpd256_pd128(v), hi = _mm256_extractf128_pd(v, 1);
    lo = _mm_add_pd(lo, hi);
    return _mm_cvtsd_f64(lo) + _mm_cvtsd_f64(_mm_unpackhi_pd(lo, lo));
}

__attribute__((target("avx2,f16c,fma")))
static bool block_avx2(const void *data, ls_dtype dt, int64_t start, int len, moments *out)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 inf = _mm256_set1_ps(INFINITY);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int finite = 0xff;
    for (int i = 0; i < len; i += 8) {
        __m256 x = load8(data, dt, start + i);
        finite &= _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(x, abs_mask), inf, _CMP_LT_OQ));
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
    }
    if (finite != 0xff)
        return false;
    double mean = hsum256(_mm256_add_pd(s0, s1)) / len;
    __m256d m = _mm256_set1_pd(mean);
    __m256d a2 = _mm256_setzero_pd(), a3 = a2, a4 = a2, b2 = a2, b3 = a2, b4 = a2;
    for (int i = 0; i < len; i += 8) {
        __m256 x = load8(data, dt, start + i);
        __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), m);
        __m256d e = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), m);
        __m256d d2 = _mm256_mul_pd(d, d), e2 = _mm256_mul_pd(e, e);
        a2 = _mm256_add_pd(a2, d2);
        b2 = _mm256_add_pd(b2, e2);
        a3 = _mm256_fmadd_pd(d2, d, a3);
        b3 = _mm256_fmadd_pd(e2, e, b3);
        a4 = _mm256_fmadd_pd(d2, d2, a4);
        b4 = _mm256_fmadd_pd(e2, e2, b4);
    }
    out->n = len;
    out->mean = mean;
    out->M2 = hsum256(_mm256_add_pd(a2, b2));
    out->M3 = hsum256(_mm256_add_pd(a3, b3));
    out->M4 = hsum256(_mm256_add_pd(a4, b4));
    return true;
}
#endif

/* Which block kernel this CPU runs; asked per call (cheap), so no global state. */
typedef enum kernel { KERNEL_SCALAR, KERNEL_AVX2, KERNEL_AVX512 } kernel;

static kernel pick_kernel(void)
{
    /* LAYERSCOPE_KURTOSIS_KERNEL=scalar|avx2 caps the kernel (tests compare all paths). */
    const char *cap = getenv("LAYERSCOPE_KURTOSIS_KERNEL");
    if (cap && strcmp(cap, "scalar") == 0)
        return KERNEL_SCALAR;
#ifdef LS_KURT_SIMD
    if (cap && strcmp(cap, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? KERNEL_AVX2
                                                                                : KERNEL_SCALAR;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        return KERNEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return KERNEL_AVX2;
#endif
    return KERNEL_SCALAR;
}

/* Central moments of a block from raw sums about c (n elements). Returns false when the
 * shift is not small against the block's spread, where cancellation could cost digits:
 * the caller then uses the two-pass kernel. */
static bool central_from_shifted(const double sums[4], int n, double c, moments *out)
{
    double d = sums[0] / n, d2 = d * d;
    double M2 = sums[1] - n * d2;
    if (!(M2 > 0) || d2 > 0.25 * (M2 / n))
        return false;
    out->n = n;
    out->mean = c + d;
    out->M2 = M2;
    out->M3 = sums[2] - 3.0 * d * sums[1] + 2.0 * n * d2 * d;
    out->M4 = sums[3] - 4.0 * d * sums[2] + 6.0 * d2 * sums[1] - 3.0 * n * d2 * d2;
    return true;
}

/* One block with the vector kernels: a single pass about the shift c (the previous block's
 * mean) when that is accurate, else two passes. False when the block holds a non-finite
 * value or no vector kernel applies. */
static bool block_simd(kernel k, const void *data, ls_dtype dt, int64_t start, int len,
                       const double *shift, moments *out)
{
#ifdef LS_KURT_SIMD
    if (k == KERNEL_AVX512 && len % 16 == 0) {
        double sums[4];
        if (shift && shifted_avx512(data, dt, start, len, *shift, sums) &&
            central_from_shifted(sums, len, *shift, out))
            return true;
        return block_avx512(data, dt, start, len, out);
    }
    if (k == KERNEL_AVX2 && len % 8 == 0)
        return block_avx2(data, dt, start, len, out);
#else
    (void)data, (void)dt, (void)start, (void)len, (void)shift, (void)out;
#endif
    (void)k;
    return false;
}

/* Moments of elements [begin, end), merged block by block in index order. */
static void range_moments(kernel kern, const void *data, ls_dtype dt, int64_t begin,
                          int64_t end, moments *out, int64_t *nonfinite)
{
    double buf[BLOCK];
    moments acc = {0};
    int64_t nf = 0;
    double shift = 0; /* weight matrices are centred near 0: start at the origin */
    for (int64_t b = begin; b < end; b += BLOCK) {
        int len = (int)(end - b < BLOCK ? end - b : BLOCK);
        moments bm;
        if (block_simd(kern, data, dt, b, len, &shift, &bm)) {
            /* Next block's shift: the origin while the data stays centred there (the
             * cheaper kernel), else this block's mean. */
            shift = bm.mean * bm.mean < 0.01 * bm.M2 / bm.n ? 0.0 : bm.mean;
        } else {
            int k = load_block(data, dt, b, len, buf, &nf);
            bm = block_moments(buf, k);
        }
        merge(&acc, &bm);
    }
    *out = acc;
    *nonfinite = nf;
}

typedef struct kurt_job {
    kernel kern;
    const void *data;
    ls_dtype dt;
    int64_t n;
    moments *chunk_moments;
    int64_t *chunk_nonfinite;
} kurt_job;

static void chunk_task(void *ctx, int64_t task)
{
    kurt_job *job = ctx;
    int64_t begin = task * CHUNK, end = begin + CHUNK < job->n ? begin + CHUNK : job->n;
    range_moments(job->kern, job->data, job->dt, begin, end, &job->chunk_moments[task],
                  &job->chunk_nonfinite[task]);
}

void ls_kurtosis_data(const void *data, ls_dtype dt, int64_t n, int threads,
                      ls_kurtosis_result *out)
{
    memset(out, 0, sizeof *out);
    out->kurtosis = out->mean = out->m2 = out->m4 = NAN;
    if (n <= 0)
        return;
    int64_t n_chunks = (n + CHUNK - 1) / CHUNK;
    kurt_job job = {pick_kernel(), data, dt, n, malloc((size_t)n_chunks * sizeof(moments)),
                    malloc((size_t)n_chunks * sizeof(int64_t))};
    bool parallel = job.chunk_moments && job.chunk_nonfinite;
    if (parallel)
        ls_parallel_for(n_chunks, threads, chunk_task, &job);
    moments total = {0};
    int64_t nonfinite = 0;
    for (int64_t c = 0; c < n_chunks; c++) { /* fixed order: deterministic */
        moments cm;
        int64_t nf;
        if (parallel) {
            cm = job.chunk_moments[c];
            nf = job.chunk_nonfinite[c];
        } else { /* no memory for the chunk table: same chunks, computed serially */
            int64_t begin = c * CHUNK, end = begin + CHUNK < n ? begin + CHUNK : n;
            range_moments(job.kern, data, dt, begin, end, &cm, &nf);
        }
        merge(&total, &cm);
        nonfinite += nf;
    }
    free(job.chunk_moments);
    free(job.chunk_nonfinite);
    out->n_finite = (int64_t)total.n;
    out->n_nonfinite = nonfinite;
    if (total.n < 1)
        return;
    out->mean = total.mean;
    out->m2 = total.M2 / total.n;
    out->m4 = total.M4 / total.n;
    if (total.n >= 2 && out->m2 > 0)
        out->kurtosis = out->m4 / (out->m2 * out->m2);
}

/* A finished tensor's pages leave the process (each is read once): without this the
 * resident set grows to the whole model. */
static void release_tensor(const ls_model *m, const ls_tensor *t)
{
    size_t bytes = (size_t)t->n_elems * ls_dtype_size(t->dtype);
    for (int i = 0; i < m->n_files; i++)
        ls_mapped_release(&m->files[i], t->data, bytes);
}

int ls_kurtosis_model(const ls_model *m, int threads, ls_progress *progress, ls_profile *p,
                      ls_error *err)
{
    if (!m->has_weights)
        return ls_fail(err, "%s: no weights: kurtosis needs a model with tensors", m->path);
    int L = m->cfg.n_layers, total = L * LS_N_MODULES, done = 0;
    for (int l = 0; l < L; l++)
        for (int mod = 0; mod < LS_N_MODULES; mod++, done++) {
            char what[96];
            snprintf(what, sizeof what, "kurtosis layer %d %s", l, ls_module_name(mod));
            if (ls_progress_tick(progress, done, total, what))
                return ls_fail(err, "kurtosis: cancelled");
            const ls_tensor *t = ls_model_linear(m, l, mod);
            if (!t)
                continue;
            ls_kurtosis_result r;
            ls_kurtosis_data(t->data, t->dtype, t->n_elems, threads, &r);
            release_tensor(m, t);
            p->kurtosis[LS_IDX(l, mod)] = r.kurtosis;
            p->nonfinite[LS_IDX(l, mod)] = r.n_nonfinite;
        }
    ls_progress_tick(progress, total, total, "kurtosis done");
    return 0;
}
