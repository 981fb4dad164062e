#include "io/session_results.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/perplexity.h"
#include "formats/model.h"
#include "base/fnv.h"
#include "io/result_json.h"
#include "method/budget.h"
#include "nn/matmul_bf16.h"


int ls_file_hash(const char *path, uint64_t *out, ls_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return ls_fail(err, "%s: %s", path, strerror(errno));
    uint64_t h = LS_FNV_OFFSET;
    unsigned char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        h = ls_fnv(h, buf, got);
    bool bad = ferror(f);
    fclose(f);
    if (bad)
        return ls_fail(err, "%s: read error", path);
    *out = h;
    return 0;
}

uint64_t ls_alloc_hash(const unsigned char *base, const unsigned char *current, int n)
{
    uint64_t h = ls_fnv(LS_FNV_OFFSET, base, (size_t)n);
    return ls_fnv(h, current, (size_t)n);
}

void ls_session_results_free(ls_session_results *r)
{
    free(r->hqq.err);
    free(r->hqq.stop);
    free(r->quality.rel_l2);
    free(r->quality.cosine);
    memset(r, 0, sizeof *r);
}

/* ---- writing ---- */

static void add_hex(cJSON *o, const char *key, uint64_t v)
{
    char hex[32];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)v);
    cJSON_AddStringToObject(o, key, hex);
}

static cJSON *numbers(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, ls_json_exact_number(v[i]));
    return a;
}

/* The fields of ls_quality_stats, in one table for writing and reading. */
#define STATS_FIELDS(F)                                                                    \
    F(kld_mean) F(kld_se) F(kld_p50) F(kld_p90) F(kld_p95) F(kld_p99) F(kld_p999) F(kld_max) \
    F(same_top_pct) F(same_top_se) F(ln_ppl_ratio) F(ln_ppl_ratio_se) F(ppl)

static cJSON *stats_json(const ls_quality_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "n", (double)s->n);
#define ADD_FIELD(f) cJSON_AddItemToObject(o, #f, ls_json_exact_number(s->f));
    STATS_FIELDS(ADD_FIELD)
#undef ADD_FIELD
    return o;
}

static void inputs_json(const ls_session_inputs *in, cJSON *o)
{
    cJSON_AddStringToObject(o, "eval", in->eval);
    cJSON_AddStringToObject(o, "calib", in->calib);
    cJSON_AddStringToObject(o, "protocol", ls_ppl_protocol_name((ls_ppl_protocol)in->protocol));
    cJSON_AddNumberToObject(o, "ctx", in->ctx);
    cJSON_AddStringToObject(o, "compute", ls_compute_name((ls_compute)in->compute));
}

static void hqq_json(const ls_session_hqq *q, int n, cJSON *o)
{
    add_hex(o, "model_fingerprint", q->model);
    cJSON_AddBoolToObject(o, "quant_meta", q->quant_meta);
    cJSON *cfg = cJSON_AddArrayToObject(o, "config");
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(cfg, q->stop[i] >= 0 ? cJSON_CreateString(ls_stop_get(q->stop[i])->name)
                                                  : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "qerr", numbers(q->err, n));
}

static void quality_json(const ls_session_quality *q, cJSON *o)
{
    add_hex(o, "model_fingerprint", q->model);
    cJSON_AddStringToObject(o, "text", q->text_path);
    add_hex(o, "text_hash", q->text);
    add_hex(o, "allocation_hash", q->alloc);
    cJSON_AddStringToObject(o, "protocol", ls_ppl_protocol_name((ls_ppl_protocol)q->protocol));
    cJSON_AddNumberToObject(o, "ctx", q->ctx);
    cJSON_AddStringToObject(o, "compute", ls_compute_name((ls_compute)q->compute));
    cJSON_AddItemToObject(o, "fp_ppl", ls_json_exact_number(q->fp_ppl));
    cJSON_AddItemToObject(o, "extra_memory_pct", ls_json_exact_number(q->mem_pct));
    cJSON_AddItemToObject(o, "base", stats_json(&q->base));
    cJSON_AddItemToObject(o, "current", stats_json(&q->current));
    cJSON_AddStringToObject(o, "verdict", q->verdict);
    cJSON_AddStringToObject(o, "info", q->info);
    if (q->n_layer_err > 0) {
        cJSON *pl = cJSON_AddObjectToObject(o, "per_layer");
        cJSON_AddItemToObject(pl, "rel_l2", numbers(q->rel_l2, q->n_layer_err));
        cJSON_AddItemToObject(pl, "cosine", numbers(q->cosine, q->n_layer_err));
    } else {
        cJSON_AddNullToObject(o, "per_layer");
    }
}

