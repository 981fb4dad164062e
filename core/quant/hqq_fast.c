/* The fast HQQ solve: same algorithm as hqq.c's exact path (docs/hqq.md §1-§2), with
 * AVX-512 kernels (runtime-dispatched; portable scalar C otherwise), threads, FMA, a
 * polynomial pow, and a multiply by 1/s_inv instead of the division.
 *
 * The shrink |d| - |d|^(p-1)/beta is positive only for |d| > beta^(-1/(1-p)) (about 0.15):
 * quantization residuals of real weights are almost always smaller, so a vector whose
 * lanes are all below that bound (with a margin) skips the pow; the result is the same.
 *
 * Work is split into blocks of groups small enough to stay in L2. The optimizer's stopping
 * test is global, but each group's trajectory z_0, z_1, ... does not depend on the other
 * groups; only where to stop does. So every block runs a chunk of CHUNK iterations while
 * it is in cache, recording its error sum per iteration and the zero after each; then the
 * main thread adds the block errors (in block order: the result does not depend on the
 * thread count), applies the stopping rule and picks the zero of the stopping iteration.
 * At most CHUNK - 1 iterations are wasted, and W streams from memory once per chunk
 * instead of once per iteration. */
#include "quant/hqq.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "quant/bitpack.h"
#include "base/parallel.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define LS_HAVE_AVX512 1
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f,avx512dq,fma")))
#else
#define LS_HAVE_AVX512 0
#endif

#define CHUNK 4             /* optimizer iterations per pass over a block */
#define BLOCK_FLOATS 8192   /* weights per block: 32 KiB, stays in L1/L2 over a chunk */
#define PACK_TASK 65536     /* packed elements per packing task */

/* Runs tasks 0..n-1 on up to `threads` threads (core/base/parallel.h). A thread that cannot be
 * created only means fewer workers: every task still runs. */
static void run_tasks(int threads, int64_t n_tasks, ls_task_fn fn, void *ctx)
{
    (void)ls_parallel_for(n_tasks, threads, fn, ctx);
}

static bool have_avx512(void)
{
#if LS_HAVE_AVX512
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
#else
    return false;
#endif
}

/* ---- the solve context ---- */

typedef struct fast_ctx {
    ls_hqq_solve *s;
    bool avx512;
    int64_t block_groups, n_blocks;
    float maxv, pm1;
    uint32_t wmax_bits; /* |w| bits above this: NaN, inf or beyond LS_HQQ_WMAX */
    float *scale;   /* [m] 1/s_inv, used instead of dividing by s_inv */
    const float *zcur; /* [m] zero entering the chunk (s->zero for the first) */
    float *zbuf;    /* [m] storage for zcur after the first chunk */
    float *zhist;   /* [CHUNK][m] zero after each iteration of the chunk */
    uint8_t *q;     /* [n] codes before packing (paths that do not pack directly) */
    atomic_llong n_bad;
    double *berr;   /* [n_blocks][CHUNK] sum of |W - R| per block and iteration */
    int nit;        /* iterations in this chunk */
    float ib[CHUNK];  /* 1/beta per iteration */
    float thr[CHUNK]; /* |d| <= thr: the shrink is certainly 0, skip the pow */
} fast_ctx;

static void block_range(const fast_ctx *c, int64_t b, int64_t *j0, int64_t *j1)
{
    *j0 = b * c->block_groups;
    *j1 = *j0 + c->block_groups < c->s->m ? *j0 + c->block_groups : c->s->m;
}

/* ---- portable kernels (the fallback): the exact path's operations, except a multiply
 * by 1/s_inv for the division ---- */

static float shrink_scalar(float d, float ib, float pm1, float thr)
{
    float ad = fabsf(d);
    if (ad <= thr) /* certainly 0 (see set_chunk) */
        return 0.0f;
    float t = ad - ib * powf(ad, pm1);
    return t > 0.0f ? (d > 0.0f ? t : -t) : 0.0f;
}

