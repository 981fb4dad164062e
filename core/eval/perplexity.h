/* Perplexity with the two protocols of docs/method.md §9 over a token sequence:
 *  - paper (LS_PPL_PAPER): the HF strided recipe the paper used; one BOS at the start of
 *    the text, window M (default 1024) and stride S (default 512), clamped to the model's
 *    context (then M = context, S = M/2); PPL = exp(sum_w mean_nll_w * trg_w / N).
 *  - llama.cpp (LS_PPL_LLAMACPP): n_ctx-token chunks (default 512), BOS swapped into the
 *    first position, the second half scored (n_ctx - n_ctx/2 - 1 tokens per chunk), running
 *    [i] values and the delta-method +/- error.
 * Windows are evaluated layer by layer in batches (core/nn/forward.h); NLL sums in double.
 *
 *   ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
 *   ls_ppl_result r;
 *   ls_ppl_eval(m, qm, tokens, n, bos, &p, progress, on_window, ctx, &r, &err);
 *   ... r.ppl, r.ppl_err, r.running[0 .. r.n_windows-1] ...
 *   ls_ppl_result_free(&r);
 *
 * Text files, the tokenizer and the fp/base/current comparison are in core/eval/ppl_text.h. */
#ifndef LS_PERPLEXITY_H
#define LS_PERPLEXITY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"
#include "base/progress.h"
#include "nn/matmul_bf16.h"
#include "quant/qmodel.h"

typedef enum ls_ppl_protocol { LS_PPL_PAPER, LS_PPL_LLAMACPP } ls_ppl_protocol;

const char *ls_ppl_protocol_name(ls_ppl_protocol p); /* "paper" or "llama.cpp" */
int ls_ppl_protocol_parse(const char *s);            /* -1 when unknown */

typedef struct ls_ppl_params {
    ls_ppl_protocol protocol;
    int ctx;             /* paper: window M; llama.cpp: n_ctx. 0 = default (1024 / 512,
                            clamped to the model's context) */
    int stride;          /* paper: S; 0 = default (512, or M/2 when M was clamped) */
    int max_chunks;      /* evaluate at most this many windows/chunks; 0 = all */
    bool allow_long_ctx; /* an explicit ctx beyond the model's context is honoured (with a
                            note) instead of refused */
    int64_t batch_tokens;/* tokens per layer-by-layer batch; 0 = default */
    const char *label;   /* shown before progress lines and copied into the result
                            ("fp", "base", "current"); NULL = none */
    ls_compute compute;  /* f32 (default) or bf16 products (core/nn/matmul_bf16.h) */
} ls_ppl_params;

ls_ppl_params ls_ppl_params_default(ls_ppl_protocol protocol);

typedef struct ls_ppl_result {
    ls_ppl_protocol protocol;
    int ctx, stride;      /* as used (stride = ctx for llama.cpp) */
    int64_t n_tokens;     /* N, including the BOS */
    int64_t n_windows;    /* windows (paper) or chunks (llama.cpp) evaluated */
    int64_t n_scored;     /* target tokens scored */
    double mean_nll;      /* paper: total / N (its quirk); llama.cpp: sum / count */
    double ppl;
    double ppl_err;       /* llama.cpp: sqrt(var / (count-1)) * PPL; paper: 0 */
    bool err_undefined;   /* llama.cpp: var <= 0 or count <= 1, printed as +/- 0 */
    double *running;      /* [n_windows] running PPL after each window (owned) */
    double seconds, tokens_per_second; /* forward tokens (window lengths) per second */
    char note[256];       /* defaults clamped, context exceeded, ...; "" if none */
    char label[16];       /* params.label */
    ls_compute compute;   /* as used (bf16 falls back to f32 without CPU support; the
                             reason is in note) */
} ls_ppl_result;

void ls_ppl_result_free(ls_ppl_result *r);

/* Checks and completes params for a model with n tokens (n < 0: not known yet); fills
 * note with what was clamped. Errors: ctx/stride out of range, context exceeded without
 * allow_long_ctx, and (n >= 0) too few tokens for one window. */
int ls_ppl_resolve(const ls_model *m, ls_ppl_params *p, int64_t n, char *note, size_t note_cap,
                   ls_error *err);

/* Called after each window in order (1-based index) with the running PPL; the partial
 * result has n_windows/n_scored so far. For llama.cpp, batch mode prints "[%d]%.4f,". */
typedef void (*ls_ppl_window_fn)(void *ctx, int64_t index, double running_ppl,
                                 const ls_ppl_result *partial);

/* Evaluates the tokens (tokens[0] is the BOS when the tokenizer adds one; bos = its id, or
 * -1 when the vocabulary adds none, so llama.cpp chunks keep their first token). qm: the
 * quantized linear modules to use (NULL = full precision). Progress per layer and window
 * ("[i]value  tok/s  ETA"); cancel returns -1 with "cancelled" and no result. */
int ls_ppl_eval(const ls_model *m, const ls_qmodel *qm, const int32_t *tokens, int64_t n,
                int bos, const ls_ppl_params *params, ls_progress *progress,
                ls_ppl_window_fn on_window, void *cb_ctx, ls_ppl_result *out, ls_error *err);

/* ---- The pure parts, for tests and for the explorer's estimates. ---- */

typedef struct ls_ppl_window {
    int64_t begin;   /* first token in the text */
    int len;         /* tokens fed */
    int score_from;  /* first scored target position (predicted from score_from - 1) */
    int trg;         /* paper: weight of the window's mean NLL */
} ls_ppl_window;

/* The windows of a resolved protocol over n tokens (malloc'ed). */
int ls_ppl_windows(const ls_ppl_params *p, int64_t n, ls_ppl_window **out, int64_t *n_out,
                   ls_error *err);

/* Accumulator fed with the NLLs of each window in order. */
typedef struct ls_ppl_acc {
    ls_ppl_protocol protocol;
    double sum, sum2;      /* llama.cpp: over scored tokens */
    double total;          /* paper: sum of mean_nll * trg */
    int64_t count;         /* scored tokens */
    int64_t end_last;      /* paper: end of the last window */
    int64_t n_windows;
} ls_ppl_acc;

void ls_ppl_acc_init(ls_ppl_acc *a, ls_ppl_protocol protocol);
/* Adds one window's NLLs (nll[k] for target score_from + k); returns the running PPL. */
double ls_ppl_acc_add(ls_ppl_acc *a, const ls_ppl_window *w, const double *nll, int n_nll);
/* Final values into r (mean_nll, ppl, ppl_err, err_undefined, n_scored, n_windows). */
void ls_ppl_acc_finish(const ls_ppl_acc *a, ls_ppl_result *r);

/* NLL of target id from one row of logits: max-shifted log-sum-exp in double. */
double ls_ppl_nll(const float *logits, int vocab, int target);

#endif
