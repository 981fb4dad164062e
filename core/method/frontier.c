#include "method/frontier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/mxq.h"

static const char *const kind_names[] = {"uniform", "sensi", "kurt", "ablation", "mxq",
                                         "current"};

const char *ls_frontier_kind_name(ls_frontier_kind k)
{
    return (k >= LS_FK_UNIFORM && k <= LS_FK_CURRENT) ? kind_names[k] : "?";
}

uint64_t ls_frontier_fingerprint(const unsigned char *cfg, int n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (int i = 0; i < n; i++) {
        h ^= cfg[i];
        h *= 1099511628211ULL;
    }
    h ^= (uint64_t)n;
    return h * 1099511628211ULL;
}

static int add_point(ls_frontier *f, const ls_profile *p, const char *label,
                     ls_frontier_kind kind, const unsigned char *cfg, ls_error *err)
{
    if (f->n >= LS_FRONTIER_MAX)
        return ls_fail(err, "frontier: more than %d points", LS_FRONTIER_MAX);
    int n = p->n_layers * LS_N_MODULES;
    ls_frontier_point *pt = &f->pts[f->n];
    memset(pt, 0, sizeof *pt);
    pt->cfg = malloc((size_t)n);
    if (!pt->cfg)
        return ls_fail(err, "out of memory");
    memcpy(pt->cfg, cfg, (size_t)n);
    snprintf(pt->label, sizeof pt->label, "%s", label);
    pt->kind = kind;
    pt->fingerprint = ls_frontier_fingerprint(cfg, n);
    ls_memory mem;
    ls_memory_compute(p->params, cfg, n, f->base, &mem);
    pt->bpp = mem.bpp;
    pt->extra_pct = mem.extra_pct;
    pt->kld_mean = pt->kld_se = pt->ppl = pt->ppl_err = NAN;
    f->n++;
    return 0;
}

static void note(ls_frontier *f, const char *what)
{
    size_t len = strlen(f->note);
    snprintf(f->note + len, sizeof f->note - len, "%s%s", len ? "; " : "", what);
}

int ls_frontier_build(const ls_profile *p, const ls_settings *s, const unsigned char *current,
                      ls_frontier *f, ls_error *err)
{
    memset(f, 0, sizeof *f);
    f->n_layers = p->n_layers;
    f->base = s->base;
    if (!ls_profile_params_known(p))
        return ls_fail(err, "frontier: the profile has no parameter counts (memory unknown)");
    int n = p->n_layers * LS_N_MODULES;
    unsigned char *cfg = malloc((size_t)n);
    ls_analysis *a = malloc(sizeof *a);
    if (!cfg || !a) {
        free(cfg);
        free(a);
        return ls_fail(err, "out of memory");
    }
    int rc = 0;
    for (int st = s->base - 3; st <= s->base + 3 && rc == 0; st++) {
        if (st < 0 || st >= LS_N_STOPS)
            continue;
        memset(cfg, st, (size_t)n);
        rc = add_point(f, p, ls_stop_get(st)->name, LS_FK_UNIFORM, cfg, err);
    }
    ls_settings b = *s;
    b.ablation = false;
    b.mode = s->mode;
    bool have_sensi = ls_profile_has_sensitivity(p), have_kurt = ls_profile_has_kurtosis(p);
    int64_t sensi_units = -1;
    if (rc == 0 && have_sensi) {
        b.method = LS_METHOD_SENSI;
        rc = ls_analyze(p, &b, NULL, a, err);
        if (rc == 0)
            rc = add_point(f, p, "SensiBoost", LS_FK_SENSI, a->cfg, err);
        sensi_units = 0;
        for (int i = 0; rc == 0 && i < n; i++)
            sensi_units += p->params[i] * ls_mxq_stop_units(a->cfg[i]);
    } else if (rc == 0) {
        note(f, "no sensitivity: no SensiBoost point");
    }
    if (rc == 0 && have_kurt) {
        b.method = LS_METHOD_KURT;
        rc = ls_analyze(p, &b, NULL, a, err);
        if (rc == 0)
            rc = add_point(f, p, "KurtBoost", LS_FK_KURT, a->cfg, err);
    } else if (rc == 0) {
        note(f, "no kurtosis: no KurtBoost point");
    }
    /* Ablation of the current boost method (SensiBoost unless KurtBoost is chosen). */
    ls_method abl = (s->method == LS_METHOD_KURT || !have_sensi) ? LS_METHOD_KURT
                                                                 : LS_METHOD_SENSI;
    if (rc == 0 && (abl == LS_METHOD_SENSI ? have_sensi : have_kurt)) {
        b.method = abl;
        b.ablation = true;
        for (int k = 0; k < LS_FRONTIER_SEEDS && rc == 0; k++) {
            b.seed = s->seed + (uint64_t)k;
            rc = ls_analyze(p, &b, NULL, a, err);
            char label[48];
            snprintf(label, sizeof label, "ablation seed %llu", (unsigned long long)b.seed);
            if (rc == 0)
                rc = add_point(f, p, label, LS_FK_ABLATION, a->cfg, err);
        }
        b.ablation = false;
    }
    if (rc == 0 && p->fnorm && sensi_units > 0) {
        ls_mckp_result r;
        ls_error e2;
        if (ls_mxq_solve(p->params, n, p->fnorm, sensi_units, LS_BUDGET_TIME_LIMIT, NULL, cfg,
                         &r, &e2) == 0)
            rc = add_point(f, p, "MXQ at SensiBoost's memory", LS_FK_MXQ, cfg, err);
        else
            note(f, "MXQ: the solver gave no answer");
    } else if (rc == 0) {
        note(f, p->fnorm ? "no SensiBoost memory to match: no MXQ point"
                         : "no fnorm: no MXQ point (--fnorm on the model)");
    }
    if (rc == 0 && current)
        rc = add_point(f, p, "current", LS_FK_CURRENT, current, err);
    free(cfg);
    free(a);
    if (rc < 0)
        ls_frontier_free(f);
    return rc;
}

