#include "nn/attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/exp_poly.h"
#include "base/cpu.h"
#include "base/parallel.h"

#define QT 8       /* queries per task (registers: 8 x 2 score vectors) */
#define KB 32      /* keys per block */
#define MAX_HD 256

static int64_t pad_keys(int T) { return ((int64_t)T + KB - 1) / KB * KB; }

/* Scratch: keys transposed, kt[g][d][t], then values packed, vp[g][t][d], each group's
 * rows contiguous (strided rows of the q|k|v buffer thrash the L1 sets). */
int64_t ls_attn_scratch_floats(int n_kv_heads, int head_dim, int max_seq)
{
    return 2 * (int64_t)n_kv_heads * head_dim * pad_keys(max_seq);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f")))
#define AVX512_INLINE __attribute__((target("avx512f"), always_inline)) static inline

bool ls_attn_fused_usable(int head_dim)
{
    const char *env = getenv("LAYERSCOPE_ATTENTION");
    if (env && strcmp(env, "sgemm") == 0)
        return false;
    if (head_dim % 16 != 0 || head_dim > MAX_HD)
        return false;
    return ls_cpu_avx512f();
}

typedef struct task_ctx {
    const ls_attn_args *a;
    const float *kt;     /* [n_kv][hd][Tpad] */
    const float *vp;     /* [n_kv][Tpad][hd] */
    int64_t tpad;
    int tiles;           /* query tiles per head */
} task_ctx;

/* For four queries r: o[r][0 .. 16*nv) = corr[r] * o[r] + sum over the block's keys of
 * p[r][k] * V[k]. Four queries share each load of V (16 accumulators at most). */
AVX512_INLINE void pv_quad(float (*o)[MAX_HD], const float *corr, float (*p)[KB],
                           const float *v, int ld, int nk, int nv)
{
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            acc[r][j] = _mm512_mul_ps(_mm512_loadu_ps(o[r] + 16 * j), _mm512_set1_ps(corr[r]));
    for (int kk = 0; kk < nk; kk++) {
        __m512 x[4];
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            x[j] = _mm512_loadu_ps(v + (int64_t)kk * ld + 16 * j);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            __m512 b = _mm512_set1_ps(p[r][kk]);
#pragma GCC unroll 4
            for (int j = 0; j < nv; j++)
                acc[r][j] = _mm512_fmadd_ps(b, x[j], acc[r][j]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int j = 0; j < nv; j++)
            _mm512_storeu_ps(o[r] + 16 * j, acc[r][j]);
}

/* One head, queries i0 .. i0+QT-1 (fewer at the end), keys in blocks of KB with a running
 * max and sum per query (the flash-attention recurrence). */
AVX512 static void attn_task(void *p, int64_t task)
{
    const task_ctx *c = p;
    const ls_attn_args *a = c->a;
    int hd = a->head_dim, h = (int)(task / c->tiles), i0 = (int)(task % c->tiles) * QT;
    int g = h / (a->n_heads / a->n_kv_heads);
    int nq = a->T - i0 < QT ? a->T - i0 : QT;
    const float *q[QT];
    for (int r = 0; r < QT; r++)
        q[r] = a->q + (int64_t)(i0 + (r < nq ? r : nq - 1)) * a->ld + (int64_t)h * hd;
    const float *kt = c->kt + (int64_t)g * hd * c->tpad;
    const float *v = c->vp + (int64_t)g * hd * c->tpad;
    float o[QT][MAX_HD] __attribute__((aligned(64)));
    float pr[QT][KB] __attribute__((aligned(64)));
    float m[QT], l[QT], corr[QT];
    for (int r = 0; r < QT; r++) {
        m[r] = -INFINITY, l[r] = 0.0f;
        memset(o[r], 0, (size_t)hd * sizeof(float));
    }
    int hi = i0 + nq - 1; /* the last key any query of the tile sees */
    int lo = a->window > 0 && i0 - a->window + 1 > 0 ? i0 - a->window + 1 : 0;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                           15);
    const __m512 scale = _mm512_set1_ps(a->scale), ninf = _mm512_set1_ps(-INFINITY);
    for (int kb = lo / KB * KB; kb <= hi; kb += KB) {
        __m512 s0[QT], s1[QT];
#pragma GCC unroll 8
        for (int r = 0; r < QT; r++)
            s0[r] = s1[r] = _mm512_setzero_ps();
        for (int d = 0; d < hd; d++) {
            __m512 k0 = _mm512_loadu_ps(kt + (int64_t)d * c->tpad + kb);
            __m512 k1 = _mm512_loadu_ps(kt + (int64_t)d * c->tpad + kb + 16);
#pragma GCC unroll 8
            for (int r = 0; r < QT; r++) {
                __m512 b = _mm512_set1_ps(q[r][d]);
                s0[r] = _mm512_fmadd_ps(b, k0, s0[r]);
                s1[r] = _mm512_fmadd_ps(b, k1, s1[r]);
            }
        }
        __m512i key0 = _mm512_add_epi32(_mm512_set1_epi32(kb), lane);
        __m512i key1 = _mm512_add_epi32(key0, _mm512_set1_epi32(16));
        for (int r = 0; r < nq; r++) {
            int i = i0 + r;
            int first = a->window > 0 && i - a->window + 1 > 0 ? i - a->window + 1 : 0;
            __m512i fi = _mm512_set1_epi32(first), ii = _mm512_set1_epi32(i);
            __mmask16 v0 = _mm512_cmpge_epi32_mask(key0, fi) & _mm512_cmple_epi32_mask(key0, ii);
            __mmask16 v1 = _mm512_cmpge_epi32_mask(key1, fi) & _mm512_cmple_epi32_mask(key1, ii);
            corr[r] = 1.0f;
            if (!(v0 | v1)) { /* no key of this block for this query */
                memset(pr[r], 0, sizeof pr[r]);
                continue;
            }
            __m512 x0 = _mm512_mask_mov_ps(ninf, v0, _mm512_mul_ps(s0[r], scale));
            __m512 x1 = _mm512_mask_mov_ps(ninf, v1, _mm512_mul_ps(s1[r], scale));
            float bm = _mm512_reduce_max_ps(_mm512_max_ps(x0, x1));
            float mn = m[r] > bm ? m[r] : bm;
            __m512 mv = _mm512_set1_ps(mn);
            __m512 p0 = _mm512_maskz_mov_ps(v0, ls_exp16(_mm512_sub_ps(x0, mv)));
            __m512 p1 = _mm512_maskz_mov_ps(v1, ls_exp16(_mm512_sub_ps(x1, mv)));
            if (m[r] != -INFINITY)
                corr[r] = _mm512_cvtss_f32(ls_exp16(_mm512_set1_ps(m[r] - mn)));
            else
                corr[r] = 0.0f;
            l[r] = l[r] * corr[r] + _mm512_reduce_add_ps(_mm512_add_ps(p0, p1));
            m[r] = mn;
            _mm512_store_ps(pr[r], p0);
            _mm512_store_ps(pr[r] + 16, p1);
        }
        for (int r = nq; r < QT; r++) {
            corr[r] = 1.0f;
            memset(pr[r], 0, sizeof pr[r]);
        }
        int nk = hi - kb + 1 < KB ? hi - kb + 1 : KB;
        const float *vb = v + (int64_t)kb * hd;
        for (int r = 0; r < nq; r += 4) { /* QT is a multiple of 4; rows past nq idle */
            for (int d0 = 0; d0 < hd; d0 += 64) {
                int nv = (hd - d0) / 16 < 4 ? (hd - d0) / 16 : 4;
                float(*os)[MAX_HD] = (float(*)[MAX_HD])(&o[r][d0]);
                switch (nv) { /* constant trip counts keep the accumulators in registers */
                case 1: pv_quad(os, corr + r, pr + r, vb + d0, hd, nk, 1); break;
                case 2: pv_quad(os, corr + r, pr + r, vb + d0, hd, nk, 2); break;
                case 3: pv_quad(os, corr + r, pr + r, vb + d0, hd, nk, 3); break;
                default: pv_quad(os, corr + r, pr + r, vb + d0, hd, nk, 4); break;
                }
            }
        }
    }
    for (int r = 0; r < nq; r++) {
        __m512 inv = _mm512_set1_ps(1.0f / l[r]);
        float *dst = a->out + (int64_t)(i0 + r) * a->ld_out + (int64_t)h * hd;
        for (int d = 0; d < hd; d += 16)
            _mm512_storeu_ps(dst + d, _mm512_mul_ps(_mm512_load_ps(o[r] + d), inv));
    }
}

typedef struct pack_ctx {
    const ls_attn_args *a;
    float *kt, *vp;
    int64_t tpad;
} pack_ctx;

/* kt[g][d][t] = k[t][g*hd + d] and vp[g][t][d] = v[t][g*hd + d]; kt is zero for t >= T
 * (score blocks read up to a multiple of KB). */
static void pack_group(void *p, int64_t g)
{
    const pack_ctx *c = p;
    const ls_attn_args *a = c->a;
    int hd = a->head_dim;
    float *kt = c->kt + g * hd * c->tpad, *vp = c->vp + g * hd * c->tpad;
    for (int t = 0; t < a->T; t++) {
        const float *k = a->k + (int64_t)t * a->ld + g * hd;
        for (int d = 0; d < hd; d++)
            kt[(int64_t)d * c->tpad + t] = k[d];
        memcpy(vp + (int64_t)t * hd, a->v + (int64_t)t * a->ld + g * hd,
               (size_t)hd * sizeof(float));
    }
    for (int d = 0; d < hd; d++)
        for (int64_t t = a->T; t < c->tpad; t++)
            kt[(int64_t)d * c->tpad + t] = 0.0f;
}

void ls_attn_fused(const ls_attn_args *a, float *scratch)
{
    int64_t tpad = pad_keys(a->T);
    float *kt = scratch, *vp = scratch + (int64_t)a->n_kv_heads * a->head_dim * tpad;
    pack_ctx pc = {a, kt, vp, tpad};
    /* Failing to start threads only means this thread does every task. */
    (void)ls_parallel_for(a->n_kv_heads, a->threads, pack_group, &pc);
    task_ctx c = {a, kt, vp, tpad, (a->T + QT - 1) / QT};
    (void)ls_parallel_for((int64_t)a->n_heads * c.tiles, a->threads, attn_task, &c);
}

#else /* no AVX-512 intrinsics: the forward pass always takes its sgemm path */

bool ls_attn_fused_usable(int head_dim)
{
    (void)head_dim;
    return false;
}

void ls_attn_fused(const ls_attn_args *a, float *scratch)
{
    (void)a, (void)scratch;
}

#endif
