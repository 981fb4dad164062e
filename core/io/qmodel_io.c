#include "io/qmodel_io.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
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

/* ---- saving: the directory swap ----
 * The new directory is written as DIR.tmp.XXXXXX beside DIR, then swapped in:
 *   - renameat2(RENAME_EXCHANGE) swaps the two names in one step (Linux 3.15+, on file
 *     systems that support it), so DIR always names a complete model; the old copy, now
 *     under the temporary name, is then removed;
 *   - elsewhere (EINVAL/ENOSYS), the old DIR is renamed to DIR.old.XXXXXX and the new one
 *     renamed in: between the two renames DIR does not exist (the documented fallback).
 * Every directory this program creates or moves aside holds MARKER while it is not DIR,
 * so a run that died half-way leaves DIR.tmp.* / DIR.old.* that the next save of DIR
 * recognises by name AND marker and removes; anything else is never touched. */
#define MARKER ".layerscope-temporary"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

/* The kernel's renameat2 through syscall(): older glibc lacks the wrapper. -1 with
 * errno = ENOSYS where the kernel or the headers do not have it. */
static int rename2(const char *from, const char *to, unsigned flags)
{
    const char *force = getenv("LAYERSCOPE_NO_RENAMEAT2"); /* tests the fallback */
    if (force && *force == '1') {
        errno = ENOSYS;
        return -1;
    }
#ifdef SYS_renameat2
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags);
#else
    (void)from, (void)to, (void)flags;
    errno = ENOSYS;
    return -1;
#endif
}

static int write_marker(const char *dir)
{
    char p[4096];
    put(p, sizeof p, "%s/" MARKER, dir);
    char text[96];
    int n = snprintf(text, sizeof text, "layerscope %ld: temporary directory, safe to remove\n",
                     (long)getpid());
    return ls_write_file_atomic(p, text, (size_t)n, NULL);
}

static void drop_marker(const char *dir)
{
    char p[4096];
    put(p, sizeof p, "%s/" MARKER, dir);
    unlink(p);
}

/* Removes a directory holding only plain files (our own output); refuses, leaving it as it
 * is, when it holds anything else. */
static int remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        put(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode))
            rc = -1;
    }
    closedir(d);
    if (rc < 0)
        return -1;
    d = opendir(dir);
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        put(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    return rmdir(dir);
}

/* NAME is BASE.tmp.XXXXXX or BASE.old.XXXXXX with mkdtemp's six characters. */
static bool leftover_name(const char *name, const char *base)
{
    size_t nb = strlen(base);
    if (strncmp(name, base, nb) != 0)
        return false;
    const char *rest = name + nb;
    if (strncmp(rest, ".tmp.", 5) != 0 && strncmp(rest, ".old.", 5) != 0)
        return false;
    rest += 5;
    if (strlen(rest) != 6)
        return false;
    for (int i = 0; i < 6; i++) {
        char c = rest[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* The marker's process is still running (a save of the same DIR in progress). */
static bool marker_live(const char *dir)
{
    char p[4096];
    put(p, sizeof p, "%s/" MARKER, dir);
    char *text = ls_read_text_file(p, 4096, NULL, NULL);
    if (!text)
        return false;
    long pid = 0;
    bool live = sscanf(text, "layerscope %ld:", &pid) == 1 && pid > 0 && pid != (long)getpid() &&
                kill((pid_t)pid, 0) == 0;
    free(text);
    return live;
}

int ls_qmodel_clean_leftovers(const char *dir, int *n_removed)
{
    if (n_removed)
        *n_removed = 0;
    char parent[4096], base[1024];
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    if (n - b == 0 || n - b >= sizeof base || b >= sizeof parent)
        return 0;
    memcpy(base, dir + b, n - b);
    base[n - b] = '\0';
    if (b == 0)
        put(parent, sizeof parent, ".");
    else {
        memcpy(parent, dir, b);
        parent[b] = '\0';
    }
    DIR *d = opendir(parent);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!leftover_name(e->d_name, base))
            continue;
        char p[4096], mk[4096];
        put(p, sizeof p, "%s/%s", parent, e->d_name);
        put(mk, sizeof mk, "%s/" MARKER, p);
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISDIR(st.st_mode) || lstat(mk, &st) != 0 ||
            !S_ISREG(st.st_mode) || marker_live(p))
            continue; /* not ours, or another save still working on it */
        if (remove_dir(p) == 0 && n_removed)
            (*n_removed)++;
    }
    closedir(d);
    return 0;
}

