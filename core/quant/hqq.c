/* HQQ for one matrix: API, validation, metadata quantization, storage accounting, and the
 * exact reference solve (docs/hqq.md §1-§4, §7). The exact path follows the reference's
 * operation order in fp32 and must be compiled with -ffp-contract=off. */
#include "quant/hqq.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quant/bitpack.h"

#define META_NBITS 8
#define SINV_CLAMP 2e4f

void ls_hqq_cfg_default(ls_hqq_cfg *cfg, int nbits, int group_size)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->nbits = nbits;
    cfg->group_size = group_size;
    cfg->axis = 0;
    cfg->optimize = true;
    cfg->round_zero = nbits == 4;
    cfg->quant_scale = true;
    cfg->quant_zero = true;
    cfg->scale_group = 128;
}

static int scale_group_of(const ls_hqq_cfg *cfg)
{
    return cfg->scale_group > 0 ? cfg->scale_group : 128;
}

/* The grouped view [R, C] that packing works on (docs/hqq.md §6). */
static void grouped_view(int axis, int64_t n, int64_t g, int64_t *R, int64_t *C)
{
    *R = axis == 0 ? g : n / g;
    *C = axis == 0 ? n / g : g;
}

static bool is_pow2(int64_t v)
{
    return v > 0 && (v & (v - 1)) == 0;
}

int ls_hqq_check(const char *name, int64_t rows, int64_t cols, const ls_hqq_cfg *cfg,
                 ls_error *err)
{
    if (!name)
        name = "matrix";
    int b = cfg->nbits, g = cfg->group_size;
    if (b != 2 && b != 3 && b != 4 && b != 8)
        return ls_fail(err, "%s: nbits: %d is not supported (use 2, 3, 4 or 8)", name, b);
    if (!is_pow2(g) || g < 8 || g > 1024)
        return ls_fail(err, "%s: group_size: %d is not supported (use 32, 64 or 128; "
                       "any power of two from 8 to 1024 works)", name, g);
    if (cfg->axis != 0 && cfg->axis != 1)
        return ls_fail(err, "%s: axis: %d is not supported (use 0 or 1)", name, cfg->axis);
    if (rows <= 0 || cols <= 0 || rows > INT64_MAX / cols)
        return ls_fail(err, "%s: shape: %lld x %lld is not a valid matrix", name,
                       (long long)rows, (long long)cols);
    int64_t n = rows * cols;
    if (n % g != 0)
        return ls_fail(err, "%s: group_size: %d does not divide the %lld x %lld = %lld "
                       "weights", name, g, (long long)rows, (long long)cols, (long long)n);
    int64_t R, C;
    grouped_view(cfg->axis, n, g, &R, &C);
    if (!ls_bitpack_ok(b, R))
        return ls_fail(err, "%s: shape: %d-bit packing needs the number of %s (%lld) to be "
                       "a multiple of %d", name, b, cfg->axis == 0 ? "group rows" : "groups",
                       (long long)R, b == 4 ? 2 : 4);
    if (cfg->quant_scale && cfg->scale_group < 0)
        return ls_fail(err, "%s: scale_group: %d is not valid", name, cfg->scale_group);
    return 0;
}

/* ---- shared per-group arithmetic (docs/hqq.md §1.5-1.6) ---- */

void ls_hqq_init_group(float mn, float mx, int nbits, bool round_zero, float *s_inv,
                       float *zero)
{
    float maxv = (float)((1 << nbits) - 1);
    float range = mx - mn;
    float si = (1.0f / range) * maxv; /* constant group: 1/0 = inf, clamped below */
    if (si > SINV_CLAMP)
        si = SINV_CLAMP;
    if (!(si > 0.0f)) /* mx - mn overflowed to inf: keep 1/s_inv finite (HQQ gives NaN) */
        si = FLT_MIN;
    float z = -mn * si;
    if (round_zero)
        z = rintf(z);
    *s_inv = si;
    *zero = z;
}

static float quant_code(float w, float si, float z, float maxv)
{
    float t = w * si;
    t = t + z;
    t = rintf(t); /* round half to even, as torch.round */
    if (t < 0.0f)
        t = 0.0f;
    if (t > maxv)
        t = maxv;
    return t;
}

/* Element k of group j in the flat array (docs/hqq.md §1.2), and the group of flat index i. */
static int64_t elem_index(int axis, int64_t m, int64_t g, int64_t j, int64_t k)
{
    return axis == 0 ? j + k * m : j * g + k;
}

