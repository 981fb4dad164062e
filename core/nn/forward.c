#include "nn/forward.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigalloc.h"
#include "base/cpu.h"
#include "nn/attention.h"
#include "nn/blas_check.h"
#include "nn/exp_poly.h"
#include "base/parallel.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define DEFAULT_CHUNK_ROWS 2048
#define QBLOCK 128 /* queries per attention block */

static int64_t q_width(const ls_config *c) { return (int64_t)c->n_heads * c->head_dim; }
static int64_t kv_width(const ls_config *c) { return (int64_t)c->n_kv_heads * c->head_dim; }

static int64_t qkv_width(const ls_config *c) { return q_width(c) + 2 * kv_width(c); }

/* Query rows per attention block, and how many of them are stacked (all heads of a KV
 * group share one pair of sgemm calls). */
static int64_t q_block(int max_seq) { return max_seq < QBLOCK ? max_seq : QBLOCK; }
static int64_t stacked_rows(const ls_config *c, int max_seq)
{
    return (int64_t)(c->n_heads / c->n_kv_heads) * q_block(max_seq);
}

static int64_t scratch_floats(const ls_config *c, int64_t rows, int max_seq)
{
    int64_t per_row = 4 * (int64_t)c->dim + qkv_width(c) + q_width(c) +
                      3 * (int64_t)c->hidden_dim;
    if (ls_attn_fused_usable(c->head_dim))
        return rows * per_row + ls_attn_scratch_floats(c->n_kv_heads, c->head_dim, max_seq);
    int64_t stacked = stacked_rows(c, max_seq);
    return rows * per_row + stacked * (max_seq + 2 * (int64_t)c->head_dim);
}

void ls_fwd_scratch_free(ls_fwd_scratch *s)
{
    float **p[] = {&s->xa, &s->xm, &s->qkv, &s->ctx, &s->oa, &s->om,
                   &s->gu, &s->act, &s->kt, &s->qs, &s->cs, &s->scores};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        ls_free_big(*p[i]);
        *p[i] = NULL;
    }
}

int ls_fwd_scratch_init(ls_fwd_scratch *s, const ls_config *c, int64_t rows, int max_seq,
                        ls_error *err)
{
    memset(s, 0, sizeof *s);
    s->cap_rows = rows;
    s->max_seq = max_seq;
    size_t r = (size_t)rows, stacked = (size_t)stacked_rows(c, max_seq);
    s->xa = ls_alloc_big(r * (size_t)c->dim * sizeof(float));
    s->xm = ls_alloc_big(r * (size_t)c->dim * sizeof(float));
    s->qkv = ls_alloc_big(r * (size_t)qkv_width(c) * sizeof(float));
    s->ctx = ls_alloc_big(r * (size_t)q_width(c) * sizeof(float));
    s->oa = ls_alloc_big(r * (size_t)c->dim * sizeof(float));
    s->om = ls_alloc_big(r * (size_t)c->dim * sizeof(float));
    s->gu = ls_alloc_big(r * 2 * (size_t)c->hidden_dim * sizeof(float));
    s->act = ls_alloc_big(r * (size_t)c->hidden_dim * sizeof(float));
    s->fused = ls_attn_fused_usable(c->head_dim);
    if (s->fused) {
        size_t kt_floats = (size_t)ls_attn_scratch_floats(c->n_kv_heads, c->head_dim, max_seq);
        s->kt = ls_alloc_big(kt_floats * sizeof(float));
    } else {
        s->qs = ls_alloc_big(stacked * (size_t)c->head_dim * sizeof(float));
        s->cs = ls_alloc_big(stacked * (size_t)c->head_dim * sizeof(float));
        s->scores = ls_alloc_big(stacked * (size_t)max_seq * sizeof(float));
    }
    bool attn_ok = s->fused ? s->kt != NULL : s->qs && s->cs && s->scores;
    if (!s->xa || !s->xm || !s->qkv || !s->ctx || !s->oa || !s->om || !s->gu || !s->act ||
        !attn_ok) {
        ls_fwd_scratch_free(s);
        return ls_fail(err, "forward: out of memory for scratch (%.1f MiB)",
                       (double)scratch_floats(c, rows, max_seq) * 4 / 1048576.0);
    }
    return 0;
}

static int64_t pick_chunk_rows(int max_seq, int64_t chunk_rows)
{
    if (chunk_rows <= 0)
        chunk_rows = DEFAULT_CHUNK_ROWS;
    return chunk_rows < max_seq ? max_seq : chunk_rows;
}

