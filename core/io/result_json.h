/* The JSON documents batch mode and the explorer write:
 *  - the result ("format": "layerscope-result", version 1): model, settings, every module's
 *    metrics, detection and config, memory; later issues add objects to it;
 *  - the allocation export ("format": "layerscope-allocation", version 1), whose
 *    "optimal_configs" drives the paper's HQQ fork.
 * Both are documented in README.md. */
#ifndef LS_RESULT_JSON_H
#define LS_RESULT_JSON_H

#include <cjson/cJSON.h>

#include "method/agreement.h"
#include "method/analysis.h"
#include "base/error.h"
#include "method/profile.h"
#include "eval/ppl_text.h"
#include "eval/quality_run.h"
#include "quant/qmodel.h"

/* Builds the result document; the caller owns it (cJSON_Delete). NULL when out of memory. */
cJSON *ls_result_json(const ls_profile *p, const ls_analysis *a);
cJSON *ls_export_json(const ls_profile *p, const ls_analysis *a);

/* Adds the quantization results to a result document: per module "qerr",
 * "qerr_mean_abs", "iterations", "stored_bytes", "scale_quantized", and a "quantization"
 * object with the totals. */
void ls_result_json_add_quantization(cJSON *doc, const ls_qmodel *qm);

/* Adds "perplexity": {"protocol", "ctx", "stride", "tokens", "eval", "fp", "base",
 * "current", "delta_pct", "delta_fp_pct", "fp_err", "base_err", "current_err", "note"}. */
void ls_result_json_add_perplexity(cJSON *doc, const ls_ppl_compare *c, const char *eval);

/* Adds "quality" (issue 10; README "JSON"): {"protocol", "ctx", "stride", "tokens",
 * "windows", "windows_available", "stopped_by", "precision", "reference_cached",
 * "base_cached", "coarsened", "top_k", "fp_ppl", "base": {...}, "current": {...},
 * "current_vs_base": {...}, "verdict", "mem_pct", "per_layer": [...], "per_layer_tokens"}. */
void ls_result_json_add_quality(cJSON *doc, const ls_quality_result *q, double precision);

/* A JSON number that reads back as exactly v (%.17g; cJSON's own printing rounds to 15
 * digits), or null when v is not finite (JSON has no NaN or Inf). */
cJSON *ls_json_exact_number(double v);

/* Replaces the document's "agreement" object (ls_result_json adds one with top-N 10). */
void ls_result_json_add_agreement(cJSON *doc, const ls_agreement *ag);

/* Serialises doc and writes it atomically. */
int ls_json_write_file(const char *path, const cJSON *doc, ls_error *err);

/* Memory figures as the explorer and batch mode show them. */
typedef struct ls_memory_view {
    bool known;
    double base_bpp, bpp, base_mib, mib, delta_mib, extra_pct;
    double model_mib;    /* linears at the current allocation + the rest at stored dtype; <0 unknown */
    double model_fp_mib; /* everything at its stored dtype; <0 unknown */
} ls_memory_view;

void ls_memory_view_of(const ls_profile *p, const ls_analysis *a, ls_memory_view *out);

#endif
