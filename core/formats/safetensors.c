#include "formats/safetensors.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int bits;
} st_dtypes[LS_ST_N_DTYPES] = {
    [LS_ST_BOOL] = {"BOOL", 8},         [LS_ST_U8] = {"U8", 8},
    [LS_ST_I8] = {"I8", 8},             [LS_ST_I16] = {"I16", 16},
    [LS_ST_U16] = {"U16", 16},          [LS_ST_I32] = {"I32", 32},
    [LS_ST_U32] = {"U32", 32},          [LS_ST_I64] = {"I64", 64},
    [LS_ST_U64] = {"U64", 64},          [LS_ST_F16] = {"F16", 16},
    [LS_ST_BF16] = {"BF16", 16},        [LS_ST_F32] = {"F32", 32},
    [LS_ST_F64] = {"F64", 64},          [LS_ST_C64] = {"C64", 64},
    [LS_ST_F8_E5M2] = {"F8_E5M2", 8},   [LS_ST_F8_E4M3] = {"F8_E4M3", 8},
    [LS_ST_F8_E8M0] = {"F8_E8M0", 8},   [LS_ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [LS_ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8}, [LS_ST_F4] = {"F4", 4},
    [LS_ST_F6_E2M3] = {"F6_E2M3", 6},   [LS_ST_F6_E3M2] = {"F6_E3M2", 6},
};

const char *ls_st_dtype_name(ls_st_dtype dt)
{
    return (unsigned)dt < LS_ST_N_DTYPES ? st_dtypes[dt].name : "?";
}

int ls_st_dtype_bits(ls_st_dtype dt)
{
    return (unsigned)dt < LS_ST_N_DTYPES ? st_dtypes[dt].bits : 0;
}

static int dtype_from_name(const char *s)
{
    for (int i = 0; i < LS_ST_N_DTYPES; i++)
        if (strcmp(s, st_dtypes[i].name) == 0)
            return i;
    return -1;
}

static uint64_t read_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF); NUL bytes are rejected too
 * because JSON cannot contain them raw. Returns the offset of the first bad byte or -1. */
static int64_t utf8_first_error(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == 0)
            return (int64_t)i;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return (int64_t)i;
        }
        if (n - i < len)
            return (int64_t)i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return (int64_t)i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return (int64_t)i;
        i += len;
    }
    return -1;
}

/* A JSON number that is an exact non-negative integer representable in a double. */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_metadata(const char *path, const cJSON *meta, ls_st_file *f, ls_error *err)
{
    if (!cJSON_IsObject(meta))
        return ls_fail(err, "%s: __metadata__: not an object", path);
    for (const cJSON *e = meta->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return ls_fail(err, "%s: __metadata__.%s: value is not a string", path,
                           e->string ? e->string : "?");
        f->n_meta++;
    }
    return 0;
}

static int parse_shape(const char *path, const char *name, const cJSON *shape, ls_st_tensor *t,
                       ls_error *err)
{
    if (!cJSON_IsArray(shape))
        return ls_fail(err, "%s: tensor '%s': shape: missing or not an array", path, name);
    int n = cJSON_GetArraySize(shape);
    if (n > LS_ST_MAX_DIMS)
        return ls_fail(err, "%s: tensor '%s': shape: %d dimensions, at most %d supported", path,
                       name, n, LS_ST_MAX_DIMS);
    t->n_dims = n;
    int64_t elems = 1;
    int i = 0;
    for (const cJSON *d = shape->child; d; d = d->next, i++) {
        uint64_t v;
        if (json_uint(d, &v) != 0 || v > (uint64_t)INT64_MAX)
            return ls_fail(err, "%s: tensor '%s': shape: dimension %d is not a non-negative "
                           "integer", path, name, i);
        t->shape[i] = (int64_t)v;
        if (v != 0 && elems > INT64_MAX / (int64_t)v)
            return ls_fail(err, "%s: tensor '%s': shape: element count overflows", path, name);
        elems *= (int64_t)v;
    }
    t->n_elems = elems;
    return 0;
}

