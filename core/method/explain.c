#include "method/explain.h"

#include <math.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

double ls_no_neg_zero(double v, int decimals)
{
    return fabs(v) < 0.5 * pow(10.0, -decimals) ? 0.0 : v;
}

void ls_fmt_sig(char *buf, int cap, double v, int sig)
{
    if (sig < 1)
        sig = 1;
    if (isnan(v)) {
        snprintf(buf, (size_t)cap, "n/a");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, (size_t)cap, v > 0 ? "inf" : "-inf");
        return;
    }
    if (v == 0) {
        snprintf(buf, (size_t)cap, "0");
        return;
    }
    double a = fabs(v);
    if (a < 1e-3 || a >= 1e5) {
        snprintf(buf, (size_t)cap, "%.*e", sig - 1, v);
        return;
    }
    /* decimals from the exponent of the value as it will be rounded (9.9996 -> 10.00) */
    int e = (int)floor(log10(a));
    int dec = sig - 1 - e;
    if (dec < 0)
        dec = 0;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", dec, a);
    if (strtod(tmp, NULL) >= pow(10.0, e + 1) && dec > 0)
        dec--;
    snprintf(buf, (size_t)cap, "%.*f", dec, ls_no_neg_zero(v, dec));
}

void ls_fmt_value(char *buf, int cap, double v)
{
    ls_fmt_sig(buf, cap, v, 4);
}

__attribute__((format(printf, 2, 3))) static void add(ls_explain *e, const char *fmt, ...)
{
    if (e->n_lines >= LS_EXPLAIN_MAX_LINES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->line[e->n_lines++], LS_EXPLAIN_LINE_MAX, fmt, ap);
    va_end(ap);
}

static bool series_known(const double *metric, int n_layers, int module)
{
    for (int l = 0; l < n_layers; l++)
        if (!isnan(metric[LS_IDX(l, module)]))
            return true;
    return false;
}

/* One metric's detection for the matrix: the numbers, then the verdict. */
static void explain_series(const ls_profile *p, const ls_analysis *a, const ls_detection *d,
                           const double *metric, const char *metric_name, const char *method,
                           int layer, int module, ls_explain *e)
{
    const ls_settings *s = &a->settings;
    double thr = s->detect.threshold;
    char v[32], v0[32];
    ls_fmt_value(v, sizeof v, metric[LS_IDX(layer, module)]);
    const char *op = d->mode == LS_DIFF_DIVIDE ? "/" : "-";
    if (!series_known(metric, p->n_layers, module)) {
        add(e, "%s: no %s known for this model, so %s flags nothing%s.", method, metric_name,
            method,
            strcmp(metric_name, "sensitivity") == 0
                ? " (measure it with S, or give --sensitivity-csv FILE)"
                : "");
        return;
    }
    if (layer == 0) {
        add(e, "%s: %s %s at layer 0. Layer 0 has no previous layer, so there is no "
               "difference d and it can never be flagged (a spike here flags layer 1).",
            method, metric_name, v);
        return;
    }
    ls_fmt_value(v0, sizeof v0, metric[LS_IDX(layer - 1, module)]);
    char dv[32];
    ls_fmt_value(dv, sizeof dv, d->diff[layer]);
    add(e, "%s: %s %s (layer %d: %s); d = %s %s %s = %s", method, metric_name, v, layer - 1,
        v0, v, op, v0, d->valid[layer] ? dv : "invalid");
    if (d->status != LS_DETECT_OK) {
        add(e, "Not flagged: %s, so there are no trimmed statistics and nothing can be an "
               "outlier.",
            d->status == LS_DETECT_NO_LAYERS ? "fewer than 2 layers"
                                             : "too few valid differences");
        return;
    }
    char mu[32], sg[32];
    ls_fmt_value(mu, sizeof mu, d->mu);
    ls_fmt_value(sg, sizeof sg, d->sigma);
    add(e, "trimmed mean %s, std %s over %d of %d differences (k = %d cut per side)", mu, sg,
        d->n_core, d->n_valid, d->k);
    if (!d->valid[layer]) {
        add(e, "Not flagged: d is invalid (a missing value or a division by zero), so this "
               "layer is left out of the statistics and never flagged.");
        return;
    }
    char z[32];
    ls_fmt_value(z, sizeof z, d->z[layer]);
    bool out = d->outlier[layer];
    if (out)
        add(e, "z = |d - mean| / std = %s > %g: outlier, rank %d of %d by z; top-m %d%s", z,
            thr, d->rank[layer], d->n_outliers, s->top_m, s->top_m == 0 ? " (all)" : "");
    else
        add(e, "z = |d - mean| / std = %s <= %g: within the usual spread", z, thr);
    if (out && d->selected[layer])
        add(e, "Outlier: the %s changes from layer %d to %d far more than between other "
               "layers, so layer %d is flagged (the later layer of the pair).",
            metric_name, layer - 1, layer, layer);
    else if (out)
        add(e, "Outlier, but rank %d is beyond top-m = %d, so it is dropped.", d->rank[layer],
            s->top_m);
    else if (d->max_z_possible <= thr)
        add(e, "Not an outlier: threshold %g unreachable: max z = %.2f with %d layers.", thr,
            d->max_z_possible, p->n_layers);
    else
        add(e, "Not an outlier: the step from layer %d is no larger than typical steps.",
            layer - 1);
}

