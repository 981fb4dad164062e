#include "method/import.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "base/mapfile.h"
#include "method/detect.h"

/* "dir/fnorm-Llama-2-7b-hf.csv" -> "Llama-2-7b-hf" */
static void name_from_path(const char *path, const char *prefix, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t pl = strlen(prefix);
    if (strncmp(base, prefix, pl) == 0 && base[pl])
        base += pl;
    snprintf(out, cap, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && strcmp(dot, ".csv") == 0)
        *dot = '\0';
}

static int header_has(const ls_csv *c, const char *const *names)
{
    for (; *names; names++)
        if (ls_csv_col(c, *names) < 0)
            return 0;
    return 1;
}

static ls_csv_kind kind_of_csv(const ls_csv *c)
{
    static const char *const metrics[] = {"layer", "module", "nbit1", "gsize1", NULL};
    static const char *const sensi[] = {"dataset", "part", "layer", "sensitivity", NULL};
    static const char *const kurt[] = {"module", "layer", "kurtosis", NULL};
    if (header_has(c, metrics))
        return LS_CSV_METRICS;
    if (header_has(c, sensi))
        return LS_CSV_SENSITIVITY;
    if (header_has(c, kurt))
        return LS_CSV_KURTOSIS;
    return LS_CSV_UNKNOWN;
}

ls_csv_kind ls_csv_kind_of(const char *path)
{
    FILE *f = ls_fopen_regular(path, NULL);
    if (!f)
        return LS_CSV_UNKNOWN;
    char line[4096];
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *nl = strchr(line, '\n');
    if (!nl)
        return LS_CSV_UNKNOWN;
    nl[1] = '\0';
    char *text = strdup(line);
    if (!text)
        return LS_CSV_UNKNOWN;
    ls_csv c;
    ls_csv_kind k = LS_CSV_UNKNOWN;
    if (ls_csv_parse(path, text, strlen(text), &c, NULL) == 0)
        k = kind_of_csv(&c);
    ls_csv_free(&c);
    return k;
}

/* Largest layer number + 1 over all rows (rows with unknown modules included). */
static int count_layers(const ls_csv *c, int col_layer, ls_error *err)
{
    int64_t max = -1;
    for (size_t r = 0; r < c->n_rows; r++) {
        int64_t l;
        if (ls_csv_int(c, r, col_layer, 0, LS_MAX_LAYERS - 1, &l, err) < 0)
            return -1;
        if (l > max)
            max = l;
    }
    if (max < 0)
        return ls_fail(err, "%s: no data rows", c->path);
    return (int)max + 1;
}

/* Module of a row; -1 with an error for an unknown name, -2 for a known non-linear row
 * (wdist files also list the two norms) that the caller skips. */
static int row_module(const ls_csv *c, size_t r, int col, ls_error *err)
{
    const char *s = ls_csv_cell(c, r, col);
    int m = ls_module_from_name(s);
    if (m >= 0)
        return m;
    if (strcmp(s, "input_layernorm") == 0 || strcmp(s, "post_attention_layernorm") == 0)
        return -2;
    return ls_fail(err, "%s: line %zu: column \"module\": unknown module \"%.60s\"", c->path,
                   c->line_no[r], s);
}

/* Every (layer, module) must have been seen exactly once. */
static int check_complete(const ls_csv *c, const unsigned char *seen, int n_layers,
                          const char *what, ls_error *err)
{
    for (int l = 0; l < n_layers; l++)
        for (int m = 0; m < LS_N_MODULES; m++)
            if (!seen[LS_IDX(l, m)])
                return ls_fail(err, "%s: no %s row for layer %d, %s", c->path, what, l,
                               ls_module_name(m));
    return 0;
}

static int mark_seen(const ls_csv *c, size_t r, unsigned char *seen, int l, int m,
                     ls_error *err)
{
    if (seen[LS_IDX(l, m)])
        return ls_fail(err, "%s: line %zu: duplicate row for layer %d, %s", c->path,
                       c->line_no[r], l, ls_module_name(m));
    seen[LS_IDX(l, m)] = 1;
    return 0;
}

/* A sensitivity is a mean of squared changes: a negative or infinite one (or a NaN where a
 * number is required) is a broken measurement, not something detection can rank. Kurtosis
 * may be negative (excess kurtosis) but never infinite. */
