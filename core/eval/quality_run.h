/* Evaluating allocations against the fp model over a text (issue 10): the text tokenized
 * once, the fp reference (core/eval/quality.h) loaded from the cache (core/eval/qcache.h) or
 * computed once and stored, then quantized models evaluated window batch by window batch.
 *
 * Two levels:
 *  - ls_qsession: the tokenized text and the fp reference, extended on demand. One
 *    allocation against it is ls_qsession_eval (what the frontier and measured-sensitivity
 *    work call many times: each call is one quantized forward pass over the windows).
 *  - ls_quality_run: the P / --kld comparison: base and current interleaved batch by batch
 *    after the fp reference, running estimates after each window, the sequential stop
 *    (--precision), the base allocation's per-token results from the cache when they are
 *    there, and the per-layer error of the current allocation.
 *
 * Per-layer error ("where the error enters"): the fp residual stream after every layer is
 * kept (in memory and in the cache entry) for the first windows whose hidden states fit in
 * a sixteenth of the cache limit, at most 64 MiB (but at least the first window when it takes
 * at most a quarter of the limit); the current allocation's pass compares
 * its residual stream at each layer end with it, in the same pass that gives its logits.
 * So per_layer covers per_layer_tokens positions (every position of those windows).
 *
 *   ls_quality_params qp = ls_quality_params_default(LS_PPL_PAPER);
 *   ls_quality_result r;
 *   ls_quality_run(m, tok, "eval.txt", &qp, base_cfg, cur_cfg, true, qm, 1.01, progress,
 *                  on_chunk, ctx, &r, &err);
 *   ... r.base.kld_mean, r.current.kld_se, r.current_vs_base, r.verdict, r.stopped_by ...
 *   ls_quality_result_free(&r);
 */
#ifndef LS_QUALITY_RUN_H
#define LS_QUALITY_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"
#include "eval/perplexity.h"
#include "eval/ppl_text.h"
#include "eval/quality.h"
#include "formats/model.h"
#include "quant/qmodel.h"
#include "tokenizer/tokenizer.h"

#define LS_QCACHE_LIMIT_DEFAULT ((int64_t)2 << 30) /* 2 GiB */

typedef struct ls_quality_params {
    ls_ppl_params ppl;       /* protocol, ctx, stride, max_chunks (--chunks), allow_long_ctx */
    ls_text_mode text_mode;
    int top_k;               /* k when the full logits exceed the limit; 0 = 64 */
    int64_t cache_limit;     /* bytes of the cache directory, and the most a full-logit
                                reference may take; 0 = 2 GiB */
    const char *cache_dir;   /* NULL = ls_qcache_dir() */
    bool no_cache;           /* neither read nor write the cache */
    double precision;        /* > 0: stop when the 95 % half-width of the relative KLD
                                difference current/base - 1 is below it (looked at from
                                1024 scored tokens and two windows on); 0 = off */
    bool per_layer;          /* measure per-layer errors of the current allocation */
    int threads;             /* HQQ threads; 0 = all cores */
} ls_quality_params;

ls_quality_params ls_quality_params_default(ls_ppl_protocol protocol);

typedef struct ls_qsession ls_qsession;

/* Tokenizes eval_path, resolves the protocol and looks for the fp reference in the cache
 * (a bad or mismatched entry is ignored with a warning, see ls_qsession_warnings). */
int ls_qsession_open(const ls_model *m, const ls_tokenizer *tok, const char *eval_path,
                     const ls_quality_params *p, ls_qsession **out, ls_error *err);
void ls_qsession_free(ls_qsession *s);

int64_t ls_qsession_windows(const ls_qsession *s);   /* windows of the protocol (after --chunks) */
/* Scored tokens in the first n_windows windows. */
int64_t ls_qsession_tokens(const ls_qsession *s, int64_t n_windows);
/* The fp reference as far as it was computed or loaded (tokens in window order). */
const ls_qref *ls_qsession_ref(const ls_qsession *s);
bool ls_qsession_ref_cached(const ls_qsession *s);   /* loaded from the cache */
uint64_t ls_qsession_key(const ls_qsession *s);      /* hash of (model, text, protocol, ctx, stride) */

