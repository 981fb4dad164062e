/* Measured sensitivity (issue 12, exllamav3's measurement pass): for every (layer, module),
 * that one matrix HQQ-quantized at the base config and everything else at full precision,
 * the mean KL divergence KL(P_fp || P_q) of the next-token distributions from the fp
 * model's, over every position of the evaluation windows ("measured ΔKL"; the fp model's
 * own ΔKL is 0).
 *
 * The fp pass runs once and keeps the residual stream at the input of every layer; a
 * matrix of layer l is then measured by rerunning layers l .. L-1 from that cached state
 * (the layers before l are unchanged). The fp distributions are kept per token as in
 * core/eval/quality.h (all logits, or the top 64 with the rest's mass when the full logits
 * would pass 1 GiB: the KL is then a lower bound, "coarsened").
 *
 * Progress is resumable: after every matrix the values so far are written atomically to a
 * state file whose first line is a key of (model fingerprint, token hash, windows, config,
 * metadata quantization); a run finding a state file with its key skips what is in it.
 *
 *   ls_measure_params mp = ls_measure_params_default();
 *   ls_measure_result r;
 *   ls_measure_run(m, tok, "eval.txt", &mp, progress, &r, &err);   // r.dkl [L*7]
 *   ls_measure_write_csv("dkl.csv", &r, m->name, &err);
 *   ls_measure_result_free(&r);
 */
#ifndef LS_MEASURE_H
#define LS_MEASURE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"
#include "formats/model.h"
#include "method/profile.h"
#include "nn/matmul_bf16.h"
#include "tokenizer/tokenizer.h"

typedef struct ls_measure_params {
    int64_t tokens;         /* evaluation tokens (16384); fewer when the text is shorter */
    int ctx;                /* window length (512, clamped to the model's context) */
    int stop;               /* the config of the one quantized matrix (the base) */
    bool quant_meta;        /* HQQ metadata quantized, as --quantize (true) */
    int threads;            /* HQQ threads; 0 = 1 */
    const char *state_path; /* resumable progress; NULL = none */
    int max_matrices;       /* stop after this many new measurements (0 = all): a partial
                               run, for tests of resuming */
    ls_compute compute;     /* products in f32 (default, the reference) or bf16; the state
                               file's key includes it */
} ls_measure_params;

ls_measure_params ls_measure_params_default(void);

typedef struct ls_measure_result {
    int n_layers;
    double *dkl;            /* [L*7] mean KL per LS_IDX; NaN = not measured */
    double *dkl_se;         /* [L*7] its standard error over tokens */
    int64_t tokens;         /* positions the mean is over */
    int n_windows, ctx, stop;
    int measured;           /* matrices measured in this run */
    int resumed;            /* matrices taken from the state file */
    bool complete;          /* every matrix has a value */
    bool coarsened;
    int top_k;
    double seconds;
    ls_compute compute;     /* as used: bf16 falls back to f32 without CPU support (the
                               reason in note) */
    char note[256];         /* e.g. an ignored state file */
} ls_measure_result;

void ls_measure_result_free(ls_measure_result *r);

/* On token ids (window after window, each of ctx tokens; a window that does not fill is
 * dropped). */
int ls_measure_tokens(const ls_model *m, const int32_t *ids, int64_t n_ids,
                      const ls_measure_params *p, ls_progress *progress,
                      ls_measure_result *r, ls_error *err);

/* On a text file: tokenized as is, BOS first when the tokenizer adds one. */
int ls_measure_run(const ls_model *m, const ls_tokenizer *tok, const char *eval_path,
                   const ls_measure_params *p, ls_progress *progress, ls_measure_result *r,
                   ls_error *err);

/* CSV: layer,module,measured_dkl,se,tokens,config (atomically). */
int ls_measure_write_csv(const char *path, const ls_measure_result *r, ls_error *err);

/* Copies r->dkl into p->measured_dkl. */
int ls_measure_to_profile(const ls_measure_result *r, ls_profile *p, ls_error *err);

#endif
