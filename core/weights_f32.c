#include "weights_f32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "profile.h"


int64_t ls_layer_f32_bytes(const ls_model *m)
{
    const ls_config *c = &m->cfg;
    int64_t n = 2 * (int64_t)c->dim;
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        int64_t r, k;
        ls_module_shape(c, mod, &r, &k);
        n += r * k;
    }
    if (c->qkv_bias)
        n += (int64_t)(c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    return n * (int64_t)sizeof(float);
}

void ls_layer_f32_free(ls_layer_f32 *w)
{
    for (int i = 0; i < LS_N_MODULES; i++)
        free(w->w[i]);
    free(w->attn_norm);
    free(w->ffn_norm);
    free(w->bq);
    free(w->bk);
    free(w->bv);
    memset(w, 0, sizeof *w);
    w->layer = -1;
}

int ls_layer_f32_init(ls_layer_f32 *w, const ls_model *m, ls_error *err)
{
    const ls_config *c = &m->cfg;
    memset(w, 0, sizeof *w);
    w->layer = -1;
    bool ok = true;
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        ls_module_shape(c, mod, &w->rows[mod], &w->cols[mod]);
        w->w[mod] = malloc((size_t)(w->rows[mod] * w->cols[mod]) * sizeof(float));
        ok = ok && w->w[mod];
    }
    w->attn_norm = malloc((size_t)c->dim * sizeof(float));
    w->ffn_norm = malloc((size_t)c->dim * sizeof(float));
    ok = ok && w->attn_norm && w->ffn_norm;
    if (c->qkv_bias) {
        w->bq = malloc((size_t)c->n_heads * (size_t)c->head_dim * sizeof(float));
        w->bk = malloc((size_t)c->n_kv_heads * (size_t)c->head_dim * sizeof(float));
        w->bv = malloc((size_t)c->n_kv_heads * (size_t)c->head_dim * sizeof(float));
        ok = ok && w->bq && w->bk && w->bv;
    }
    if (!ok) {
        ls_layer_f32_free(w);
        return ls_fail(err, "%s: weights: out of memory for one layer in f32 (%.1f MiB)",
                       m->path, (double)ls_layer_f32_bytes(m) / 1048576.0);
    }
    return 0;
}

static int check_tensor(const ls_model *m, const ls_tensor *t, int64_t n, const char *what,
                        int layer, ls_error *err)
{
    if (!t)
        return ls_fail(err, "%s: layer %d: %s: missing tensor", m->path, layer, what);
    if (t->n_elems != n)
        return ls_fail(err, "%s: %s: %lld elements, expected %lld", m->path, t->name,
                       (long long)t->n_elems, (long long)n);
    return 0;
}

int ls_layer_f32_load(ls_layer_f32 *w, const ls_model *m, const ls_qmodel *q, int layer,
                      ls_error *err)
{
    const ls_config *c = &m->cfg;
    if (!m->has_weights || !m->layers)
        return ls_fail(err, "%s: weights: the model has no weights", m->path);
    const ls_layer *L = &m->layers[layer];
    w->layer = -1;
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        int64_t n = w->rows[mod] * w->cols[mod];
        if (q && q->mods[LS_IDX(layer, mod)].stop >= 0) {
            const ls_hqq_result *r = &q->mods[LS_IDX(layer, mod)].q;
            if (r->rows * r->cols != n)
                return ls_fail(err, "%s: layer %d: %s: quantized copy has the wrong shape",
                               m->path, layer, ls_module_name(mod));
            ls_hqq_dequantize(r, w->w[mod]);
        } else {
            if (check_tensor(m, L->linear[mod], n, ls_module_name(mod), layer, err) < 0)
                return -1;
            ls_tensor_range_f32(L->linear[mod], 0, n, w->w[mod]);
        }
    }
    if (check_tensor(m, L->attn_norm, c->dim, "attn_norm", layer, err) < 0 ||
        check_tensor(m, L->ffn_norm, c->dim, "ffn_norm", layer, err) < 0)
        return -1;
    ls_tensor_range_f32(L->attn_norm, 0, c->dim, w->attn_norm);
    ls_tensor_range_f32(L->ffn_norm, 0, c->dim, w->ffn_norm);
    if (c->qkv_bias) {
        int64_t nq = (int64_t)c->n_heads * c->head_dim, nkv = (int64_t)c->n_kv_heads * c->head_dim;
        if (check_tensor(m, L->bq, nq, "q bias", layer, err) < 0 ||
            check_tensor(m, L->bk, nkv, "k bias", layer, err) < 0 ||
            check_tensor(m, L->bv, nkv, "v bias", layer, err) < 0)
            return -1;
        ls_tensor_range_f32(L->bq, 0, nq, w->bq);
        ls_tensor_range_f32(L->bk, 0, nkv, w->bk);
        ls_tensor_range_f32(L->bv, 0, nkv, w->bv);
    }
    w->layer = layer;
    return 0;
}