int64_t ls_fwd_bytes(const ls_model *m, int max_seq, int64_t chunk_rows)
{
    chunk_rows = pick_chunk_rows(max_seq, chunk_rows);
    const ls_config *c = &m->cfg;
    return ls_layer_f32_bytes(m) + 4 * scratch_floats(c, chunk_rows, max_seq) +
           4 * (int64_t)max_seq * c->head_dim + 4 * (int64_t)c->dim;
}

void ls_fwd_free(ls_fwd *f)
{
    if (!f)
        return;
    ls_rope_free(&f->rope);
    ls_layer_f32_free(&f->w);
    ls_fwd_scratch_free(&f->s);
    ls_mm_bf16_free(f->mm);
    free(f->head_b_own);
    free(f->final_norm);
    free(f->head);
    free(f->seq_len);
    free(f);
}

int ls_fwd_new(const ls_model *m, const ls_qmodel *q, int max_seq, int64_t chunk_rows,
               ls_fwd **out, ls_error *err)
{
    ls_fwd_opts o = {max_seq, chunk_rows, LS_COMPUTE_F32, false};
    return ls_fwd_new_opts(m, q, &o, out, err);
}

int ls_fwd_new_opts(const ls_model *m, const ls_qmodel *q, const ls_fwd_opts *o,
                    ls_fwd **out, ls_error *err)
{
    int max_seq = o->max_seq;
    int64_t chunk_rows = o->chunk_rows;
    *out = NULL;
    const ls_config *c = &m->cfg;
    if (!m->has_weights || !m->layers || !m->tok_emb || !m->final_norm || !m->lm_head)
        return ls_fail(err, "%s: weights: the model has no weights to evaluate", m->path);
    if (max_seq < 1)
        return ls_fail(err, "%s: forward: sequence length %d < 1", m->path, max_seq);
    if (c->n_kv_heads < 1 || c->n_heads % c->n_kv_heads || c->head_dim < 2 || c->head_dim % 2)
        return ls_fail(err, "%s: config: unsupported heads (%d/%d, head_dim %d)", m->path,
                       c->n_heads, c->n_kv_heads, c->head_dim);
    if (q && q->n_layers != c->n_layers)
        return ls_fail(err, "%s: quantized copy has %d layers, the model %d", m->path,
                       q->n_layers, c->n_layers);
    ls_fwd *f = calloc(1, sizeof *f);
    if (!f)
        return ls_fail(err, "forward: out of memory");
    f->m = m;
    f->q = q;
    f->c = *c;
    f->max_seq = max_seq;
    f->chunk_rows = pick_chunk_rows(max_seq, chunk_rows);
    f->threads = ls_cpu_count();
    f->w.layer = -1;
    f->compute = LS_COMPUTE_F32;
    if (o->compute == LS_COMPUTE_BF16) {
        char why[160];
        if (ls_bf16_supported(why, sizeof why)) {
            if (ls_mm_bf16_new(&f->mm, err) < 0)
                goto fail;
            f->compute = LS_COMPUTE_BF16;
        } else {
            snprintf(f->compute_note, sizeof f->compute_note, "--compute bf16: %s; "
                     "computing in f32", why);
        }
    }
    /* HQQ copies are dequantized to f32 first, so bf16 keeps the f32 block for them. */
    int wrc = f->compute == LS_COMPUTE_BF16
                  ? ls_layer_bf16_init(&f->w, m, o->keep_f32_weights || q != NULL, err)
                  : ls_layer_f32_init(&f->w, m, err);
    if (ls_rope_init(&f->rope, m, max_seq, err) < 0 || wrc < 0 ||
        ls_fwd_scratch_init(&f->s, c, f->chunk_rows, max_seq, err) < 0)
        goto fail;
    f->final_norm = malloc((size_t)c->dim * sizeof(float));
    f->seq_len_cap = (int)(f->chunk_rows < 1 << 20 ? f->chunk_rows : 1 << 20);
    f->seq_len = malloc((size_t)f->seq_len_cap * sizeof(int));
    if (!f->final_norm || !f->seq_len) {
        ls_fail(err, "forward: out of memory");
        goto fail;
    }
    if (m->final_norm->n_elems != c->dim) {
        ls_fail(err, "%s: %s: %lld elements, expected %d", m->path, m->final_norm->name,
                (long long)m->final_norm->n_elems, c->dim);
        goto fail;
    }
    ls_tensor_range_f32(m->final_norm, 0, c->dim, f->final_norm);
    *out = f;
    return 0;
fail:
    ls_fwd_free(f);
    return -1;
}

