/* The results a session keeps (its "results" object), each with the key it depends on, so a
 * session loaded later shows only what still holds for the model and text it finds:
 *   "hqq":       the HQQ error of every quantized matrix and the config it was quantized
 *                with; key: the model fingerprint (and whether metadata was quantized);
 *   "quality":   the last perplexity / KLD / same-top comparison (fp, base, current) with
 *                its per-layer errors; key: the model fingerprint, a hash of the evaluation
 *                text's bytes, a hash of the two allocations compared, and the protocol,
 *                window and compute it ran with;
 *   "selection": the selected layer and module;
 *   "inputs":    the explorer's job inputs (texts, protocol, ctx, compute).
 * Hashes and fingerprints are written as 16 hex digits. */
#ifndef LS_SESSION_RESULTS_H
#define LS_SESSION_RESULTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "eval/quality.h"

typedef struct ls_session_inputs {
    char eval[1024], calib[1024]; /* "" = none */
    int protocol;                 /* enum ls_ppl_protocol */
    int ctx;                      /* 0 = the protocol's default */
    int compute;                  /* enum ls_compute */
} ls_session_inputs;

typedef struct ls_session_hqq {
    uint64_t model;     /* fingerprint of the model quantized */
    bool quant_meta;
    double *err;        /* [n_layers * 7] ||W - deq(Q(W))||_F; NaN where not quantized */
    signed char *stop;  /* [n_layers * 7] the config (stop index) it used; -1 none */
} ls_session_hqq;

typedef struct ls_session_quality {
    uint64_t model, text, alloc; /* the key: model, evaluation text, allocations compared */
    char text_path[1024];
    int protocol, ctx, compute;  /* as the run used them */
    double fp_ppl, mem_pct;      /* mem_pct: the current allocation's extra memory (NaN) */
    ls_quality_stats base, current;
    char verdict[256], info[160];
    int n_layer_err;             /* per-layer error of the current allocation; 0 = none */
    double *rel_l2, *cosine;     /* [n_layer_err] */
} ls_session_quality;

typedef struct ls_session_results {
    bool has_selection;
    int layer, module;
    bool has_inputs;
    ls_session_inputs inputs;
    bool has_hqq;
    ls_session_hqq hqq;
    bool has_quality;
    ls_session_quality quality;
} ls_session_results;

void ls_session_results_free(ls_session_results *r);

/* FNV-1a 64 of a file's bytes. */
int ls_file_hash(const char *path, uint64_t *out, ls_error *err);
/* FNV-1a 64 of the base and current allocations (stop per matrix) a comparison ran on. */
uint64_t ls_alloc_hash(const unsigned char *base, const unsigned char *current, int n);

/* Adds the parts r has to o (n_layers: the arrays' layer count). */
void ls_session_results_to_json(const ls_session_results *r, int n_layers, cJSON *o);

/* Reads the parts o holds (absent ones stay unset); where names the file in messages
 * ("s.json: results.hqq.qerr: expected a list of 168 values"). */
int ls_session_results_from_json(const cJSON *o, int n_layers, const char *where,
                                 ls_session_results *r, ls_error *err);

/* Drops the results whose key no longer holds: the HQQ errors and the comparison of another
 * model, and a comparison whose evaluation text changed (or is gone) or whose allocations are
 * not the ones on screen (alloc). stale gets what was dropped and why, "" when nothing was
 * ("perplexity: the evaluation text changed"). Returns the number of parts dropped. */
int ls_session_results_check(ls_session_results *r, uint64_t model, uint64_t alloc,
                             char *stale, size_t cap);

#endif