void ls_session_results_to_json(const ls_session_results *r, int n_layers, cJSON *o)
{
    if (r->has_selection) {
        cJSON *s = cJSON_AddObjectToObject(o, "selection");
        cJSON_AddNumberToObject(s, "layer", r->layer);
        cJSON_AddStringToObject(s, "module", ls_module_name(r->module));
    }
    if (r->has_inputs)
        inputs_json(&r->inputs, cJSON_AddObjectToObject(o, "inputs"));
    if (r->has_hqq)
        hqq_json(&r->hqq, n_layers * LS_N_MODULES, cJSON_AddObjectToObject(o, "hqq"));
    if (r->has_quality)
        quality_json(&r->quality, cJSON_AddObjectToObject(o, "quality"));
}

/* ---- reading ---- */

typedef struct reader {
    const char *where; /* "FILE: results." */
    ls_error *err;
} reader;

static int fail_at(const reader *rd, const char *part, const char *key, const char *what)
{
    return ls_fail(rd->err, "%s%s.%s: %s", rd->where, part, key, what);
}

static const cJSON *item(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static int get_string(const reader *rd, const cJSON *o, const char *part, const char *key,
                      char *out, size_t cap)
{
    const cJSON *v = item(o, key);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
        return fail_at(rd, part, key, "not a string (or too long)");
    snprintf(out, cap, "%s", v->valuestring);
    return 0;
}

static int get_hex(const reader *rd, const cJSON *o, const char *part, const char *key,
                   uint64_t *out)
{
    const cJSON *v = item(o, key);
    char *end = NULL;
    if (cJSON_IsString(v))
        *out = strtoull(v->valuestring, &end, 16);
    if (!cJSON_IsString(v) || end == v->valuestring || *end)
        return fail_at(rd, part, key, "not a hexadecimal hash");
    return 0;
}

/* A number, or null (NaN). */
static int get_number(const reader *rd, const cJSON *o, const char *part, const char *key,
                      double *out)
{
    const cJSON *v = item(o, key);
    if (!cJSON_IsNumber(v) && !cJSON_IsNull(v))
        return fail_at(rd, part, key, "not a number");
    *out = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    return 0;
}

static int get_int(const reader *rd, const cJSON *o, const char *part, const char *key, int lo,
                   int hi, int *out)
{
    const cJSON *v = item(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        char what[80];
        snprintf(what, sizeof what, "not a whole number %d .. %d", lo, hi);
        return fail_at(rd, part, key, what);
    }
    *out = (int)v->valuedouble;
    return 0;
}

static int get_protocol_compute(const reader *rd, const cJSON *o, const char *part,
                                int *protocol, int *compute)
{
    const cJSON *p = item(o, "protocol"), *c = item(o, "compute");
    *protocol = cJSON_IsString(p) ? ls_ppl_protocol_parse(p->valuestring) : -1;
    if (*protocol < 0)
        return fail_at(rd, part, "protocol", "not paper or llama.cpp");
    *compute = cJSON_IsString(c) ? ls_compute_parse(c->valuestring) : -1;
    if (*compute < 0)
        return fail_at(rd, part, "compute", "not f32 or bf16");
    return 0;
}

/* A list of n numbers (null: NaN) into a new array. */
static int get_numbers(const reader *rd, const cJSON *o, const char *part, const char *key,
                       int n, double **out)
{
    const cJSON *a = item(o, key);
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) {
        char what[64];
        snprintf(what, sizeof what, "expected a list of %d values", n);
        return fail_at(rd, part, key, what);
    }
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof **out);
    if (!*out)
        return ls_fail(rd->err, "%sout of memory", rd->where);
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
        if (!cJSON_IsNumber(v) && !cJSON_IsNull(v))
            return fail_at(rd, part, key, "a value is not a number");
        (*out)[i++] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    return 0;
}

