#include "io/session.h"

#include "method/mxq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/manual.h"
#include "base/mapfile.h"
#include "base/fnv.h"
#include "io/result_json.h"


uint64_t ls_model_fingerprint(const ls_model *m)
{
    uint64_t h = LS_FNV_OFFSET;
    for (int i = 0; i < m->n_tensors; i++) {
        const ls_tensor *t = &m->tensors[i];
        h = ls_fnv(h, t->name, strlen(t->name));
        h = ls_fnv(h, &t->dtype, sizeof t->dtype);
        h = ls_fnv(h, &t->n_dims, sizeof t->n_dims);
        h = ls_fnv(h, t->shape, (size_t)t->n_dims * sizeof *t->shape); /* the rest is unset */
    }
    for (int i = 0; i < m->n_files; i++) {
        uint64_t size = m->files[i].size;
        h = ls_fnv(h, &size, sizeof size);
        h = ls_fnv(h, m->files[i].data, size < 65536 ? size : 65536);
    }
    return h;
}

uint64_t ls_profile_fingerprint(const ls_profile *p)
{
    size_t n = (size_t)p->n_layers * LS_N_MODULES;
    uint64_t h = ls_fnv(LS_FNV_OFFSET, &p->n_layers, sizeof p->n_layers);
    h = ls_fnv(h, p->params, n * sizeof *p->params);
    h = ls_fnv(h, p->kurtosis, n * sizeof *p->kurtosis);
    return h;
}

/* ---- save ---- */

static cJSON *array_or_null(const double *v, int n)
{
    bool any = false;
    for (int i = 0; i < n && !any; i++)
        any = isfinite(v[i]);
    if (!any)
        return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, ls_json_exact_number(v[i]));
    return a;
}

static cJSON *settings_json(const ls_settings *s)
{
    cJSON *o = cJSON_CreateObject();
    if (o)
        ls_settings_to_json(s, LS_SETTINGS_ALL, o);
    return o;
}

int ls_session_save(const char *path, const ls_profile *p, const ls_model *m,
                    const ls_settings *s, const unsigned char *manual, const cJSON *results,
                    ls_error *err)
{
    int n = p->n_layers * LS_N_MODULES;
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return ls_fail(err, "%s: out of memory", path);
    cJSON_AddStringToObject(doc, "format", "layerscope-session");
    cJSON_AddNumberToObject(doc, "version", 1);
    cJSON *mo = cJSON_AddObjectToObject(doc, "model");
    cJSON_AddStringToObject(mo, "path", p->path);
    cJSON_AddStringToObject(mo, "name", p->name);
    cJSON_AddStringToObject(mo, "format", p->source);
    cJSON_AddNumberToObject(mo, "n_layers", p->n_layers);
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx",
             (unsigned long long)(m ? ls_model_fingerprint(m) : ls_profile_fingerprint(p)));
    cJSON_AddStringToObject(mo, "fingerprint", fp);
    cJSON_AddItemToObject(doc, "settings", settings_json(s));
    if (manual) {
        cJSON *a = cJSON_AddArrayToObject(doc, "manual");
        for (int i = 0; i < n; i++)
            if (manual[i]) {
                char key[80];
                snprintf(key, sizeof key, "%d.%s", i / LS_N_MODULES,
                         ls_module_name(i % LS_N_MODULES));
                cJSON_AddItemToArray(a, cJSON_CreateString(key));
            }
    } else {
        cJSON_AddNullToObject(doc, "manual");
    }
    cJSON *me = cJSON_AddObjectToObject(doc, "metrics");
    cJSON_AddItemToObject(me, "kurtosis", array_or_null(p->kurtosis, n));
    cJSON_AddItemToObject(me, "sensitivity", array_or_null(p->sensitivity, n));
    cJSON_AddStringToObject(me, "sensitivity_source", p->sensitivity_source);
    static const char *const extra[] = {"act_energy", "imatrix_error", "measured_dkl"};
    const double *extra_v[] = {p->act_energy, p->imatrix_error, p->measured_dkl};
    for (int k = 0; k < 3; k++)
        if (extra_v[k])
            cJSON_AddItemToObject(me, extra[k], array_or_null(extra_v[k], n));
    cJSON_AddItemToObject(doc, "results", results ? cJSON_Duplicate(results, 1) : cJSON_CreateNull());
    int rc = ls_json_write_file(path, doc, err);
    cJSON_Delete(doc);
    return rc;
}

/* ---- load ---- */

void ls_session_free(ls_session *s)
{
    free(s->model_path);
    free(s->manual);
    free(s->kurtosis);
    free(s->sensitivity);
    free(s->act_energy);
    free(s->imatrix_error);
    free(s->measured_dkl);
    cJSON_Delete(s->results);
    memset(s, 0, sizeof *s);
}

static int read_metric(const char *path, const cJSON *me, const char *key, int n,
                       double **out, ls_error *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(me, key);
    if (!a || cJSON_IsNull(a))
        return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return ls_fail(err, "%s: metrics.%s: expected a list of %d values", path, key, n);
    *out = malloc((size_t)n * sizeof **out);
    if (!*out)
        return ls_fail(err, "%s: out of memory", path);
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsNumber(v) && !cJSON_IsNull(v))
            return ls_fail(err, "%s: metrics.%s[%d]: not a number", path, key, i);
        (*out)[i++] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    return 0;
}

/* A session names every field but the seed, the ablation switch and the detection
 * parameters, which older sessions may lack (the defaults stand). */