static float code_scalar(float w, float si, float z, float maxv)
{
    float t = rintf(w * si + z);
    return t < 0.0f ? 0.0f : (t > maxv ? maxv : t);
}

static int64_t init_block_scalar(fast_ctx *c, int64_t j0, int64_t j1)
{
    const ls_hqq_solve *s = c->s;
    int64_t m = s->m, g = s->group_size, bad = 0;
    for (int64_t j = j0; j < j1; j++) {
        float mn = INFINITY, mx = -INFINITY;
        for (int64_t k = 0; k < g; k++) {
            float w = s->W[s->axis == 0 ? j + k * m : j * g + k];
            bad += !(fabsf(w) <= LS_HQQ_WMAX);
            mn = w < mn ? w : mn;
            mx = w > mx ? w : mx;
        }
        ls_hqq_init_group(mn, mx, s->nbits, s->round_zero, &s->s_inv[j], &s->zero[j]);
        c->scale[j] = 1.0f / s->s_inv[j];
    }
    return bad;
}

static double iter_block_scalar(fast_ctx *c, int64_t j0, int64_t j1, const float *zin,
                                float *zout, float ib, float thr)
{
    const ls_hqq_solve *s = c->s;
    int64_t m = s->m, g = s->group_size;
    double esum = 0.0;
    for (int64_t j = j0; j < j1; j++) {
        float si = s->s_inv[j], sc = c->scale[j], z = zin[j], acc = 0.0f, eacc = 0.0f;
        for (int64_t k = 0; k < g; k++) {
            float w = s->W[s->axis == 0 ? j + k * m : j * g + k];
            float q = code_scalar(w, si, z, c->maxv);
            float d = w - (q - z) * sc;
            acc += q - (w - shrink_scalar(d, ib, c->pm1, thr)) * si;
            eacc += fabsf(d);
        }
        zout[j] = acc / (float)g;
        esum += eacc;
    }
    return esum;
}

static void codes_block_scalar(fast_ctx *c, int64_t j0, int64_t j1)
{
    const ls_hqq_solve *s = c->s;
    int64_t m = s->m, g = s->group_size;
    for (int64_t j = j0; j < j1; j++)
        for (int64_t k = 0; k < g; k++) {
            int64_t i = s->axis == 0 ? j + k * m : j * g + k;
            c->q[i] = (uint8_t)code_scalar(s->W[i], s->s_inv[j], s->zero[j], c->maxv);
        }
}

/* ---- AVX-512 kernels ---- */

#if LS_HAVE_AVX512

/* x^p for x > 0 (x clamped at 1e-30; below that the shrink is 0 anyway) as
 * exp2(p * log2 x), polynomials good to about 1e-7 relative. */
AVX512 static inline __m512 pow_avx512(__m512 x, __m512 vp)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(1e-30f));
    __m512 e = _mm512_getexp_ps(x);
    __m512 mt = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
    __mmask16 big = _mm512_cmp_ps_mask(mt, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
    mt = _mm512_mask_mul_ps(mt, big, mt, _mm512_set1_ps(0.5f));
    e = _mm512_mask_add_ps(e, big, e, _mm512_set1_ps(1.0f));
    __m512 f = _mm512_sub_ps(mt, _mm512_set1_ps(1.0f));
    /* log2(1+f) = f * P(f), f in [-0.293, 0.414] */
    __m512 p = _mm512_set1_ps(0.17212873697280884f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-0.2695062756538391f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.29563361406326294f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-0.35935065150260925f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.4806291460990906f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-0.7213640213012695f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.442696452140808f));
    __m512 y = _mm512_mul_ps(_mm512_fmadd_ps(p, f, e), vp);
    __m512 n = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(y, n);
    /* 2^r, r in [-0.5, 0.5] */
    __m512 q = _mm512_set1_ps(0.0013400432653725147f);
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.009676037356257439f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.05550327152013779f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.2402210682630539f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.6931471824645996f));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0000001192092896f));
    return _mm512_scalef_ps(q, n);
}

