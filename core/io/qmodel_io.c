#include "io/qmodel_io.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "method/budget.h"
#include "base/atomic_write.h"
#include "quant/bitpack.h"
#include "formats/hfconfig.h"
#include "method/manual.h"
#include "base/mapfile.h"
#include <math.h>
#include "io/result_json.h"
#include "formats/safetensors.h"
#include "formats/st_writer.h"

#define QFILE "qmodel.safetensors"

/* snprintf into a fixed buffer; names and paths here are short, and a truncated one would
 * only fail to match, never overflow. */
static void put(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

static const char *dtype_st_name(ls_dtype dt)
{
    return dt == LS_DT_F16 ? "F16" : dt == LS_DT_BF16 ? "BF16" : "F32";
}

/* Adds a mapped model tensor under an HF name, at its stored dtype. */
static int add_plain(ls_st_writer *w, const char *name, const ls_tensor *t, ls_error *err)
{
    if (!t)
        return 0;
    return ls_st_writer_add(w, name, dtype_st_name(t->dtype), t->n_dims, t->shape, t->data,
                            (size_t)t->n_elems * ls_dtype_size(t->dtype), err);
}

static int add_module(ls_st_writer *w, const char *prefix, const ls_hqq_result *r,
                      ls_error *err)
{
    char name[160];
    int64_t shape[2] = {r->pack_rows, r->pack_cols};
    put(name, sizeof name, "%s.W_q", prefix);
    if (ls_st_writer_add(w, name, r->nbits == 3 ? "I32" : "U8", 2, shape, r->wq, r->wq_bytes,
                         err) < 0)
        return -1;
    int64_t g[2] = {1, r->n_groups};
    put(name, sizeof name, "%s.scale", prefix);
    if (ls_st_writer_add(w, name, "F32", 2, g, r->scale_dq, (size_t)r->n_groups * 4, err) < 0)
        return -1;
    put(name, sizeof name, "%s.zero", prefix);
    if (ls_st_writer_add(w, name, "F32", 2, g, r->zero_dq, (size_t)r->n_groups * 4, err) < 0)
        return -1;
    if (r->scale_quantized) {
        int64_t sq[2] = {r->scale_group, r->n_scale_groups}, ms[2] = {1, r->n_scale_groups};
        put(name, sizeof name, "%s.scale_q", prefix);
        if (ls_st_writer_add(w, name, "U8", 2, sq, r->scale_q, (size_t)r->n_groups, err) < 0)
            return -1;
        put(name, sizeof name, "%s.meta_scale.scale", prefix);
        if (ls_st_writer_add(w, name, "F32", 2, ms, r->meta_scale_scale,
                             (size_t)r->n_scale_groups * 4, err) < 0)
            return -1;
        put(name, sizeof name, "%s.meta_scale.zero", prefix);
        if (ls_st_writer_add(w, name, "F32", 2, ms, r->meta_scale_zero,
                             (size_t)r->n_scale_groups * 4, err) < 0)
            return -1;
    }
    if (r->zero_quantized) {
        put(name, sizeof name, "%s.zero_q", prefix);
        if (ls_st_writer_add(w, name, "U8", 2, g, r->zero_q, (size_t)r->n_groups, err) < 0)
            return -1;
        put(name, sizeof name, "%s.meta_zero.scale", prefix);
        if (ls_st_writer_add(w, name, "F32", 0, NULL, &r->meta_zero_scale, 4, err) < 0)
            return -1;
        put(name, sizeof name, "%s.meta_zero.zero", prefix);
        if (ls_st_writer_add(w, name, "F32", 0, NULL, &r->meta_zero_zero, 4, err) < 0)
            return -1;
    }
    return 0;
}

static cJSON *module_meta(const ls_hqq_result *r, const ls_qmodule *q)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "nbits", r->nbits);
    cJSON_AddNumberToObject(o, "group_size", r->group_size);
    int64_t shape[2] = {r->rows, r->cols};
    cJSON *s = cJSON_AddArrayToObject(o, "shape");
    cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shape[0]));
    cJSON_AddItemToArray(s, cJSON_CreateNumber((double)shape[1]));
    cJSON_AddNumberToObject(o, "axis", r->axis);
    cJSON_AddStringToObject(o, "packing", ls_bitpack_name(r->nbits));
    cJSON_AddNumberToObject(o, "view_rows", (double)r->view_rows);
    cJSON_AddNumberToObject(o, "view_cols", (double)r->view_cols);
    cJSON_AddBoolToObject(o, "quant_scale", r->scale_quantized);
    cJSON_AddBoolToObject(o, "quant_zero", r->zero_quantized);
    cJSON_AddBoolToObject(o, "round_zero", r->nbits == 4);
    cJSON_AddStringToObject(o, "compute_dtype", "float32");
    if (q) {
        cJSON_AddNumberToObject(o, "iterations", r->iterations);
        cJSON_AddNumberToObject(o, "qerr", q->qerr);
        cJSON_AddNumberToObject(o, "qerr_mean_abs", q->qerr_mean_abs);
        cJSON_AddNumberToObject(o, "stored_bytes", (double)r->stored_bytes);
    }
    return o;
}