static int read_selection(const reader *rd, const cJSON *o, int n_layers, ls_session_results *r)
{
    const cJSON *m = item(o, "module");
    if (get_int(rd, o, "selection", "layer", 0, n_layers - 1, &r->layer) < 0)
        return -1;
    r->module = cJSON_IsString(m) ? ls_module_from_name(m->valuestring) : -1;
    if (r->module < 0)
        return fail_at(rd, "selection", "module", "not a module name");
    r->has_selection = true;
    return 0;
}

static int read_inputs(const reader *rd, const cJSON *o, ls_session_inputs *in)
{
    if (get_string(rd, o, "inputs", "eval", in->eval, sizeof in->eval) < 0 ||
        get_string(rd, o, "inputs", "calib", in->calib, sizeof in->calib) < 0 ||
        get_int(rd, o, "inputs", "ctx", 0, 1 << 20, &in->ctx) < 0)
        return -1;
    return get_protocol_compute(rd, o, "inputs", &in->protocol, &in->compute);
}

static int read_hqq(const reader *rd, const cJSON *o, int n, ls_session_hqq *q)
{
    const cJSON *meta = item(o, "quant_meta"), *cfg = item(o, "config");
    if (get_hex(rd, o, "hqq", "model_fingerprint", &q->model) < 0)
        return -1;
    if (!cJSON_IsBool(meta))
        return fail_at(rd, "hqq", "quant_meta", "not true or false");
    q->quant_meta = cJSON_IsTrue(meta);
    if (!cJSON_IsArray(cfg) || cJSON_GetArraySize(cfg) != n) {
        char what[64];
        snprintf(what, sizeof what, "expected a list of %d configs", n);
        return fail_at(rd, "hqq", "config", what);
    }
    q->stop = malloc((size_t)n);
    if (!q->stop)
        return ls_fail(rd->err, "%sout of memory", rd->where);
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, cfg)
    {
        int s = cJSON_IsString(v) ? ls_stop_parse(v->valuestring) : -1;
        if (!cJSON_IsNull(v) && s < 0)
            return fail_at(rd, "hqq", "config", "a value is not a config such as b3g128");
        q->stop[i++] = (signed char)s;
    }
    return get_numbers(rd, o, "hqq", "qerr", n, &q->err);
}

