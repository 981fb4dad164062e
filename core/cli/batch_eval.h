/* Batch mode's inference steps: measuring activation sensitivity (--sensitivity) and the
 * perplexity comparison fp / base / current (--perplexity), with llama.cpp-style output
 * on stdout and one progress line on stderr. */
#ifndef LS_BATCH_EVAL_H
#define LS_BATCH_EVAL_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "method/analysis.h"
#include "formats/model.h"
#include "cli/options.h"
#include "eval/ppl_text.h"
#include "method/profile.h"
#include "quant/qmodel.h"
#include "eval/quality_run.h"

/* Fills p->sensitivity from a measurement (and writes --export-sensitivity-csv). is_demo
 * selects the sample's calibration text when --calib is not given. */
int ls_batch_sensitivity(const ls_options *o, const ls_model *m, bool is_demo, ls_profile *p,
                         int threads, FILE *errf, ls_error *err);

/* PPL of fp, the base allocation and the current allocation (a->cfg, or the saved model
 * of --quantized). qm: quantized modules to reuse (may be NULL). */
int ls_batch_perplexity(const ls_options *o, const ls_model *m, bool is_demo,
                        const ls_analysis *a, ls_qmodel *qm, int threads, FILE *out,
                        FILE *errf, ls_ppl_compare *cmp, ls_error *err);

/* The memory-quality frontier (--frontier): builds the points at the run's settings with
 * a->cfg as "current", measures them (KLD and PPL) with the perplexity and --kld options
 * (protocol, --ctx, --stride, --chunks, --kld-top-k, the cache), prints the table and
 * writes --frontier-svg/--frontier-csv. *json gets the result's "frontier" object. */
int ls_batch_frontier(const ls_options *o, const ls_model *m, bool is_demo,
                      const ls_profile *p, const ls_analysis *a, int threads, FILE *out,
                      FILE *errf, cJSON **json, ls_error *err);

/* --kld: the same comparison through ls_quality_run (fp reference cached, base and current
 * interleaved, sequential stop), cmp filled from it for the "perplexity" output, q with the
 * KL divergence measures (printed after the perplexity block). */
int ls_batch_quality(const ls_options *o, const ls_model *m, bool is_demo,
                     const ls_analysis *a, ls_qmodel *qm, int threads, FILE *out, FILE *errf,
                     ls_ppl_compare *cmp, ls_quality_result *q, ls_error *err);

/* The quality block of the batch output. */
void ls_batch_print_quality(FILE *out, const ls_quality_result *q);

/* --measure: the measured ΔKL of every matrix (core/eval/measure.h) on --eval (the demo's
 * eval.txt by default), resumable through --measure-state or a file in the cache
 * directory; fills p->measured_dkl and writes --export-measure-csv. */
int ls_batch_measure(const ls_options *o, const ls_model *m, bool is_demo, int base,
                     ls_profile *p, int threads, FILE *errf, ls_error *err);

#endif
