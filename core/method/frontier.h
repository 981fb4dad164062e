/* The memory-quality frontier (issue 11 item 4): the allocations worth comparing at the
 * current settings, each with its memory, and a cache of their measured quality keyed by
 * allocation fingerprint. The points are
 *   uniform   every stop from 3 below to 3 above the base (the "no boosting" line);
 *   sensi     SensiBoost at the current settings;   kurt   KurtBoost at them;
 *   ablation  random matrices, as many as SensiBoost boosts, LS_FRONTIER_SEEDS seeds
 *             (one point per seed; the table and plot show their mean and spread);
 *   mxq       MXQ at exactly SensiBoost's memory (when the profile has fnorm);
 *   current   the allocation on screen (or of the batch run).
 * Points with the same allocation share one evaluation (the cache is by fingerprint).
 * Building is pure and cheap; measuring is eval/frontier_eval.h. */
#ifndef LS_FRONTIER_H
#define LS_FRONTIER_H

#include <stdbool.h>
#include <stdint.h>

#include "method/analysis.h"

#define LS_FRONTIER_MAX 32
#define LS_FRONTIER_SEEDS 3

typedef enum ls_frontier_kind {
    LS_FK_UNIFORM,
    LS_FK_SENSI,
    LS_FK_KURT,
    LS_FK_ABLATION,
    LS_FK_MXQ,
    LS_FK_CURRENT,
} ls_frontier_kind;

const char *ls_frontier_kind_name(ls_frontier_kind k); /* "uniform" "sensi" ... "current" */

typedef struct ls_frontier_point {
    char label[48];         /* "b3g128", "SensiBoost", "ablation seed 42", ... */
    ls_frontier_kind kind;
    unsigned char *cfg;     /* [n_layers * 7] stop per matrix (owned) */
    uint64_t fingerprint;   /* of cfg */
    double bpp, extra_pct;  /* nominal, the 7 linear types; extra over the base */
    /* measured (NaN until then) */
    bool done;
    double kld_mean, kld_se; /* NaN when the quality measure is perplexity only */
    double ppl, ppl_err;     /* ppl_err NaN when the protocol gives none */
} ls_frontier_point;

typedef struct ls_frontier {
    int n_layers, n;
    int base;
    ls_frontier_point pts[LS_FRONTIER_MAX];
    char note[256];          /* what was left out and why ("" if nothing) */
} ls_frontier;

/* Builds the points for profile p at settings s; current = the allocation on screen (may
 * be NULL). The profile must know every parameter count. */
int ls_frontier_build(const ls_profile *p, const ls_settings *s, const unsigned char *current,
                      ls_frontier *f, ls_error *err);
void ls_frontier_free(ls_frontier *f);

uint64_t ls_frontier_fingerprint(const unsigned char *cfg, int n);

/* Results by (context, allocation fingerprint); context = what the measure depends on
 * besides the allocation (model, text, protocol). */
typedef struct ls_frontier_result {
    uint64_t context, fingerprint;
    double kld_mean, kld_se, ppl, ppl_err;
} ls_frontier_result;

typedef struct ls_frontier_cache {
    ls_frontier_result *items;
    int n, cap;
} ls_frontier_cache;

const ls_frontier_result *ls_frontier_cache_find(const ls_frontier_cache *c, uint64_t context,
                                                 uint64_t fingerprint);
int ls_frontier_cache_put(ls_frontier_cache *c, const ls_frontier_result *r);
void ls_frontier_cache_free(ls_frontier_cache *c);

/* Fills every point found in the cache; returns how many remain to measure. */
int ls_frontier_apply_cache(ls_frontier *f, const ls_frontier_cache *c, uint64_t context);

/* Mean and spread (sample std; 0 for one seed) of the done ablation points; false if
 * none is done. */
bool ls_frontier_ablation_summary(const ls_frontier *f, double *bpp, double *ppl_mean,
                                  double *ppl_sd, double *kld_mean, double *kld_sd, int *n);

#endif
