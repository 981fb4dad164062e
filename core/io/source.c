#include "io/source.h"

#include "base/mapfile.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/imatrix.h"
#include "io/imatrix_profile.h"
#include "formats/llama2c.h"

/* ---- what a file is ---- */

#define HEAD_BYTES 64

typedef struct file_head {
    const char *path;
    unsigned char b[HEAD_BYTES];
    size_t n;     /* bytes read into b */
    int64_t size; /* file size */
} file_head;

static bool is_gguf(const file_head *h)
{
    return h->n >= 4 && memcmp(h->b, "GGUF", 4) == 0;
}

/* safetensors: a little-endian u64 header length, then a JSON object inside the file. */
static bool is_safetensors(const file_head *h)
{
    if (h->n < 9)
        return false;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = len << 8 | h->b[i];
    return h->b[8] == '{' && len >= 2 && len <= (uint64_t)h->size - 8;
}

/* llama2.c: the versioned magic, or a legacy header whose seven dimensions are plausible
 * (the loader then checks the exact size and says what is wrong). */
static bool is_llama2c(const file_head *h)
{
    if (h->n < 28)
        return false;
    uint32_t v[7];
    for (int i = 0; i < 7; i++)
        v[i] = (uint32_t)h->b[4 * i] | (uint32_t)h->b[4 * i + 1] << 8 |
               (uint32_t)h->b[4 * i + 2] << 16 | (uint32_t)h->b[4 * i + 3] << 24;
    if (v[0] == LS_L2C_MAGIC)
        return true;
    int32_t dim = (int32_t)v[0], hid = (int32_t)v[1], layers = (int32_t)v[2];
    int32_t heads = (int32_t)v[3], kv = (int32_t)v[4], vocab = (int32_t)v[5];
    int32_t seq = (int32_t)v[6];
    return dim > 0 && hid > 0 && layers > 0 && heads > 0 && kv > 0 && vocab != 0 &&
           vocab != INT32_MIN && seq >= 0 && dim % heads == 0 && heads % kv == 0;
}

static bool is_toolkit_csv(const file_head *h)
{
    return ls_csv_kind_of(h->path) != LS_CSV_UNKNOWN;
}

/* llama.cpp's importance matrix, GGUF or legacy (formats/imatrix.h decides) */
static bool is_imatrix(const file_head *h)
{
    return ls_imatrix_sniff(h->path) != LS_IMATRIX_NOT;
}

/* One row per kind the program reads; the refusal lists every row's "not" phrase. A new
 * reader adds its row here (and its kind to ls_file_kind). */
static const struct recogniser {
    ls_file_kind kind;
    bool (*is)(const file_head *h);
    const char *refusal;
} recognisers[] = {
    {LS_FILE_GGUF, is_gguf, "no GGUF magic"},
    {LS_FILE_SAFETENSORS, is_safetensors, "not safetensors"},
    {LS_FILE_LLAMA2C, is_llama2c, "not a llama2.c header"},
    {LS_FILE_TOOLKIT_CSV, is_toolkit_csv, "not a toolkit CSV"},
    {LS_FILE_IMATRIX, is_imatrix, "not an imatrix"},
};
#define N_RECOGNISERS (sizeof recognisers / sizeof recognisers[0])

ls_file_kind ls_source_identify(const char *path, ls_error *err)
{
    file_head h = {.path = path};
    struct stat st;
    FILE *f = ls_fopen_regular(path, err); /* never blocks on a FIFO; names the kind */
    if (!f || fstat(fileno(f), &st) != 0) {
        if (f) {
            ls_fail(err, "%s: cannot open: %s", path, strerror(errno));
            fclose(f);
        }
        return LS_FILE_UNKNOWN;
    }
    h.size = (int64_t)st.st_size;
    h.n = fread(h.b, 1, sizeof h.b, f);
    fclose(f);
    if (is_imatrix(&h)) /* a GGUF imatrix carries the GGUF magic too: it is asked first */
        return LS_FILE_IMATRIX;
    for (size_t i = 0; i < N_RECOGNISERS; i++)
        if (recognisers[i].is(&h))
            return recognisers[i].kind;
    char list[256] = "";
    size_t at = 0;
    for (size_t i = 0; i < N_RECOGNISERS && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "",
                               recognisers[i].refusal);
    ls_fail(err, "%s: not a model: %s", path, list);
    return LS_FILE_UNKNOWN;
}

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
    struct stat st;
    if (stat(path, &st) != 0) /* the same words as every other reader (base/mapfile.h) */
        return errno == ENOENT                     ? ls_fail(err, "%s: not found", path)
               : errno == EACCES || errno == EPERM ? ls_fail(err, "%s: unreadable: %s", path,
                                                             strerror(errno))
                                                   : ls_fail(err, "%s: cannot open: %s", path,
                                                             strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        /* a .csv name is the importer's to judge (it names the missing column) */
        size_t n = strlen(path);
        bool csv_name = n >= 4 && strcmp(path + n - 4, ".csv") == 0;
        ls_file_kind k = csv_name ? LS_FILE_TOOLKIT_CSV : ls_source_identify(path, err);
        if (k == LS_FILE_UNKNOWN)
            return -1;
        if (k == LS_FILE_SAFETENSORS)
            return ls_fail(err, "%s: a safetensors file alone is not a model: open the "
                           "directory that holds it with config.json", path);
    }
    if (looks_like_csv(path))
        return ls_import_profile(path, &opt->sensi_select, profile, err);
    if (S_ISREG(st.st_mode) && ls_imatrix_sniff(path) != LS_IMATRIX_NOT) {
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
