/* One decoder layer's weights in f32 scratch, converted from the mapped tensors (F32, F16,
 * BF16) or dequantized from an HQQ-quantized copy of the linear modules. Evaluation holds
 * one layer at a time, so a 7B model never needs its f32 weights in memory at once.
 *
 *   ls_qmodel *q = ...;                             // optional (core/quant/qmodel.h)
 *   ls_layer_f32 w;
 *   ls_layer_f32_init(&w, &m->cfg, &err);
 *   ls_layer_f32_load(&w, m, q, layer, &err);       // q == NULL: full precision
 */
#ifndef LS_WEIGHTS_F32_H
#define LS_WEIGHTS_F32_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "quant/qmodel.h"
#include "formats/model.h"
#include "base/progress.h"

typedef struct ls_layer_f32 {
    int layer;                 /* which layer is loaded, -1 none */
    float *w[LS_N_MODULES];    /* [out][in] row-major, as stored (q/k rows in the file's
                                  RoPE layout) */
    float *attn_norm, *ffn_norm; /* [dim] */
    float *bq, *bk, *bv;       /* qwen2 biases, NULL otherwise */
    int64_t rows[LS_N_MODULES], cols[LS_N_MODULES];
    /* --compute bf16 (ls_layer_bf16_init): the linear modules also in bf16, one block in
     * module order; NULL in f32 mode. BF16 tensors are copied bit for bit, F32/F16 ones
     * rounded to nearest even, quantized ones dequantized to f32 and then rounded. */
    uint16_t *wb[LS_N_MODULES];
    bool has_f32;              /* w[] holds the f32 weights (always in f32 mode) */
} ls_layer_f32;

int ls_layer_f32_init(ls_layer_f32 *w, const ls_model *m, ls_error *err);
void ls_layer_f32_free(ls_layer_f32 *w);
/* For --compute bf16: the bf16 block, plus the f32 one when with_f32 (needed to dequantize
 * HQQ copies and by callers that read w[], such as sensitivity's quantizer). Without it
 * w[] are NULL and a layer costs half the memory of f32. */
int ls_layer_bf16_init(ls_layer_f32 *w, const ls_model *m, bool with_f32, ls_error *err);
/* Bytes ls_layer_f32_init allocates for a model. */
int64_t ls_layer_f32_bytes(const ls_model *m);

/* Fills w with layer `layer`: each linear module dequantized from q when q holds it
 * quantized (stop >= 0), else converted from the mapped tensor (q == NULL: all). */
int ls_layer_f32_load(ls_layer_f32 *w, const ls_model *m, const ls_qmodel *q, int layer,
                      ls_error *err);

/* The whole tensor in f32 (t->n_elems floats), converted on all CPUs. */
void ls_tensor_to_f32_parallel(const ls_tensor *t, float *out);

#endif
