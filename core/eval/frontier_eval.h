/* Measuring the frontier's points (method/frontier.h): each allocation is quantized with
 * HQQ (modules shared with the previous point are reused) and evaluated over a text with
 * the quality measures of issue 10 (eval/quality_run.h: one ls_qsession, so the fp
 * reference is computed once, or read from the evaluation cache): the mean KL divergence
 * to the unquantized model with its standard error, and the protocol's PPL (ppl_err is
 * NaN: the PPL of a quantized model carries no +/- here). The unquantized model's PPL is
 * measured once as the reference line. */
#ifndef LS_FRONTIER_EVAL_H
#define LS_FRONTIER_EVAL_H

#include "base/progress.h"
#include "eval/perplexity.h"
#include "eval/quality_run.h"
#include "formats/model.h"
#include "method/frontier.h"
#include "quant/qmodel.h"
#include "tokenizer/tokenizer.h"

typedef struct ls_frontier_eval ls_frontier_eval;

/* Tokenizes eval_path once and resolves the protocol (qp: protocol, ctx, stride, chunks,
 * top-k, cache). tokenizer_path: for llama2.c checkpoints (NULL = beside the model). */
int ls_frontier_eval_open(const ls_model *m, const char *tokenizer_path, const char *eval_path,
                          const ls_quality_params *qp, int threads, ls_frontier_eval **out,
                          ls_error *err);
void ls_frontier_eval_free(ls_frontier_eval *ev);

/* What the results depend on besides the allocation: model, text, protocol, ctx, stride,
 * chunks and top-k. */
uint64_t ls_frontier_eval_context(const ls_frontier_eval *ev);

/* The unquantized model's PPL (measured on first call, then remembered). */
int ls_frontier_eval_fp(ls_frontier_eval *ev, ls_progress *progress, double *ppl,
                        ls_error *err);

/* Measures one allocation into r (context and fingerprint set). Cancel: -1, "cancelled". */
int ls_frontier_eval_point(ls_frontier_eval *ev, const ls_frontier_point *pt,
                           ls_progress *progress, ls_frontier_result *r, ls_error *err);

/* Measures every point of f not yet done (cache first; new results go into cache);
 * on_point(ctx, index) after each. */
int ls_frontier_eval_all(ls_frontier_eval *ev, ls_frontier *f, ls_frontier_cache *cache,
                         ls_progress *progress, void (*on_point)(void *, int), void *ctx,
                         ls_error *err);

#endif
