/* The naive reference forward pass: one sequence, plain loops, double accumulation, RoPE
 * angles computed directly. Slow by design; tests compare the sgemm path against it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/forward.h"

static void ref_rmsnorm(const double *x, const float *w, int dim, double eps, double *y)
{
    double ss = 0.0;
    for (int i = 0; i < dim; i++)
        ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / dim + eps);
    for (int i = 0; i < dim; i++)
        y[i] = x[i] * inv * w[i];
}

/* y[out] = W[out][in] . x[in] (+ b) */
static void ref_matvec(const float *W, const double *x, int64_t out, int64_t in,
                       const float *b, double *y)
{
    for (int64_t o = 0; o < out; o++) {
        double s = b ? b[o] : 0.0;
        const float *row = W + o * in;
        for (int64_t i = 0; i < in; i++)
            s += (double)row[i] * x[i];
        y[o] = s;
    }
}

static void ref_rope(double *v, int n_heads, int hd, ls_rope_layout layout, int pos,
                     const double *inv_freq)
{
    for (int h = 0; h < n_heads; h++) {
        double *x = v + (int64_t)h * hd;
        for (int i = 0; i < hd / 2; i++) {
            int a = layout == LS_ROPE_PAIRS ? 2 * i : i;
            int b = layout == LS_ROPE_PAIRS ? 2 * i + 1 : i + hd / 2;
            double ang = pos * inv_freq[i], cs = cos(ang), sn = sin(ang);
            double x0 = x[a], x1 = x[b];
            x[a] = x0 * cs - x1 * sn;
            x[b] = x0 * sn + x1 * cs;
        }
    }
}

int ls_forward_ref(const ls_model *m, const ls_qmodel *q, const int32_t *tokens, int n,
                   double *logits, ls_error *err)
{
    const ls_config *c = &m->cfg;
    int dim = c->dim, hd = c->head_dim, hid = c->hidden_dim, V = c->vocab_size;
    int64_t qw = (int64_t)c->n_heads * hd, kw = (int64_t)c->n_kv_heads * hd;
    int rep = c->n_heads / c->n_kv_heads;
    ls_layer_f32 w;
    if (ls_layer_f32_init(&w, m, err) < 0)
        return -1;
    double *x = calloc((size_t)n * dim, sizeof *x);
    double *xn = malloc((size_t)dim * sizeof *xn);
    double *qv = malloc((size_t)qw * sizeof *qv);
    double *K = malloc((size_t)n * kw * sizeof *K), *Vv = malloc((size_t)n * kw * sizeof *Vv);
    double *att = malloc((size_t)n * sizeof *att), *ctx = malloc((size_t)qw * sizeof *ctx);
    double *tmp = malloc((size_t)(hid > dim ? hid : dim) * sizeof *tmp);
    double *g = malloc((size_t)hid * sizeof *g), *u = malloc((size_t)hid * sizeof *u);
    double *inv = malloc((size_t)hd * sizeof *inv);
    float *fnorm = malloc((size_t)dim * sizeof *fnorm);
    int rc = -1;
    if (!x || !xn || !qv || !K || !Vv || !att || !ctx || !tmp || !g || !u || !inv || !fnorm) {
        ls_fail(err, "forward_ref: out of memory");
        goto done;
    }
    if (ls_rope_inv_freq(m, inv, err) < 0)
        goto done;
    for (int t = 0; t < n; t++) {
        if (tokens[t] < 0 || tokens[t] >= V) {
            ls_fail(err, "forward_ref: token %d out of range", tokens[t]);
            goto done;
        }
        for (int i = 0; i < dim; i++)
            x[(int64_t)t * dim + i] = ls_tensor_get(m->tok_emb, (int64_t)tokens[t] * dim + i);
    }
    for (int l = 0; l < c->n_layers; l++) {
        if (ls_layer_f32_load(&w, m, q, l, err) < 0)
            goto done;
        /* K and V of every position first (causal: position t uses 0..t). */
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(x + (int64_t)t * dim, w.attn_norm, dim, c->norm_eps, xn);
            ref_matvec(w.w[LS_MOD_K], xn, kw, dim, w.bk, K + (int64_t)t * kw);
            ref_matvec(w.w[LS_MOD_V], xn, kw, dim, w.bv, Vv + (int64_t)t * kw);
            ref_rope(K + (int64_t)t * kw, c->n_kv_heads, hd, c->rope_layout, t, inv);
        }
        for (int t = 0; t < n; t++) {
            double *xt = x + (int64_t)t * dim;
            ref_rmsnorm(xt, w.attn_norm, dim, c->norm_eps, xn);
            ref_matvec(w.w[LS_MOD_Q], xn, qw, dim, w.bq, qv);
            ref_rope(qv, c->n_heads, hd, c->rope_layout, t, inv);
            int lo = c->sliding_window > 0 && t - c->sliding_window + 1 > 0
                         ? t - c->sliding_window + 1 : 0;
            for (int h = 0; h < c->n_heads; h++) {
                int gk = h / rep;
                double mx = -INFINITY, sum = 0.0;
                for (int j = lo; j <= t; j++) {
                    double s = 0.0;
                    for (int d = 0; d < hd; d++)
                        s += qv[(int64_t)h * hd + d] * K[(int64_t)j * kw + (int64_t)gk * hd + d];
                    att[j] = s / sqrt((double)hd);
                    mx = att[j] > mx ? att[j] : mx;
                }
                for (int j = lo; j <= t; j++)
                    sum += (att[j] = exp(att[j] - mx));
                for (int d = 0; d < hd; d++) {
                    double s = 0.0;
                    for (int j = lo; j <= t; j++)
                        s += att[j] / sum * Vv[(int64_t)j * kw + (int64_t)gk * hd + d];
                    ctx[(int64_t)h * hd + d] = s;
                }
            }
            ref_matvec(w.w[LS_MOD_O], ctx, dim, qw, NULL, tmp);
            for (int i = 0; i < dim; i++)
                xt[i] += tmp[i];
            ref_rmsnorm(xt, w.ffn_norm, dim, c->norm_eps, xn);
            ref_matvec(w.w[LS_MOD_GATE], xn, hid, dim, NULL, g);
            ref_matvec(w.w[LS_MOD_UP], xn, hid, dim, NULL, u);
            for (int i = 0; i < hid; i++)
                g[i] = g[i] / (1.0 + exp(-g[i])) * u[i];
            ref_matvec(w.w[LS_MOD_DOWN], g, dim, hid, NULL, tmp);
            for (int i = 0; i < dim; i++)
                xt[i] += tmp[i];
        }
    }
    for (int i = 0; i < dim; i++)
        fnorm[i] = ls_tensor_get(m->final_norm, i);
    for (int t = 0; t < n; t++) {
        ref_rmsnorm(x + (int64_t)t * dim, fnorm, dim, c->norm_eps, xn);
        for (int v = 0; v < V; v++) {
            double s = 0.0;
            for (int i = 0; i < dim; i++)
                s += (double)ls_tensor_get(m->lm_head, (int64_t)v * dim + i) * xn[i];
            logits[(int64_t)t * V + v] = s;
        }
    }
    rc = 0;
done:
    ls_layer_f32_free(&w);
    free(x), free(xn), free(qv), free(K), free(Vv), free(att), free(ctx), free(tmp);
    free(g), free(u), free(inv), free(fnorm);
    return rc;
}