static int check_metric(const ls_csv *c, size_t r, int col, double v, ls_error *err)
{
    bool is_sensi = strcmp(c->header[col], "sensitivity") == 0;
    const char *why = isinf(v)                  ? "infinite"
                      : isnan(v)                ? "not a number (NaN)"
                      : is_sensi && v < 0       ? "negative"
                                                : NULL;
    if (!why)
        return 0;
    return ls_fail(err, "%s: line %zu: column \"%s\": %s value \"%.40s\" (%s)", c->path,
                   c->line_no[r], c->header[col], why, ls_csv_cell(c, r, col),
                   is_sensi ? "a sensitivity is finite and not negative"
                            : "a kurtosis is finite");
}

static int read_optional_double(const ls_csv *c, size_t r, int col, double *out, ls_error *err)
{
    if (col < 0)
        return 0;
    const char *s = ls_csv_cell(c, r, col);
    if (*s == '\0' || strcmp(s, "NA") == 0 || strcmp(s, "nan") == 0 || strcmp(s, "NaN") == 0) {
        *out = NAN;
        return 0;
    }
    if (ls_csv_double(c, r, col, out, err) < 0)
        return -1;
    return c->header[col] && (strcmp(c->header[col], "sensitivity") == 0 ||
                              strcmp(c->header[col], "kurtosis") == 0)
               ? check_metric(c, r, col, *out, err)
               : 0;
}

static bool same_value(double a, double b)
{
    if (isnan(a) && isnan(b))
        return true;
    return fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

int ls_import_metrics(const char *path, ls_profile **out, ls_error *err)
{
    *out = NULL;
    ls_csv c;
    if (ls_csv_read(path, &c, err) < 0) {
        ls_csv_free(&c);
        return -1;
    }
    ls_profile *p = NULL;
    unsigned char *seen = NULL;
    int rc = -1;
    int cl = ls_csv_need_col(&c, "layer", err), cm = ls_csv_need_col(&c, "module", err);
    int cb = ls_csv_need_col(&c, "nbit1", err), cg = ls_csv_need_col(&c, "gsize1", err);
    if (cl < 0 || cm < 0 || cb < 0 || cg < 0)
        goto done;
    int ck = ls_csv_col(&c, "kurtosis"), cs = ls_csv_col(&c, "sensitivity");
    int cp = ls_csv_col(&c, "params"), cf = ls_csv_col(&c, "fnorm");
    if (ck < 0 && cs < 0) {
        ls_fail(err, "%s: header: needs a \"kurtosis\" or a \"sensitivity\" column", path);
        goto done;
    }
    int n_layers = count_layers(&c, cl, err);
    if (n_layers < 0)
        goto done;
    char name[256];
    name_from_path(path, "fnorm-", name, sizeof name);
    p = ls_profile_new(n_layers, name, path, "fnorm-csv", err);
    size_t n = (size_t)n_layers * LS_N_MODULES;
    seen = calloc(n * LS_N_STOPS, 1);
    if (!p || !seen)
        goto done;
    if (cf >= 0) {
        p->fnorm = malloc(n * LS_N_STOPS * sizeof *p->fnorm);
        if (!p->fnorm) {
            ls_fail(err, "%s: out of memory", path);
            goto done;
        }
        for (size_t i = 0; i < n * LS_N_STOPS; i++)
            p->fnorm[i] = NAN;
    }
    const int ref_stop = ls_stop_find(4, 64); /* the reference reads the b4g64 row */
    int disagree = 0;
    /* Two passes: first the b4g64 rows (the metric), then every row (fnorm, agreement). */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t r = 0; r < c.n_rows; r++) {
            int64_t l, b, g;
            if (ls_csv_int(&c, r, cl, 0, n_layers - 1, &l, err) < 0 ||
                ls_csv_int(&c, r, cb, 1, 64, &b, err) < 0 ||
                ls_csv_int(&c, r, cg, 1, 1 << 20, &g, err) < 0)
                goto done;
            int m = row_module(&c, r, cm, err);
            if (m == -1)
                goto done;
            if (m < 0)
                continue;
            int stop = ls_stop_find((int)b, (int)g);
            if (stop < 0) {
                ls_fail(err, "%s: line %zu: config b%lldg%lld is not one of the 12 stops",
                        path, c.line_no[r], (long long)b, (long long)g);
                goto done;
            }
            int i = LS_IDX((int)l, m);
            double kv = NAN, sv = NAN;
            if (read_optional_double(&c, r, ck, &kv, err) < 0 ||
                read_optional_double(&c, r, cs, &sv, err) < 0)
                goto done;
            if (pass == 0) {
                if (mark_seen(&c, r, seen + (size_t)stop * n, (int)l, m, err) < 0)
                    goto done;
                if (cf >= 0 && read_optional_double(&c, r, cf, &p->fnorm[(size_t)i * LS_N_STOPS + stop], err) < 0)
                    goto done;
                if (stop != ref_stop)
                    continue;
                p->kurtosis[i] = kv;
                p->sensitivity[i] = sv;
                if (cp >= 0) {
                    int64_t prm;
                    if (ls_csv_int(&c, r, cp, 1, INT64_C(1) << 50, &prm, err) < 0)
                        goto done;
                    p->params[i] = prm;
                }
            } else if (stop != ref_stop) {
                if (!same_value(kv, p->kurtosis[i]) || !same_value(sv, p->sensitivity[i]))
                    disagree++;
            }
        }
        if (pass == 0 && check_complete(&c, seen + (size_t)ref_stop * n, n_layers,
                                        "b4g64", err) < 0)
            goto done;
    }
    if (disagree)
        ls_profile_warn(p, "%s: %d rows disagree with the b4g64 row of their module; the "
                           "b4g64 values are used, as the reference does", path, disagree);
    if (cs >= 0)
        snprintf(p->sensitivity_source, sizeof p->sensitivity_source, "%s", path);
    rc = 0;