/* Evaluates one quantized model (qm, NULL = fp itself) over the first n_windows windows
 * (0 = all), computing the fp reference first where it is missing. out (initialised here,
 * n = scored tokens) gets the per-token results, stats (may be NULL) the summary with the
 * protocol's PPL. Cancel returns -1 with "cancelled". */
int ls_qsession_eval(ls_qsession *s, const ls_qmodel *qm, int64_t n_windows,
                     ls_progress *progress, ls_tokq *out, ls_quality_stats *stats,
                     ls_error *err);

/* Writes the reference to the cache when it grew since it was loaded (no-op otherwise, or
 * without a cache). Problems become warnings, never errors. */
void ls_qsession_save(ls_qsession *s);

/* Lines for the user (ignored cache entries, an unwritable cache, eviction). */
int ls_qsession_warnings(const ls_qsession *s, const char *const **lines);

typedef struct ls_quality_layer {
    double rel_l2;           /* mean over positions of ||h_q - h_fp|| / ||h_fp|| */
    double cosine;           /* mean over positions of cos(h_q, h_fp) */
} ls_quality_layer;

typedef struct ls_quality_result {
    ls_ppl_protocol protocol;
    int ctx, stride;
    int64_t n_windows;           /* windows used */
    int64_t windows_available;   /* windows the text (and --chunks) allowed */
    int64_t tokens;              /* scored tokens used */
    const char *stopped_by;      /* "precision", "chunks", "end of text", "cancelled" */
    bool reference_cached;       /* the fp reference came from the cache */
    bool base_cached;            /* the base allocation's per-token results did */
    bool coarsened;              /* top-k reference: KLD is a lower bound */
    int top_k;                   /* k when coarsened, else 0 */
    bool have_base, have_current;
    double fp_ppl;               /* the protocol's PPL of fp over the tokens used */
    ls_quality_stats base, current;
    ls_quality_diff current_vs_base;  /* when both */
    double mem_pct;              /* as given (NaN = unknown) */
    char verdict[256];           /* ls_quality_verdict, "" without both */
    int n_layers;
    ls_quality_layer *per_layer; /* [n_layers] or NULL */
    int64_t per_layer_tokens;    /* positions per_layer averages over */
    ls_tokq base_tok, cur_tok;   /* per-token results (owned; n = tokens) */
    ls_ppl_result fp_ppl_r, base_ppl_r, cur_ppl_r; /* the protocol's PPL results over the
                                                      tokens used (running: NULL) */
    double seconds;
    char note[256];
} ls_quality_result;

void ls_quality_result_free(ls_quality_result *r);

/* Called after each window with the running estimates (percentiles NaN, per_layer NULL). */
typedef void (*ls_quality_chunk_fn)(void *ctx, const ls_quality_result *running);

/* The comparison: base_cfg / cur_cfg stop indexes per LS_IDX(layer, module) (either may be
 * NULL), quantized with quant_meta; qm: quantized modules to reuse for the current
 * allocation (NULL = a temporary one). Warnings (cache) go to warn(warn_ctx, line) when
 * given. On cancel after at least one window, the partial result is returned with
 * stopped_by "cancelled" (rc 0); before, rc -1. */
int ls_quality_run(const ls_model *m, const ls_tokenizer *tok, const char *eval_path,
                   const ls_quality_params *p, const unsigned char *base_cfg,
                   const unsigned char *cur_cfg, bool quant_meta, ls_qmodel *qm,
                   double mem_pct, ls_progress *progress, ls_quality_chunk_fn on_chunk,
                   void *cb_ctx, void (*warn)(void *warn_ctx, const char *line),
                   void *warn_ctx, ls_quality_result *out, ls_error *err);

#endif