static int parse_tensor(const char *path, const cJSON *e, ls_st_tensor *t, ls_error *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return ls_fail(err, "%s: tensor '%s': entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt))
        return ls_fail(err, "%s: tensor '%s': dtype: missing or not a string", path, name);
    int d = dtype_from_name(dt->valuestring);
    if (d < 0)
        return ls_fail(err, "%s: tensor '%s': dtype: unknown dtype \"%.40s\"", path, name,
                       dt->valuestring);
    t->dtype = (ls_st_dtype)d;
    if (parse_shape(path, name, cJSON_GetObjectItemCaseSensitive(e, "shape"), t, err) != 0)
        return -1;
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
        json_uint(off->child, &t->begin) != 0 || json_uint(off->child->next, &t->end) != 0)
        return ls_fail(err, "%s: tensor '%s': data_offsets: expected [begin, end] with "
                       "non-negative integers", path, name);
    if (t->end < t->begin)
        return ls_fail(err, "%s: tensor '%s': data_offsets: end %llu < begin %llu", path, name,
                       (unsigned long long)t->end, (unsigned long long)t->begin);
    /* bits = elements x bits per element, without overflow */
    uint64_t bits_per = (uint64_t)st_dtypes[d].bits;
    uint64_t elems = (uint64_t)t->n_elems;
    if (elems > UINT64_MAX / bits_per)
        return ls_fail(err, "%s: tensor '%s': shape: byte size overflows", path, name);
    uint64_t bits = elems * bits_per;
    if (bits % 8 != 0)
        return ls_fail(err, "%s: tensor '%s': shape: %llu bits of %s is not a whole number of "
                       "bytes", path, name, (unsigned long long)bits, st_dtypes[d].name);
    if (t->end - t->begin != bits / 8)
        return ls_fail(err, "%s: tensor '%s': data_offsets: %llu bytes but shape x dtype "
                       "needs %llu", path, name, (unsigned long long)(t->end - t->begin),
                       (unsigned long long)(bits / 8));
    return 0;
}

static int cmp_name_idx(const void *a, const void *b)
{
    const ls_st_tensor *x = *(ls_st_tensor *const *)a, *y = *(ls_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_offset(const void *a, const void *b)
{
    const ls_st_tensor *x = *(ls_st_tensor *const *)a, *y = *(ls_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Names unique, and sorted by begin the tensors tile [0, data_len) exactly. */
static int check_layout(const char *path, ls_st_file *f, ls_error *err)
{
    int n = f->n_tensors;
    if (n == 0) {
        if (f->data_len != 0)
            return ls_fail(err, "%s: data: %zu trailing bytes after the last tensor", path,
                           f->data_len);
        return 0;
    }
    ls_st_tensor **v = malloc((size_t)n * sizeof *v);
    if (!v)
        return ls_fail(err, "%s: out of memory", path);
    for (int i = 0; i < n; i++)
        v[i] = &f->tensors[i];
    int rc = 0;
    qsort(v, (size_t)n, sizeof *v, cmp_name_idx);
    for (int i = 1; i < n && rc == 0; i++)
        if (strcmp(v[i]->name, v[i - 1]->name) == 0)
            rc = ls_fail(err, "%s: tensor '%s': duplicate name", path, v[i]->name);
    qsort(v, (size_t)n, sizeof *v, cmp_offset);
    uint64_t expect = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (v[i]->begin > expect)
            rc = ls_fail(err, "%s: tensor '%s': data_offsets: hole before begin %llu (previous "
                         "tensor ends at %llu)", path, v[i]->name,
                         (unsigned long long)v[i]->begin, (unsigned long long)expect);
        else if (v[i]->begin < expect)
            rc = ls_fail(err, "%s: tensor '%s': data_offsets: overlaps the previous tensor "
                         "(begin %llu < %llu)", path, v[i]->name,
                         (unsigned long long)v[i]->begin, (unsigned long long)expect);
        expect = v[i]->end;
    }
    if (rc == 0 && expect != f->data_len)
        rc = ls_fail(err, "%s: data_offsets: tensors cover %llu bytes but the data buffer has "
                     "%zu", path, (unsigned long long)expect, f->data_len);
    free(v);
    return rc;
}

static int parse_root(const char *path, const cJSON *root, const uint8_t *base, ls_st_file *f,
                      ls_error *err)
{
    int n = 0;
    for (const cJSON *e = root->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0)
            n++;
    f->tensors = calloc(n ? (size_t)n : 1, sizeof *f->tensors);
    if (!f->tensors)
        return ls_fail(err, "%s: out of memory", path);
    int seen_meta = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta++)
                return ls_fail(err, "%s: __metadata__: duplicate key", path);
            if (parse_metadata(path, e, f, err) != 0)
                return -1;
            continue;
        }
        ls_st_tensor *t = &f->tensors[f->n_tensors];
        t->name = strdup(e->string);
        if (!t->name)
            return ls_fail(err, "%s: out of memory", path);
        f->n_tensors++;
        if (parse_tensor(path, e, t, err) != 0)
            return -1;
        if (t->end > f->data_len)
            return ls_fail(err, "%s: tensor '%s': data_offsets: end %llu is past the data "
                           "buffer (%zu bytes)", path, t->name, (unsigned long long)t->end,
                           f->data_len);
        t->data = base + f->data_start + t->begin;
    }
    return check_layout(path, f, err);
}