done:
    free(seen);
    ls_csv_free(&c);
    if (rc == 0)
        *out = p;
    else
        ls_profile_free(p);
    return rc;
}

int ls_import_kurtosis(const char *path, ls_profile **out, ls_error *err)
{
    *out = NULL;
    ls_csv c;
    if (ls_csv_read(path, &c, err) < 0) {
        ls_csv_free(&c);
        return -1;
    }
    ls_profile *p = NULL;
    unsigned char *seen = NULL;
    int rc = -1;
    int cl = ls_csv_need_col(&c, "layer", err), cm = ls_csv_need_col(&c, "module", err);
    int ck = ls_csv_need_col(&c, "kurtosis", err);
    int cp = ls_csv_col(&c, "param_count");
    if (cl < 0 || cm < 0 || ck < 0)
        goto done;
    int n_layers = count_layers(&c, cl, err);
    if (n_layers < 0)
        goto done;
    char name[256];
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    name_from_path(path, strncmp(base, "wdist-", 6) == 0 ? "wdist-" : "kurtosis-", name,
                   sizeof name);
    p = ls_profile_new(n_layers, name, path, "kurtosis-csv", err);
    seen = calloc((size_t)n_layers * LS_N_MODULES, 1);
    if (!p || !seen)
        goto done;
    for (size_t r = 0; r < c.n_rows; r++) {
        int64_t l;
        if (ls_csv_int(&c, r, cl, 0, n_layers - 1, &l, err) < 0)
            goto done;
        int m = row_module(&c, r, cm, err);
        if (m == -1)
            goto done;
        if (m < 0)
            continue;
        if (mark_seen(&c, r, seen, (int)l, m, err) < 0)
            goto done;
        int i = LS_IDX((int)l, m);
        if (read_optional_double(&c, r, ck, &p->kurtosis[i], err) < 0)
            goto done;
        if (cp >= 0) {
            int64_t prm;
            if (ls_csv_int(&c, r, cp, 1, INT64_C(1) << 50, &prm, err) < 0)
                goto done;
            p->params[i] = prm;
        }
    }
    if (check_complete(&c, seen, n_layers, "kurtosis", err) < 0)
        goto done;
    rc = 0;
done:
    free(seen);
    ls_csv_free(&c);
    if (rc == 0)
        *out = p;
    else
        ls_profile_free(p);
    return rc;
}

enum { PART_ATTN_IN, PART_ATTN_OUT, PART_MLP_GATE, PART_MLP_DOWN, N_PARTS };

