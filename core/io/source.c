#include "io/source.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/imatrix.h"
#include "io/imatrix_profile.h"

static bool looks_like_csv(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return false;
    size_t n = strlen(path);
    if (n >= 4 && strcmp(path + n - 4, ".csv") == 0)
        return true;
    return ls_csv_kind_of(path) != LS_CSV_UNKNOWN;
}

int ls_source_open(const char *path, const ls_source_options *opt, ls_model **model,
                   ls_profile **profile, ls_error *err)
{
    *model = NULL;
    *profile = NULL;
    if (looks_like_csv(path))
        return ls_import_profile(path, &opt->sensi_select, profile, err);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && ls_imatrix_sniff(path) != LS_IMATRIX_NOT) {
        /* An importance matrix alone: a profile of its act_energy. */
        ls_imatrix *im;
        if (ls_imatrix_read(path, &im, err) < 0)
            return -1;
        int rc = ls_imatrix_to_profile(im, profile, err);
        ls_imatrix_free(im);
        return rc;
    }
    ls_open_options mo = {opt->tokenizer_path};
    if (ls_model_open(path, &mo, model, err) < 0)
        return -1;
    *profile = ls_profile_from_model(*model, err);
    if (!*profile) {
        ls_model_free(*model);
        *model = NULL;
        return -1;
    }
    return 0;
}

/* DIR/sensitivity.csv when the profile came from a model directory that has one. */
static bool beside_weights(const ls_profile *p, char *buf, size_t cap)
{
    struct stat st;
    if (stat(p->path, &st) != 0 || !S_ISDIR(st.st_mode))
        return false;
    int n = snprintf(buf, cap, "%s/sensitivity.csv", p->path);
    return n > 0 && (size_t)n < cap && stat(buf, &st) == 0 && S_ISREG(st.st_mode);
}

int ls_source_add_metrics(ls_profile *profile, const ls_source_options *opt, ls_error *err)
{
    char saved[4096];
    const char *sens = opt->sensitivity_csv;
    if (!sens && beside_weights(profile, saved, sizeof saved))
        sens = saved;
    if (sens) {
        ls_profile *s;
        if (ls_import_sensitivity(sens, &opt->sensi_select, &s, err) < 0)
            return -1;
        int rc = ls_profile_take_sensitivity(profile, s, err);
        ls_profile_free(s);
        if (rc < 0)
            return -1;
    }
    if (opt->kurtosis_csv) {
        ls_profile *k;
        if (ls_import_kurtosis(opt->kurtosis_csv, &k, err) < 0)
            return -1;
        int rc = 0;
        if (k->n_layers != profile->n_layers) {
            rc = ls_fail(err, "%s: %d layers, but the model has %d", opt->kurtosis_csv,
                         k->n_layers, profile->n_layers);
        } else {
            size_t n = (size_t)profile->n_layers * LS_N_MODULES;
            memcpy(profile->kurtosis, k->kurtosis, n * sizeof *profile->kurtosis);
            for (size_t i = 0; i < n; i++)
                if (profile->params[i] <= 0)
                    profile->params[i] = k->params[i];
        }
        ls_profile_free(k);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int ls_source_add_imatrix(ls_profile *profile, const ls_model *model, const char *path,
                          ls_imatrix **out, ls_error *err)
{
    ls_imatrix *im;
    if (ls_imatrix_read(path, &im, err) < 0)
        return -1;
    if (ls_imatrix_apply(im, model, profile, err) < 0) {
        ls_imatrix_free(im);
        return -1;
    }
    if (!model && !ls_profile_has_sensitivity(profile)) {
        size_t n = (size_t)profile->n_layers * LS_N_MODULES;
        memcpy(profile->sensitivity, profile->act_energy, n * sizeof(double));
        snprintf(profile->sensitivity_label, sizeof profile->sensitivity_label,
                 "imatrix energy");
        snprintf(profile->sensitivity_source, sizeof profile->sensitivity_source,
                 "imatrix energy (sum of E[x^2] per matrix) from %.200s", path);
    }
    if (out)
        *out = im;
    else
        ls_imatrix_free(im);
    return 0;
}