/* Swaps tmp into place; an existing target must be a layerscope quantized model. */
static int replace_dir(const char *tmp, const char *dir, ls_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        drop_marker(tmp);
        if (rename2(tmp, dir, RENAME_NOREPLACE) == 0)
            return 0;
        if ((errno == EINVAL || errno == ENOSYS) && rename(tmp, dir) == 0)
            return 0;
        int e = errno;
        write_marker(tmp);
        return ls_fail(err, "%s: cannot create: %s", dir, strerror(e));
    }
    char marker[4096];
    put(marker, sizeof marker, "%s/quant.json", dir);
    if (!S_ISDIR(st.st_mode) || stat(marker, &st) != 0)
        return ls_fail(err, "%s: exists and is not a layerscope quantized model; not replaced",
                       dir);
    /* the old copy is marked before it leaves DIR, so a crash after the swap leaves only
     * recognisable leftovers */
    if (write_marker(dir) != 0)
        return ls_fail(err, "%s: cannot write in the old copy: %s", dir, strerror(errno));
    if (rename2(tmp, dir, RENAME_EXCHANGE) == 0) {
        drop_marker(dir); /* the new model, now DIR */
        remove_dir(tmp);  /* the old one, now under the temporary name */
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        int e = errno;
        drop_marker(dir);
        return ls_fail(err, "%s: cannot replace: %s", dir, strerror(e));
    }
    /* fallback: two renames, DIR briefly absent */
    char old[4096];
    put(old, sizeof old, "%s.old.XXXXXX", dir);
    if (!mkdtemp(old) || rmdir(old) != 0 || rename(dir, old) != 0) {
        int e = errno;
        drop_marker(dir);
        return ls_fail(err, "%s: cannot move the old copy aside: %s", dir, strerror(e));
    }
    drop_marker(tmp);
    if (rename(tmp, dir) != 0) {
        int e = errno;
        write_marker(tmp);
        rename(old, dir);
        drop_marker(dir);
        return ls_fail(err, "%s: cannot replace: %s", dir, strerror(e));
    }
    remove_dir(old);
    return 0;
}

int ls_qmodel_save(const char *dir, const ls_qmodel *qm, const ls_model *m,
                   const ls_profile *p, const ls_analysis *a, ls_error *err)
{
    ls_qmodel_clean_leftovers(dir, NULL);
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", dir) >= (int)sizeof tmp || !mkdtemp(tmp))
        return ls_fail(err, "%s: cannot create a temporary directory beside it: %s", dir,
                       strerror(errno));
    /* mkdtemp makes it 0700: give it what mkdir(0777) would, or the replaced model's mode */
    int rc = chmod(tmp, ls_new_file_mode(dir, 0777)) == 0 && write_marker(tmp) == 0
                 ? 0
                 : ls_fail(err, "%s: cannot prepare the temporary directory %s: %s", dir, tmp,
                           strerror(errno));
    rc = rc < 0 ? rc : write_tensors(tmp, qm, m, err);
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
    /* the range first: converting an out-of-range double to int64_t is undefined */
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)lo && v->valuedouble <= (double)hi) ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
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
    static const char *const field[] = {"nbits", "group_size", "axis", "view_rows",
                                        "view_cols"};
    const int64_t lo[] = {2, 1, 0, 1, 1};
    const int64_t hi[] = {8, 1 << 20, 1, INT64_C(1) << 40, INT64_C(1) << 40};
    int64_t *dst[] = {&nbits, &g, &axis, &vr, &vc};
    if (!cJSON_IsObject(meta))
        return ls_fail(err, "%s/quant.json: modules.%s: not an object", path, key);
    for (int k = 0; k < 5; k++)
        if (json_int(meta, field[k], lo[k], hi[k], dst[k]) < 0)
            return ls_fail(err, "%s/quant.json: modules.%s.%s: missing, or not a whole number "
                           "from %lld to %lld", path, key, field[k], (long long)lo[k],
                           (long long)hi[k]);
    if (!ls_bitpack_name((int)nbits))
        return ls_fail(err, "%s/quant.json: modules.%s.nbits: %lld is not one of HQQ's 2, 3, 4 "
                            "or 8 bits", path, key, (long long)nbits);
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(meta, "packing");
    if (cJSON_IsString(pk) && strcmp(pk->valuestring, ls_bitpack_name((int)nbits)) != 0)
        return ls_fail(err, "%s/quant.json: modules.%s.packing: \"%.40s\", but %lld-bit codes "
                       "are packed as \"%s\"", path, key, pk->valuestring, (long long)nbits,
                       ls_bitpack_name((int)nbits));
    int stop = ls_stop_find((int)nbits, (int)g);
    int64_t n = t->n_elems;
    if (stop < 0 || vr * vc != n || n % g != 0 || !ls_bitpack_ok((int)nbits, vr))
        return ls_fail(err, "%s/quant.json: modules.%s: config b%lldg%lld or view %lldx%lld "
                            "does not fit the model's %lld weights", path, key, (long long)nbits,
                       (long long)g, (long long)vr, (long long)vc, (long long)n);
    /* HQQ's view is [group_size, n/g] on axis 0 and [n/g, group_size] on axis 1: one scale
     * and zero per view column (axis 0) or row (axis 1); any other view would read past them */
    if (axis == 0 ? vr != g : vc != g)
        return ls_fail(err, "%s/quant.json: modules.%s: view %lldx%lld is not HQQ's view of "
                            "groups of %lld along axis %lld", path, key, (long long)vr,
                       (long long)vc, (long long)g, (long long)axis);
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