AVX512 static inline __m512 code_avx512(__m512 w, __m512 vs, __m512 vz, __m512 vmax)
{
    __m512 t = _mm512_add_ps(_mm512_mul_ps(w, vs), vz); /* no FMA: as the reference */
    t = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), vmax);
}

typedef struct iter_consts {
    __m512 vmax, vib, vp, vthr;
} iter_consts;

/* The shrink's E = sign(d) * max(|d| - ib*|d|^p, 0), the expensive part. */
AVX512 static inline __m512 shrink_avx512(__m512 d, __m512 ad, const iter_consts *k)
{
    __m512 sh = _mm512_fnmadd_ps(k->vib, pow_avx512(ad, k->vp), ad);
    sh = _mm512_max_ps(sh, _mm512_setzero_ps());
    /* copysign(sh, d) = sh | (d & sign), sh >= 0 */
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_castps_si512(sh), _mm512_castps_si512(d),
        _mm512_castps_si512(_mm512_set1_ps(-0.0f)), 0xf8));
}

/* One element vector of one optimizer iteration: adds Q - (W - E)*s_inv to *acc and
 * |W - R| to *eacc in the lanes of mk. E is 0 unless |d|^(1-p) > ib, i.e. |d| > thr
 * (thr carries a safety margin); when no lane can be nonzero the pow is skipped, which
 * gives the same result. Masked-off lanes must hold w = 0 or be excluded by mk. */
AVX512 static inline void iter_step(__m512 w, __m512 vs, __m512 vsc, __m512 vz,
                                    const iter_consts *k, __mmask16 mk, __m512 *acc,
                                    __m512 *eacc)
{
    __m512 q = code_avx512(w, vs, vz, k->vmax);
    __m512 d = _mm512_fnmadd_ps(_mm512_sub_ps(q, vz), vsc, w); /* w - (q - z)/s_inv */
    __m512 ad = _mm512_abs_ps(d);
    __m512 u = w;
    if (_mm512_mask_cmp_ps_mask(mk, ad, k->vthr, _CMP_GT_OQ))
        u = _mm512_sub_ps(w, shrink_avx512(d, ad, k));
    *acc = _mm512_mask_add_ps(*acc, mk, *acc, _mm512_fnmadd_ps(u, vs, q));
    *eacc = _mm512_mask_add_ps(*eacc, mk, *eacc, ad);
}

static __mmask16 tail_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

/* Axis 0: 16 groups per vector, their k-th elements contiguous in row k of the view. */
/* Lanes of w that are NaN, inf or beyond LS_HQQ_WMAX. */
AVX512 static inline int count_bad(__m512 w, __m512i lim, __mmask16 mk)
{
    __m512i a = _mm512_and_si512(_mm512_castps_si512(w), _mm512_set1_epi32(0x7fffffff));
    return __builtin_popcount(_mm512_mask_cmpgt_epu32_mask(mk, a, lim));
}

AVX512 static int64_t init_block0_avx512(fast_ctx *c, int64_t j0, int64_t j1)
{
    const ls_hqq_solve *s = c->s;
    int64_t m = s->m, g = s->group_size, bad = 0;
    __m512i lim = _mm512_set1_epi32((int)c->wmax_bits);
    for (int64_t j = j0; j < j1; j += 16) {
        __mmask16 mk = tail_mask(j1 - j);
        __m512 mn = _mm512_maskz_loadu_ps(mk, s->W + j), mx = mn;
        bad += count_bad(mn, lim, mk);
        for (int64_t k = 1; k < g; k++) {
            __m512 w = _mm512_maskz_loadu_ps(mk, s->W + k * m + j);
            bad += count_bad(w, lim, mk);
            mn = _mm512_min_ps(mn, w);
            mx = _mm512_max_ps(mx, w);
        }
        float fmn[16], fmx[16];
        _mm512_storeu_ps(fmn, mn);
        _mm512_storeu_ps(fmx, mx);
        for (int64_t l = 0; l < 16 && j + l < j1; l++) {
            ls_hqq_init_group(fmn[l], fmx[l], s->nbits, s->round_zero, &s->s_inv[j + l],
                              &s->zero[j + l]);
            c->scale[j + l] = 1.0f / s->s_inv[j + l];
        }
    }
    return bad;
}

