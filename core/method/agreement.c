#include "method/agreement.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[LS_N_METRICS] = {
    "sensitivity", "kurtosis", "act_energy", "imatrix_error", "fnorm", "measured_dkl",
};
static const char *const metric_labels[LS_N_METRICS] = {
    "sensitivity", "kurtosis", "imatrix energy", "imatrix error", "fnorm", "measured dKL",
};

const char *ls_metric_name(int m)
{
    return m >= 0 && m < LS_N_METRICS ? metric_names[m] : "?";
}

const char *ls_metric_label(int m)
{
    return m >= 0 && m < LS_N_METRICS ? metric_labels[m] : "?";
}

static bool any_finite(const double *v, int n)
{
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            return true;
    return false;
}

bool ls_metric_values(const ls_profile *p, int metric, int base_stop, double *out)
{
    int n = p->n_layers * LS_N_MODULES;
    const double *src = NULL;
    switch (metric) {
    case LS_METRIC_SENSITIVITY:
        src = p->sensitivity_label[0] ? NULL : p->sensitivity;
        break;
    case LS_METRIC_KURTOSIS: src = p->kurtosis; break;
    case LS_METRIC_ACT_ENERGY: src = p->act_energy; break;
    case LS_METRIC_IMATRIX_ERROR: src = p->imatrix_error; break;
    case LS_METRIC_MEASURED_DKL: src = p->measured_dkl; break;
    case LS_METRIC_FNORM:
        if (!p->fnorm || base_stop < 0 || base_stop >= LS_N_STOPS)
            return false;
        for (int i = 0; i < n; i++)
            out[i] = p->fnorm[(size_t)i * LS_N_STOPS + (size_t)base_stop];
        return any_finite(out, n);
    default: return false;
    }
    if (!src)
        return false;
    memcpy(out, src, (size_t)n * sizeof *out);
    return any_finite(out, n);
}

typedef struct keyed {
    double v;
    int i;
} keyed;

static int by_value(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->v < y->v)
        return -1;
    if (x->v > y->v)
        return 1;
    return (x->i > y->i) - (x->i < y->i);
}

void ls_average_ranks(const double *x, int n, double *rank)
{
    keyed *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    if (!k) {
        for (int i = 0; i < n; i++)
            rank[i] = NAN;
        return;
    }
    for (int i = 0; i < n; i++)
        k[i] = (keyed){x[i], i};
    qsort(k, (size_t)n, sizeof *k, by_value);
    for (int s = 0; s < n;) {
        int e = s;
        while (e + 1 < n && k[e + 1].v == k[s].v)
            e++;
        double r = (s + e) / 2.0 + 1.0; /* ranks s+1 .. e+1 share their mean */
        for (int t = s; t <= e; t++)
            rank[k[t].i] = r;
        s = e + 1;
    }
    free(k);
}

double ls_spearman(const double *x, const double *y, int n, int *n_used)
{
    double *buf = malloc((size_t)(n > 0 ? n : 1) * 4 * sizeof *buf);
    if (n_used)
        *n_used = 0;
    if (!buf)
        return NAN;
    double *xs = buf, *ys = buf + n, *rx = buf + 2 * n, *ry = buf + 3 * n;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            xs[m] = x[i];
            ys[m] = y[i];
            m++;
        }
    if (n_used)
        *n_used = m;
    double rho = NAN;
    if (m >= 3) {
        ls_average_ranks(xs, m, rx);
        ls_average_ranks(ys, m, ry);
        double mean = (m + 1) / 2.0, sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < m; i++) {
            double a = rx[i] - mean, b = ry[i] - mean;
            sxy += a * b;
            sxx += a * a;
            syy += b * b;
        }
        if (sxx > 0 && syy > 0)
            rho = sxy / sqrt(sxx * syy);
    }
    free(buf);
    return rho;
}

static int by_value_desc(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->v > y->v)
        return -1;
    if (x->v < y->v)
        return 1;
    return (x->i > y->i) - (x->i < y->i);
}

int ls_top_overlap(const double *x, const double *y, int n, int top_n, int *n_top)
{
    keyed *kx = malloc((size_t)(n > 0 ? n : 1) * sizeof *kx);
    keyed *ky = malloc((size_t)(n > 0 ? n : 1) * sizeof *ky);
    unsigned char *in_x = calloc((size_t)(n > 0 ? n : 1), 1);
    int m = 0, overlap = 0;
    if (!kx || !ky || !in_x)
        goto done;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            kx[m] = (keyed){x[i], i};
            ky[m] = (keyed){y[i], i};
            m++;
        }
    qsort(kx, (size_t)m, sizeof *kx, by_value_desc);
    qsort(ky, (size_t)m, sizeof *ky, by_value_desc);
    int t = top_n < m ? top_n : m;
    for (int i = 0; i < t; i++)
        in_x[kx[i].i] = 1;
    for (int i = 0; i < t; i++)
        overlap += in_x[ky[i].i];
    m = t;
done:
    if (n_top)
        *n_top = m;
    free(kx);
    free(ky);
    free(in_x);
    return overlap;
}

int ls_agreement_compute(const ls_profile *p, int base_stop, int top_n, ls_agreement *out)
{
    memset(out, 0, sizeof *out);
    int n = p->n_layers * LS_N_MODULES;
    if (top_n <= 0)
        top_n = 10;
    double *v = malloc((size_t)LS_N_METRICS * (size_t)n * sizeof *v);
    double *xa = malloc((size_t)p->n_layers * 2 * sizeof *xa);
    if (!v || !xa) {
        free(v);
        free(xa);
        return -1;
    }
    for (int m = 0; m < LS_N_METRICS; m++)
        if (ls_metric_values(p, m, base_stop, v + (size_t)m * n))
            out->metrics[out->n_metrics++] = m;
    for (int i = 0; i < out->n_metrics; i++)
        for (int j = i + 1; j < out->n_metrics; j++) {
            ls_agreement_pair *q = &out->pairs[out->n_pairs++];
            q->a = out->metrics[i];
            q->b = out->metrics[j];
            const double *x = v + (size_t)q->a * n, *y = v + (size_t)q->b * n;
            q->rho = ls_spearman(x, y, n, &q->n);
            q->overlap = ls_top_overlap(x, y, n, top_n, &q->top_n);
            double *xm = xa, *ym = xa + p->n_layers;
            for (int mod = 0; mod < LS_N_MODULES; mod++) {
                for (int l = 0; l < p->n_layers; l++) {
                    xm[l] = x[LS_IDX(l, mod)];
                    ym[l] = y[LS_IDX(l, mod)];
                }
                q->rho_module[mod] = ls_spearman(xm, ym, p->n_layers, &q->n_module[mod]);
            }
        }
    free(v);
    free(xa);
    return 0;
}
