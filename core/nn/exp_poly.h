/* The constants of Cephes' expf (relative error ~2e-7), shared by the forward pass's scalar
 * and SSE exp (core/nn/forward.c) and the AVX-512 one below (the fused attention and
 * SwiGLU), so all paths compute the same exp, bit for bit lane by lane:
 *   n = round(x * log2(e)); r = x - n*LN2_HI - n*LN2_LO;
 *   exp(x) = 2^n * (1 + r + r^2 * (((((P0 r + P1) r + P2) r + P3) r + P4) r + P5)) */
#ifndef LS_EXP_POLY_H
#define LS_EXP_POLY_H

#define LS_EXP_MIN (-87.0f) /* inputs are clamped to [MIN, MAX] */
#define LS_EXP_MAX 88.0f
#define LS_EXP_LOG2E 1.44269504088896341f
#define LS_EXP_LN2_HI 0.693359375f
#define LS_EXP_LN2_LO (-2.12194440e-4f)
#define LS_EXP_P0 1.9875691500e-4f
#define LS_EXP_P1 1.3981999507e-3f
#define LS_EXP_P2 8.3334519073e-3f
#define LS_EXP_P3 4.1665795894e-2f
#define LS_EXP_P4 1.6666665459e-1f
#define LS_EXP_P5 5.0000001201e-1f

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* exp on 16 lanes, for callers compiled for AVX-512F (separate multiplies and adds, as in
 * the SSE version: no FMA, so the same results) */
__attribute__((target("avx512f"), always_inline)) static inline __m512 ls_exp16(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(LS_EXP_MIN)), _mm512_set1_ps(LS_EXP_MAX));
    __m512 fn = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LS_EXP_LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(fn, _mm512_set1_ps(LS_EXP_LN2_HI)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(fn, _mm512_set1_ps(LS_EXP_LN2_LO)));
    __m512 p = _mm512_set1_ps(LS_EXP_P0);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LS_EXP_P1));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LS_EXP_P2));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LS_EXP_P3));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LS_EXP_P4));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(LS_EXP_P5));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r),
                      _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fn),
                                                   _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}
#endif

#endif