/* y[rows][out] (row stride ldy) = x[rows][in] (row stride ldx) . W^T */
typedef struct gemm_job {
    const float *x, *W;
    int64_t ldx, rows, out, in, ldy, cols_per_task;
    float *y;
} gemm_job;

static void sgemm_xwt(const float *x, int64_t ldx, int64_t rows, const float *W, int64_t out,
                      int64_t in, float *y, int64_t ldy)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)out,
                (blasint)in, 1.0f, x, (blasint)ldx, W, (blasint)in, 0.0f, y, (blasint)ldy);
}

static void gemm_task(void *p, int64_t t)
{
    const gemm_job *j = p;
    int64_t c0 = t * j->cols_per_task;
    int64_t n = j->out - c0 < j->cols_per_task ? j->out - c0 : j->cols_per_task;
    sgemm_xwt(j->x, j->ldx, j->rows, j->W + c0 * j->in, n, j->in, j->y + c0, j->ldy);
}

static void linear_strided(int threads, const float *x, int64_t ldx, int64_t rows,
                           const float *W, int64_t out, int64_t in, float *y, int64_t ldy)
{
    if (rows <= 0)
        return;
    /* OpenBLAS threads its own calls unless told to use the caller's thread only
     * (ls_blas_use_caller_thread_only); then large products are split by output columns
     * over our threads. */
    if (ls_blas_threads() == 1 && threads > 1 && rows * out * in >= ((int64_t)1 << 22) &&
        out >= 64 * threads) {
        int64_t per = (out + threads - 1) / threads;
        per = (per + 15) / 16 * 16;
        gemm_job j = {x, W, ldx, rows, out, in, ldy, per, y};
        (void)ls_parallel_for((out + per - 1) / per, threads, gemm_task, &j);
        return;
    }
    sgemm_xwt(x, ldx, rows, W, out, in, y, ldy);
}

void ls_fwd_linear(int threads, const float *x, int64_t rows, const float *W, int64_t out,
                   int64_t in, float *y)
{
    linear_strided(threads, x, in, rows, W, out, in, y, out);
}

static void product_strided(const ls_fwd *f, const float *x, int64_t ldx, int64_t rows,
                            const float *W, const uint16_t *Wb, int64_t out, int64_t in,
                            float *y, int64_t ldy)
{
    if (f->mm && Wb)
        ls_mm_bf16_xwt(f->mm, f->threads, x, ldx, rows, Wb, out, in, y, ldy);
    else
        linear_strided(f->threads, x, ldx, rows, W, out, in, y, ldy);
}

void ls_fwd_product(const ls_fwd *f, const float *x, int64_t rows, const float *W,
                    const uint16_t *Wb, int64_t out, int64_t in, float *y)
{
    product_strided(f, x, in, rows, W, Wb, out, in, y, out);
}

/* y[rows][ldy] gets x . W_first^T | x . W_first+1^T | ... for n modules, in one sgemm when
 * their matrices lie back to back in memory (ls_layer_f32 keeps q/k/v and gate/up so;
 * sensitivity's mixed views do not). */
static void linear_group(const ls_fwd *f, const float *x, int64_t rows, const ls_layer_f32 *w,
                         int first, int n, float *y, int64_t ldy)
{
    bool bf16 = f->mm && w->wb[first];
    bool adjacent = true;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        int mod = first + i;
        if (bf16)
            adjacent = adjacent && w->wb[mod] == w->wb[first] + total * w->cols[first];
        else
            adjacent = adjacent && w->w[mod] == w->w[first] + total * w->cols[first];
        total += w->rows[mod];
    }
    if (adjacent) {
        product_strided(f, x, w->cols[first], rows, w->w[first], bf16 ? w->wb[first] : NULL,
                        total, w->cols[first], y, ldy);
        return;
    }
    int64_t at = 0;
    for (int i = 0; i < n; at += w->rows[first + i], i++)
        product_strided(f, x, w->cols[first], rows, w->w[first + i],
                        bf16 ? w->wb[first + i] : NULL, w->rows[first + i], w->cols[first],
                        y + at, ldy);
}

/* The element-wise steps (RMSNorm, residual adds, SiLU, softmax) run on all CPUs over
 * ranges of rows; on one core they left the others idle between the sgemm calls. */
typedef void (*rows_fn)(void *ctx, int64_t r0, int64_t r1);

typedef struct rows_job {
    rows_fn fn;
    void *ctx;
    int64_t rows, per_task;
} rows_job;

static void rows_task(void *p, int64_t t)
{
    rows_job *j = p;
    int64_t r0 = t * j->per_task, r1 = r0 + j->per_task;
    j->fn(j->ctx, r0, r1 < j->rows ? r1 : j->rows);
}

