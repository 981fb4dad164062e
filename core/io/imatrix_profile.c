#include "io/imatrix_profile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void meta_of(const ls_imatrix *im, ls_imatrix_meta *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->file, sizeof m->file, "%s", im->path);
    snprintf(m->format, sizeof m->format, "%s", ls_imatrix_format_name(im->format));
    m->chunks = im->chunks;
    snprintf(m->dataset, sizeof m->dataset, "%s", im->dataset);
    m->entries = im->n_entries;
}

int ls_imatrix_apply(const ls_imatrix *im, const ls_model *m, ls_profile *p, ls_error *err)
{
    if (im->n_layers != p->n_layers)
        return ls_fail(err, "%s: entries for %d layers, but %s has %d", im->path, im->n_layers,
                       p->path, p->n_layers);
    for (int i = 0; m && i < im->n_entries; i++) {
        const ls_imatrix_entry *e = &im->entries[i];
        const ls_tensor *t = ls_model_linear(m, e->layer, e->module);
        int64_t rows, cols;
        ls_module_shape(&m->cfg, e->module, &rows, &cols);
        if (t && t->n_dims == 2)
            cols = t->shape[1];
        if (e->n_cols != cols)
            return ls_fail(err, "%s: %s: %lld input channels, but the model's matrix has %lld "
                                "(an imatrix of another model?)", im->path, e->name,
                           (long long)e->n_cols, (long long)cols);
    }
    size_t n = (size_t)p->n_layers * LS_N_MODULES;
    if (!p->act_energy)
        p->act_energy = malloc(n * sizeof *p->act_energy);
    if (!p->act_stats)
        p->act_stats = malloc(n * sizeof *p->act_stats);
    if (!p->act_energy || !p->act_stats)
        return ls_fail(err, "%s: out of memory", im->path);
    for (size_t i = 0; i < n; i++) {
        p->act_energy[i] = NAN;
        memset(&p->act_stats[i], 0, sizeof p->act_stats[i]);
        p->act_stats[i].cossim = NAN;
    }
    char missing[160] = "";
    int n_missing = 0;
    for (int l = 0; l < p->n_layers; l++)
        for (int mod = 0; mod < LS_N_MODULES; mod++) {
            int i = ls_imatrix_find(im, l, mod);
            if (i < 0) {
                if (n_missing++ < 4) {
                    size_t u = strlen(missing);
                    snprintf(missing + u, sizeof missing - u, "%sblk.%d.%s", u ? ", " : "", l,
                             ls_module_short_name(mod));
                }
                continue;
            }
            p->act_energy[LS_IDX(l, mod)] = ls_imatrix_energy(&im->entries[i]);
            ls_imatrix_stats(im, i, &p->act_stats[LS_IDX(l, mod)]);
        }
    if (n_missing)
        ls_profile_warn(p, "%s: no entry for %d matrices (%s%s): their imatrix values are "
                           "unknown", im->path, n_missing, missing, n_missing > 4 ? ", ..." : "");
    for (int w = 0; w < im->n_warnings; w++)
        ls_profile_warn(p, "%s", im->warnings[w]);
    if (im->n_warnings_dropped)
        ls_profile_warn(p, "%s: %d more warnings", im->path, im->n_warnings_dropped);
    meta_of(im, &p->imatrix);
    return 0;
}

int ls_imatrix_to_profile(const ls_imatrix *im, ls_profile **out, ls_error *err)
{
    const char *b = strrchr(im->path, '/');
    b = b ? b + 1 : im->path;
    char name[256];
    snprintf(name, sizeof name, "%s", b);
    char *dot = strrchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
    ls_profile *p = ls_profile_new(im->n_layers, name, im->path,
                                   im->format == LS_IMATRIX_GGUF ? "imatrix-gguf" : "imatrix-legacy",
                                   err);
    if (!p)
        return -1;
    if (ls_imatrix_apply(im, NULL, p, err) < 0) {
        ls_profile_free(p);
        return -1;
    }
    memcpy(p->sensitivity, p->act_energy, (size_t)p->n_layers * LS_N_MODULES * sizeof(double));
    snprintf(p->sensitivity_label, sizeof p->sensitivity_label, "imatrix energy");
    snprintf(p->sensitivity_source, sizeof p->sensitivity_source,
             "imatrix energy (sum of E[x^2] per matrix) from %.60s, %lld chunks, dataset %.60s",
             b, (long long)im->chunks, im->dataset[0] ? im->dataset : "unknown");
    *out = p;
    return 0;
}