AVX512 static double iter_block0_avx512(fast_ctx *c, int64_t j0, int64_t j1,
                                        const float *zin, float *zout, float ib, float thr)
{
    const ls_hqq_solve *s = c->s;
    int64_t m = s->m, g = s->group_size;
    iter_consts kc = {_mm512_set1_ps(c->maxv), _mm512_set1_ps(ib), _mm512_set1_ps(c->pm1),
                      _mm512_set1_ps(thr)};
    __m512 vinvg = _mm512_set1_ps(1.0f / (float)g); /* g is a power of two: exact */
    __m512 etot = _mm512_setzero_ps();
    double esum = 0.0;
    for (int64_t j = j0; j < j1; j += 16) {
        __mmask16 mk = tail_mask(j1 - j);
        __m512 vs = _mm512_maskz_loadu_ps(mk, s->s_inv + j);
        __m512 vsc = _mm512_maskz_loadu_ps(mk, c->scale + j);
        __m512 vz = _mm512_maskz_loadu_ps(mk, zin + j);
        __m512 acc = _mm512_setzero_ps(), eacc = _mm512_setzero_ps();
        for (int64_t k = 0; k < g; k++)
            iter_step(_mm512_maskz_loadu_ps(mk, s->W + k * m + j), vs, vsc, vz, &kc, mk,
                      &acc, &eacc);
        _mm512_mask_storeu_ps(zout + j, mk, _mm512_mul_ps(acc, vinvg));
        etot = _mm512_add_ps(etot, eacc);
        if (((j - j0) & 255) == 240) { /* flush to double every 256 groups */
            esum += _mm512_reduce_add_ps(etot);
            etot = _mm512_setzero_ps();
        }
    }
    return esum + _mm512_reduce_add_ps(etot);
}

/* Codes of axis 0 straight into HQQ's packed layout: packed row i of the [g, m] view
 * combines view rows i, i + t, i + 2t, ... of the same columns (bitpack.h). */
AVX512 static void codes_block0_avx512(fast_ctx *c, int64_t j0, int64_t j1)
{
    const ls_hqq_solve *s = c->s;
    int64_t m = s->m, g = s->group_size, t = ls_bitpack_rows(s->nbits, g);
    int nb = s->nbits, per = nb == 3 ? 10 : 8 / nb, top = nb == 3 ? 27 : 8 - nb;
    __m512 vmax = _mm512_set1_ps(c->maxv);
    for (int64_t j = j0; j < j1; j += 16) {
        __mmask16 mk = tail_mask(j1 - j);
        __m512 vs = _mm512_maskz_loadu_ps(mk, s->s_inv + j);
        __m512 vz = _mm512_maskz_loadu_ps(mk, s->zero + j);
        for (int64_t i = 0; i < t; i++) {
            __m512i word = _mm512_setzero_si512();
            for (int p = 0; p < per && i + p * t < g; p++) { /* 3-bit: rows >= g are padding */
                __m512 w = _mm512_maskz_loadu_ps(mk, s->W + (i + p * t) * m + j);
                __m512i qi = _mm512_cvtps_epi32(code_avx512(w, vs, vz, vmax));
                word = _mm512_or_si512(word, _mm512_sllv_epi32(qi, _mm512_set1_epi32(top - p * nb)));
            }
            if (nb == 3)
                _mm512_mask_storeu_epi32((int32_t *)s->wq + i * m + j, mk, word);
            else
                _mm512_mask_cvtepi32_storeu_epi8((uint8_t *)s->wq + i * m + j, mk, word);
        }
    }
}