/* fn over rows 0 .. rows-1 in tasks of about `work` floats (width floats per row). */
static void for_rows(int threads, int64_t rows, int64_t width, rows_fn fn, void *ctx)
{
    const int64_t work = 1 << 16;
    int64_t per = width >= work ? 1 : work / (width > 0 ? width : 1);
    if (rows <= per) {
        fn(ctx, 0, rows);
        return;
    }
    rows_job j = {fn, ctx, rows, per};
    /* Failing to start threads only means this thread does every task. */
    (void)ls_parallel_for((rows + per - 1) / per, threads, rows_task, &j);
}

typedef struct norm_job {
    const float *x, *weight;
    int dim;
    double eps;
    float *y;
} norm_job;

static void norm_rows(void *p, int64_t r0, int64_t r1)
{
    const norm_job *j = p;
    int dim = j->dim;
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = j->x + r * dim;
        float *yr = j->y + r * dim;
        double ss = 0.0;
        for (int i = 0; i < dim; i++)
            ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / dim + j->eps));
        for (int i = 0; i < dim; i++)
            yr[i] = (xr[i] * inv) * j->weight[i];
    }
}

void ls_fwd_rmsnorm(int threads, const float *x, const float *weight, int64_t rows, int dim,
                    double eps, float *y)
{
    norm_job j = {x, weight, dim, eps, y};
    for_rows(threads, rows, dim, norm_rows, &j);
}

/* exp(x) for softmax and SiLU: Cephes' expf polynomial (relative error ~2e-7, like libm)
 * without libm's call and its errno path on underflow, which dominated small models. */
static inline float fast_expf(float x)
{
    x = x < LS_EXP_MIN ? LS_EXP_MIN : x; /* below: < 2^-125, as good as 0 for a softmax */
    x = x > LS_EXP_MAX ? LS_EXP_MAX : x;
    float t = x * LS_EXP_LOG2E;
    int n = (int)(t + (t >= 0 ? 0.5f : -0.5f));
    float fn = (float)n;
    float r = x - fn * LS_EXP_LN2_HI;
    r = r - fn * LS_EXP_LN2_LO;
    float p = LS_EXP_P0;
    p = p * r + LS_EXP_P1;
    p = p * r + LS_EXP_P2;
    p = p * r + LS_EXP_P3;
    p = p * r + LS_EXP_P4;
    p = p * r + LS_EXP_P5;
    p = p * (r * r) + r + 1.0f;
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static void add_bias(float *y, int64_t rows, int64_t width, int64_t ld, const float *b)
{
    if (!b)
        return;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < width; i++)
            y[r * ld + i] += b[i];
}

#if defined(__SSE2__)
/* fast_expf on four lanes (SSE2 is part of x86-64): the softmax's exps dominate small
 * models. Same constants; rounding to nearest instead of half away from zero. */
static inline __m128 fast_exp4(__m128 x)
{
    x = _mm_min_ps(_mm_max_ps(x, _mm_set1_ps(LS_EXP_MIN)), _mm_set1_ps(LS_EXP_MAX));
    __m128i n = _mm_cvtps_epi32(_mm_mul_ps(x, _mm_set1_ps(LS_EXP_LOG2E)));
    __m128 fn = _mm_cvtepi32_ps(n);
    __m128 r = _mm_sub_ps(x, _mm_mul_ps(fn, _mm_set1_ps(LS_EXP_LN2_HI)));
    r = _mm_sub_ps(r, _mm_mul_ps(fn, _mm_set1_ps(LS_EXP_LN2_LO)));
    __m128 p = _mm_set1_ps(LS_EXP_P0);
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(LS_EXP_P1));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(LS_EXP_P2));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(LS_EXP_P3));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(LS_EXP_P4));
    p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(LS_EXP_P5));
    p = _mm_add_ps(_mm_add_ps(_mm_mul_ps(p, _mm_mul_ps(r, r)), r), _mm_set1_ps(1.0f));
    __m128i e = _mm_slli_epi32(_mm_add_epi32(n, _mm_set1_epi32(127)), 23);
    return _mm_mul_ps(p, _mm_castsi128_ps(e));
}
#endif

