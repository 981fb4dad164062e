/* A weight histogram of one matrix (the paper's Figure 1 idea): equal-width bins over the
 * finite values; the explorer draws the counts on a log scale so that the sparse outlier
 * tails stay visible next to the bulk.
 *
 * Bins follow the stored dtype's value grid: an F16/BF16 matrix holds only representable
 * values, so bins narrower than (or not a whole multiple of) the grid spacing alternate
 * between holding 0, 1 or 2 grid points and draw false gaps. The bin width is therefore
 * snapped up to a whole multiple of the grid spacing at the largest magnitude (the coarsest
 * spacing in range) and the first edge to a multiple of that spacing. Finer spacings near
 * zero divide the coarsest one (powers of two), so every bin holds exactly width/spacing
 * grid points of each binade it spans: each bin stands for the same width of the real
 * line. F32 data (no useful grid at these widths) keeps plain equal-width bins. */
#ifndef LS_HISTOGRAM_H
#define LS_HISTOGRAM_H

#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"
#include "base/progress.h"

#define LS_HIST_MAX_BINS 512

typedef struct ls_histogram {
    int n_bins;
    double lo, hi;        /* range of the finite values */
    double edge_lo, width; /* bin b covers [edge_lo + b*width, edge_lo + (b+1)*width) */
    double grid;          /* grid spacing the width is a multiple of; 0 = not snapped (F32) */
    double mean, std;     /* of the finite values (population) */
    double kurtosis;      /* Pearson m4 / m2^2 (as the kurtosis column); NaN if undefined */
    int64_t n_beyond3;    /* finite values with |v - mean| > 3 std */
    int64_t n, n_nonfinite;
    int64_t count[LS_HIST_MAX_BINS];
} ls_histogram;

/* Bins x[0..n-1] (NaN/Inf counted apart) with plain equal-width bins between min and max.
 * n_bins is clamped to 1..LS_HIST_MAX_BINS. */
void ls_histogram_floats(const float *x, int64_t n, int n_bins, ls_histogram *out);

/* Same for values that lie on dtype's grid (F16/BF16 snap the bins as described above;
 * n_bins is then the most bins used). */
void ls_histogram_floats_grid(const float *x, int64_t n, int n_bins, ls_dtype dtype,
                              ls_histogram *out);

/* Same over a tensor of any supported dtype (its own grid); honours cancel through progress. */
int ls_histogram_tensor(const ls_tensor *t, int n_bins, ls_progress *progress,
                        ls_histogram *out, ls_error *err);

/* Bin index of a value inside [lo, hi] (clamped to the bins). */
int ls_histogram_bin(const ls_histogram *h, double v);

/* Merges groups of whole bins so that at most max_bins remain (for drawing): the result is
 * exactly the histogram with a width that is a whole multiple of h's (a partial last group
 * is padded with bins past the maximum, which hold nothing). */
void ls_histogram_regroup(const ls_histogram *h, int max_bins, ls_histogram *out);

/* Expected count of bin b under a normal law of the histogram's n, mean and std. */
double ls_histogram_normal_expected(const ls_histogram *h, int b);

/* Grid spacing of dtype at magnitude |v| (0 for F32). */
double ls_dtype_grid_spacing(ls_dtype dtype, double v);

#endif