/* Axis 1: one group = g contiguous weights, 16 per vector (g = 8 uses a half mask). */
AVX512 static int64_t init_block1_avx512(fast_ctx *c, int64_t j0, int64_t j1)
{
    const ls_hqq_solve *s = c->s;
    int64_t g = s->group_size, bad = 0;
    __m512i lim = _mm512_set1_epi32((int)c->wmax_bits);
    for (int64_t j = j0; j < j1; j++) {
        const float *wg = s->W + j * g;
        __m512 mn = _mm512_set1_ps(wg[0]), mx = mn;
        for (int64_t k = 0; k < g; k += 16) {
            __mmask16 mk = tail_mask(g - k);
            __m512 w = _mm512_mask_loadu_ps(mn, mk, wg + k);
            bad += count_bad(w, lim, mk);
            mn = _mm512_min_ps(mn, w);
            mx = _mm512_max_ps(mx, w);
        }
        ls_hqq_init_group(_mm512_reduce_min_ps(mn), _mm512_reduce_max_ps(mx), s->nbits,
                          s->round_zero, &s->s_inv[j], &s->zero[j]);
        c->scale[j] = 1.0f / s->s_inv[j];
    }
    return bad;
}

AVX512 static double iter_block1_avx512(fast_ctx *c, int64_t j0, int64_t j1,
                                        const float *zin, float *zout, float ib, float thr)
{
    const ls_hqq_solve *s = c->s;
    int64_t g = s->group_size;
    iter_consts kc = {_mm512_set1_ps(c->maxv), _mm512_set1_ps(ib), _mm512_set1_ps(c->pm1),
                      _mm512_set1_ps(thr)};
    __m512 etot = _mm512_setzero_ps();
    for (int64_t j = j0; j < j1; j++) {
        const float *wg = s->W + j * g;
        __m512 vs = _mm512_set1_ps(s->s_inv[j]), vsc = _mm512_set1_ps(c->scale[j]);
        __m512 vz = _mm512_set1_ps(zin[j]);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t k = 0; k < g; k += 16) {
            __mmask16 mk = tail_mask(g - k);
            iter_step(_mm512_maskz_loadu_ps(mk, wg + k), vs, vsc, vz, &kc, mk, &acc, &etot);
        }
        zout[j] = _mm512_reduce_add_ps(acc) / (float)g;
    }
    /* a block holds BLOCK_FLOATS weights: at most 512 per lane, fine in fp32 */
    return _mm512_reduce_add_ps(etot);
}

AVX512 static void codes_block1_avx512(fast_ctx *c, int64_t j0, int64_t j1)
{
    const ls_hqq_solve *s = c->s;
    int64_t g = s->group_size;
    __m512 vmax = _mm512_set1_ps(c->maxv);
    for (int64_t j = j0; j < j1; j++) {
        __m512 vs = _mm512_set1_ps(s->s_inv[j]), vz = _mm512_set1_ps(s->zero[j]);
        for (int64_t k = 0; k < g; k += 16) {
            __mmask16 mk = tail_mask(g - k);
            __m512 w = _mm512_maskz_loadu_ps(mk, s->W + j * g + k);
            __m512i qi = _mm512_cvtps_epi32(code_avx512(w, vs, vz, vmax));
            _mm512_mask_cvtepi32_storeu_epi8(c->q + j * g + k, mk, qi);
        }
    }
}

#endif /* LS_HAVE_AVX512 */

/* ---- dispatch per block ---- */

static int64_t init_block(fast_ctx *c, int64_t j0, int64_t j1)
{
#if LS_HAVE_AVX512
    if (c->avx512)
        return c->s->axis == 0 ? init_block0_avx512(c, j0, j1) : init_block1_avx512(c, j0, j1);
#endif
    return init_block_scalar(c, j0, j1);
}

