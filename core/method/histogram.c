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
}

int ls_histogram_bin(const ls_histogram *h, double v)
{
    if (!(h->hi > h->lo))
        return 0;
    int b = (int)((v - h->lo) / (h->hi - h->lo) * h->n_bins);
    return b < 0 ? 0 : b >= h->n_bins ? h->n_bins - 1 : b;
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

static void bin(ls_histogram *h, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i]))
            h->count[ls_histogram_bin(h, x[i])]++;
}

static void finish_moments(ls_histogram *h, double sum, double sum2)
{
    if (h->n == 0) {
        h->lo = h->hi = 0;
        return;
    }
    h->mean = sum / (double)h->n;
    double var = sum2 / (double)h->n - h->mean * h->mean;
    h->std = var > 0 ? sqrt(var) : 0;
}

void ls_histogram_floats(const float *x, int64_t n, int n_bins, ls_histogram *out)
{
    start(out, n_bins);
    double sum = 0, sum2 = 0;
    scan(out, x, n, &sum, &sum2);
    finish_moments(out, sum, sum2);
    bin(out, x, n);
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
    double sum = 0, sum2 = 0;
    int64_t n = t->n_elems, total = 2 * n;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t off = 0; off < n; off += BLOCK) {
            int64_t len = n - off < BLOCK ? n - off : BLOCK;
            load_block(t, off, len, buf);
            if (pass == 0)
                scan(out, buf, len, &sum, &sum2);
            else
                bin(out, buf, len);
            if (ls_progress_tick(progress, pass * n + off + len, total, t->name))
                return ls_fail(err, "%s: histogram cancelled", t->name);
        }
        if (pass == 0)
            finish_moments(out, sum, sum2);
    }
    return 0;
}