/* max of x[0 .. n-1] (n >= 1), on independent lanes: a scalar max chain was the hot spot. */
static float row_max(const float *x, int n)
{
    int j = 0;
    float mx = x[0];
#if defined(__SSE2__)
    if (n >= 8) {
        __m128 a = _mm_loadu_ps(x), b = _mm_loadu_ps(x + 4);
        for (j = 8; j + 8 <= n; j += 8) {
            a = _mm_max_ps(a, _mm_loadu_ps(x + j));
            b = _mm_max_ps(b, _mm_loadu_ps(x + j + 4));
        }
        float part[4];
        _mm_storeu_ps(part, _mm_max_ps(a, b));
        mx = part[0];
        for (int k = 1; k < 4; k++)
            mx = part[k] > mx ? part[k] : mx;
    }
#endif
    for (; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    return mx;
}

/* x[j] = exp(x[j] - mx) for j < n; returns the sum. */
static float exp_shift_sum(float *x, int n, float mx)
{
    int j = 0;
    float sum = 0.0f;
#if defined(__SSE2__)
    __m128 acc = _mm_setzero_ps(), m4 = _mm_set1_ps(mx);
    for (; j + 4 <= n; j += 4) {
        __m128 e = fast_exp4(_mm_sub_ps(_mm_loadu_ps(x + j), m4));
        _mm_storeu_ps(x + j, e);
        acc = _mm_add_ps(acc, e);
    }
    float part[4];
    _mm_storeu_ps(part, acc);
    sum = (part[0] + part[1]) + (part[2] + part[3]);
#endif
    for (; j < n; j++) {
        x[j] = fast_expf(x[j] - mx);
        sum += x[j];
    }
    return sum;
}

/* Causal softmax of one score row of query i over keys 0 .. nk-1: keys beyond the query
 * (and outside the sliding window) get 0, so the following sgemm can use the whole block. */
static void causal_softmax_row(float *row, int i, int nk, int window)
{
    int lo = window > 0 && i - window + 1 > 0 ? i - window + 1 : 0;
    float mx = row_max(row + lo, i - lo + 1);
    float inv = 1.0f / exp_shift_sum(row + lo, i - lo + 1, mx);
    for (int j = 0; j < lo; j++)
        row[j] = 0.0f;
    for (int j = lo; j <= i; j++)
        row[j] *= inv;
    for (int j = i + 1; j < nk; j++)
        row[j] = 0.0f;
}

typedef struct softmax_job {
    float *S;
    int i0, nr, window;
} softmax_job;

/* Rows r0 .. r1-1 of the stacked score block: row R belongs to query i0 + R % nr. */
static void softmax_rows(void *p, int64_t r0, int64_t r1)
{
    const softmax_job *j = p;
    int nk = j->i0 + j->nr;
    for (int64_t R = r0; R < r1; R++)
        causal_softmax_row(j->S + R * nk, j->i0 + (int)(R % j->nr), nk, j->window);
}

void ls_fwd_attention(const ls_fwd *f, const ls_layer_f32 *w, ls_fwd_scratch *s,
                      const float *xn, int n_seq, const int *seq_len, float *ctx_out,
                      float *out)
{
    const ls_config *c = &f->c;
    int64_t qw = q_width(c), kw = kv_width(c), ld = qkv_width(c);
    int hd = c->head_dim, rep = c->n_heads / c->n_kv_heads;
    int64_t rows = 0;
    for (int i = 0; i < n_seq; i++)
        rows += seq_len[i];
    float *ctx = ctx_out ? ctx_out : s->ctx;
    linear_group(f, xn, rows, w, LS_MOD_Q, 3, s->qkv, ld);
    add_bias(s->qkv, rows, qw, ld, w->bq);
    add_bias(s->qkv + qw, rows, kw, ld, w->bk);
    add_bias(s->qkv + qw + kw, rows, kw, ld, w->bv);
    float scale = (float)(1.0 / sqrt((double)hd));
    int64_t r0 = 0;
    for (int si = 0; si < n_seq; si++) {
        int T = seq_len[si];
        float *q = s->qkv + r0 * ld, *k = q + qw, *v = k + kw;
        ls_rope_apply(&f->rope, q, T, ld, c->n_heads);
        ls_rope_apply(&f->rope, k, T, ld, c->n_kv_heads);
        if (s->fused) {
            ls_attn_args aa = {q, k, v, ld, T, c->n_heads, c->n_kv_heads, hd, scale,
                               c->sliding_window, ctx + r0 * qw, qw, f->threads};
            ls_attn_fused(&aa, s->kt);
            r0 += T;
            continue;
        }
        for (int g = 0; g < c->n_kv_heads; g++) {
            /* Blocks of QBLOCK queries see keys 0 .. end of the block only (causal), which
             * skips most of the masked half of the square. The queries of the group's rep
             * heads are stacked (head-major) so one pair of sgemm calls serves them all:
             * S = scale * Q K_g^T, softmax per row, C = S V_g. */
            for (int i0 = 0; i0 < T; i0 += QBLOCK) {
                int nr = T - i0 < QBLOCK ? T - i0 : QBLOCK, nk = i0 + nr;
                int64_t m = (int64_t)rep * nr;
                for (int hh = 0; hh < rep; hh++)
                    for (int r = 0; r < nr; r++)
                        memcpy(s->qs + ((int64_t)hh * nr + r) * hd,
                               q + (int64_t)(i0 + r) * ld + (int64_t)(g * rep + hh) * hd,
                               (size_t)hd * sizeof(float));
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, nk, hd,
                            scale, s->qs, hd, k + (int64_t)g * hd, (blasint)ld, 0.0f,
                            s->scores, nk);
                softmax_job sj = {s->scores, i0, nr, c->sliding_window};
                for_rows(f->threads, m, nk, softmax_rows, &sj);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, hd, nk,
                            1.0f, s->scores, nk, v + (int64_t)g * hd, (blasint)ld, 0.0f,
                            s->cs, hd);
                for (int hh = 0; hh < rep; hh++)
                    for (int r = 0; r < nr; r++)
                        memcpy(ctx + (r0 + i0 + r) * qw + (int64_t)(g * rep + hh) * hd,
                               s->cs + ((int64_t)hh * nr + r) * hd,
                               (size_t)hd * sizeof(float));
            }
        }
        r0 += T;
    }
    ls_fwd_product(f, ctx, rows, w->w[LS_MOD_O], w->wb[LS_MOD_O], c->dim, qw, out);
}