/* Whether codes go straight into the packed layout (else via c->q and a packing pass). */
static bool packs_directly(const fast_ctx *c)
{
    return c->avx512 && c->s->axis == 0;
}

static double iter_block(fast_ctx *c, int64_t j0, int64_t j1, const float *zin, float *zout,
                         float ib, float thr)
{
#if LS_HAVE_AVX512
    if (c->avx512)
        return c->s->axis == 0 ? iter_block0_avx512(c, j0, j1, zin, zout, ib, thr)
                               : iter_block1_avx512(c, j0, j1, zin, zout, ib, thr);
#endif
    return iter_block_scalar(c, j0, j1, zin, zout, ib, thr);
}

static void codes_block(fast_ctx *c, int64_t j0, int64_t j1)
{
#if LS_HAVE_AVX512
    if (c->avx512) {
        if (c->s->axis == 0)
            codes_block0_avx512(c, j0, j1);
        else
            codes_block1_avx512(c, j0, j1);
        return;
    }
#endif
    codes_block_scalar(c, j0, j1);
}

/* ---- tasks ---- */

/* All iterations of the current chunk on one block, while it is in cache. */
static void chunk_block(fast_ctx *c, int64_t b)
{
    int64_t j0, j1, m = c->s->m;
    block_range(c, b, &j0, &j1);
    for (int i = 0; i < c->nit; i++) {
        const float *zin = i ? c->zhist + (size_t)(i - 1) * m : c->zcur;
        c->berr[b * CHUNK + i] = iter_block(c, j0, j1, zin, c->zhist + (size_t)i * m,
                                            c->ib[i], c->thr[i]);
    }
}

static void chunk_task(void *ctx, int64_t b)
{
    chunk_block(ctx, b);
}

/* Start values of a block, then (optimizing) the first chunk while the block is hot. */
static void init_task(void *ctx, int64_t b)
{
    fast_ctx *c = ctx;
    int64_t j0, j1;
    block_range(c, b, &j0, &j1);
    int64_t bad = init_block(c, j0, j1);
    if (bad)
        atomic_fetch_add(&c->n_bad, (long long)bad);
    else if (c->s->optimize)
        chunk_block(c, b);
}

static void codes_task(void *ctx, int64_t b)
{
    fast_ctx *c = ctx;
    int64_t j0, j1;
    block_range(c, b, &j0, &j1);
    codes_block(c, j0, j1);
}

/* Iterations it0 .. of the next chunk, with 1/beta and the skip threshold of each. */
static void set_chunk(fast_ctx *c, int it0, double beta)
{
    c->nit = LS_HQQ_MAX_ITERS - it0 < CHUNK ? LS_HQQ_MAX_ITERS - it0 : CHUNK;
    for (int i = 0; i < c->nit; i++, beta *= 1.01) {
        c->ib[i] = (float)(1.0 / beta);
        /* |d| - ib*|d|^p > 0 iff |d| > ib^(1/(1-p)); the 1e-4 margin covers pow's error */
        c->thr[i] = (float)(pow(c->ib[i], 1.0 / (1.0 - c->pm1)) * (1.0 - 1e-4));
    }
}

/* The stopping rule over chunks; chunk 0 already ran with the init pass. Leaves the final
 * zero in s->zero. */
