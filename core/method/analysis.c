#include "method/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "method/mxq.h"

static void series_of(const double *metric, int n_layers, int module, double *out)
{
    for (int l = 0; l < n_layers; l++)
        out[l] = metric[LS_IDX(l, module)];
}

static void detect_all(const ls_profile *p, const double *metric, ls_diff_mode mode,
                       const ls_settings *s, ls_detection *out)
{
    double series[LS_MAX_LAYERS];
    for (int m = 0; m < LS_N_MODULES; m++) {
        series_of(metric, p->n_layers, m, series);
        ls_detect(series, p->n_layers, mode, s->top_m, &s->detect, &out[m]);
    }
}

/* Ablation (docs/method.md §7): per module, draw as many layers as the ablated method flags,
 * uniformly from {0 .. L-2} minus both methods' outliers, with SplitMix64 and a partial
 * Fisher-Yates; the modules consume numbers in the fixed order q, k, v, o, gate, up, down. */
static void draw_ablation(ls_analysis *a)
{
    ls_rng rng;
    ls_rng_seed(&rng, a->settings.seed);
    int L = a->n_layers;
    for (int m = 0; m < LS_N_MODULES; m++) {
        const ls_detection *S = &a->sensi[m], *K = &a->kurt[m];
        int count = a->settings.method == LS_METHOD_SENSI ? S->n_selected : K->n_selected;
        if (count == 0)
            continue;
        int eligible[LS_MAX_LAYERS], e = 0;
        for (int l = 0; l < L - 1; l++) /* max_layer = L - 1 is never eligible (the quirk) */
            if (!S->selected[l] && !K->selected[l])
                eligible[e++] = l;
        if (e < count) {
            a->ablation_short[m] = count - e;
            count = e;
        }
        for (int j = 0; j < count; j++) {
            int r = j + (int)(ls_rng_next(&rng) % (uint64_t)(e - j));
            int t = eligible[j];
            eligible[j] = eligible[r];
            eligible[r] = t;
        }
        for (int j = 0; j < count; j++)
            a->boosted[LS_IDX(eligible[j], m)] = 1;
    }
}

static void mark_selected(ls_analysis *a, const ls_detection *det)
{
    for (int m = 0; m < LS_N_MODULES; m++)
        for (int l = 1; l < a->n_layers; l++)
            if (det[m].selected[l])
                a->boosted[LS_IDX(l, m)] = 1;
}

static void explain_empty(ls_analysis *a, const ls_detection *det)
{
    const ls_detection *d = &det[0];
    if (d->status == LS_DETECT_NO_LAYERS)
        snprintf(a->note, sizeof a->note, "needs at least 2 layers");
    else if (d->status == LS_DETECT_TOO_FEW)
        snprintf(a->note, sizeof a->note, "too few layers for trimmed statistics");
    else if (d->max_z_possible <= a->settings.detect.threshold)
        snprintf(a->note, sizeof a->note,
                 "threshold %g unreachable: max z = %.2f with %d layers",
                 a->settings.detect.threshold, d->max_z_possible, a->n_layers);
}

/* A budget method's allocation: the costs, the budget and the exact solve. */
static int solve_budget(const ls_profile *p, ls_analysis *a, double time_limit,
                        ls_progress *progress, ls_error *err)
{
    const ls_settings *s = &a->settings;
    int n = p->n_layers * LS_N_MODULES;
    if (!a->memory_known)
        return ls_fail(err, "%s: %s needs the parameter count of every matrix, which this "
                            "profile lacks", p->path, ls_method_name(s->method));
    if (s->target_kind == LS_TARGET_NONE)
        return ls_fail(err, "%s needs a target: --target-bpp B, --target-mib M or "
                            "--target-extra PCT", ls_method_name(s->method));
    if (ls_mxq_budget(p->params, n, s->base, (ls_target_kind)s->target_kind, s->target,
                      &a->budget_units, err) < 0)
        return -1;
    double *cost = malloc((size_t)n * LS_N_STOPS * sizeof *cost);
    unsigned char outlier[LS_MAX_LAYERS * LS_N_MODULES] = {0};
    if (!cost)
        return ls_fail(err, "out of memory");
    const ls_detection *det = s->method == LS_METHOD_SENSI_MILP ? a->sensi : a->kurt;
    for (int m = 0; m < LS_N_MODULES && !s->ablation; m++) /* the MiLP ablation: f = 1 */
        for (int l = 1; l < p->n_layers; l++)
            if (det[m].selected[l])
                outlier[LS_IDX(l, m)] = 1;
    ls_mxq_cost kind = s->method == LS_METHOD_MXQ         ? LS_MXQ_COST_FNORM
                       : s->method == LS_METHOD_SENSI_MILP ? LS_MXQ_COST_SENSI
                                                           : LS_MXQ_COST_KURT;
    int rc = ls_mxq_costs(p, kind, outlier, s->factor, cost, err);
    if (rc == 0)
        rc = ls_mxq_solve(p->params, n, cost, a->budget_units, time_limit, progress, a->cfg,
                          &a->solve, err);
    free(cost);
    if (rc < 0)
        return -1;
    a->cost_total = a->solve.cost;
    a->budget_bpp = ls_mxq_units_to_bpp(a->budget_units, a->mem.params_linear);
    a->budget_mib = ls_mxq_units_to_mib(a->budget_units);
    for (int i = 0; i < n; i++) {
        a->boosted[i] = a->cfg[i] != s->base;
        a->n_boosted += a->boosted[i];
    }
    return 0;
}

