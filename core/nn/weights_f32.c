#include "nn/weights_f32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigalloc.h"
#include "base/parallel.h"
#include "method/profile.h"
#include "nn/matmul_bf16.h"


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
    ls_free_big(w->w[0]);
    ls_free_big(w->wb[0]);
    free(w->attn_norm);
    free(w->ffn_norm);
    free(w->bq);
    free(w->bk);
    free(w->bv);
    memset(w, 0, sizeof *w);
    w->layer = -1;
}

static int layer_init(ls_layer_f32 *w, const ls_model *m, bool with_f32, bool with_bf16,
                      ls_error *err)
{
    const ls_config *c = &m->cfg;
    memset(w, 0, sizeof *w);
    w->layer = -1;
    /* One block in module order, so that q/k/v and gate/up are each one matrix. */
    int64_t total = 0;
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        ls_module_shape(c, mod, &w->rows[mod], &w->cols[mod]);
        total += w->rows[mod] * w->cols[mod];
    }
    float *block = with_f32 ? ls_alloc_big((size_t)total * sizeof(float)) : NULL;
    uint16_t *bblock = with_bf16 ? ls_alloc_big((size_t)total * sizeof(uint16_t)) : NULL;
    bool ok = (block || !with_f32) && (bblock || !with_bf16);
    w->has_f32 = with_f32;
    int64_t at = 0;
    for (int mod = 0; ok && mod < LS_N_MODULES; mod++) {
        if (block)
            w->w[mod] = block + at;
        if (bblock)
            w->wb[mod] = bblock + at;
        at += w->rows[mod] * w->cols[mod];
    }
    if (!ok) {
        ls_free_big(block);
        ls_free_big(bblock);
        memset(w->w, 0, sizeof w->w);
        memset(w->wb, 0, sizeof w->wb);
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
        return ls_fail(err, "%s: weights: out of memory for one layer in %s (%.1f MiB)",
                       m->path, with_bf16 ? "bf16" : "f32",
                       (double)ls_layer_f32_bytes(m) / 1048576.0);
    }
    return 0;
}

int ls_layer_f32_init(ls_layer_f32 *w, const ls_model *m, ls_error *err)
{
    return layer_init(w, m, true, false, err);
}

int ls_layer_bf16_init(ls_layer_f32 *w, const ls_model *m, bool with_f32, ls_error *err)
{
    return layer_init(w, m, with_f32, true, err);
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

/* A conversion to f32 split into pieces for the CPUs: a dequantized matrix is one piece,
 * a mapped tensor is cut into ranges of PIECE values. */
#define PIECE ((int64_t)1 << 20)
#define MAX_ITEMS LS_N_MODULES

typedef struct convert_job {
    int n_items;
    const ls_tensor *tensor[MAX_ITEMS];      /* convert from the mapping, or */
    const ls_hqq_result *quant[MAX_ITEMS];   /* dequantize */
    int64_t n[MAX_ITEMS];
    float *out[MAX_ITEMS];                   /* f32 result, or NULL */
    uint16_t *outb[MAX_ITEMS];               /* bf16 result, or NULL */
    int64_t first_piece[MAX_ITEMS + 1];
} convert_job;

static void convert_piece(void *ctx, int64_t piece)
{
    convert_job *j = ctx;
    int it = 0;
    while (piece >= j->first_piece[it + 1])
        it++;
    if (j->quant[it]) {
        ls_hqq_dequantize(j->quant[it], j->out[it]);
        if (j->outb[it])
            ls_f32_to_bf16_array(1, j->out[it], j->n[it], j->outb[it]);
        return;
    }
    int64_t first = (piece - j->first_piece[it]) * PIECE;
    int64_t len = j->n[it] - first < PIECE ? j->n[it] - first : PIECE;
    const ls_tensor *t = j->tensor[it];
    if (j->out[it])
        ls_tensor_range_f32(t, first, len, j->out[it] + first);
    uint16_t *ob = j->outb[it];
    if (!ob)
        return;
    if (t->dtype == LS_DT_BF16) { /* as stored: the bits are copied, nothing is rounded */
        memcpy(ob + first, (const uint16_t *)t->data + first, (size_t)len * sizeof *ob);
    } else if (j->out[it]) {
        ls_f32_to_bf16_array(1, j->out[it] + first, len, ob + first);
    } else {
        float buf[4096];
        for (int64_t k = 0; k < len; k += 4096) {
            int64_t nk = len - k < 4096 ? len - k : 4096;
            ls_tensor_range_f32(t, first + k, nk, buf);
            ls_f32_to_bf16_array(1, buf, nk, ob + first + k);
        }
    }
}

static void convert_run(convert_job *j)
{
    j->first_piece[0] = 0;
    for (int it = 0; it < j->n_items; it++) {
        int64_t pieces = j->quant[it] ? 1 : (j->n[it] + PIECE - 1) / PIECE;
        j->first_piece[it + 1] = j->first_piece[it] + pieces;
    }
    /* Failing to start threads only means the caller's thread does all the pieces. */
    (void)ls_parallel_for(j->first_piece[j->n_items], ls_cpu_count(), convert_piece, j);
}

void ls_tensor_to_f32_parallel(const ls_tensor *t, float *out)
{
    convert_job job = {.n_items = 1, .tensor = {t}, .n = {t->n_elems}, .out = {out}};
    convert_run(&job);
}

int ls_layer_f32_load(ls_layer_f32 *w, const ls_model *m, const ls_qmodel *q, int layer,
                      ls_error *err)
{
    const ls_config *c = &m->cfg;
    if (!m->has_weights || !m->layers)
        return ls_fail(err, "%s: weights: the model has no weights", m->path);
    const ls_layer *L = &m->layers[layer];
    w->layer = -1;
    convert_job job = {.n_items = LS_N_MODULES};
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        int64_t n = w->rows[mod] * w->cols[mod];
        job.n[mod] = n;
        job.out[mod] = w->w[mod];
        job.outb[mod] = w->wb[mod];
        if (q && q->mods[LS_IDX(layer, mod)].stop >= 0) {
            const ls_hqq_result *r = &q->mods[LS_IDX(layer, mod)].q;
            if (r->rows * r->cols != n)
                return ls_fail(err, "%s: layer %d: %s: quantized copy has the wrong shape",
                               m->path, layer, ls_module_name(mod));
            if (!w->w[mod])
                return ls_fail(err, "%s: layer %d: %s: no f32 scratch to dequantize into",
                               m->path, layer, ls_module_name(mod));
            job.quant[mod] = r;
        } else {
            if (check_tensor(m, L->linear[mod], n, ls_module_name(mod), layer, err) < 0)
                return -1;
            job.tensor[mod] = L->linear[mod];
        }
    }
    convert_run(&job);
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