static int part_from_name(const char *s)
{
    static const char *const names[N_PARTS] = {"attn_in", "attn_out", "mlp_gate", "mlp_down"};
    for (int i = 0; i < N_PARTS; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* Lists the distinct values of a column, for "no rows for X; the file has A, B" messages. */
static void list_values(const ls_csv *c, int col, char *out, size_t cap)
{
    out[0] = '\0';
    size_t used = 0;
    int n = 0;
    for (size_t r = 0; r < c->n_rows && n < 8; r++) {
        const char *v = ls_csv_cell(c, r, col);
        int dup = 0;
        for (size_t q = 0; q < r && !dup; q++)
            dup = strcmp(ls_csv_cell(c, q, col), v) == 0;
        if (dup)
            continue;
        int w = snprintf(out + used, cap - used, "%s%.30s", n ? ", " : "", v);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
        n++;
    }
}

/* pileval when present, else the only data set of the file, else pileval (which then
 * fails with the list of data sets the file has). */
static const char *pick_dataset(const ls_csv *c, char *only, size_t cap)
{
    int cd = ls_csv_col(c, "dataset");
    if (cd < 0 || c->n_rows == 0)
        return "pileval";
    const char *first = ls_csv_cell(c, 0, cd);
    for (size_t r = 0; r < c->n_rows; r++) {
        const char *v = ls_csv_cell(c, r, cd);
        if (strcmp(v, "pileval") == 0)
            return "pileval";
        if (strcmp(v, first) != 0)
            return "pileval";
    }
    snprintf(only, cap, "%s", first);
    return only;
}

int ls_sensitivity_choices(const char *path, ls_sensi_choice *out, int cap, ls_error *err)
{
    ls_csv c;
    if (ls_csv_read(path, &c, err) < 0) {
        ls_csv_free(&c);
        return -1;
    }
    int n = -1;
    int cd = ls_csv_need_col(&c, "dataset", err), cb = ls_csv_need_col(&c, "nbits", err);
    int cg = ls_csv_need_col(&c, "group_size", err), cq = ls_csv_col(&c, "quant_method");
    if (cd < 0 || cb < 0 || cg < 0)
        goto done;
    n = 0;
    for (size_t r = 0; r < c.n_rows && n < cap; r++) {
        int64_t b, g;
        if (ls_csv_int(&c, r, cb, 1, 64, &b, err) < 0 ||
            ls_csv_int(&c, r, cg, 1, 1 << 20, &g, err) < 0) {
            n = -1;
            goto done;
        }
        if (cq >= 0 && strcmp(ls_csv_cell(&c, r, cq), "hqq") != 0)
            continue;
        const char *d = ls_csv_cell(&c, r, cd);
        bool seen = false;
        for (int i = 0; i < n && !seen; i++)
            seen = out[i].nbits == b && out[i].group_size == g &&
                   strncmp(out[i].dataset, d, sizeof out[i].dataset - 1) == 0;
        if (seen)
            continue;
        snprintf(out[n].dataset, sizeof out[n].dataset, "%s", d);
        out[n].nbits = (int)b;
        out[n].group_size = (int)g;
        n++;
    }
done:
    ls_csv_free(&c);
    return n;
}

int ls_import_sensitivity(const char *path, const ls_sensi_select *sel_in, ls_profile **out,
                          ls_error *err)
{
    *out = NULL;
    ls_sensi_select sel = sel_in ? *sel_in : LS_SENSI_SELECT_PAPER;
    ls_csv c;
    if (ls_csv_read(path, &c, err) < 0) {
        ls_csv_free(&c);
        return -1;
    }
    char only[128] = "";
    if (!sel.dataset)
        sel.dataset = pick_dataset(&c, only, sizeof only);
    ls_profile *p = NULL;
    double *parts = NULL;
    int rc = -1;
    int cd = ls_csv_need_col(&c, "dataset", err), cpart = ls_csv_need_col(&c, "part", err);
    int cl = ls_csv_need_col(&c, "layer", err), cs = ls_csv_need_col(&c, "sensitivity", err);
    int cb = ls_csv_need_col(&c, "nbits", err), cg = ls_csv_need_col(&c, "group_size", err);
    int cmodel = ls_csv_col(&c, "model"), cq = ls_csv_col(&c, "quant_method");
    if (cd < 0 || cpart < 0 || cl < 0 || cs < 0 || cb < 0 || cg < 0)
        goto done;
    /* Layer count from the selected rows only. */
    int n_layers = 0;
    size_t selected = 0;
    for (size_t r = 0; r < c.n_rows; r++) {
        int64_t l, b, g;
        if (ls_csv_int(&c, r, cl, 0, LS_MAX_LAYERS - 1, &l, err) < 0 ||
            ls_csv_int(&c, r, cb, 1, 64, &b, err) < 0 ||
            ls_csv_int(&c, r, cg, 1, 1 << 20, &g, err) < 0)
            goto done;
        if (strcmp(ls_csv_cell(&c, r, cd), sel.dataset) != 0 || b != sel.nbits ||
            g != sel.group_size || (cq >= 0 && strcmp(ls_csv_cell(&c, r, cq), "hqq") != 0))
            continue;
        selected++;
        if (l + 1 > n_layers)
            n_layers = (int)l + 1;
    }
    if (!selected) {
        char have[300];
        list_values(&c, cd, have, sizeof have);
        ls_fail(err, "%s: no rows for dataset %s, b%dg%d (data sets in the file: %s)", path,
                sel.dataset, sel.nbits, sel.group_size, have);
        goto done;
    }
    char name[256];
    if (cmodel >= 0)
        snprintf(name, sizeof name, "%s", ls_csv_cell(&c, 0, cmodel));
    else
        name_from_path(path, "sensitivity-", name, sizeof name);
    p = ls_profile_new(n_layers, name, path, "sensitivity-csv", err);
    parts = malloc((size_t)n_layers * N_PARTS * sizeof *parts);
    if (!p || !parts)
        goto done;
    for (int i = 0; i < n_layers * N_PARTS; i++)
        parts[i] = NAN;
    for (size_t r = 0; r < c.n_rows; r++) {
        int64_t l, b, g;
        ls_csv_int(&c, r, cl, 0, LS_MAX_LAYERS - 1, &l, NULL);
        ls_csv_int(&c, r, cb, 1, 64, &b, NULL);
        ls_csv_int(&c, r, cg, 1, 1 << 20, &g, NULL);
        if (strcmp(ls_csv_cell(&c, r, cd), sel.dataset) != 0 || b != sel.nbits ||
            g != sel.group_size || (cq >= 0 && strcmp(ls_csv_cell(&c, r, cq), "hqq") != 0))
            continue;
        int part = part_from_name(ls_csv_cell(&c, r, cpart));
        if (part < 0) {
            ls_fail(err, "%s: line %zu: column \"part\": unknown part \"%.40s\"", path,
                    c.line_no[r], ls_csv_cell(&c, r, cpart));
            goto done;
        }
        double *slot = &parts[l * N_PARTS + part];
        if (!isnan(*slot)) {
            ls_fail(err, "%s: line %zu: duplicate row for layer %lld, part %s", path,
                    c.line_no[r], (long long)l, ls_csv_cell(&c, r, cpart));
            goto done;
        }
        if (ls_csv_double(&c, r, cs, slot, err) < 0 ||
            check_metric(&c, r, cs, *slot, err) < 0)
            goto done;
    }
    int gqa_layers = 0;
    for (int l = 0; l < n_layers; l++) {
        const double *pt = &parts[l * N_PARTS];
        static const char *const need_names[] = {"attn_in", "mlp_gate", "mlp_down"};
        static const int need[] = {PART_ATTN_IN, PART_MLP_GATE, PART_MLP_DOWN};
        for (int k = 0; k < 3; k++)
            if (isnan(pt[need[k]])) {
                ls_fail(err, "%s: no %s row for layer %d (dataset %s, b%dg%d)", path,
                        need_names[k], l, sel.dataset, sel.nbits, sel.group_size);
                goto done;
            }
        /* docs/method.md §3.5: q/k/v share attn_in, gate/up share mlp_gate; o_proj takes
         * attn_out, or attn_in where attn_out was skipped (GQA). */
        double o = pt[PART_ATTN_OUT];
        if (isnan(o)) {
            o = pt[PART_ATTN_IN];
            gqa_layers++;
        }
        double *s = &p->sensitivity[LS_IDX(l, 0)];
        s[LS_MOD_Q] = s[LS_MOD_K] = s[LS_MOD_V] = pt[PART_ATTN_IN];
        s[LS_MOD_O] = o;
        s[LS_MOD_GATE] = s[LS_MOD_UP] = pt[PART_MLP_GATE];
        s[LS_MOD_DOWN] = pt[PART_MLP_DOWN];
    }
    if (gqa_layers)
        ls_profile_warn(p, "%s: no attn_out score in %d layers: o_proj uses attn_in there "
                           "(the GQA rule)", path, gqa_layers);
    if (only[0] && strcmp(only, "pileval") != 0)
        ls_profile_warn(p, "%s: using data set \"%s\", the only one in the file", path, only);
    snprintf(p->sensitivity_source, sizeof p->sensitivity_source, "%s (%s b%dg%d)", path,
             sel.dataset, sel.nbits, sel.group_size);
    rc = 0;
done:
    free(parts);
    ls_csv_free(&c);
    if (rc == 0)
        *out = p;
    else
        ls_profile_free(p);
    return rc;
}

int ls_import_profile(const char *path, const ls_sensi_select *sel, ls_profile **out,
                      ls_error *err)
{
    switch (ls_csv_kind_of(path)) {
    case LS_CSV_METRICS:
        return ls_import_metrics(path, out, err);
    case LS_CSV_KURTOSIS:
        return ls_import_kurtosis(path, out, err);
    case LS_CSV_SENSITIVITY:
        return ls_import_sensitivity(path, sel, out, err);
    default:
        *out = NULL;
        return ls_fail(err, "%s: header: not a metrics, kurtosis or sensitivity CSV of the "
                            "paper's toolkit", path);
    }
}