int ls_st_parse(const char *path, const uint8_t *data, size_t size, ls_st_file *out,
                ls_error *err)
{
    memset(out, 0, sizeof *out);
    if (size < 8)
        return ls_fail(err, "%s: header length: file has %zu bytes, fewer than the 8-byte "
                       "header length", path, size);
    uint64_t n = read_u64le(data);
    if (n > LS_ST_MAX_HEADER)
        return ls_fail(err, "%s: header length: %llu exceeds the limit of %u bytes", path,
                       (unsigned long long)n, LS_ST_MAX_HEADER);
    if (n > size - 8)
        return ls_fail(err, "%s: header length: %llu bytes runs past the end of the file "
                       "(%zu bytes)", path, (unsigned long long)n, size);
    out->header_len = n;
    out->data_start = 8 + (size_t)n;
    out->data_len = size - out->data_start;
    const uint8_t *hdr = data + 8;
    int64_t bad = utf8_first_error(hdr, (size_t)n);
    if (bad >= 0)
        return ls_fail(err, "%s: header: invalid UTF-8 or NUL at header byte %lld", path,
                       (long long)bad);
    if (n == 0 || hdr[0] != '{')
        return ls_fail(err, "%s: header: does not start with '{'", path);
    /* A NUL-terminated copy: cJSON must never read past the header. */
    char *text = malloc((size_t)n + 1);
    if (!text)
        return ls_fail(err, "%s: out of memory", path);
    memcpy(text, hdr, (size_t)n);
    text[n] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
    int rc = 0;
    if (!root) {
        rc = ls_fail(err, "%s: header: invalid JSON near header byte %lld", path,
                     (long long)(end ? end - text : 0));
    } else {
        for (const char *p = end; p < text + n && rc == 0; p++)
            if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                rc = ls_fail(err, "%s: header: garbage after the JSON object at header byte "
                             "%lld", path, (long long)(p - text));
        if (rc == 0 && !cJSON_IsObject(root))
            rc = ls_fail(err, "%s: header: not a JSON object", path);
        if (rc == 0)
            rc = parse_root(path, root, data, out, err);
    }
    cJSON_Delete(root);
    free(text);
    if (rc != 0)
        ls_st_free(out);
    return rc;
}