/* config.json of the source directory, else one written from the in-memory config. */
static cJSON *hf_config(const ls_model *m)
{
    if (m->format == LS_FORMAT_HF || m->format == LS_FORMAT_HF_SHARDED) {
        char path[4096];
        put(path, sizeof path, "%s/config.json", m->path);
        char *text = ls_read_text_file(path, 16 << 20, NULL, NULL);
        cJSON *doc = text ? cJSON_Parse(text) : NULL;
        free(text);
        if (doc)
            return doc;
    }
    ls_dtype dt = m->tok_emb ? m->tok_emb->dtype : LS_DT_F32;
    return ls_hf_config_to_json(&m->cfg, dt == LS_DT_F16   ? "float16"
                                         : dt == LS_DT_BF16 ? "bfloat16"
                                                            : "float32");
}

static int write_json(const char *dir, const char *file, const cJSON *doc, ls_error *err)
{
    char path[4096];
    put(path, sizeof path, "%s/%s", dir, file);
    return doc ? ls_json_write_file(path, doc, err) : ls_fail(err, "%s: out of memory", path);
}

static int write_tensors(const char *dir, const ls_qmodel *qm, const ls_model *m,
                         ls_error *err)
{
    ls_st_writer w;
    ls_st_writer_init(&w);
    int rc = ls_st_writer_meta(&w, "format", "layerscope-hqq", err);
    char name[160];
    rc = rc < 0 ? rc : add_plain(&w, "model.embed_tokens.weight", m->tok_emb, err);
    rc = rc < 0 ? rc : add_plain(&w, "model.norm.weight", m->final_norm, err);
    if (rc == 0 && !m->cfg.tied && m->lm_head != m->tok_emb)
        rc = add_plain(&w, "lm_head.weight", m->lm_head, err);
    for (int l = 0; rc == 0 && l < m->cfg.n_layers; l++) {
        const ls_layer *ly = &m->layers[l];
        put(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
        rc = add_plain(&w, name, ly->attn_norm, err);
        put(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
        rc = rc < 0 ? rc : add_plain(&w, name, ly->ffn_norm, err);
        const ls_tensor *bias[3] = {ly->bq, ly->bk, ly->bv};
        for (int b = 0; rc == 0 && b < 3; b++) {
            put(name, sizeof name, "model.layers.%d.%s.bias", l, ls_module_name(b));
            rc = add_plain(&w, name, bias[b], err);
        }
        for (int mod = 0; rc == 0 && mod < LS_N_MODULES; mod++) {
            const ls_qmodule *q = &qm->mods[l * LS_N_MODULES + mod];
            if (q->stop < 0)
                continue;
            put(name, sizeof name, "model.layers.%d.%s", l, ls_module_name(mod));
            rc = add_module(&w, name, &q->q, err);
            cJSON *meta = module_meta(&q->q, NULL);
            char *s = meta ? cJSON_PrintUnformatted(meta) : NULL;
            cJSON_Delete(meta);
            rc = rc < 0 ? rc : s ? ls_st_writer_meta(&w, name, s, err) : ls_fail(err, "out of memory");
            free(s);
        }
    }
    if (rc == 0) {
        char path[4096];
        put(path, sizeof path, "%s/" QFILE, dir);
        rc = ls_st_writer_write(&w, path, err);
    }
    ls_st_writer_free(&w);
    return rc;
}

static cJSON *quant_doc(const ls_qmodel *qm, const ls_model *m)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "format", "layerscope-quantized");
    cJSON_AddNumberToObject(doc, "version", 1);
    cJSON_AddStringToObject(doc, "model", m->name);
    cJSON_AddStringToObject(doc, "source", m->path);
    cJSON_AddStringToObject(doc, "source_format", ls_model_format_name(m->format));
    cJSON_AddNumberToObject(doc, "n_layers", qm->n_layers);
    cJSON_AddStringToObject(doc, "qk_row_layout",
                            m->cfg.rope_layout == LS_ROPE_HALVES ? "halves" : "pairs");
    cJSON_AddBoolToObject(doc, "quant_meta", qm->quant_meta);
    cJSON *mods = cJSON_AddObjectToObject(doc, "modules");
    for (int i = 0; i < qm->n_layers * LS_N_MODULES; i++) {
        const ls_qmodule *q = &qm->mods[i];
        if (q->stop < 0)
            continue;
        char key[80];
        put(key, sizeof key, "%d.%s", i / LS_N_MODULES, ls_module_name(i % LS_N_MODULES));
        cJSON_AddItemToObject(mods, key, module_meta(&q->q, q));
    }
    return doc;
}