#define SESSION_REQUIRED                                                                   \
    (LS_SETTING_BIT(LS_SET_METHOD) | LS_SETTING_BIT(LS_SET_TOP_M) |                         \
     LS_SETTING_BIT(LS_SET_BOOST_STOP) | LS_SETTING_BIT(LS_SET_BASE))

static int read_settings(const char *path, const cJSON *o, ls_settings *s, ls_error *err)
{
    *s = ls_settings_default();
    if (!cJSON_IsObject(o))
        return ls_fail(err, "%s: settings: missing", path);
    char where[1100];
    snprintf(where, sizeof where, "%s: settings.", path);
    unsigned found;
    if (ls_settings_from_json(o, LS_SETTINGS_ALL, s, where, &found, err) < 0)
        return -1;
    for (int f = 0; f < LS_N_SETTINGS; f++)
        if ((SESSION_REQUIRED & ~found) & LS_SETTING_BIT(f))
            return ls_fail(err, "%s%s: missing", where, ls_setting_key((ls_setting)f));
    return 0;
}

static int parse_doc(const char *path, const cJSON *doc, ls_session *s, ls_error *err)
{
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(doc, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "layerscope-session") != 0)
        return ls_fail(err, "%s: format: not a layerscope session", path);
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(doc, "model");
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(mo, "path");
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(mo, "n_layers");
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(mo, "fingerprint");
    if (!cJSON_IsString(mp) || !cJSON_IsNumber(nl) || nl->valuedouble < 1 ||
        nl->valuedouble > LS_MAX_LAYERS || !cJSON_IsString(fp))
        return ls_fail(err, "%s: model: needs path, n_layers (1 to %d) and fingerprint", path,
                       LS_MAX_LAYERS);
    s->model_path = strdup(mp->valuestring);
    s->n_layers = (int)nl->valuedouble;
    s->fingerprint = strtoull(fp->valuestring, NULL, 16);
    if (!s->model_path)
        return ls_fail(err, "%s: out of memory", path);
    if (read_settings(path, cJSON_GetObjectItemCaseSensitive(doc, "settings"), &s->settings,
                      err) < 0)
        return -1;
    int n = s->n_layers * LS_N_MODULES;
    const cJSON *man = cJSON_GetObjectItemCaseSensitive(doc, "manual");
    if (cJSON_IsArray(man)) {
        s->manual = calloc((size_t)n, 1);
        if (!s->manual)
            return ls_fail(err, "%s: out of memory", path);
        int i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, man)
        {
            int l, m;
            if (!cJSON_IsString(v) || ls_manual_parse_entry(v->valuestring, s->n_layers, &l, &m) < 0)
                return ls_fail(err, "%s: manual[%d]: not LAYER.MODULE below layer %d", path, i,
                               s->n_layers);
            s->manual[LS_IDX(l, m)] = 1;
            i++;
        }
    }
    const cJSON *me = cJSON_GetObjectItemCaseSensitive(doc, "metrics");
    if (read_metric(path, me, "kurtosis", n, &s->kurtosis, err) < 0 ||
        read_metric(path, me, "sensitivity", n, &s->sensitivity, err) < 0 ||
        read_metric(path, me, "act_energy", n, &s->act_energy, err) < 0 ||
        read_metric(path, me, "imatrix_error", n, &s->imatrix_error, err) < 0 ||
        read_metric(path, me, "measured_dkl", n, &s->measured_dkl, err) < 0)
        return -1;
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(me, "sensitivity_source");
    if (cJSON_IsString(src))
        snprintf(s->sensitivity_source, sizeof s->sensitivity_source, "%s", src->valuestring);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(doc, "results");
    if (res && !cJSON_IsNull(res))
        s->results = cJSON_Duplicate(res, 1);
    return 0;
}

int ls_session_load(const char *path, ls_session *out, ls_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = ls_read_text_file(path, (size_t)64 << 20, NULL, err);
    if (!text)
        return -1;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    if (!doc)
        return ls_fail(err, "%s: not valid JSON", path);
    int rc = parse_doc(path, doc, out, err);
    cJSON_Delete(doc);
    if (rc < 0)
        ls_session_free(out);
    return rc;
}

void ls_session_apply_metrics(const ls_session *s, ls_profile *p, uint64_t fingerprint,
                              bool *changed)
{
    *changed = s->n_layers != p->n_layers || s->fingerprint != fingerprint;
    if (*changed)
        return;
    int n = p->n_layers * LS_N_MODULES;
    if (s->sensitivity && !ls_profile_has_sensitivity(p)) {
        memcpy(p->sensitivity, s->sensitivity, (size_t)n * sizeof *p->sensitivity);
        snprintf(p->sensitivity_source, sizeof p->sensitivity_source, "%s",
                 s->sensitivity_source[0] ? s->sensitivity_source : "session");
    }
    if (s->kurtosis && !ls_profile_has_kurtosis(p))
        memcpy(p->kurtosis, s->kurtosis, (size_t)n * sizeof *p->kurtosis);
    const double *from[] = {s->act_energy, s->imatrix_error, s->measured_dkl};
    double **to[] = {&p->act_energy, &p->imatrix_error, &p->measured_dkl};
    for (int k = 0; k < 3; k++)
        if (from[k] && !*to[k] && (*to[k] = malloc((size_t)n * sizeof **to[k])))
            memcpy(*to[k], from[k], (size_t)n * sizeof **to[k]);
}
