/* What the bits buy (issue 10): how far a quantized model's next-token distributions are
 * from the unquantized (fp) model's, per scored token of a perplexity protocol
 * (core/eval/perplexity.h), with standard errors, and current against base on the same tokens.
 *
 * Per scored token i (P = fp, Q = quantized, natural log, full vocabulary):
 *   kld_i   = KL(P || Q) = sum_v p_v (log p_v - log q_v), computed term by term as
 *             p_v * g(log p_v - log q_v) with g(t) = t - 1 + e^-t >= 0, which equals the
 *             usual sum when both sum to 1 and keeps every term (so every kld_i) >= 0 and
 *             exactly 0 when Q's logits equal P's;
 *   same_i  = argmax P == argmax Q (first index on ties);
 *   dnll_i  = NLL_Q(target) - NLL_P(target); mean(dnll) = ln(PPL_Q / PPL_P) over the
 *             scored tokens (for the paper protocol this is per token, not the paper's
 *             trg-weighted PPL, which is reported as `ppl` beside it).
 * Standard errors: kld and dnll: sqrt(var / (n - 1)) with var the population variance;
 * same top: sqrt(p (1 - p) / (n - 1)). Percentiles: sorted values, linear interpolation at
 * fraction * (n - 1). Differences current - base are per token (paired), their standard
 * error from the variance of the per-token differences.
 *
 * The fp reference (ls_qref) keeps per token the log-sum-exp, target NLL and argmax of the
 * fp logits and either all fp logits (k == 0, exact) or the k largest with their ids and
 * the fp mass outside them (k > 0): the KLD is then that of the two distributions coarsened
 * to k + 1 outcomes (the k ids and "the rest"), a lower bound of the full KLD (log-sum
 * inequality), labelled "coarsened".
 *
 *   ls_qref ref;  ls_qref_init(&ref, vocab, 0, n_tokens, &err);
 *   ls_qref_set(&ref, i, fp_logits_row, target);                     // every scored token
 *   ls_tokq cur;  ls_tokq_init(&cur, n_tokens, &err);
 *   ls_quality_token(&ref, i, q_logits_row, target, &cur, i);        // every scored token
 *   ls_quality_stats s;  ls_quality_stats_of(&ref, &cur, n, NULL, 0, &s);
 *   ls_quality_diff d;   ls_quality_compare(&ref, &base, &cur, n, &d);
 *   ls_quality_verdict(&d, mem_pct, buf, sizeof buf);
 *
 * The whole evaluation over a text (tokenizing, the fp reference from the cache of
 * core/eval/qcache.h or computed, base and current batch by batch, sequential stop, per
 * layer errors) is ls_quality_run in core/eval/quality_run.h; a single allocation against
 * the reference is ls_qsession_eval there. */
#ifndef LS_QUALITY_H
#define LS_QUALITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define LS_QUALITY_TOPK_DEFAULT 64

/* The fp reference over n scored tokens. */
typedef struct ls_qref {
    int vocab;
    int k;             /* 0: all logits kept; > 0: the k largest per token (coarsened) */
    int64_t n;         /* scored tokens the arrays hold */
    double *lse;       /* [n] log-sum-exp of the fp logits (double, max-shifted) */
    double *nll;       /* [n] fp NLL of the target */
    int32_t *top;      /* [n] fp argmax */
    float *logits;     /* k == 0: [n][vocab]; k > 0: [n][k], largest first */
    int32_t *ids;      /* k > 0: [n][k] the ids of those logits; else NULL */
    double *rest;      /* k > 0: [n] fp probability mass outside the k ids; else NULL */
} ls_qref;

int ls_qref_init(ls_qref *r, int vocab, int k, int64_t n, ls_error *err);
void ls_qref_free(ls_qref *r);
/* Bytes a reference of n tokens takes (what the cache stores, without its header). */
int64_t ls_qref_bytes(int vocab, int k, int64_t n);
/* Fills token i from one row of fp logits [vocab] and the target id. Thread-safe for
 * different i. */
void ls_qref_set(ls_qref *r, int64_t i, const float *logits, int32_t target);

/* Per-token results of one quantized model. */
typedef struct ls_tokq {
    int64_t n;
    double *kld;       /* [n] KL(P_fp || P_q) >= 0 */
    double *nll;       /* [n] NLL of the target under the quantized model */
    int32_t *top;      /* [n] argmax of the quantized logits */
} ls_tokq;

int ls_tokq_init(ls_tokq *t, int64_t n, ls_error *err);
void ls_tokq_free(ls_tokq *t);

/* Fills out's token j from one row of quantized logits against reference token i (the
 * same scored token). Thread-safe for different j. */
void ls_quality_token(const ls_qref *r, int64_t i, const float *logits, int32_t target,
                      ls_tokq *out, int64_t j);

/* Helpers shared with the reference: max-shifted log-sum-exp in double and argmax. */
double ls_logsumexp(const float *logits, int vocab, int32_t *argmax);

/* Summary of one model against fp over tokens 0 .. n-1. */
typedef struct ls_quality_stats {
    int64_t n;
    double kld_mean, kld_se;
    double kld_p50, kld_p90, kld_p95, kld_p99, kld_p999, kld_max;
    double same_top_pct, same_top_se;       /* percent */
    double ln_ppl_ratio, ln_ppl_ratio_se;   /* mean and SE of NLL_q - NLL_fp */
    double ppl;                             /* the protocol's PPL (set by the caller; NaN
                                               when not known) */
} ls_quality_stats;

/* Fills s from tokens 0 .. n-1 (n <= t->n). Percentiles sort a copy (O(n log n)); pass
 * with_percentiles = false for running estimates (then they are NaN). */
void ls_quality_stats_of(const ls_qref *r, const ls_tokq *t, int64_t n, bool with_percentiles,
                         ls_quality_stats *s);

/* Linear-interpolation percentile of sorted values (fraction in [0, 1]). */
double ls_percentile_sorted(const double *sorted, int64_t n, double fraction);

/* Current against base, paired over tokens 0 .. n-1. */
typedef struct ls_quality_diff {
    int64_t n;
    double kld, kld_se;                   /* mean(kld_cur - kld_base) */
    double kld_rel, kld_rel_se;           /* mean_cur / mean_base - 1, its SE by the delta
                                             method with the paired covariance; NaN when
                                             the base KLD is 0 */
    double same_top_pct, same_top_se;     /* percentage points */
    double ln_ppl_ratio, ln_ppl_ratio_se; /* mean(nll_cur - nll_base) = ln(PPL_cur/PPL_base) */
    bool identical;                       /* every per-token value equal */
    bool kld_distinguishable;             /* the 95 % interval of kld_rel (of kld when that
                                             is NaN) excludes 0 */
} ls_quality_diff;

void ls_quality_compare(const ls_qref *r, const ls_tokq *base, const ls_tokq *cur, int64_t n,
                        ls_quality_diff *d);

/* z of a two-sided 95 % interval. */
#define LS_Z95 1.959963984540054

/* One line in words, e.g. "+1.01 % memory: KLD -12.0 % +/- 3.1 % against base (95 %, N tokens)" or
 * "+1.01 % memory: not distinguishable from base with 11873 tokens (KLD -0.4 % +/- 2.0 %)".
 * mem_pct NaN leaves the memory part out. */
void ls_quality_verdict(const ls_quality_diff *d, double mem_pct, char *buf, size_t cap);

#endif