typedef struct swiglu_job {
    const float *gu; /* [rows][2*hid]: gate | up */
    int64_t hid;
    float *act;      /* [rows][hid] */
} swiglu_job;

#if defined(__x86_64__) && defined(__GNUC__)
/* 16 lanes at a time: the same operations as the SSE loop below, so the same results. */
__attribute__((target("avx512f"))) static int64_t swiglu_avx512(const float *gate,
                                                                const float *up, float *ar,
                                                                int64_t hid)
{
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= hid; i += 16) {
        __m512 g = _mm512_loadu_ps(gate + i);
        __m512 e = ls_exp16(_mm512_sub_ps(zero, g));
        _mm512_storeu_ps(ar + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)),
                                               _mm512_loadu_ps(up + i)));
    }
    return i;
}
#endif

static void swiglu_rows(void *p, int64_t r0, int64_t r1)
{
    const swiglu_job *j = p;
    int64_t hid = j->hid;
    for (int64_t r = r0; r < r1; r++) {
        const float *gate = j->gu + r * 2 * hid, *up = gate + hid;
        float *ar = j->act + r * hid;
        int64_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
        if (ls_cpu_avx512f())
            i = swiglu_avx512(gate, up, ar, hid);
#endif
#if defined(__SSE2__)
        const __m128 one = _mm_set1_ps(1.0f), zero = _mm_setzero_ps();
        for (; i + 4 <= hid; i += 4) {
            __m128 g = _mm_loadu_ps(gate + i);
            __m128 e = fast_exp4(_mm_sub_ps(zero, g));
            _mm_storeu_ps(ar + i, _mm_mul_ps(_mm_div_ps(g, _mm_add_ps(one, e)),
                                             _mm_loadu_ps(up + i)));
        }
#endif
        for (; i < hid; i++)
            ar[i] = gate[i] / (1.0f + fast_expf(-gate[i])) * up[i];
    }
}

void ls_fwd_mlp(const ls_fwd *f, const ls_layer_f32 *w, ls_fwd_scratch *s, const float *xn,
                int64_t n_rows, float *act, float *out)
{
    const ls_config *c = &f->c;
    int64_t hid = c->hidden_dim;
    float *a = act ? act : s->act;
    linear_group(f, xn, n_rows, w, LS_MOD_GATE, 2, s->gu, 2 * hid);
    swiglu_job j = {s->gu, hid, a};
    for_rows(f->threads, n_rows, hid, swiglu_rows, &j);
    ls_fwd_product(f, a, n_rows, w->w[LS_MOD_DOWN], w->wb[LS_MOD_DOWN], c->dim, hid, out);
}