/* The importance matrix's numbers for the matrix, as llama-imatrix --show-statistics
 * names them: sum of E[x^2] (act_energy), min, max, mean, std, active channels, entropy
 * (bits and normalised), ZD (channels with z > 1), cosine similarity with layer - 1;
 * then the imatrix error and the measured dKL when there are. */
static void explain_imatrix(const ls_profile *p, int i, ls_explain *e)
{
    if (p->act_stats && p->act_stats[i].known) {
        const ls_act_stats *st = &p->act_stats[i];
        char sum[32], mn[32], mx[32], mu[32], sd[32], cs[32];
        ls_fmt_value(sum, sizeof sum, st->sum);
        ls_fmt_value(mn, sizeof mn, st->min);
        ls_fmt_value(mx, sizeof mx, st->max);
        ls_fmt_value(mu, sizeof mu, st->mean);
        ls_fmt_value(sd, sizeof sd, st->stddev);
        if (isnan(st->cossim))
            snprintf(cs, sizeof cs, "-");
        else
            snprintf(cs, sizeof cs, "%.4f", st->cossim);
        add(e, "imatrix: act_energy %s over %lld channels; E[x^2] min %s max %s mean %s "
               "std %s", sum, (long long)st->n, mn, mx, mu, sd);
        add(e, "imatrix: active %.2f%%, entropy %.4f bits (%.2f%%), ZD %.2f%%, cos-sim with "
               "layer - 1 %s", 100 * st->active, st->entropy, 100 * st->entropy_norm,
            100 * st->zd, cs);
    } else if (p->act_energy) {
        add(e, "imatrix: no entry for this matrix");
    }
    if (p->imatrix_error) {
        char v[32];
        ls_fmt_value(v, sizeof v, p->imatrix_error[i]);
        add(e, "imatrix error (imatrix-weighted HQQ error at the base config): %s", v);
    }
    if (p->measured_dkl) {
        char v[32];
        ls_fmt_value(v, sizeof v, p->measured_dkl[i]);
        add(e, "measured dKL (this matrix alone at the base config, KL to fp): %s", v);
    }
}

void ls_explain_matrix(const ls_profile *p, const ls_analysis *a, int layer, int module,
                       ls_explain *out)
{
    memset(out, 0, sizeof *out);
    if (layer < 0 || layer >= p->n_layers || module < 0 || module >= LS_N_MODULES)
        return;
    int i = LS_IDX(layer, module);
    const ls_settings *s = &a->settings;
    out->boosted = a->boosted[i] != 0;
    const char *base = ls_stop_get(s->base)->name, *cfg = ls_stop_get(a->cfg[i])->name;
    if (out->boosted)
        add(out, "Layer %d %s: boosted %s -> %s", layer, ls_module_name(module), base, cfg);
    else
        add(out, "Layer %d %s: stays at %s", layer, ls_module_name(module), base);

    bool sensi = s->method == LS_METHOD_SENSI || s->method == LS_METHOD_BOTH;
    bool kurt = s->method == LS_METHOD_KURT || s->method == LS_METHOD_BOTH;
    if (s->method == LS_METHOD_MANUAL) {
        add(out, "Manual set: %s by hand (space toggles). For reference:",
            out->boosted ? "boosted" : "not boosted");
        sensi = kurt = true;
    }
    if (s->ablation)
        add(out, "Ablation (seed %llu): %s at random among the layers neither method flags, "
                 "as many as %s flags.",
            (unsigned long long)s->seed, out->boosted ? "drawn" : "not drawn",
            s->method == LS_METHOD_SENSI ? "SensiBoost" : "KurtBoost");
    if (kurt)
        explain_series(p, a, &a->kurt[module], p->kurtosis, "kurtosis", "KurtBoost", layer,
                       module, out);
    if (sensi)
        explain_series(p, a, &a->sensi[module], p->sensitivity,
                       p->sensitivity_label[0] ? p->sensitivity_label : "sensitivity",
                       "SensiBoost", layer, module, out);
    if (!s->ablation && s->mode >= 0)
        add(out, "(difference mode overridden to %s: not the paper's pairing)",
            ls_diff_mode_name((ls_diff_mode)s->mode));
    explain_imatrix(p, i, out);
}
