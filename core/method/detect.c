#include "method/detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ls_diff_mode_name(ls_diff_mode m)
{
    return m == LS_DIFF_DIVIDE ? "divide" : "subtract";
}

int ls_diff_mode_parse(const char *s)
{
    if (strcmp(s, "subtract") == 0)
        return LS_DIFF_SUBTRACT;
    if (strcmp(s, "divide") == 0)
        return LS_DIFF_DIVIDE;
    return -1;
}

/* Insertion sort: n is at most LS_MAX_LAYERS and usually ~31-80, so this beats qsort's
 * call overhead and keeps detection well under a microsecond per series. */
static void sort_doubles(double *v, int n)
{
    for (int i = 1; i < n; i++) {
        double x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

/* Trimmed statistics of the valid differences (scipy.stats.mstats trimmed_mean/trimmed_std
 * with limits (frac, frac), inclusive, ddof = 1). Returns the core size. */
static int trimmed_stats(ls_detection *d, double trim_frac)
{
    double core[LS_MAX_LAYERS];
    int n = 0;
    for (int l = 1; l < d->n_layers; l++)
        if (d->valid[l])
            core[n++] = d->diff[l];
    d->n_valid = n;
    d->k = (int)floor(trim_frac * n);
    if (d->k < 0)
        d->k = 0;
    int n_core = n - 2 * d->k;
    d->n_core = n_core > 0 ? n_core : 0;
    if (n_core < 2)
        return d->n_core;
    sort_doubles(core, n);
    const double *c = core + d->k;
    double sum = 0;
    for (int i = 0; i < n_core; i++)
        sum += c[i];
    double mu = sum / n_core;
    double ss = 0;
    for (int i = 0; i < n_core; i++)
        ss += (c[i] - mu) * (c[i] - mu);
    d->mu = mu;
    d->sigma = sqrt(ss / (n_core - 1));
    return n_core;
}

/* Stable sort of the outlier layers by z descending (ties keep ascending layer order). */
static void rank_outliers(ls_detection *d, int top_m)
{
    int cand[LS_MAX_LAYERS], n = 0;
    for (int l = 1; l < d->n_layers; l++)
        if (d->outlier[l])
            cand[n++] = l;
    for (int i = 1; i < n; i++) {
        int x = cand[i], j = i - 1;
        while (j >= 0 && d->z[cand[j]] < d->z[x]) {
            cand[j + 1] = cand[j];
            j--;
        }
        cand[j + 1] = x;
    }
    d->n_outliers = n;
    int keep = (top_m > 0 && n > top_m) ? top_m : n;
    for (int i = 0; i < n; i++) {
        d->rank[cand[i]] = i + 1;
        if (i < keep) {
            d->selected[cand[i]] = true;
            d->order[i] = cand[i];
        }
    }
    d->n_selected = keep;
}

void ls_detect(const double *s, int n_layers, ls_diff_mode mode, int top_m,
               const ls_detect_params *params, ls_detection *out)
{
    ls_detect_params p = params ? *params : LS_DETECT_PAPER;
    memset(out, 0, sizeof *out);
    if (n_layers > LS_MAX_LAYERS)
        n_layers = LS_MAX_LAYERS;
    out->n_layers = n_layers;
    out->mode = mode;
    out->mu = out->sigma = NAN;
    for (int l = 0; l < LS_MAX_LAYERS; l++)
        out->diff[l] = out->z[l] = NAN;
    if (n_layers < 2) {
        out->status = LS_DETECT_NO_LAYERS;
        out->max_z_possible = 0;
        return;
    }
    for (int l = 1; l < n_layers; l++) {
        double a = s[l - 1], b = s[l];
        double d = (mode == LS_DIFF_DIVIDE) ? b / a : b - a;
        /* [ours] a difference touching a non-finite value, or a zero divisor, is invalid:
         * excluded from the statistics and never flagged. */
        bool ok = isfinite(a) && isfinite(b) && isfinite(d) && !(mode == LS_DIFF_DIVIDE && a == 0);
        out->valid[l] = ok;
        if (ok)
            out->diff[l] = d;
        else
            out->invalid_layers[out->n_invalid++] = l;
    }
    int n_core = trimmed_stats(out, p.trim_frac);
    int n = out->n_valid;
    out->max_z_possible = (out->k == 0 && n > 0) ? (n - 1) / sqrt((double)n) : INFINITY;
    if (n_core < 2) {
        out->status = LS_DETECT_TOO_FEW;
        return;
    }
    for (int l = 1; l < n_layers; l++) {
        if (!out->valid[l])
            continue;
        double dev = fabs(out->diff[l] - out->mu);
        double z;
        if (out->sigma > 0)
            z = dev / out->sigma;
        else
            z = (out->diff[l] != out->mu) ? INFINITY : 0.0;
        out->z[l] = z;
        out->outlier[l] = z > p.threshold;
    }
    rank_outliers(out, top_m);
}
