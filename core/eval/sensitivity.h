/* Activation sensitivity exactly as the paper's code measures it (docs/method.md §3), with
 * our adaptations of §3.6: calibration documents are the non-empty lines of a text file
 * (optionally shuffled with SplitMix64, seed 42), encoded with BOS, over-long ones skipped,
 * concatenated and cut into blocks; then layer by layer on the full-precision path, each of
 * the four parts gets the plain MSE between its output with full and with HQQ-quantized
 * (b4g64, no metadata quantization by default) weights:
 *   attn_in  (q/k/v quantized, attention block output)   attn_out (o_proj)
 *   mlp_gate (gate/up quantized, MLP block output)        mlp_down (down_proj)
 * attn_out is skipped (o_proj takes attn_in) when v_proj's shape differs from o_proj's (GQA).
 * The loaded model is never modified.
 *
 *   ls_sensi_params sp = ls_sensi_params_default();
 *   ls_sensi_result r;
 *   ls_sensitivity_run(m, tok, "calib.txt", &sp, progress, &r, &err);
 *   ls_sensitivity_to_profile(&r, profile, &err);            // fills profile->sensitivity
 *   ls_sensitivity_write_csv("sensitivity-M.csv", &r, m->name, &err);  // toolkit format
 *   ls_sensi_result_free(&r);
 */
#ifndef LS_SENSITIVITY_H
#define LS_SENSITIVITY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"
#include "nn/matmul_bf16.h"
#include "method/profile.h"
#include "base/progress.h"
#include "tokenizer/tokenizer.h"

enum ls_sensi_part { LS_PART_ATTN_IN, LS_PART_ATTN_OUT, LS_PART_MLP_GATE, LS_PART_MLP_DOWN,
                     LS_N_PARTS };

const char *ls_sensi_part_name(int part); /* "attn_in" "attn_out" "mlp_gate" "mlp_down" */

typedef struct ls_sensi_params {
    int n_samples;      /* documents accepted (128) */
    int seqlen;         /* block length and longest document kept (512), clamped to the
                           model's context */
    bool shuffle;       /* Fisher-Yates with SplitMix64 (true); false keeps file order */
    uint64_t seed;      /* 42 */
    int nbits, group_size; /* 4, 64 */
    bool quant_meta;    /* quantize scale/zero as in model quantization (false) */
    bool fp16_weights;  /* round dequantized weights to fp16, as the reference (false) */
    int threads;        /* HQQ threads (0 = 1) */
    const char *dataset;/* name for the CSV; NULL = the calibration file's base name */
    ls_compute compute; /* products in f32 (default) or bf16; HQQ always quantizes the
                           stored weights (read as f32) */
    struct ls_imatrix *capture; /* when set (from ls_imatrix_for_model), the full-precision
                                   inputs of every linear are summed into it as an
                                   importance matrix (--export-imatrix); NULL = not */
} ls_sensi_params;

ls_sensi_params ls_sensi_params_default(void);

typedef struct ls_sensi_result {
    int n_layers;
    double *part;            /* [n_layers][4] MSE per part (attn_out measured anyway) */
    bool attn_out_skipped;   /* the GQA rule: o_proj takes attn_in */
    double *module;          /* [n_layers * 7] per LS_IDX(layer, module) */
    int n_docs;              /* documents accepted */
    int n_skipped_long;      /* documents skipped as longer than seqlen */
    int64_t n_tokens;        /* tokens of the accepted documents */
    int n_blocks, block_len;
    int32_t first_tokens[16];/* start of block 0 */
    int n_first;
    int nbits, group_size;
    char dataset[128];
    char first_doc[96];      /* start of the first accepted document */
    double seconds;
    ls_compute compute;      /* as used */
    char compute_note[200];  /* why bf16 fell back to f32, else "" */
} ls_sensi_result;

void ls_sensi_result_free(ls_sensi_result *r);

/* Calibration blocks from a text file (§3.6): *blocks is [n_blocks][block_len]. Fails with
 * "calibration text too short" when not one block results. Fills the document counts and
 * first_* fields of info. */
int ls_calib_blocks(const char *path, const ls_tokenizer *tok, const ls_model *m,
                    const ls_sensi_params *p, int32_t **blocks, ls_sensi_result *info,
                    ls_error *err);

/* The measurement on ready blocks; r must come from ls_calib_blocks or be zeroed with
 * n_blocks/block_len set. Progress per (layer, part); cancel returns -1 ("cancelled"). */
int ls_sensitivity_blocks(const ls_model *m, const int32_t *blocks, const ls_sensi_params *p,
                          ls_progress *progress, ls_sensi_result *r, ls_error *err);

/* Both steps. */
int ls_sensitivity_run(const ls_model *m, const ls_tokenizer *tok, const char *calib_path,
                       const ls_sensi_params *p, ls_progress *progress, ls_sensi_result *r,
                       ls_error *err);

/* Copies the module scores into p->sensitivity and records the source. */
int ls_sensitivity_to_profile(const ls_sensi_result *r, ls_profile *p, ls_error *err);

/* The toolkit's sensitivity CSV (dataset, part, model, nbits, group_size, layer,
 * sensitivity), written atomically; attn_out rows are left out when skipped (GQA), as
 * the reference does. core/method/import.h reads it back (select r->dataset). */
int ls_sensitivity_write_csv(const char *path, const ls_sensi_result *r,
                             const char *model_name, ls_error *err);

#endif