static int64_t group_of(int axis, int64_t m, int64_t g, int64_t i)
{
    /* g is a power of two; m = n/g is arbitrary */
    return axis == 0 ? i % m : i >> __builtin_ctzll((unsigned long long)g);
}

/* Per-group min/max then s_inv and zero; W is visited in memory order for axis 0. */
static void exact_init(ls_hqq_solve *s)
{
    int64_t m = s->m, g = s->group_size;
    float *mn = s->s_inv, *mx = s->zero; /* reused as scratch */
    for (int64_t j = 0; j < m; j++) {
        float w = s->W[elem_index(s->axis, m, g, j, 0)];
        mn[j] = w;
        mx[j] = w;
    }
    for (int64_t i = 0; i < s->n; i++) {
        int64_t j = group_of(s->axis, m, g, i);
        float w = s->W[i];
        if (w < mn[j])
            mn[j] = w;
        if (w > mx[j])
            mx[j] = w;
    }
    for (int64_t j = 0; j < m; j++)
        ls_hqq_init_group(mn[j], mx[j], s->nbits, s->round_zero, &s->s_inv[j], &s->zero[j]);
}

/* Below this |d| the shrink is certainly 0: |d| - ib*|d|^(p-1) > 0 iff |d| > ib^(1/(1-p)),
 * and the 1e-4 margin is far above powf's < 1 ulp error, so skipping powf there changes
 * no result (it only saves time). */
static float shrink_threshold(float ib, float pm1)
{
    return (float)(pow((double)ib, 1.0 / (1.0 - (double)pm1)) * (1.0 - 1e-4));
}

/* sign(d) * relu(|d| - ib * |d|^(p-1)), with 0 -> 0 (|0|^(p-1) = inf). */
static float shrink(float d, float ib, float pm1, float thr)
{
    float ad = fabsf(d);
    if (ad <= thr)
        return 0.0f;
    float t = ad - ib * powf(ad, pm1);
    if (!(t > 0.0f))
        return 0.0f;
    return d > 0.0f ? t : -t;
}

/* numpy's float32 pairwise summation (8 accumulators, blocks of 128): the order of the
 * reference emulation for a contiguous (axis 1) group; vector C depends on it. */
