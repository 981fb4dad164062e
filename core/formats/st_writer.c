#include "formats/st_writer.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/atomic_write.h"

void ls_st_writer_init(ls_st_writer *w)
{
    memset(w, 0, sizeof *w);
}

void ls_st_writer_free(ls_st_writer *w)
{
    for (int i = 0; i < w->n; i++)
        free(w->t[i].name);
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->t);
    free(w->meta_keys);
    free(w->meta_values);
    memset(w, 0, sizeof *w);
}

int ls_st_writer_add(ls_st_writer *w, const char *name, const char *dtype, int n_dims,
                     const int64_t *shape, const void *data, size_t bytes, ls_error *err)
{
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        ls_st_entry *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (!t)
            return ls_fail(err, "safetensors writer: out of memory");
        w->t = t;
        w->cap = cap;
    }
    ls_st_entry *e = &w->t[w->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (!e->name)
        return ls_fail(err, "safetensors writer: out of memory");
    e->dtype = dtype;
    e->n_dims = n_dims;
    if (n_dims > 0) /* a scalar has no shape */
        memcpy(e->shape, shape, (size_t)n_dims * sizeof *shape);
    e->data = data;
    e->bytes = bytes;
    w->n++;
    return 0;
}

int ls_st_writer_add_stream(ls_st_writer *w, const char *name, const char *dtype, int n_dims,
                            const int64_t *shape, size_t bytes, ls_st_fill fill, void *ctx,
                            ls_error *err)
{
    if (ls_st_writer_add(w, name, dtype, n_dims, shape, NULL, bytes, err) < 0)
        return -1;
    w->t[w->n - 1].fill = fill;
    w->t[w->n - 1].fill_ctx = ctx;
    return 0;
}

int ls_st_writer_meta(ls_st_writer *w, const char *key, const char *value, ls_error *err)
{
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? 2 * w->cap_meta : 64;
        char **k = realloc(w->meta_keys, (size_t)cap * sizeof *k);
        if (k)
            w->meta_keys = k;
        char **v = realloc(w->meta_values, (size_t)cap * sizeof *v);
        if (v)
            w->meta_values = v;
        if (!k || !v)
            return ls_fail(err, "safetensors writer: out of memory");
        w->cap_meta = cap;
    }
    w->meta_keys[w->n_meta] = strdup(key);
    w->meta_values[w->n_meta] = strdup(value);
    if (!w->meta_keys[w->n_meta] || !w->meta_values[w->n_meta])
        return ls_fail(err, "safetensors writer: out of memory");
    w->n_meta++;
    return 0;
}

static char *header_json(const ls_st_writer *w)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (w->n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; i < w->n_meta; i++)
            cJSON_AddStringToObject(m, w->meta_keys[i], w->meta_values[i]);
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const ls_st_entry *e = &w->t[i];
        cJSON *o = cJSON_AddObjectToObject(root, e->name);
        cJSON_AddStringToObject(o, "dtype", e->dtype);
        cJSON *shape = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < e->n_dims; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        off += e->bytes;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Runs an entry's fill and checks it wrote exactly the bytes the header announced. */
static int fill_entry(ls_atomic_file *af, const ls_st_entry *e, const char *path,
                      ls_error *err)
{
    off_t start = ftello(af->f);
    if (e->fill(af->f, e->fill_ctx, err) < 0) {
        ls_atomic_abort(af);
        ls_error_prefix(err, path);
        return -1;
    }
    off_t end = ftello(af->f);
    if (start < 0 || end - start != (off_t)e->bytes) {
        ls_atomic_abort(af);
        return ls_fail(err, "%s: %s: %lld bytes written for %zu announced", path, e->name,
                       (long long)(end - start), e->bytes);
    }
    return 0;
}

int ls_st_writer_write(const ls_st_writer *w, const char *path, ls_error *err)
{
    char *json = header_json(w);
    if (!json)
        return ls_fail(err, "%s: out of memory for the header", path);
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0) {
        free(json);
        return -1;
    }
    if (w->file_mode)
        fchmod(fileno(af.f), (mode_t)w->file_mode);
    setvbuf(af.f, NULL, _IOFBF, (size_t)1 << 20); /* large tensors go out in big writes */
    unsigned char n8[8];
    for (int i = 0; i < 8; i++)
        n8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int bad = fwrite(n8, 1, 8, af.f) != 8 || fwrite(json, 1, len, af.f) != len;
    for (size_t i = len; i < padded && !bad; i++)
        bad = fputc(' ', af.f) == EOF;
    free(json);
    for (int i = 0; i < w->n && !bad; i++) {
        const ls_st_entry *e = &w->t[i];
        if (e->fill) {
            if (fill_entry(&af, e, path, err) < 0)
                return -1;
        } else {
            bad = e->bytes && fwrite(e->data, 1, e->bytes, af.f) != e->bytes;
        }
    }
    if (bad) {
        ls_atomic_abort(&af);
        return ls_fail(err, "%s: write failed", path);
    }
    return ls_atomic_commit(&af, err);
}