void ls_frontier_free(ls_frontier *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->pts[i].cfg);
        f->pts[i].cfg = NULL;
    }
    f->n = 0;
}

const ls_frontier_result *ls_frontier_cache_find(const ls_frontier_cache *c, uint64_t context,
                                                 uint64_t fingerprint)
{
    for (int i = 0; i < c->n; i++)
        if (c->items[i].context == context && c->items[i].fingerprint == fingerprint)
            return &c->items[i];
    return NULL;
}

int ls_frontier_cache_put(ls_frontier_cache *c, const ls_frontier_result *r)
{
    if (ls_frontier_cache_find(c, r->context, r->fingerprint))
        return 0;
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        ls_frontier_result *it = realloc(c->items, (size_t)cap * sizeof *it);
        if (!it)
            return -1;
        c->items = it;
        c->cap = cap;
    }
    c->items[c->n++] = *r;
    return 0;
}

void ls_frontier_cache_free(ls_frontier_cache *c)
{
    free(c->items);
    memset(c, 0, sizeof *c);
}

int ls_frontier_apply_cache(ls_frontier *f, const ls_frontier_cache *c, uint64_t context)
{
    int left = 0;
    for (int i = 0; i < f->n; i++) {
        ls_frontier_point *pt = &f->pts[i];
        const ls_frontier_result *r = ls_frontier_cache_find(c, context, pt->fingerprint);
        if (r) {
            pt->done = true;
            pt->kld_mean = r->kld_mean;
            pt->kld_se = r->kld_se;
            pt->ppl = r->ppl;
            pt->ppl_err = r->ppl_err;
        } else if (!pt->done) {
            left++;
        }
    }
    return left;
}

static void mean_sd(const double *v, int n, double *mean, double *sd)
{
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    *mean = n ? s / n : NAN;
    for (int i = 0; i < n; i++)
        s2 += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0.0;
}

bool ls_frontier_ablation_summary(const ls_frontier *f, double *bpp, double *ppl_mean,
                                  double *ppl_sd, double *kld_mean, double *kld_sd, int *n)
{
    double pv[LS_FRONTIER_MAX], kv[LS_FRONTIER_MAX], bsum = 0;
    int k = 0;
    for (int i = 0; i < f->n; i++)
        if (f->pts[i].kind == LS_FK_ABLATION && f->pts[i].done) {
            pv[k] = f->pts[i].ppl;
            kv[k] = f->pts[i].kld_mean;
            bsum += f->pts[i].bpp;
            k++;
        }
    *n = k;
    if (k == 0)
        return false;
    *bpp = bsum / k;
    mean_sd(pv, k, ppl_mean, ppl_sd);
    mean_sd(kv, k, kld_mean, kld_sd);
    return true;
}