static int read_stats(const reader *rd, const cJSON *o, const char *key, ls_quality_stats *s)
{
    const cJSON *so = item(o, key);
    char part[32];
    snprintf(part, sizeof part, "quality.%s", key);
    if (!cJSON_IsObject(so))
        return fail_at(rd, "quality", key, "not an object");
    const cJSON *n = item(so, "n");
    if (!cJSON_IsNumber(n) || n->valuedouble < 0)
        return fail_at(rd, part, "n", "not a count");
    s->n = (int64_t)n->valuedouble;
#define GET_FIELD(f)                                                                       \
    if (get_number(rd, so, part, #f, &s->f) < 0)                                           \
        return -1;
    STATS_FIELDS(GET_FIELD)
#undef GET_FIELD
    return 0;
}

static int read_quality(const reader *rd, const cJSON *o, int n_layers, ls_session_quality *q)
{
    if (get_hex(rd, o, "quality", "model_fingerprint", &q->model) < 0 ||
        get_string(rd, o, "quality", "text", q->text_path, sizeof q->text_path) < 0 ||
        get_hex(rd, o, "quality", "text_hash", &q->text) < 0 ||
        get_hex(rd, o, "quality", "allocation_hash", &q->alloc) < 0 ||
        get_protocol_compute(rd, o, "quality", &q->protocol, &q->compute) < 0 ||
        get_int(rd, o, "quality", "ctx", 0, 1 << 20, &q->ctx) < 0 ||
        get_number(rd, o, "quality", "fp_ppl", &q->fp_ppl) < 0 ||
        get_number(rd, o, "quality", "extra_memory_pct", &q->mem_pct) < 0 ||
        read_stats(rd, o, "base", &q->base) < 0 || read_stats(rd, o, "current", &q->current) < 0 ||
        get_string(rd, o, "quality", "verdict", q->verdict, sizeof q->verdict) < 0 ||
        get_string(rd, o, "quality", "info", q->info, sizeof q->info) < 0)
        return -1;
    const cJSON *pl = item(o, "per_layer");
    if (!pl || cJSON_IsNull(pl))
        return 0;
    if (!cJSON_IsObject(pl))
        return fail_at(rd, "quality", "per_layer", "not an object or null");
    const cJSON *rel = item(pl, "rel_l2");
    int n = cJSON_IsArray(rel) ? cJSON_GetArraySize(rel) : -1;
    if (n < 1 || n > n_layers)
        return fail_at(rd, "quality.per_layer", "rel_l2", "not a list of one value per layer");
    if (get_numbers(rd, pl, "quality.per_layer", "rel_l2", n, &q->rel_l2) < 0 ||
        get_numbers(rd, pl, "quality.per_layer", "cosine", n, &q->cosine) < 0)
        return -1;
    q->n_layer_err = n;
    return 0;
}

int ls_session_results_from_json(const cJSON *o, int n_layers, const char *where,
                                 ls_session_results *r, ls_error *err)
{
    memset(r, 0, sizeof *r);
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "%s: results.", where);
    reader rd = {prefix, err};
    const cJSON *sel = item(o, "selection"), *in = item(o, "inputs"), *hqq = item(o, "hqq"),
                *qual = item(o, "quality");
    int rc = 0;
    if (cJSON_IsObject(sel))
        rc = read_selection(&rd, sel, n_layers, r);
    if (rc == 0 && cJSON_IsObject(in)) {
        rc = read_inputs(&rd, in, &r->inputs);
        r->has_inputs = rc == 0;
    }
    if (rc == 0 && cJSON_IsObject(hqq)) {
        rc = read_hqq(&rd, hqq, n_layers * LS_N_MODULES, &r->hqq);
        r->has_hqq = rc == 0;
    }
    if (rc == 0 && cJSON_IsObject(qual)) {
        rc = read_quality(&rd, qual, n_layers, &r->quality);
        r->has_quality = rc == 0;
    }
    if (rc < 0)
        ls_session_results_free(r);
    return rc;
}

/* ---- the keys ---- */

static void note(char *stale, size_t cap, const char *what)
{
    size_t len = strlen(stale);
    snprintf(stale + len, cap - len, "%s%s", len ? "; " : "", what);
}

int ls_session_results_check(ls_session_results *r, uint64_t model, uint64_t alloc,
                             char *stale, size_t cap)
{
    if (cap)
        stale[0] = '\0';
    int dropped = 0;
    if (r->has_hqq && r->hqq.model != model) {
        r->has_hqq = false;
        note(stale, cap, "HQQ errors: the model changed");
        dropped++;
    }
    if (r->has_quality) {
        const ls_session_quality *q = &r->quality;
        uint64_t text = 0;
        ls_error err;
        const char *why = q->model != model ? "the model changed"
                          : ls_file_hash(q->text_path, &text, &err) < 0
                              ? "the evaluation text cannot be read"
                          : text != q->text   ? "the evaluation text changed"
                          : q->alloc != alloc ? "the allocation is another"
                                              : NULL;
        if (why) {
            char line[96];
            snprintf(line, sizeof line, "perplexity: %s", why);
            note(stale, cap, line);
            r->has_quality = false;
            dropped++;
        }
    }
    return dropped;
}
