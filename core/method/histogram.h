/* A weight histogram of one matrix (the paper's Figure 1 idea): equal-width bins between the
 * smallest and largest finite value; the explorer draws the counts on a log scale so that
 * the sparse outlier tails stay visible next to the bulk. */
#ifndef LS_HISTOGRAM_H
#define LS_HISTOGRAM_H

#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"
#include "base/progress.h"

#define LS_HIST_MAX_BINS 512

typedef struct ls_histogram {
    int n_bins;
    double lo, hi;        /* range of the finite values; bin b covers lo + b*(hi-lo)/n_bins */
    double mean, std;     /* of the finite values */
    int64_t n, n_nonfinite;
    int64_t count[LS_HIST_MAX_BINS];
} ls_histogram;

/* Bins x[0..n-1] (NaN/Inf counted apart). n_bins is clamped to 1..LS_HIST_MAX_BINS. */
void ls_histogram_floats(const float *x, int64_t n, int n_bins, ls_histogram *out);

/* Same over a tensor of any supported dtype; honours cancel through progress. */
int ls_histogram_tensor(const ls_tensor *t, int n_bins, ls_progress *progress,
                        ls_histogram *out, ls_error *err);

/* Bin index of a value inside [lo, hi] (the last bin includes hi). */
int ls_histogram_bin(const ls_histogram *h, double v);

#endif