/* Removes a directory holding only plain files (our own output). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char p[4096];
            put(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Renames tmp into place; an existing target must be a layerscope quantized model. */
static int replace_dir(const char *tmp, const char *dir, ls_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return rename(tmp, dir) == 0
                   ? 0
                   : ls_fail(err, "%s: cannot create: %s", dir, strerror(errno));
    char marker[4096];
    put(marker, sizeof marker, "%s/quant.json", dir);
    if (!S_ISDIR(st.st_mode) || stat(marker, &st) != 0)
        return ls_fail(err, "%s: exists and is not a layerscope quantized model; not replaced",
                       dir);
    char old[4096];
    put(old, sizeof old, "%s.old.XXXXXX", dir);
    if (!mkdtemp(old) || rmdir(old) != 0 || rename(dir, old) != 0)
        return ls_fail(err, "%s: cannot move the old copy aside: %s", dir, strerror(errno));
    if (rename(tmp, dir) != 0) {
        int e = errno;
        rename(old, dir);
        return ls_fail(err, "%s: cannot replace: %s", dir, strerror(e));
    }
    remove_dir(old);
    return 0;
}

int ls_qmodel_save(const char *dir, const ls_qmodel *qm, const ls_model *m,
                   const ls_profile *p, const ls_analysis *a, ls_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", dir) >= (int)sizeof tmp || !mkdtemp(tmp))
        return ls_fail(err, "%s: cannot create a temporary directory beside it: %s", dir,
                       strerror(errno));
    int rc = write_tensors(tmp, qm, m, err);
    cJSON *q = rc == 0 ? quant_doc(qm, m) : NULL;
    rc = rc < 0 ? rc : write_json(tmp, "quant.json", q, err);
    cJSON_Delete(q);
    cJSON *x = rc == 0 ? ls_export_json(p, a) : NULL;
    rc = rc < 0 ? rc : write_json(tmp, "allocation.json", x, err);
    cJSON_Delete(x);
    cJSON *c = rc == 0 ? hf_config(m) : NULL;
    rc = rc < 0 ? rc : write_json(tmp, "config.json", c, err);
    cJSON_Delete(c);
    rc = rc < 0 ? rc : replace_dir(tmp, dir, err);
    if (rc < 0)
        remove_dir(tmp);
    return rc;
}

