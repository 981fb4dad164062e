/* How well the metric columns agree: for every two columns present (activation
 * sensitivity, kurtosis, imatrix energy, imatrix error, FNorm at the base config, measured
 * ΔKL), the Spearman rank correlation over all matrices and per module type, and the overlap of
 * their top-N sets (the N matrices with the largest values). Only matrices where both
 * values are finite count. Ties get the average of the ranks they span. Pure. */
#ifndef LS_AGREEMENT_H
#define LS_AGREEMENT_H

#include <stdbool.h>

#include "method/profile.h"

enum ls_metric {
    LS_METRIC_SENSITIVITY,
    LS_METRIC_KURTOSIS,
    LS_METRIC_ACT_ENERGY,
    LS_METRIC_IMATRIX_ERROR,
    LS_METRIC_FNORM,
    LS_METRIC_MEASURED_DKL,
    LS_N_METRICS
};

/* "sensitivity" "kurtosis" "act_energy" "imatrix_error" "fnorm" "measured_dkl" (JSON) */
const char *ls_metric_name(int metric);
/* "sensitivity" "kurtosis" "imatrix energy" "imatrix error" "fnorm" "measured dKL" */
const char *ls_metric_label(int metric);

/* The metric of every matrix into out[L*7] (FNorm at stop base_stop). False when the
 * profile does not have it (a sensitivity column that only stands in for an imatrix
 * metric counts as absent: it would be compared with itself). */
bool ls_metric_values(const ls_profile *p, int metric, int base_stop, double *out);

/* Average ranks (1-based) of x[0..n-1]; ties share the mean of their ranks. */
void ls_average_ranks(const double *x, int n, double *rank);
/* Spearman's rho over the pairs where both are finite (their count in *n_used); NaN when
 * fewer than 3 pairs or a constant side. */
double ls_spearman(const double *x, const double *y, int n, int *n_used);
/* How many of the top_n largest x (among pairs finite on both sides) are also among the
 * top_n largest y; ties broken by index. *n_top gets the set size used (<= top_n). */
int ls_top_overlap(const double *x, const double *y, int n, int top_n, int *n_top);

#define LS_AGREEMENT_MAX_PAIRS (LS_N_METRICS * (LS_N_METRICS - 1) / 2)

typedef struct ls_agreement_pair {
    int a, b;                      /* enum ls_metric, a < b */
    int n;                         /* matrices compared */
    double rho;                    /* over all matrices */
    double rho_module[LS_N_MODULES];
    int n_module[LS_N_MODULES];
    int top_n, overlap;            /* top-N sets and their intersection */
} ls_agreement_pair;

typedef struct ls_agreement {
    int n_metrics;
    int metrics[LS_N_METRICS];     /* the columns present */
    int n_pairs;
    ls_agreement_pair pairs[LS_AGREEMENT_MAX_PAIRS];
} ls_agreement;

/* Every pair of present columns; top_n <= 0 means 10. Returns -1 only when out of memory. */
int ls_agreement_compute(const ls_profile *p, int base_stop, int top_n, ls_agreement *out);

#endif