/* The header of quant.json, each problem named by its field. */
static int check_quant_header(const char *path, const cJSON *doc, long bad_at,
                              const ls_model *m, int64_t *n_layers, const cJSON **mods,
                              ls_error *err)
{
    if (!doc)
        return ls_fail(err, "%s: invalid or truncated JSON near byte %ld", path, bad_at);
    if (!cJSON_IsObject(doc))
        return ls_fail(err, "%s: not a JSON object", path);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(doc, "format");
    if (!cJSON_IsString(fmt))
        return ls_fail(err, "%s: format: missing (not a layerscope quantized model)", path);
    if (strcmp(fmt->valuestring, "layerscope-quantized") != 0)
        return ls_fail(err, "%s: format: \"%.60s\", not \"layerscope-quantized\"", path,
                       fmt->valuestring);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(doc, "version");
    if (!cJSON_IsNumber(ver))
        return ls_fail(err, "%s: version: missing or not a number", path);
    if (ver->valuedouble != 1)
        return ls_fail(err, "%s: version: %g is not supported (this build reads version 1)",
                       path, ver->valuedouble);
    const cJSON *nl = cJSON_GetObjectItemCaseSensitive(doc, "n_layers");
    if (!cJSON_IsNumber(nl))
        return ls_fail(err, "%s: n_layers: missing or not a number", path);
    if (json_int(doc, "n_layers", 1, LS_MAX_LAYERS, n_layers) < 0)
        return ls_fail(err, "%s: n_layers: %g is not a whole number from 1 to %d", path,
                       nl->valuedouble, LS_MAX_LAYERS);
    if (*n_layers != m->cfg.n_layers || !m->has_weights)
        return ls_fail(err, "%s: n_layers: %lld, but the model %s has %d", path,
                       (long long)*n_layers, m->path, m->cfg.n_layers);
    const cJSON *lay = cJSON_GetObjectItemCaseSensitive(doc, "qk_row_layout");
    if (!cJSON_IsString(lay))
        return ls_fail(err, "%s: qk_row_layout: missing", path);
    bool halves = strcmp(lay->valuestring, "halves") == 0;
    if (!halves && strcmp(lay->valuestring, "pairs") != 0)
        return ls_fail(err, "%s: qk_row_layout: unknown layout \"%.40s\" (pairs or halves)",
                       path, lay->valuestring);
    if (halves != (m->cfg.rope_layout == LS_ROPE_HALVES))
        return ls_fail(err, "%s: qk_row_layout: %s, but the model %s stores q/k rows as %s "
                       "(saved from another format of the model)", path, lay->valuestring,
                       m->path, halves ? "pairs" : "halves");
    *mods = cJSON_GetObjectItemCaseSensitive(doc, "modules");
    if (!cJSON_IsObject(*mods))
        return ls_fail(err, "%s: modules: missing or not an object", path);
    if (!(*mods)->child)
        return ls_fail(err, "%s: modules: empty (no quantized module to load)", path);
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
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithOpts(text, &end, 1);
    long bad_at = doc ? 0 : end ? (long)(end - text) : 0L;
    free(text);
    int64_t n_layers = 0;
    const cJSON *mods = NULL;
    if (check_quant_header(path, doc, bad_at, m, &n_layers, &mods, err) < 0) {
        cJSON_Delete(doc);
        return -1;
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
    /* a partial save would be completed silently from the current allocation: refuse */
    for (int i = 0; rc == 0 && i < (int)n_layers * LS_N_MODULES; i++)
        if (qm->mods[i].stop < 0 && ls_model_linear(m, i / LS_N_MODULES, i % LS_N_MODULES))
            rc = ls_fail(err, "%s/quant.json: modules.%d.%s: missing (a saved model covers "
                         "every module)", dir, i / LS_N_MODULES,
                         ls_module_name(i % LS_N_MODULES));
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