static float pairwise_sum(const float *a, int64_t n)
{
    if (n < 8) {
        float r = 0.0f;
        for (int64_t i = 0; i < n; i++)
            r += a[i];
        return r;
    }
    if (n <= 128) {
        float r[8];
        int64_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

typedef struct shrink_par {
    float ib, pm1, thr; /* 1/beta, p - 1, shrink_threshold() */
} shrink_par;

/* Q - (W - E)*s_inv for one element, and |W - R| into *ad (docs/hqq.md §2). */
static float iter_term(float w, float si, float z, float maxv, const shrink_par *sp,
                       float *ad)
{
    float q = quant_code(w, si, z, maxv);
    float r = (q - z) / si;
    float d = w - r;
    float e = shrink(d, sp->ib, sp->pm1, sp->thr);
    float u = (w - e) * si;
    *ad = fabsf(d);
    return q - u;
}

/* One optimizer iteration over all groups: the new zero sums into acc (fp32; axis 0 in
 * k order, axis 1 pairwise), returns sum |W - R| over the whole matrix. */
static double exact_iteration(const ls_hqq_solve *s, float ib, float *acc, float *tbuf)
{
    int64_t m = s->m, g = s->group_size;
    float maxv = (float)((1 << s->nbits) - 1), ad;
    shrink_par sp = {ib, (float)(0.7 - 1.0), 0.0f};
    sp.thr = shrink_threshold(ib, sp.pm1);
    double esum = 0.0;
    if (s->axis == 0) {
        for (int64_t j = 0; j < m; j++)
            acc[j] = 0.0f;
        for (int64_t k = 0; k < g; k++) { /* rows of the [g, m] view: k ascending */
            const float *wk = s->W + k * m;
            for (int64_t j = 0; j < m; j++) {
                acc[j] = acc[j] + iter_term(wk[j], s->s_inv[j], s->zero[j], maxv, &sp, &ad);
                esum += ad;
            }
        }
        return esum;
    }
    for (int64_t j = 0; j < m; j++) {
        for (int64_t k = 0; k < g; k++) {
            tbuf[k] = iter_term(s->W[j * g + k], s->s_inv[j], s->zero[j], maxv, &sp, &ad);
            esum += ad;
        }
        acc[j] = pairwise_sum(tbuf, g);
    }
    return esum;
}

static int exact_optimize(ls_hqq_solve *s)
{
    float *acc = malloc((size_t)s->m * sizeof *acc);
    float *tbuf = malloc((size_t)s->group_size * sizeof *tbuf);
    if (!acc || !tbuf) {
        free(acc);
        free(tbuf);
        return -1;
    }
    double beta = 10.0, best = 1e4;
    s->iterations = 0;
    for (int it = 0; it < LS_HQQ_MAX_ITERS; it++) {
        float ib = (float)(1.0 / beta);
        double esum = exact_iteration(s, ib, acc, tbuf);
        for (int64_t j = 0; j < s->m; j++)
            s->zero[j] = acc[j] / (float)s->group_size;
        beta *= 1.01;
        /* measured with the zero before this update; rounded to fp32 like the
         * reference's float32 mean, so sub-fp32 "improvements" count as equal */
        double e = (float)(esum / (double)s->n);
        s->err_trace[it] = e;
        s->iterations = it + 1;
        if (e < best)
            best = e;
        else
            break; /* the update above is kept: the last zero, not the best */
    }
    free(acc);
    free(tbuf);
    return 0;
}

int ls_hqq_solve_exact(ls_hqq_solve *s)
{
    uint8_t *q = malloc((size_t)s->n);
    if (!q)
        return -1;
    exact_init(s);
    if (s->optimize && exact_optimize(s) < 0) {
        free(q);
        return -1;
    }
    float maxv = (float)((1 << s->nbits) - 1);
    int64_t m = s->m, g = s->group_size, R, C;
    for (int64_t i = 0; i < s->n; i++) {
        int64_t j = group_of(s->axis, m, g, i);
        q[i] = (uint8_t)quant_code(s->W[i], s->s_inv[j], s->zero[j], maxv);
    }
    grouped_view(s->axis, s->n, g, &R, &C);
    ls_bitpack(s->nbits, q, R, C, s->wq);
    free(q);
    return 0;
}

/* ---- metadata quantization (docs/hqq.md §4) ---- */

/* 8-bit, no optimization, axis 0 on the vector v[n] viewed as [g, n/g] (g == n: one
 * group, HQQ's channel_wise=False). Fills q[n] and the fp32 meta scale/zero per group,
 * and vdq[n] with the dequantized values. */
static void meta_quantize(const float *v, int64_t n, int64_t g, uint8_t *q, float *mscale,
                          float *mzero, float *vdq)
{
    int64_t m = n / g;
    float maxv = (float)((1 << META_NBITS) - 1);
    for (int64_t j = 0; j < m; j++) {
        float mn = v[j], mx = v[j];
        for (int64_t k = 1; k < g; k++) {
            float w = v[j + k * m];
            mn = w < mn ? w : mn;
            mx = w > mx ? w : mx;
        }
        float si, z;
        ls_hqq_init_group(mn, mx, META_NBITS, false, &si, &z);
        for (int64_t k = 0; k < g; k++)
            q[j + k * m] = (uint8_t)quant_code(v[j + k * m], si, z, maxv);
        mscale[j] = 1.0f / si;
        mzero[j] = z;
    }
    for (int64_t k = 0; k < g; k++)
        for (int64_t j = 0; j < m; j++)
            vdq[j + k * m] = ((float)q[j + k * m] - mzero[j]) * mscale[j];
}

static int quantize_metadata(ls_hqq_result *r, const ls_hqq_cfg *cfg)
{
    int64_t m = r->n_groups;
    memcpy(r->scale_dq, r->scale, (size_t)m * sizeof(float));
    memcpy(r->zero_dq, r->zero, (size_t)m * sizeof(float));
    r->scale_group = scale_group_of(cfg);
    if (cfg->quant_zero) {
        r->zero_q = malloc((size_t)m);
        if (!r->zero_q)
            return -1;
        meta_quantize(r->zero, m, m, r->zero_q, &r->meta_zero_scale, &r->meta_zero_zero,
                      r->zero_dq);
        r->zero_quantized = true;
    }
    if (cfg->quant_scale) {
        int64_t sg = r->scale_group;
        if (m % sg != 0) {
            r->scale_meta_skipped = true; /* HQQ would fail; we keep the scale (fp16) */
            return 0;
        }
        r->n_scale_groups = m / sg;
        r->scale_q = malloc((size_t)m);
        r->meta_scale_scale = malloc((size_t)r->n_scale_groups * sizeof(float));
        r->meta_scale_zero = malloc((size_t)r->n_scale_groups * sizeof(float));
        if (!r->scale_q || !r->meta_scale_scale || !r->meta_scale_zero)
            return -1;
        meta_quantize(r->scale, m, sg, r->scale_q, r->meta_scale_scale, r->meta_scale_zero,
                      r->scale_dq);
        r->scale_quantized = true;
    }
    return 0;
}

/* ---- storage (docs/hqq.md §7) ---- */

static size_t stored_bytes_of(int nbits, int64_t n, int64_t g, int axis, bool qscale,
                              bool qzero, int64_t sg)
{
    int64_t R, C, m = n / g;
    grouped_view(axis, n, g, &R, &C);
    size_t bytes = ls_bitpack_bytes(nbits, R, C);
    if (qscale && m % sg == 0)
        bytes += (size_t)m + (size_t)(m / sg) * 4; /* uint8 + fp16 scale, zero per group */
    else
        bytes += (size_t)m * 2;
    if (qzero)
        bytes += (size_t)m + 4;
    else
        bytes += (size_t)m * 2;
    return bytes;
}

size_t ls_hqq_stored_bytes(const ls_hqq_cfg *cfg, int64_t rows, int64_t cols)
{
    if (ls_hqq_check("", rows, cols, cfg, NULL) < 0)
        return 0;
    return stored_bytes_of(cfg->nbits, rows * cols, cfg->group_size, cfg->axis,
                           cfg->quant_scale, cfg->quant_zero, scale_group_of(cfg));
}

double ls_hqq_stored_bpp(const ls_hqq_cfg *cfg, int64_t rows, int64_t cols)
{
    size_t b = ls_hqq_stored_bytes(cfg, rows, cols);
    return b ? 8.0 * (double)b / ((double)rows * (double)cols) : 0.0;
}

/* ---- the public entry ---- */

void ls_hqq_free(ls_hqq_result *r)
{
    if (!r)
        return;
    free(r->wq);
    free(r->scale);
    free(r->zero);
    free(r->s_inv);
    free(r->scale_dq);
    free(r->zero_dq);
    free(r->scale_q);
    free(r->zero_q);
    free(r->meta_scale_scale);
    free(r->meta_scale_zero);
    memset(r, 0, sizeof *r);
}

static int64_t count_nonfinite(const float *W, int64_t n)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
        c += !(fabsf(W[i]) <= LS_HQQ_WMAX);
    return c;
}

/* A copy of W with NaN/inf replaced by 0 and huge weights clamped, so nothing downstream
 * sees NaN or overflows. */
static float *sanitized_copy(const float *W, int64_t n)
{
    float *c = malloc((size_t)n * sizeof *c);
    if (!c)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        c[i] = !isfinite(W[i]) ? 0.0f : fmaxf(fminf(W[i], LS_HQQ_WMAX), -LS_HQQ_WMAX);
    return c;
}

static int alloc_result(ls_hqq_result *r, const ls_hqq_cfg *cfg, int64_t rows, int64_t cols)
{
    int64_t n = rows * cols, g = cfg->group_size;
    r->nbits = cfg->nbits;
    r->group_size = cfg->group_size;
    r->axis = cfg->axis;
    r->rows = rows;
    r->cols = cols;
    r->n_groups = n / g;
    grouped_view(cfg->axis, n, g, &r->view_rows, &r->view_cols);
    r->pack_rows = ls_bitpack_rows(cfg->nbits, r->view_rows);
    r->pack_cols = r->view_cols;
    r->wq_bytes = ls_bitpack_bytes(cfg->nbits, r->view_rows, r->view_cols);
    size_t fm = (size_t)r->n_groups * sizeof(float);
    r->wq = malloc(r->wq_bytes);
    r->scale = malloc(fm);
    r->s_inv = malloc(fm);
    r->zero = malloc(fm);
    r->scale_dq = malloc(fm);
    r->zero_dq = malloc(fm);
    return r->wq && r->scale && r->s_inv && r->zero && r->scale_dq && r->zero_dq ? 0 : -1;
}

/* Runs the solve (into s_inv, zero, wq) and sets scale = 1/s_inv. The fast path finds
 * bad weights itself and asks for a sanitized copy; the exact one is given it up front. */
static int solve(ls_hqq_result *r, const float *W, const ls_hqq_cfg *cfg, int threads)
{
    int64_t n = r->rows * r->cols;
    ls_hqq_solve s = {
        .W = W, .n = n, .m = r->n_groups, .nbits = cfg->nbits,
        .group_size = cfg->group_size, .axis = cfg->axis, .optimize = cfg->optimize,
        .round_zero = cfg->round_zero, .s_inv = r->s_inv, .zero = r->zero, .wq = r->wq,
    };
    float *clean = NULL;
    int rc;
    if (cfg->exact) {
        r->n_nonfinite = count_nonfinite(W, n);
        if (r->n_nonfinite > 0 && !(clean = sanitized_copy(W, n)))
            return -1;
        s.W = clean ? clean : W;
        rc = ls_hqq_solve_exact(&s);
    } else {
        rc = ls_hqq_solve_fast(&s, threads);
        r->n_nonfinite = s.n_bad;
        if (rc == 0 && s.n_bad > 0) {
            if (!(clean = sanitized_copy(W, n)))
                return -1;
            s.W = clean;
            rc = ls_hqq_solve_fast(&s, threads);
        }
    }
    free(clean);
    if (rc < 0)
        return -1;
    for (int64_t j = 0; j < r->n_groups; j++)
        r->scale[j] = 1.0f / r->s_inv[j]; /* stored: the dequantization scale */
    r->iterations = s.iterations;
    memcpy(r->err_trace, s.err_trace, sizeof r->err_trace);
    return 0;
}

int ls_hqq_quantize(const char *name, const float *W, int64_t rows, int64_t cols,
                    const ls_hqq_cfg *cfg, int threads, ls_hqq_result *res, ls_error *err)
{
    memset(res, 0, sizeof *res);
    if (!name)
        name = "matrix";
    if (ls_hqq_check(name, rows, cols, cfg, err) < 0)
        return -1;
    if (threads < 1)
        threads = 1;
    if (alloc_result(res, cfg, rows, cols) < 0 || solve(res, W, cfg, threads) < 0
        || quantize_metadata(res, cfg) < 0) {
        ls_hqq_free(res);
        return ls_fail(err, "%s: hqq: out of memory for %lld x %lld", name,
                       (long long)rows, (long long)cols);
    }
    res->stored_bytes = stored_bytes_of(cfg->nbits, rows * cols, cfg->group_size, cfg->axis,
                                        cfg->quant_scale, cfg->quant_zero, res->scale_group);
    return 0;
}

/* Dequantized weight at flat index i; NaN-free because scale/zero are finite. */
static float dequant_at(const ls_hqq_result *r, int64_t i)
{
    int64_t j = group_of(r->axis, r->n_groups, r->group_size, i);
    float q = (float)ls_bitpack_get(r->nbits, r->wq, r->view_rows, r->view_cols, i);
    return (q - r->zero_dq[j]) * r->scale_dq[j];
}

void ls_hqq_dequantize(const ls_hqq_result *r, float *out)
{
    int64_t n = r->rows * r->cols;
    /* Fast path: unpack all codes once, then one vector-friendly pass per view row (axis 0:
     * element k*M + j belongs to group j; axis 1: row i is group i). Same arithmetic as
     * dequant_at, so the results are identical. */
    uint8_t *q = malloc((size_t)n);
    if (!q || ls_bitunpack(r->nbits, r->wq, r->view_rows, r->view_cols, q) < 0) {
        free(q);
        for (int64_t i = 0; i < n; i++)
            out[i] = dequant_at(r, i);
        return;
    }
    int64_t R = r->view_rows, C = r->view_cols;
    for (int64_t k = 0; k < R; k++) {
        const uint8_t *qk = q + k * C;
        float *ok = out + k * C;
        if (r->axis == 0) {
            for (int64_t j = 0; j < C; j++)
                ok[j] = ((float)qk[j] - r->zero_dq[j]) * r->scale_dq[j];
        } else {
            float z = r->zero_dq[k], sc = r->scale_dq[k];
            for (int64_t j = 0; j < C; j++)
                ok[j] = ((float)qk[j] - z) * sc;
        }
    }
    free(q);
}

void ls_hqq_error(const float *W, const ls_hqq_result *r, double *fro, double *mean_abs)
{
    int64_t n = r->rows * r->cols, used = 0;
    double s2 = 0.0, s1 = 0.0;
    /* Dequantize the whole matrix at once when memory allows (much faster than per element;
     * the same values either way). */
    float *wh = malloc((size_t)n * sizeof *wh);
    if (wh)
        ls_hqq_dequantize(r, wh);
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(W[i]))
            continue;
        double d = (double)W[i] - (double)(wh ? wh[i] : dequant_at(r, i));
        s2 += d * d;
        s1 += fabs(d);
        used++;
    }
    free(wh);
    if (fro)
        *fro = sqrt(s2);
    if (mean_abs)
        *mean_abs = used ? s1 / (double)used : 0.0;
}
