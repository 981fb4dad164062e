#include "method/histogram.h"

#include <math.h>
#include <string.h>

#define BLOCK 65536

static void start(ls_histogram *h, int n_bins)
{
    memset(h, 0, sizeof *h);
    h->n_bins = n_bins < 1 ? 1 : n_bins > LS_HIST_MAX_BINS ? LS_HIST_MAX_BINS : n_bins;
    h->lo = INFINITY;
    h->hi = -INFINITY;
    h->kurtosis = NAN;
}

double ls_dtype_grid_spacing(ls_dtype dtype, double v)
{
    int mant_bits, min_exp; /* explicit mantissa bits; smallest normal exponent */
    if (dtype == LS_DT_F16) {
        mant_bits = 10;
        min_exp = -14;
    } else if (dtype == LS_DT_BF16) {
        mant_bits = 7;
        min_exp = -126;
    } else {
        return 0;
    }
    int e = 0;
    if (v != 0 && isfinite(v)) {
        frexp(fabs(v), &e); /* |v| = f * 2^e, f in [0.5, 1): floor(log2 |v|) = e - 1 */
        e -= 1;
    } else {
        e = min_exp;
    }
    if (e < min_exp)
        e = min_exp; /* subnormals share the smallest normal spacing */
    return ldexp(1.0, e - mant_bits);
}

int ls_histogram_bin(const ls_histogram *h, double v)
{
    if (!(h->width > 0))
        return 0;
    double q = floor((v - h->edge_lo) / h->width);
    return q < 0 ? 0 : q >= h->n_bins ? h->n_bins - 1 : (int)q;
}

/* Pass 1 over a block: range and sums. */
static void scan(ls_histogram *h, const float *x, int64_t n, double *sum, double *sum2)
{
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) {
            h->n_nonfinite++;
            continue;
        }
        h->n++;
        if (v < h->lo)
            h->lo = v;
        if (v > h->hi)
            h->hi = v;
        *sum += v;
        *sum2 += v * v;
    }
}

/* Pass 2 over a block: counts, central moments and the 3-sigma tails. */
static void bin(ls_histogram *h, const float *x, int64_t n, double *c2, double *c4)
{
    double lim = 3 * h->std;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        h->count[ls_histogram_bin(h, x[i])]++;
        double d = x[i] - h->mean, d2 = d * d;
        *c2 += d2;
        *c4 += d2 * d2;
        if (fabs(d) > lim)
            h->n_beyond3++;
    }
}

/* Mean, std and the bin layout, once the range is known. */
static void finish_scan(ls_histogram *h, double sum, double sum2, ls_dtype grid_dtype)
{
    if (h->n == 0) {
        h->lo = h->hi = 0;
        h->edge_lo = 0;
        h->width = 1;
        return;
    }
    h->mean = sum / (double)h->n;
    double var = sum2 / (double)h->n - h->mean * h->mean;
    h->std = var > 0 ? sqrt(var) : 0;
    double range = h->hi - h->lo;
    double s = ls_dtype_grid_spacing(grid_dtype, fmax(fabs(h->lo), fabs(h->hi)));
    if (s <= 0) {
        h->edge_lo = h->lo;
        h->width = range > 0 ? range / h->n_bins : 1;
        return;
    }
    /* a whole number of grid steps per bin, the first edge on the grid; widen by one step
     * until the bins cover [lo, hi] within the allowed count */
    int max_bins = h->n_bins;
    h->grid = s;
    h->edge_lo = floor(h->lo / s) * s;
    double steps = ceil(range / max_bins / s);
    if (steps < 1)
        steps = 1;
    for (;; steps++) {
        h->width = steps * s;
        double need = floor((h->hi - h->edge_lo) / h->width) + 1;
        if (need <= max_bins) {
            h->n_bins = (int)need;
            break;
        }
    }
}

static void finish_moments(ls_histogram *h, double c2, double c4)
{
    if (h->n < 2)
        return;
    double m2 = c2 / (double)h->n, m4 = c4 / (double)h->n;
    h->kurtosis = m2 > 0 ? m4 / (m2 * m2) : NAN;
}

static void histogram_floats(const float *x, int64_t n, int n_bins, ls_dtype dtype,
                             ls_histogram *out)
{
    start(out, n_bins);
    double sum = 0, sum2 = 0, c2 = 0, c4 = 0;
    scan(out, x, n, &sum, &sum2);
    finish_scan(out, sum, sum2, dtype);
    bin(out, x, n, &c2, &c4);
    finish_moments(out, c2, c4);
}

void ls_histogram_floats(const float *x, int64_t n, int n_bins, ls_histogram *out)
{
    histogram_floats(x, n, n_bins, LS_DT_F32, out);
}

void ls_histogram_floats_grid(const float *x, int64_t n, int n_bins, ls_dtype dtype,
                              ls_histogram *out)
{
    histogram_floats(x, n, n_bins, dtype, out);
}

static void load_block(const ls_tensor *t, int64_t off, int64_t n, float *buf)
{
    for (int64_t i = 0; i < n; i++)
        buf[i] = ls_tensor_get(t, off + i);
}

int ls_histogram_tensor(const ls_tensor *t, int n_bins, ls_progress *progress,
                        ls_histogram *out, ls_error *err)
{
    static _Thread_local float buf[BLOCK];
    start(out, n_bins);
    double sum = 0, sum2 = 0, c2 = 0, c4 = 0;
    int64_t n = t->n_elems, total = 2 * n;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t off = 0; off < n; off += BLOCK) {
            int64_t len = n - off < BLOCK ? n - off : BLOCK;
            load_block(t, off, len, buf);
            if (pass == 0)
                scan(out, buf, len, &sum, &sum2);
            else
                bin(out, buf, len, &c2, &c4);
            if (ls_progress_tick(progress, pass * n + off + len, total, t->name))
                return ls_fail(err, "%s: histogram cancelled", t->name);
        }
        if (pass == 0)
            finish_scan(out, sum, sum2, t->dtype);
    }
    finish_moments(out, c2, c4);
    return 0;
}

void ls_histogram_regroup(const ls_histogram *h, int max_bins, ls_histogram *out)
{
    if (out != h)
        *out = *h;
    if (max_bins < 1)
        max_bins = 1;
    int g = (h->n_bins + max_bins - 1) / max_bins;
    if (g <= 1)
        return;
    int n_out = (h->n_bins + g - 1) / g;
    int64_t merged[LS_HIST_MAX_BINS] = {0};
    for (int b = 0; b < h->n_bins; b++)
        merged[b / g] += h->count[b];
    memcpy(out->count, merged, sizeof merged);
    out->n_bins = n_out;
    out->width = h->width * g;
}

double ls_histogram_normal_expected(const ls_histogram *h, int b)
{
    if (!(h->std > 0) || b < 0 || b >= h->n_bins)
        return 0;
    double a = h->edge_lo + b * h->width, z = h->std * sqrt(2.0);
    double p = 0.5 * (erf((a + h->width - h->mean) / z) - erf((a - h->mean) / z));
    return p * (double)h->n;
}