/* ---- loading ---- */

static int json_int(const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi)
        return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

/* Copies tensor name from f into a new buffer after checking dtype and byte size. */
static void *take(const ls_st_file *f, const char *path, const char *name, ls_st_dtype dt,
                  size_t bytes, ls_error *err)
{
    int i = ls_st_find(f, name);
    if (i < 0) {
        ls_fail(err, "%s: tensor %s: missing", path, name);
        return NULL;
    }
    const ls_st_tensor *t = &f->tensors[i];
    if (t->dtype != dt || t->end - t->begin != bytes) {
        ls_fail(err, "%s: tensor %s: expected %s with %zu bytes", path, name,
                ls_st_dtype_name(dt), bytes);
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        ls_fail(err, "%s: out of memory", path);
        return NULL;
    }
    memcpy(p, t->data, bytes);
    return p;
}

static int load_module(const ls_st_file *f, const char *path, const char *key,
                       const cJSON *meta, const ls_tensor *t, ls_qmodule *q, ls_error *err)
{
    int64_t nbits, g, axis, vr, vc;
    if (json_int(meta, "nbits", 2, 8, &nbits) < 0 || json_int(meta, "group_size", 1, 1 << 20, &g) < 0 ||
        json_int(meta, "axis", 0, 1, &axis) < 0 || json_int(meta, "view_rows", 1, INT64_C(1) << 40, &vr) < 0 ||
        json_int(meta, "view_cols", 1, INT64_C(1) << 40, &vc) < 0)
        return ls_fail(err, "%s/quant.json: modules.%s: missing or bad nbits, group_size, "
                            "axis or view", path, key);
    int stop = ls_stop_find((int)nbits, (int)g);
    int64_t n = t->n_elems;
    if (stop < 0 || vr * vc != n || n % g != 0 || !ls_bitpack_ok((int)nbits, vr))
        return ls_fail(err, "%s/quant.json: modules.%s: config b%lldg%lld or view %lldx%lld "
                            "does not fit the model's %lld weights", path, key, (long long)nbits,
                       (long long)g, (long long)vr, (long long)vc, (long long)n);
    ls_hqq_result *r = &q->q;
    memset(r, 0, sizeof *r);
    r->nbits = (int)nbits;
    r->group_size = (int)g;
    r->axis = (int)axis;
    r->rows = t->shape[0];
    r->cols = n / t->shape[0];
    r->n_groups = n / g;
    r->view_rows = vr;
    r->view_cols = vc;
    r->pack_rows = ls_bitpack_rows((int)nbits, vr);
    r->pack_cols = vc;
    r->wq_bytes = ls_bitpack_bytes((int)nbits, vr, vc);
    char prefix[160], name[200];
    put(prefix, sizeof prefix, "model.layers.%s", key);
    put(name, sizeof name, "%s.W_q", prefix);
    r->wq = take(f, path, name, nbits == 3 ? LS_ST_I32 : LS_ST_U8, r->wq_bytes, err);
    put(name, sizeof name, "%s.scale", prefix);
    r->scale_dq = r->wq ? take(f, path, name, LS_ST_F32, (size_t)r->n_groups * 4, err) : NULL;
    put(name, sizeof name, "%s.zero", prefix);
    r->zero_dq = r->scale_dq ? take(f, path, name, LS_ST_F32, (size_t)r->n_groups * 4, err) : NULL;
    if (!r->zero_dq) {
        ls_hqq_free(r);
        return -1;
    }
    for (int64_t j = 0; j < r->n_groups; j++)
        if (!isfinite(r->scale_dq[j]) || !isfinite(r->zero_dq[j])) {
            ls_hqq_free(r);
            return ls_fail(err, "%s: tensor %s.scale/zero: non-finite value in group %lld",
                           path, prefix, (long long)j);
        }
    int64_t iters = 0;
    json_int(meta, "iterations", 0, 1000, &iters);
    r->iterations = (int)iters;
    const cJSON *qe = cJSON_GetObjectItemCaseSensitive(meta, "qerr");
    const cJSON *qa = cJSON_GetObjectItemCaseSensitive(meta, "qerr_mean_abs");
    q->qerr = cJSON_IsNumber(qe) ? qe->valuedouble : NAN;
    q->qerr_mean_abs = cJSON_IsNumber(qa) ? qa->valuedouble : NAN;
    int64_t sb = 0;
    json_int(meta, "stored_bytes", 0, INT64_C(1) << 50, &sb);
    r->stored_bytes = (size_t)sb;
    r->scale_quantized = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(meta, "quant_scale"));
    r->zero_quantized = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(meta, "quant_zero"));
    q->stop = stop;
    return 0;
}