static int embed(const ls_fwd *f, const ls_fwd_seqs *s, float *x, ls_error *err)
{
    const ls_config *c = &f->c;
    int64_t rows = s->offset[s->n_seq];
    const ls_tensor *e = f->m->tok_emb;
    if (e->n_elems != (int64_t)c->vocab_size * c->dim)
        return ls_fail(err, "%s: %s: %lld elements, expected %d x %d", f->m->path, e->name,
                       (long long)e->n_elems, c->vocab_size, c->dim);
    for (int64_t r = 0; r < rows; r++) {
        int32_t t = s->tokens[r];
        if (t < 0 || t >= c->vocab_size)
            return ls_fail(err, "%s: tokens: id %d at position %lld is outside the "
                           "vocabulary (%d)", f->m->path, t, (long long)r, c->vocab_size);
        ls_tensor_range_f32(e, (int64_t)t * c->dim, c->dim, x + r * c->dim);
    }
    return 0;
}

typedef struct add_job {
    float *x;
    const float *y;
    int64_t width;
} add_job;

static void add_rows(void *p, int64_t r0, int64_t r1)
{
    const add_job *j = p;
    for (int64_t i = r0 * j->width; i < r1 * j->width; i++)
        j->x[i] += j->y[i];
}

/* x += y, both [rows][width] */
static void residual_add(int threads, float *x, const float *y, int64_t rows, int64_t width)
{
    add_job j = {x, y, width};
    for_rows(threads, rows, width, add_rows, &j);
}

/* One layer over one chunk of whole sequences starting at sequence si, row r0. */
static int run_chunk(ls_fwd *f, int layer, float *x, int n_seq, int64_t r0, int64_t rows,
                     const ls_fwd_observer *obs, ls_error *err)
{
    const ls_config *c = &f->c;
    ls_fwd_scratch *s = &f->s;
    float *xc = x + r0 * c->dim;
    ls_fwd_rmsnorm(f->threads, xc, f->w.attn_norm, rows, c->dim, c->norm_eps, s->xa);
    ls_fwd_attention(f, &f->w, s, s->xa, n_seq, f->seq_len, s->ctx, s->oa);
    residual_add(f->threads, xc, s->oa, rows, c->dim);
    ls_fwd_rmsnorm(f->threads, xc, f->w.ffn_norm, rows, c->dim, c->norm_eps, s->xm);
    ls_fwd_mlp(f, &f->w, s, s->xm, rows, s->act, s->om);
    residual_add(f->threads, xc, s->om, rows, c->dim);
    if (obs && obs->chunk) {
        ls_fwd_record rec = {layer, n_seq, f->seq_len, rows, r0, s->xa, s->ctx, s->oa,
                             s->xm, s->act, s->om};
        return obs->chunk(obs->ctx, &rec, err);
    }
    return 0;
}

int ls_fwd_embed(const ls_fwd *f, const ls_fwd_seqs *s, float *hidden, ls_error *err)
{
    return embed(f, s, hidden, err);
}

/* bf16: the loaded layer's weights stay as they are while its chunks run, so oneDNN gets
 * them packed once per layer (and per call: callers may have changed f->w in between). */
static void layer_weights_fixed(ls_fwd *f)
{
    if (!f->mm)
        return;
    const ls_layer_f32 *w = &f->w;
    for (int mod = 0; mod < LS_N_MODULES; mod++)
        if (w->wb[mod])
            ls_mm_bf16_weights_changed(f->mm, w->wb[mod]);
    if (!w->wb[0])
        return;
    /* The products linear_group and the o/down projections make: q|k|v and gate|up as one
     * matrix each (when adjacent, as ls_layer_f32 keeps them). */
    const int groups[][2] = {{LS_MOD_Q, 3}, {LS_MOD_O, 1}, {LS_MOD_GATE, 2}, {LS_MOD_DOWN, 1}};
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        int first = groups[g][0], n = groups[g][1];
        int64_t total = 0;
        for (int i = 0; i < n; i++)
            total += w->rows[first + i];
        ls_mm_bf16_weights_fixed(f->mm, w->wb[first], total, w->cols[first]);
    }
}

/* One layer over every sequence, in chunks of whole sequences up to chunk_rows tokens (at
 * least one). */
static int run_layer(ls_fwd *f, const ls_fwd_seqs *s, int layer, float *hidden,
                     const ls_fwd_observer *obs, ls_error *err)
{
    int si = 0;
    while (si < s->n_seq) {
        int n = 0;
        int64_t r0 = s->offset[si], rows = 0;
        while (si + n < s->n_seq && n < f->seq_len_cap) {
            int64_t len = s->offset[si + n + 1] - s->offset[si + n];
            if (n > 0 && rows + len > f->chunk_rows)
                break;
            f->seq_len[n++] = (int)len;
            rows += len;
        }
        if (run_chunk(f, layer, hidden, n, r0, rows, obs, err) < 0 ||
            ls_mm_bf16_failed(f->mm, err))
            return -1;
        si += n;
    }
    return 0;
}