void ls_st_free(ls_st_file *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

int ls_st_find(const ls_st_file *f, const char *name)
{
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- sharded index ---- */

static int index_add_shard(ls_st_index *ix, const char *file)
{
    for (int i = 0; i < ix->n_shards; i++)
        if (strcmp(ix->shard_files[i], file) == 0)
            return i;
    char *s = strdup(file);
    if (!s)
        return -1;
    ix->shard_files[ix->n_shards] = s;
    return ix->n_shards++;
}

static int parse_index_root(const char *path, const cJSON *root, ls_st_index *ix,
                            ls_error *err)
{
    if (!cJSON_IsObject(root))
        return ls_fail(err, "%s: index: not a JSON object", path);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (cJSON_IsObject(meta)) {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(meta, "total_size");
        uint64_t v;
        if (ts) {
            if (json_uint(ts, &v) != 0)
                return ls_fail(err, "%s: metadata.total_size: not a non-negative integer",
                               path);
            ix->has_total_size = true;
            ix->total_size = (int64_t)v;
        }
    }
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
    if (!cJSON_IsObject(wm))
        return ls_fail(err, "%s: weight_map: missing or not an object", path);
    int n = cJSON_GetArraySize(wm);
    size_t cap = n ? (size_t)n : 1;
    ix->tensor_names = calloc(cap, sizeof *ix->tensor_names);
    ix->shard_of = calloc(cap, sizeof *ix->shard_of);
    ix->shard_files = calloc(cap, sizeof *ix->shard_files);
    if (!ix->tensor_names || !ix->shard_of || !ix->shard_files)
        return ls_fail(err, "%s: out of memory", path);
    for (const cJSON *e = wm->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return ls_fail(err, "%s: weight_map.%s: shard file name is not a string", path,
                           e->string);
        const char *file = e->valuestring;
        if (!*file || strchr(file, '/') || strcmp(file, ".") == 0 || strcmp(file, "..") == 0)
            return ls_fail(err, "%s: weight_map.%s: shard \"%.80s\" is not a plain file name",
                           path, e->string, file);
        for (int i = 0; i < ix->n_entries; i++)
            if (strcmp(ix->tensor_names[i], e->string) == 0)
                return ls_fail(err, "%s: weight_map.%s: tensor listed twice", path, e->string);
        int s = index_add_shard(ix, file);
        char *name = strdup(e->string);
        if (s < 0 || !name) {
            free(name);
            return ls_fail(err, "%s: out of memory", path);
        }
        ix->tensor_names[ix->n_entries] = name;
        ix->shard_of[ix->n_entries] = s;
        ix->n_entries++;
    }
    if (ix->n_entries == 0)
        return ls_fail(err, "%s: weight_map: empty", path);
    return 0;
}

int ls_st_index_parse(const char *path, const char *json, size_t len, ls_st_index *out,
                      ls_error *err)
{
    memset(out, 0, sizeof *out);
    char *text = malloc(len + 1); /* NUL-terminated: the parser never reads past len */
    if (!text)
        return ls_fail(err, "%s: out of memory", path);
    memcpy(text, json, len);
    text[len] = '\0';
    cJSON *root = cJSON_ParseWithLength(text, len);
    int rc = root ? parse_index_root(path, root, out, err)
                  : ls_fail(err, "%s: index: invalid JSON", path);
    cJSON_Delete(root);
    free(text);
    if (rc != 0)
        ls_st_index_free(out);
    return rc;
}

void ls_st_index_free(ls_st_index *ix)
{
    if (!ix)
        return;
    for (int i = 0; i < ix->n_entries; i++)
        free(ix->tensor_names[i]);
    for (int i = 0; i < ix->n_shards; i++)
        free(ix->shard_files[i]);
    free(ix->tensor_names);
    free(ix->shard_of);
    free(ix->shard_files);
    memset(ix, 0, sizeof *ix);
}
