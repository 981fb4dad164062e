#include "eval/sumexp.h"

#include <math.h>
#include <stdbool.h>

#include "base/cpu.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LS_SUMEXP_AVX512 1

/* exp of 8 doubles (see the header). */
__attribute__((target("avx512f"), always_inline)) static inline __m512d exp8(__m512d t)
{
    const __m512d ln2_hi = _mm512_set1_pd(6.93147180369123816490e-01);
    const __m512d ln2_lo = _mm512_set1_pd(1.90821492927058770002e-10);
    /* below: 0 either way; above: infinity. t second: a NaN stays a NaN */
    t = _mm512_max_pd(_mm512_set1_pd(-746.0), t);
    t = _mm512_min_pd(_mm512_set1_pd(710.0), t);
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(t, _mm512_set1_pd(1.4426950408889634)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, ln2_hi, t);
    r = _mm512_fnmadd_pd(n, ln2_lo, r);
    /* 1/k! for k = 13 down to 2, Horner */
    static const double inv_fact[] = {
        1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0,     1.0 / 40320.0,     1.0 / 5040.0,      1.0 / 720.0,
        1.0 / 120.0,        1.0 / 24.0,        1.0 / 6.0,         1.0 / 2.0};
    __m512d p = _mm512_set1_pd(inv_fact[0]);
    for (int k = 1; k < 12; k++)
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(inv_fact[k]));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    return _mm512_scalef_pd(p, n);
}

/* the 16 floats of v as two vectors of 8 doubles */
__attribute__((target("avx512f"), always_inline)) static inline void widen(__m512 v, __m512d *lo,
                                                                          __m512d *hi)
{
    *lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    *hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

__attribute__((target("avx512f"))) static double sum_exp_avx512(const float *x, int64_t n,
                                                               double shift)
{
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    const __m512d s = _mm512_set1_pd(shift);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d lo, hi;
        widen(_mm512_loadu_ps(x + i), &lo, &hi);
        acc0 = _mm512_add_pd(acc0, exp8(_mm512_sub_pd(lo, s)));
        acc1 = _mm512_add_pd(acc1, exp8(_mm512_sub_pd(hi, s)));
    }
    if (i < n) { /* the last 1..15: masked lanes add nothing */
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512d lo, hi;
        widen(_mm512_maskz_loadu_ps(m, x + i), &lo, &hi);
        acc0 = _mm512_mask_add_pd(acc0, (__mmask8)(m & 0xff), acc0, exp8(_mm512_sub_pd(lo, s)));
        acc1 = _mm512_mask_add_pd(acc1, (__mmask8)(m >> 8), acc1, exp8(_mm512_sub_pd(hi, s)));
    }
    double lane[8];
    _mm512_storeu_pd(lane, _mm512_add_pd(acc0, acc1));
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

__attribute__((target("avx512f"))) static float max_avx512(const float *x, int64_t n)
{
    float first = x[0];
    __m512 acc = _mm512_set1_ps(first);
    int64_t i = 1;
    for (; i + 16 <= n; i += 16) /* max_ps(v, acc) keeps acc where v is NaN */
        acc = _mm512_max_ps(_mm512_loadu_ps(x + i), acc);
    float m = _mm512_reduce_max_ps(acc);
    if (first != first)
        m = first; /* a NaN first element stays, as in the loop below */
    for (; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}
#endif

double ls_sum_exp(const float *x, int64_t n, double shift)
{
#ifdef LS_SUMEXP_AVX512
    if (ls_cpu_avx512f())
        return sum_exp_avx512(x, n, shift);
#endif
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += exp((double)x[i] - shift);
    return s;
}

float ls_max_float(const float *x, int64_t n)
{
#ifdef LS_SUMEXP_AVX512
    if (ls_cpu_avx512f())
        return max_avx512(x, n);
#endif
    float m = x[0];
    for (int64_t i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    return m;
}
