#include "method/profile_copy.h"

#include <stdlib.h>
#include <string.h>

static void *dup_array(const void *src, size_t bytes)
{
    void *d = malloc(bytes);
    if (d)
        memcpy(d, src, bytes);
    return d;
}

ls_profile *ls_profile_copy(const ls_profile *p, ls_error *err)
{
    ls_profile *c = ls_profile_new(p->n_layers, p->name, p->path, p->source, err);
    if (!c)
        return NULL;
    size_t n = (size_t)p->n_layers * LS_N_MODULES;
    memcpy(c->params, p->params, n * sizeof *c->params);
    memcpy(c->kurtosis, p->kurtosis, n * sizeof *c->kurtosis);
    memcpy(c->nonfinite, p->nonfinite, n * sizeof *c->nonfinite);
    memcpy(c->sensitivity, p->sensitivity, n * sizeof *c->sensitivity);
    if (p->fnorm) {
        c->fnorm = malloc(n * LS_N_STOPS * sizeof *c->fnorm);
        if (!c->fnorm) {
            ls_profile_free(c);
            ls_fail(err, "out of memory");
            return NULL;
        }
        memcpy(c->fnorm, p->fnorm, n * LS_N_STOPS * sizeof *c->fnorm);
    }
    if ((p->act_energy && !(c->act_energy = dup_array(p->act_energy, n * sizeof(double)))) ||
        (p->imatrix_error &&
         !(c->imatrix_error = dup_array(p->imatrix_error, n * sizeof(double)))) ||
        (p->measured_dkl &&
         !(c->measured_dkl = dup_array(p->measured_dkl, n * sizeof(double)))) ||
        (p->act_stats && !(c->act_stats = dup_array(p->act_stats, n * sizeof(ls_act_stats))))) {
        ls_profile_free(c);
        ls_fail(err, "out of memory");
        return NULL;
    }
    c->imatrix = p->imatrix;
    memcpy(c->sensitivity_label, p->sensitivity_label, sizeof c->sensitivity_label);
    c->other_bytes = p->other_bytes;
    c->linear_bytes = p->linear_bytes;
    memcpy(c->sensitivity_source, p->sensitivity_source, sizeof c->sensitivity_source);
    c->n_warnings = p->n_warnings;
    memcpy(c->warnings, p->warnings, sizeof c->warnings);
    return c;
}