int ls_analyze(const ls_profile *p, const ls_settings *s, const unsigned char *manual,
               ls_analysis *a, ls_error *err)
{
    return ls_analyze_ex(p, s, manual, LS_BUDGET_TIME_LIMIT, NULL, a, err);
}

int ls_analyze_ex(const ls_profile *p, const ls_settings *s, const unsigned char *manual,
                  double time_limit, ls_progress *progress, ls_analysis *a, ls_error *err)
{
    memset(a, 0, sizeof *a);
    a->n_layers = p->n_layers;
    a->settings = *s;
    if (ls_settings_validate(s, "settings.", err) < 0)
        return -1;

    a->have_sensi = ls_profile_has_sensitivity(p);
    a->have_kurt = ls_profile_has_kurtosis(p);
    ls_diff_mode sensi_mode = s->mode >= 0 ? (ls_diff_mode)s->mode : LS_DIFF_DIVIDE;
    ls_diff_mode kurt_mode = s->mode >= 0 ? (ls_diff_mode)s->mode : LS_DIFF_SUBTRACT;
    detect_all(p, p->sensitivity, sensi_mode, s, a->sensi);
    detect_all(p, p->kurtosis, kurt_mode, s, a->kurt);

    bool need_sensi = s->method == LS_METHOD_SENSI || s->method == LS_METHOD_BOTH ||
                      s->method == LS_METHOD_SENSI_MILP;
    bool need_kurt = s->method == LS_METHOD_KURT || s->method == LS_METHOD_BOTH ||
                     s->method == LS_METHOD_KURT_MILP;
    a->budget = ls_method_is_budget(s->method);
    if (s->ablation && !a->budget)
        need_sensi = need_kurt = true; /* the excluded set is S union K */
    if (need_sensi && !a->have_sensi)
        snprintf(a->note, sizeof a->note, "no sensitivity measured: nothing flagged by it");
    else if (need_kurt && !a->have_kurt)
        snprintf(a->note, sizeof a->note, "no kurtosis known: nothing flagged by it");

    if (s->ablation && !a->budget) {
        draw_ablation(a);
    } else if (!a->budget) {
        if (need_sensi)
            mark_selected(a, a->sensi);
        if (need_kurt)
            mark_selected(a, a->kurt);
        if (s->method == LS_METHOD_MANUAL && manual)
            for (int i = 0; i < p->n_layers * LS_N_MODULES; i++)
                a->boosted[i] = manual[i] ? 1 : 0;
    }

    a->target = ls_boost_target(s->base, s->boost_stop);
    int n = p->n_layers * LS_N_MODULES;
    for (int i = 0; i < n; i++) {
        a->cfg[i] = (unsigned char)(a->boosted[i] ? a->target : s->base);
        a->n_boosted += a->boosted[i];
    }
    if (a->n_boosted == 0 && !a->note[0] && s->method != LS_METHOD_MANUAL && !a->budget)
        explain_empty(a, need_sensi ? a->sensi : a->kurt);
    if (s->boost_stop == 0 && !a->note[0]) /* docs/method.md §5.2: accepted, with a note */
        snprintf(a->note, sizeof a->note, "boost stop 0 is read as 1, as the reference does");
    a->memory_known = ls_profile_params_known(p);
    if (a->memory_known)
        ls_memory_compute(p->params, a->cfg, n, s->base, &a->mem);
    if (a->budget) {
        if (s->method == LS_METHOD_MXQ)
            a->note[0] = '\0'; /* plain MXQ uses no metric */
        if (solve_budget(p, a, time_limit, progress, err) < 0)
            return -1;
        ls_memory_compute(p->params, a->cfg, n, s->base, &a->mem);
    }
    return 0;
}

const ls_detection *ls_analysis_detection(const ls_analysis *a, int module, int layer)
{
    switch (a->settings.method) {
    case LS_METHOD_SENSI:
        return &a->sensi[module];
    case LS_METHOD_KURT:
        return &a->kurt[module];
    case LS_METHOD_BOTH:
        if (layer > 0 && layer < a->n_layers && a->kurt[module].selected[layer] &&
            !a->sensi[module].selected[layer])
            return &a->kurt[module];
        return &a->sensi[module];
    default:
        return NULL;
    }
}