static void optimize(fast_ctx *c, int threads)
{
    ls_hqq_solve *s = c->s;
    int64_t m = s->m;
    double beta = 10.0, best = 1e4;
    for (int it0 = 0; it0 < LS_HQQ_MAX_ITERS; it0 += CHUNK) {
        if (it0 > 0) {
            set_chunk(c, it0, beta);
            run_tasks(threads, c->n_blocks, chunk_task, c);
        }
        int stop = -1;
        for (int i = 0; i < c->nit && stop < 0; i++) {
            double e = 0.0;
            for (int64_t bl = 0; bl < c->n_blocks; bl++) /* block order: thread-independent */
                e += c->berr[bl * CHUNK + i];
            e = (float)(e / (double)s->n); /* as the exact path */
            s->err_trace[it0 + i] = e;
            s->iterations = it0 + i + 1;
            beta *= 1.01;
            if (e < best)
                best = e;
            else
                stop = i;
        }
        int last = stop >= 0 ? stop : c->nit - 1;
        memcpy(c->zbuf, c->zhist + (size_t)last * m, (size_t)m * sizeof(float));
        c->zcur = c->zbuf;
        if (stop >= 0)
            break;
    }
    memcpy(s->zero, c->zbuf, (size_t)m * sizeof(float));
}

typedef struct pack_ctx {
    int nbits;
    const uint8_t *q;
    int64_t R, C, total;
    void *out;
} pack_ctx;

static void pack_task(void *ctx, int64_t t)
{
    pack_ctx *p = ctx;
    int64_t x0 = t * PACK_TASK, x1 = x0 + PACK_TASK < p->total ? x0 + PACK_TASK : p->total;
    ls_bitpack_range(p->nbits, p->q, p->R, p->C, p->out, x0, x1);
}

static void pack_codes(fast_ctx *c, int threads)
{
    const ls_hqq_solve *s = c->s;
    int64_t g = s->group_size;
    int64_t R = s->axis == 0 ? g : s->n / g, C = s->axis == 0 ? s->n / g : g;
    pack_ctx p = {s->nbits, c->q, R, C, ls_bitpack_rows(s->nbits, R) * C, s->wq};
    run_tasks(threads, (p.total + PACK_TASK - 1) / PACK_TASK, pack_task, &p);
}

static int alloc_ctx(fast_ctx *c)
{
    const ls_hqq_solve *s = c->s;
    size_t fm = (size_t)s->m * sizeof(float);
    c->scale = malloc(fm);
    if (!c->scale)
        return -1;
    if (s->optimize) {
        c->zbuf = malloc(fm);
        c->zhist = malloc(fm * CHUNK);
        c->berr = malloc((size_t)c->n_blocks * CHUNK * sizeof(double));
        if (!c->zbuf || !c->zhist || !c->berr)
            return -1;
    }
    if (!packs_directly(c) && !(c->q = malloc((size_t)s->n)))
        return -1;
    return 0;
}

static void free_ctx(fast_ctx *c)
{
    free(c->scale);
    free(c->zbuf);
    free(c->zhist);
    free(c->berr);
    free(c->q);
}

int ls_hqq_solve_fast(ls_hqq_solve *s, int threads)
{
    fast_ctx c = {.s = s, .avx512 = !s->portable && have_avx512()};
    const float wmax = LS_HQQ_WMAX;
    memcpy(&c.wmax_bits, &wmax, sizeof c.wmax_bits);
    atomic_init(&c.n_bad, 0);
    c.maxv = (float)((1 << s->nbits) - 1);
    c.pm1 = (float)(0.7 - 1.0);
    c.block_groups = BLOCK_FLOATS / s->group_size > 16 ? BLOCK_FLOATS / s->group_size : 16;
    c.n_blocks = (s->m + c.block_groups - 1) / c.block_groups;
    s->iterations = 0;
    s->n_bad = 0;
    if (alloc_ctx(&c) < 0) {
        free_ctx(&c);
        return -1;
    }
    c.zcur = s->zero; /* the first chunk starts from the init zero */
    set_chunk(&c, 0, 10.0);
    run_tasks(threads, c.n_blocks, init_task, &c);
    s->n_bad = (int64_t)atomic_load(&c.n_bad);
    if (s->n_bad == 0) {
        if (s->optimize)
            optimize(&c, threads);
        run_tasks(threads, c.n_blocks, codes_task, &c);
        if (!packs_directly(&c))
            pack_codes(&c, threads);
    }
    free_ctx(&c);
    return 0;
}