int ls_fwd_run_layers(ls_fwd *f, const ls_fwd_seqs *s, int first, int end, bool keep_first,
                      float *hidden, ls_error *err)
{
    for (int layer = first; layer < end; layer++) {
        if (!(keep_first && layer == first && f->w.layer == first) &&
            ls_layer_f32_load(&f->w, f->m, f->q, layer, err) < 0)
            return -1;
        layer_weights_fixed(f);
        if (run_layer(f, s, layer, hidden, NULL, err) < 0)
            return -1;
    }
    return 0;
}

int ls_fwd_run(ls_fwd *f, const ls_fwd_seqs *s, float *hidden, const ls_fwd_observer *obs,
               ls_error *err)
{
    const ls_config *c = &f->c;
    for (int i = 0; i < s->n_seq; i++) {
        int64_t len = s->offset[i + 1] - s->offset[i];
        if (len < 1 || len > f->max_seq)
            return ls_fail(err, "%s: forward: sequence %d has %lld tokens (1 .. %d allowed)",
                           f->m->path, i, (long long)len, f->max_seq);
    }
    if (embed(f, s, hidden, err) < 0)
        return -1;
    for (int layer = 0; layer < c->n_layers; layer++) {
        if (ls_layer_f32_load(&f->w, f->m, f->q, layer, err) < 0)
            return -1;
        if (obs && obs->layer_begin && obs->layer_begin(obs->ctx, layer, &f->w, err) < 0)
            return -1;
        layer_weights_fixed(f);
        if (run_layer(f, s, layer, hidden, obs, err) < 0)
            return -1;
        if (obs && obs->layer_end && obs->layer_end(obs->ctx, layer, err) < 0)
            return -1;
    }
    int64_t rows = s->offset[s->n_seq];
    /* Final RMSNorm in place, row by row (each row is read before it is written). */
    ls_fwd_rmsnorm(f->threads, hidden, f->final_norm, rows, c->dim, c->norm_eps, hidden);
    return 0;
}

int ls_fwd_head_load(ls_fwd *f, ls_error *err)
{
    if (f->head || f->head_b)
        return 0;
    const ls_config *c = &f->c;
    const ls_tensor *h = f->m->lm_head;
    int64_t n = (int64_t)c->vocab_size * c->dim;
    if (h->n_elems != n)
        return ls_fail(err, "%s: %s: %lld elements, expected %d x %d", f->m->path, h->name,
                       (long long)h->n_elems, c->vocab_size, c->dim);
    if (f->mm) {
        /* bf16: a BF16 head is used in place, as stored; others are rounded to nearest
         * even into a copy. */
        if (h->dtype == LS_DT_BF16 && (uintptr_t)h->data % sizeof(uint16_t) == 0) {
            f->head_b = h->data;
            ls_mm_bf16_weights_fixed(f->mm, f->head_b, c->vocab_size, c->dim);
            return 0;
        }
        f->head_b_own = malloc((size_t)n * sizeof(uint16_t));
        float *tmp = malloc((size_t)n * sizeof(float));
        if (!f->head_b_own || !tmp) {
            free(f->head_b_own);
            free(tmp);
            f->head_b_own = NULL;
            return ls_fail(err, "%s: forward: out of memory for the classifier in bf16 "
                           "(%.1f MiB)", f->m->path, (double)n * 6 / 1048576.0);
        }
        ls_tensor_to_f32_parallel(h, tmp);
        ls_f32_to_bf16_array(f->threads, tmp, n, f->head_b_own);
        free(tmp);
        f->head_b = f->head_b_own;
        ls_mm_bf16_weights_fixed(f->mm, f->head_b, c->vocab_size, c->dim);
        return 0;
    }
    f->head = malloc((size_t)n * sizeof(float));
    if (!f->head)
        return ls_fail(err, "%s: forward: out of memory for the classifier in f32 (%.1f MiB)",
                       f->m->path, (double)n * 4 / 1048576.0);
    ls_tensor_to_f32_parallel(h, f->head);
    return 0;
}

void ls_fwd_head_free(ls_fwd *f)
{
    if (f->head_b)
        ls_mm_bf16_weights_changed(f->mm, f->head_b);
    free(f->head);
    f->head = NULL;
    free(f->head_b_own);
    f->head_b_own = NULL;
    f->head_b = NULL;
}

void ls_fwd_logits(const ls_fwd *f, const float *hidden, int64_t n, float *logits)
{
    ls_fwd_product(f, hidden, n, f->head, f->head_b, f->c.vocab_size, f->c.dim, logits);
}