int ls_qmodel_load(const char *dir, const ls_model *m, ls_qmodel **out, ls_error *err)
{
    *out = NULL;
    char path[4096];
    put(path, sizeof path, "%s/quant.json", dir);
    char *text = ls_read_text_file(path, 256 << 20, NULL, err);
    if (!text)
        return -1;
    cJSON *doc = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = doc ? cJSON_GetObjectItemCaseSensitive(doc, "format") : NULL;
    const cJSON *mods = doc ? cJSON_GetObjectItemCaseSensitive(doc, "modules") : NULL;
    int64_t n_layers;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "layerscope-quantized") != 0 ||
        !cJSON_IsObject(mods) || json_int(doc, "n_layers", 1, 4096, &n_layers) < 0) {
        cJSON_Delete(doc);
        return ls_fail(err, "%s: not a layerscope quantized model (format, n_layers or "
                            "modules missing)", path);
    }
    if (n_layers != m->cfg.n_layers || !m->has_weights) {
        cJSON_Delete(doc);
        return ls_fail(err, "%s: n_layers: %lld, but the model %s has %d", path,
                       (long long)n_layers, m->path, m->cfg.n_layers);
    }
    put(path, sizeof path, "%s/" QFILE, dir);
    ls_mapped_file mf;
    ls_st_file f;
    memset(&f, 0, sizeof f);
    if (ls_map_file(path, &mf, err) < 0 || ls_st_parse(path, mf.data, mf.size, &f, err) < 0) {
        ls_unmap_file(&mf);
        cJSON_Delete(doc);
        return -1;
    }
    ls_qmodel *qm = ls_qmodel_new((int)n_layers, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "quant_meta")), err);
    int rc = qm ? 0 : -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, mods)
    {
        if (rc < 0)
            break;
        int l, mod;
        if (ls_manual_parse_entry(it->string, (int)n_layers, &l, &mod) < 0 ||
            strchr(it->string, ' ')) {
            rc = ls_fail(err, "%s/quant.json: modules: bad key \"%.60s\"", dir, it->string);
            break;
        }
        char key[80];
        put(key, sizeof key, "%d.%s", l, ls_module_name(mod));
        const ls_tensor *t = ls_model_linear(m, l, mod);
        if (qm->mods[LS_IDX(l, mod)].stop >= 0) {
            rc = ls_fail(err, "%s/quant.json: modules.%s: listed twice", dir, key);
            break;
        }
        rc = load_module(&f, path, key, it, t, &qm->mods[LS_IDX(l, mod)], err);
    }
    ls_st_free(&f);
    ls_unmap_file(&mf);
    cJSON_Delete(doc);
    if (rc < 0) {
        ls_qmodel_free(qm);
        return -1;
    }
    *out = qm;
    return 0;
}
