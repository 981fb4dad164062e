#include "method/profile.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/detect.h"

static char *dup_str(const char *s)
{
    return s ? strdup(s) : strdup("");
}

ls_profile *ls_profile_new(int n_layers, const char *name, const char *path,
                           const char *source, ls_error *err)
{
    if (n_layers < 1 || n_layers > LS_MAX_LAYERS) {
        ls_fail(err, "%s: %d layers: supported are 1 to %d", path ? path : "profile",
                n_layers, LS_MAX_LAYERS);
        return NULL;
    }
    ls_profile *p = calloc(1, sizeof *p);
    size_t n = (size_t)n_layers * LS_N_MODULES;
    if (!p)
        goto oom;
    p->n_layers = n_layers;
    p->name = dup_str(name);
    p->path = dup_str(path);
    p->source = dup_str(source);
    p->params = calloc(n, sizeof *p->params);
    p->kurtosis = malloc(n * sizeof *p->kurtosis);
    p->nonfinite = malloc(n * sizeof *p->nonfinite);
    p->sensitivity = malloc(n * sizeof *p->sensitivity);
    if (!p->name || !p->path || !p->source || !p->params || !p->kurtosis || !p->nonfinite ||
        !p->sensitivity)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        p->kurtosis[i] = NAN;
        p->sensitivity[i] = NAN;
        p->nonfinite[i] = -1;
    }
    p->other_bytes = -1;
    p->linear_bytes = -1;
    return p;
oom:
    ls_profile_free(p);
    ls_fail(err, "%s: out of memory", path ? path : "profile");
    return NULL;
}

void ls_profile_free(ls_profile *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->path);
    free(p->source);
    free(p->params);
    free(p->kurtosis);
    free(p->nonfinite);
    free(p->sensitivity);
    free(p->fnorm);
    free(p->act_energy);
    free(p->imatrix_error);
    free(p->measured_dkl);
    free(p->act_stats);
    free(p);
}

void ls_profile_warn(ls_profile *p, const char *fmt, ...)
{
    if (p->n_warnings >= LS_PROFILE_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->warnings[p->n_warnings++], sizeof p->warnings[0], fmt, ap);
    va_end(ap);
}

bool ls_profile_params_known(const ls_profile *p)
{
    for (int i = 0; i < p->n_layers * LS_N_MODULES; i++)
        if (p->params[i] <= 0)
            return false;
    return true;
}

static bool any_finite(const double *v, int n)
{
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            return true;
    return false;
}

bool ls_profile_has_kurtosis(const ls_profile *p)
{
    return any_finite(p->kurtosis, p->n_layers * LS_N_MODULES);
}

bool ls_profile_has_sensitivity(const ls_profile *p)
{
    return any_finite(p->sensitivity, p->n_layers * LS_N_MODULES);
}

ls_profile *ls_profile_from_model(const ls_model *m, ls_error *err)
{
    if (!m->has_weights) {
        ls_fail(err, "%s: the model has no weights (a vocabulary-only file?)", m->path);
        return NULL;
    }
    ls_profile *p = ls_profile_new(m->cfg.n_layers, m->name, m->path,
                                   ls_model_format_name(m->format), err);
    if (!p)
        return NULL;
    int64_t linear_bytes = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int mod = 0; mod < LS_N_MODULES; mod++) {
            const ls_tensor *t = ls_model_linear(m, l, mod);
            if (!t)
                continue;
            p->params[LS_IDX(l, mod)] = t->n_elems;
            linear_bytes += t->n_elems * (int64_t)ls_dtype_size(t->dtype);
        }
    p->linear_bytes = linear_bytes;
    p->other_bytes = m->bytes_total - linear_bytes;
    return p;
}

int ls_profile_take_sensitivity(ls_profile *dst, const ls_profile *src, ls_error *err)
{
    if (dst->n_layers != src->n_layers)
        return ls_fail(err, "%s: %d layers, but the model has %d", src->path, src->n_layers,
                       dst->n_layers);
    memcpy(dst->sensitivity, src->sensitivity,
           (size_t)dst->n_layers * LS_N_MODULES * sizeof *dst->sensitivity);
    snprintf(dst->sensitivity_source, sizeof dst->sensitivity_source, "%s",
             src->sensitivity_source[0] ? src->sensitivity_source : src->path);
    for (int i = 0; i < src->n_warnings; i++)
        ls_profile_warn(dst, "%s", src->warnings[i]);
    return 0;
}
