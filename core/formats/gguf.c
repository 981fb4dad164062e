#include "formats/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_STRING (1ull << 30) /* llama.cpp GGUF_MAX_STRING_LENGTH */
#define GGUF_MAX_ARRAY (1ull << 30)  /* llama.cpp GGUF_MAX_ARRAY_ELEMENTS */
#define GGUF_MAX_KEY 65535
#define GGUF_MAX_TENSOR_NAME 64
#define GGUF_MAX_DIMS 4

static const char *const gguf_type_names[LS_GGUF_N_TYPES] = {
    "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
    "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};
static const uint8_t gguf_type_size[LS_GGUF_N_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *ls_gguf_type_name(int type)
{
    return type >= 0 && type < LS_GGUF_N_TYPES ? gguf_type_names[type] : "?";
}

/* ggml type names for messages (ggml/include/ggml.h). */
static const char *const ggml_type_names[] = {
    "F32", "F16", "Q4_0", "Q4_1", "Q4_2 (retired)", "Q4_3 (retired)", "Q5_0", "Q5_1", "Q8_0",
    "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS",
    "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
    "BF16", "Q4_0_4_4 (retired)", "Q4_0_4_8 (retired)", "Q4_0_8_8 (retired)", "TQ1_0",
    "TQ2_0", "IQ4_NL_4_4 (retired)", "IQ4_NL_4_8 (retired)", "IQ4_NL_8_8 (retired)", "MXFP4",
};

const char *ls_ggml_type_name(int type)
{
    int n = (int)(sizeof ggml_type_names / sizeof ggml_type_names[0]);
    return type >= 0 && type < n ? ggml_type_names[type] : "unknown";
}

/* ---- bounds-checked cursor ---- */

typedef struct cursor {
    const uint8_t *data;
    size_t size, pos;
    const char *path;
    ls_error *err;
} cursor;

static size_t remaining(const cursor *c)
{
    return c->size - c->pos;
}

static int need(cursor *c, size_t n, const char *what)
{
    if (n > remaining(c))
        return ls_fail(c->err, "%s: %s: truncated at byte %zu (needs %zu more bytes, %zu left)",
                       c->path, what, c->pos, n, remaining(c));
    return 0;
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what)
{
    if (need(c, 4, what))
        return -1;
    *v = (uint32_t)le(c->data + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what)
{
    if (need(c, 8, what))
        return -1;
    *v = le(c->data + c->pos, 8);
    c->pos += 8;
    return 0;
}

static int rd_str(cursor *c, ls_gguf_str *s, const char *what)
{
    uint64_t n;
    if (rd_u64(c, &n, what))
        return -1;
    if (n > GGUF_MAX_STRING)
        return ls_fail(c->err, "%s: %s: string length %llu exceeds 2^30", c->path, what,
                       (unsigned long long)n);
    if (need(c, (size_t)n, what))
        return -1;
    s->ptr = (const char *)c->data + c->pos;
    s->len = n;
    c->pos += (size_t)n;
    return 0;
}

static char *dup_str(ls_gguf_str s)
{
    char *p = malloc((size_t)s.len + 1);
    if (p) {
        memcpy(p, s.ptr, (size_t)s.len);
        p[s.len] = '\0';
    }
    return p;
}

/* ---- values ---- */

static int64_t sign_extend(uint64_t v, int bytes)
{
    int shift = 64 - 8 * bytes;
    return (int64_t)(v << shift) >> shift; /* arithmetic shift is implementation-defined but
                                              universal; no UB on left shift of unsigned */
}

static int rd_scalar(cursor *c, ls_gguf_kv *kv, const char *what)
{
    size_t n = gguf_type_size[kv->type];
    if (need(c, n, what))
        return -1;
    uint64_t raw = le(c->data + c->pos, (int)n);
    c->pos += n;
    switch (kv->type) {
    case LS_GGUF_INT8: case LS_GGUF_INT16: case LS_GGUF_INT32: case LS_GGUF_INT64:
        kv->v.i = sign_extend(raw, (int)n);
        break;
    case LS_GGUF_FLOAT32: {
        uint32_t u = (uint32_t)raw;
        float f;
        memcpy(&f, &u, 4);
        kv->v.f = f;
        break;
    }
    case LS_GGUF_FLOAT64:
        memcpy(&kv->v.f, &raw, 8);
        break;
    case LS_GGUF_BOOL:
        kv->v.u = raw != 0; /* llama.cpp reads any non-zero byte as true */
        break;
    default:
        kv->v.u = raw;
        break;
    }
    return 0;
}

static int rd_array(cursor *c, ls_gguf_array *a, const char *key)
{
    uint32_t et;
    uint64_t count;
    if (rd_u32(c, &et, key) || rd_u64(c, &count, key))
        return -1;
    if (et == LS_GGUF_ARRAY)
        return ls_fail(c->err, "%s: %s: nested arrays are not supported", c->path, key);
    if (et >= LS_GGUF_N_TYPES)
        return ls_fail(c->err, "%s: %s: unknown array element type %u", c->path, key, et);
    if (count > GGUF_MAX_ARRAY)
        return ls_fail(c->err, "%s: %s: array of %llu elements exceeds 2^30", c->path, key,
                       (unsigned long long)count);
    a->type = (ls_gguf_type)et;
    a->count = count;
    a->data = c->data + c->pos;
    size_t start = c->pos;
    if (et == LS_GGUF_STRING) {
        for (uint64_t i = 0; i < count; i++) {
            ls_gguf_str s;
            if (rd_str(c, &s, key))
                return -1;
        }
    } else {
        uint64_t bytes = count * gguf_type_size[et]; /* <= 2^33: no overflow */
        if (need(c, (size_t)bytes, key))
            return -1;
        c->pos += (size_t)bytes;
    }
    a->nbytes = c->pos - start;
    return 0;
}

static int rd_kv(cursor *c, ls_gguf_kv *kv)
{
    ls_gguf_str key;
    if (rd_str(c, &key, "key"))
        return -1;
    if (key.len == 0)
        return ls_fail(c->err, "%s: key: empty key at byte %zu", c->path, c->pos - 8);
    if (key.len > GGUF_MAX_KEY)
        return ls_fail(c->err, "%s: key: %llu bytes exceeds 65535", c->path,
                       (unsigned long long)key.len);
    if (memchr(key.ptr, 0, (size_t)key.len))
        return ls_fail(c->err, "%s: key: contains a NUL byte", c->path);
    kv->key = dup_str(key);
    if (!kv->key)
        return ls_fail(c->err, "%s: out of memory", c->path);
    uint32_t type;
    if (rd_u32(c, &type, kv->key))
        return -1;
    if (type >= LS_GGUF_N_TYPES)
        return ls_fail(c->err, "%s: %s: unknown value type %u", c->path, kv->key, type);
    kv->type = (ls_gguf_type)type;
    if (type == LS_GGUF_STRING)
        return rd_str(c, &kv->v.s, kv->key);
    if (type == LS_GGUF_ARRAY)
        return rd_array(c, &kv->v.a, kv->key);
    return rd_scalar(c, kv, kv->key);
}

static int cmp_kv_ptr(const void *a, const void *b)
{
    return strcmp((*(ls_gguf_kv *const *)a)->key, (*(ls_gguf_kv *const *)b)->key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(ls_gguf_tensor *const *)a)->name, (*(ls_gguf_tensor *const *)b)->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const ls_gguf_tensor *x = *(ls_gguf_tensor *const *)a, *y = *(ls_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sorts pointers to n items with cmp and reports the first equal neighbours. */
static int find_duplicate(void **v, size_t n, int (*cmp)(const void *, const void *))
{
    qsort(v, n, sizeof *v, cmp);
    for (size_t i = 1; i < n; i++)
        if (cmp(&v[i - 1], &v[i]) == 0)
            return (int)i;
    return -1;
}

static int read_kvs(cursor *c, ls_gguf *g)
{
    /* every KV needs at least 8 (key len) + 1 (key) + 4 (type) + 1 (value) bytes */
    if ((uint64_t)g->n_kv > remaining(c) / 14)
        return ls_fail(c->err, "%s: n_kv: %lld key-value pairs cannot fit in the file",
                       c->path, (long long)g->n_kv);
    g->kv = calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
    if (!g->kv)
        return ls_fail(c->err, "%s: out of memory", c->path);
    for (int64_t i = 0; i < g->n_kv; i++)
        if (rd_kv(c, &g->kv[i]))
            return -1;
    if (g->n_kv < 2)
        return 0;
    void **v = malloc((size_t)g->n_kv * sizeof *v);
    if (!v)
        return ls_fail(c->err, "%s: out of memory", c->path);
    for (int64_t i = 0; i < g->n_kv; i++)
        v[i] = &g->kv[i];
    int d = find_duplicate(v, (size_t)g->n_kv, cmp_kv_ptr);
    int rc = d >= 0 ? ls_fail(c->err, "%s: %s: duplicate key", c->path,
                              ((ls_gguf_kv *)v[d])->key) : 0;
    free(v);
    return rc;
}

static int read_alignment(cursor *c, ls_gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const ls_gguf_kv *kv = ls_gguf_find(g, "general.alignment");
    if (!kv)
        return 0;
    if (kv->type != LS_GGUF_UINT32)
        return ls_fail(c->err, "%s: general.alignment: type %s, expected UINT32", c->path,
                       ls_gguf_type_name(kv->type));
    if (kv->v.u == 0 || (kv->v.u & (kv->v.u - 1)) != 0)
        return ls_fail(c->err, "%s: general.alignment: %llu is not a non-zero power of two",
                       c->path, (unsigned long long)kv->v.u);
    g->alignment = (size_t)kv->v.u;
    return 0;
}

static int tensor_type_size(uint32_t type)
{
    switch (type) {
    case LS_GGML_F32: return 4;
    case LS_GGML_F16: return 2;
    case LS_GGML_BF16: return 2;
    default: return 0;
    }
}

static int rd_tensor_info(cursor *c, ls_gguf *g, ls_gguf_tensor *t)
{
    ls_gguf_str name;
    if (rd_str(c, &name, "tensor name"))
        return -1;
    if (name.len == 0 || name.len > GGUF_MAX_TENSOR_NAME || memchr(name.ptr, 0, name.len))
        return ls_fail(c->err, "%s: tensor name: empty, longer than %d bytes or containing NUL "
                       "(at byte %zu)", c->path, GGUF_MAX_TENSOR_NAME, c->pos);
    t->name = dup_str(name);
    if (!t->name)
        return ls_fail(c->err, "%s: out of memory", c->path);
    if (rd_u32(c, &t->n_dims, t->name))
        return -1;
    if (t->n_dims > GGUF_MAX_DIMS)
        return ls_fail(c->err, "%s: tensor '%s': n_dims %u exceeds %d", c->path, t->name,
                       t->n_dims, GGUF_MAX_DIMS);
    int64_t elems = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if (rd_u64(c, &ne, t->name))
            return -1;
        if (ne > (uint64_t)INT64_MAX)
            return ls_fail(c->err, "%s: tensor '%s': ne[%u] is negative", c->path, t->name, d);
        t->ne[d] = (int64_t)ne;
        if (ne != 0 && elems > INT64_MAX / (int64_t)ne)
            return ls_fail(c->err, "%s: tensor '%s': element count overflows", c->path,
                           t->name);
        elems *= (int64_t)ne;
    }
    if (rd_u32(c, &t->type, t->name) || rd_u64(c, &t->offset, t->name))
        return -1;
    int ts = tensor_type_size(t->type);
    if (ts == 0)
        return ls_fail(c->err, "%s: tensor '%s': type %s (%u) is not supported (only F32, F16 "
                       "and BF16 are loaded)", c->path, t->name, ls_ggml_type_name((int)t->type),
                       t->type);
    if (elems > INT64_MAX / ts)
        return ls_fail(c->err, "%s: tensor '%s': byte size overflows", c->path, t->name);
    t->nbytes = (size_t)(elems * ts);
    if (t->offset % g->alignment != 0)
        return ls_fail(c->err, "%s: tensor '%s': offset %llu is not a multiple of the alignment "
                       "%zu", c->path, t->name, (unsigned long long)t->offset, g->alignment);
    return 0;
}

/* Every tensor inside the file, names unique, no two tensors overlapping. */
static int check_tensor_layout(cursor *c, ls_gguf *g)
{
    size_t n = (size_t)g->n_tensors;
    size_t avail = c->size - g->data_start;
    for (size_t i = 0; i < n; i++) {
        ls_gguf_tensor *t = &g->tensors[i];
        if (t->offset > avail || t->nbytes > avail - t->offset)
            return ls_fail(c->err, "%s: tensor '%s': data [%llu, +%zu) runs past the end of "
                           "the file (data section has %zu bytes)", c->path, t->name,
                           (unsigned long long)t->offset, t->nbytes, avail);
        t->data = c->data + g->data_start + t->offset;
    }
    if (n < 2)
        return 0;
    void **v = malloc(n * sizeof *v);
    if (!v)
        return ls_fail(c->err, "%s: out of memory", c->path);
    for (size_t i = 0; i < n; i++)
        v[i] = &g->tensors[i];
    int rc = 0;
    int d = find_duplicate(v, n, cmp_tensor_name);
    if (d >= 0)
        rc = ls_fail(c->err, "%s: tensor '%s': duplicate name", c->path,
                     ((ls_gguf_tensor *)v[d])->name);
    qsort(v, n, sizeof *v, cmp_tensor_offset);
    for (size_t i = 1; i < n && rc == 0; i++) {
        const ls_gguf_tensor *a = v[i - 1], *b = v[i];
        if (a->offset + a->nbytes > b->offset)
            rc = ls_fail(c->err, "%s: tensor '%s': data overlaps tensor '%s'", c->path, b->name,
                         a->name);
    }
    free(v);
    return rc;
}

static int read_tensors(cursor *c, ls_gguf *g)
{
    /* a tensor info needs at least 8 + 1 + 4 + 4 + 8 bytes */
    if ((uint64_t)g->n_tensors > remaining(c) / 25)
        return ls_fail(c->err, "%s: n_tensors: %lld tensor infos cannot fit in the file",
                       c->path, (long long)g->n_tensors);
    g->tensors = calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *g->tensors);
    if (!g->tensors)
        return ls_fail(c->err, "%s: out of memory", c->path);
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (rd_tensor_info(c, g, &g->tensors[i]))
            return -1;
    size_t pad = (g->alignment - c->pos % g->alignment) % g->alignment;
    if (c->pos > SIZE_MAX - pad)
        return ls_fail(c->err, "%s: data: start offset overflows", c->path);
    g->data_start = c->pos + pad;
    if (g->n_tensors == 0)
        return 0; /* may end before the aligned data start (§4.1) */
    if (g->data_start > c->size)
        return ls_fail(c->err, "%s: data: section starts at byte %zu, past the end of the file "
                       "(%zu bytes)", c->path, g->data_start, c->size);
    return check_tensor_layout(c, g);
}

static int read_header(cursor *c, ls_gguf *g)
{
    if (c->size < 4 || memcmp(c->data, "GGUF", 4) != 0)
        return ls_fail(c->err, "%s: magic: not a GGUF file", c->path);
    c->pos = 4;
    if (rd_u32(c, &g->version, "version"))
        return -1;
    if ((g->version & 0xffffu) == 0)
        return ls_fail(c->err, "%s: version: 0x%08x looks byte-swapped (big-endian file?)",
                       c->path, g->version);
    if (g->version != 2 && g->version != 3)
        return ls_fail(c->err, "%s: version: %u is not supported (2 and 3 are)", c->path,
                       g->version);
    uint64_t nt, nkv;
    if (rd_u64(c, &nt, "n_tensors") || rd_u64(c, &nkv, "n_kv"))
        return -1;
    if (nt > (uint64_t)INT64_MAX)
        return ls_fail(c->err, "%s: n_tensors: negative", c->path);
    if (nkv > (uint64_t)INT64_MAX)
        return ls_fail(c->err, "%s: n_kv: negative", c->path);
    g->n_tensors = (int64_t)nt;
    g->n_kv = (int64_t)nkv;
    return 0;
}

int ls_gguf_parse(const char *path, const uint8_t *data, size_t size, ls_gguf **out,
                  ls_error *err)
{
    *out = NULL;
    ls_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return ls_fail(err, "%s: out of memory", path);
    g->path = strdup(path);
    cursor c = {data, size, 0, path, err};
    int rc = !g->path ? ls_fail(err, "%s: out of memory", path) : read_header(&c, g);
    if (rc == 0)
        rc = read_kvs(&c, g);
    if (rc == 0)
        rc = read_alignment(&c, g);
    if (rc == 0)
        rc = read_tensors(&c, g);
    if (rc != 0) {
        ls_gguf_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

void ls_gguf_free(ls_gguf *g)
{
    if (!g)
        return;
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++)
            free(g->kv[i].key);
    if (g->tensors)
        for (int64_t i = 0; i < g->n_tensors; i++)
            free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(g->path);
    free(g);
}

/* ---- lookup ---- */

const ls_gguf_kv *ls_gguf_find(const ls_gguf *g, const char *key)
{
    for (int64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && strcmp(g->kv[i].key, key) == 0)
            return &g->kv[i];
    return NULL;
}

static int wrong_type(const ls_gguf *g, const ls_gguf_kv *kv, const char *want, ls_error *err)
{
    return ls_fail(err, "%s: %s: type %s, expected %s", g->path, kv->key,
                   ls_gguf_type_name(kv->type), want);
}

static bool is_int_type(ls_gguf_type t)
{
    return t == LS_GGUF_UINT8 || t == LS_GGUF_INT8 || t == LS_GGUF_UINT16 ||
           t == LS_GGUF_INT16 || t == LS_GGUF_UINT32 || t == LS_GGUF_INT32 ||
           t == LS_GGUF_UINT64 || t == LS_GGUF_INT64;
}

static bool is_signed_type(ls_gguf_type t)
{
    return t == LS_GGUF_INT8 || t == LS_GGUF_INT16 || t == LS_GGUF_INT32 || t == LS_GGUF_INT64;
}

int ls_gguf_get_str(const ls_gguf *g, const char *key, ls_gguf_str *out, ls_error *err)
{
    const ls_gguf_kv *kv = ls_gguf_find(g, key);
    if (!kv)
        return 0;
    if (kv->type != LS_GGUF_STRING)
        return wrong_type(g, kv, "STRING", err);
    *out = kv->v.s;
    return 1;
}

int ls_gguf_get_int(const ls_gguf *g, const char *key, int64_t *out, ls_error *err)
{
    const ls_gguf_kv *kv = ls_gguf_find(g, key);
    if (!kv)
        return 0;
    if (!is_int_type(kv->type))
        return wrong_type(g, kv, "an integer", err);
    if (is_signed_type(kv->type)) {
        *out = kv->v.i;
    } else {
        if (kv->v.u > (uint64_t)INT64_MAX)
            return ls_fail(err, "%s: %s: value %llu is too large", g->path, key,
                           (unsigned long long)kv->v.u);
        *out = (int64_t)kv->v.u;
    }
    return 1;
}

int ls_gguf_get_float(const ls_gguf *g, const char *key, double *out, ls_error *err)
{
    const ls_gguf_kv *kv = ls_gguf_find(g, key);
    if (!kv)
        return 0;
    if (kv->type == LS_GGUF_FLOAT32 || kv->type == LS_GGUF_FLOAT64)
        *out = kv->v.f;
    else if (is_signed_type(kv->type))
        *out = (double)kv->v.i;
    else if (is_int_type(kv->type))
        *out = (double)kv->v.u;
    else
        return wrong_type(g, kv, "a number", err);
    return 1;
}

int ls_gguf_get_bool(const ls_gguf *g, const char *key, bool *out, ls_error *err)
{
    const ls_gguf_kv *kv = ls_gguf_find(g, key);
    if (!kv)
        return 0;
    if (kv->type != LS_GGUF_BOOL)
        return wrong_type(g, kv, "BOOL", err);
    *out = kv->v.u != 0;
    return 1;
}

int ls_gguf_get_array(const ls_gguf *g, const char *key, ls_gguf_array *out, ls_error *err)
{
    const ls_gguf_kv *kv = ls_gguf_find(g, key);
    if (!kv)
        return 0;
    if (kv->type != LS_GGUF_ARRAY)
        return wrong_type(g, kv, "ARRAY", err);
    *out = kv->v.a;
    return 1;
}

bool ls_gguf_str_eq(ls_gguf_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

const uint8_t *ls_gguf_str_next(const uint8_t *p, ls_gguf_str *s)
{
    s->len = le(p, 8);
    s->ptr = (const char *)p + 8;
    return p + 8 + s->len;
}

int64_t ls_gguf_array_int(const ls_gguf_array *a, uint64_t i)
{
    if (a->type >= LS_GGUF_N_TYPES || i >= a->count)
        return 0;
    int n = gguf_type_size[a->type];
    if (n == 0)
        return 0;
    uint64_t raw = le(a->data + i * (uint64_t)n, n);
    if (is_signed_type(a->type))
        return sign_extend(raw, n);
    if (a->type == LS_GGUF_FLOAT32 || a->type == LS_GGUF_FLOAT64) {
        double d = ls_gguf_array_float(a, i);
        /* NaN or out of range would be undefined behaviour to convert */
        return d > -9.2e18 && d < 9.2e18 ? (int64_t)d : 0;
    }
    return (int64_t)raw;
}

double ls_gguf_array_float(const ls_gguf_array *a, uint64_t i)
{
    if (a->type >= LS_GGUF_N_TYPES || i >= a->count)
        return 0;
    int n = gguf_type_size[a->type];
    if (n == 0)
        return 0;
    uint64_t raw = le(a->data + i * (uint64_t)n, n);
    if (a->type == LS_GGUF_FLOAT32) {
        uint32_t u = (uint32_t)raw;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    if (a->type == LS_GGUF_FLOAT64) {
        double d;
        memcpy(&d, &raw, 8);
        return d;
    }
    if (is_signed_type(a->type))
        return (double)sign_extend(raw, n);
    return (double)raw;
}

int64_t ls_gguf_find_tensor(const ls_gguf *g, const char *name)
{
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return i;
    return -1;
}

/* ---- config (§4.3) ---- */

typedef struct cfg_ctx {
    const ls_gguf *g;
    const char *arch;
    ls_error *err;
} cfg_ctx;

/* Reads {arch}.suffix as an int in [min, 1e9]. Returns 1 found, 0 absent, -1 error. */
static int arch_int(cfg_ctx *x, const char *suffix, int min, bool required, int *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", x->arch, suffix);
    int64_t v;
    int rc = ls_gguf_get_int(x->g, key, &v, x->err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return required ? ls_fail(x->err, "%s: %s: required key is missing", x->g->path, key)
                        : 0;
    if (v < min || v > 1000000000)
        return ls_fail(x->err, "%s: %s: %lld is out of range", x->g->path, key, (long long)v);
    *out = (int)v;
    return 1;
}

static int arch_float(cfg_ctx *x, const char *suffix, bool required, double *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", x->arch, suffix);
    double v;
    int rc = ls_gguf_get_float(x->g, key, &v, x->err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return required ? ls_fail(x->err, "%s: %s: required key is missing", x->g->path, key)
                        : 0;
    if (!(v > 0 && v < 1e300))
        return ls_fail(x->err, "%s: %s: %g is not a positive number", x->g->path, key, v);
    *out = v;
    return 1;
}

static int gguf_rope_scaling(cfg_ctx *x, ls_config *cfg)
{
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", x->arch);
    ls_gguf_str type = {"", 0};
    int has_type = ls_gguf_get_str(x->g, key, &type, x->err);
    if (has_type < 0)
        return -1;
    double factor = 0;
    int has_factor = arch_float(x, "rope.scaling.factor", false, &factor);
    if (has_factor == 0)
        has_factor = arch_float(x, "rope.scale_linear", false, &factor);
    if (has_factor < 0)
        return -1;
    cfg->rope_scaling = LS_ROPE_SCALING_NONE;
    cfg->rope_factor = 1.0;
    if (has_type && !ls_gguf_str_eq(type, "none") && !ls_gguf_str_eq(type, "linear"))
        return ls_fail(x->err, "%s: %s: RoPE scaling type \"%.*s\" is not supported (none and "
                       "linear are)", x->g->path, key, (int)(type.len > 40 ? 40 : type.len),
                       type.ptr);
    if (has_type && ls_gguf_str_eq(type, "none"))
        return 0;
    /* linear explicitly, or llama.cpp's assumption when only a factor is given */
    if (has_factor && factor != 1.0) {
        cfg->rope_scaling = LS_ROPE_SCALING_LINEAR;
        cfg->rope_factor = factor;
    } else if (has_type) {
        return ls_fail(x->err, "%s: %s.rope.scaling.factor: required for linear scaling",
                       x->g->path, x->arch);
    }
    return 0;
}

static int gguf_vocab(cfg_ctx *x, ls_config *cfg)
{
    int rc = arch_int(x, "vocab_size", 1, false, &cfg->vocab_size);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    ls_gguf_array tokens;
    rc = ls_gguf_get_array(x->g, "tokenizer.ggml.tokens", &tokens, x->err);
    if (rc < 0)
        return -1;
    if (rc > 0 && tokens.count > 0 && tokens.count <= 1000000000) {
        cfg->vocab_size = (int)tokens.count;
        return 0;
    }
    int64_t t = ls_gguf_find_tensor(x->g, "token_embd.weight");
    if (t >= 0 && x->g->tensors[t].n_dims == 2 && x->g->tensors[t].ne[1] > 0 &&
        x->g->tensors[t].ne[1] <= 1000000000) {
        cfg->vocab_size = (int)x->g->tensors[t].ne[1];
        return 0;
    }
    return ls_fail(x->err, "%s: %s.vocab_size: missing, and no tokenizer.ggml.tokens to count",
                   x->g->path, x->arch);
}

static int gguf_arch(const ls_gguf *g, ls_config *cfg, const char **arch, ls_error *err)
{
    ls_gguf_str a;
    int rc = ls_gguf_get_str(g, "general.architecture", &a, err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return ls_fail(err, "%s: general.architecture: required key is missing", g->path);
    if (ls_gguf_str_eq(a, "llama")) {
        *arch = "llama";
        cfg->arch = LS_ARCH_LLAMA;
        cfg->rope_layout = LS_ROPE_PAIRS;
    } else if (ls_gguf_str_eq(a, "qwen2")) {
        *arch = "qwen2";
        cfg->arch = LS_ARCH_QWEN2;
        cfg->rope_layout = LS_ROPE_HALVES;
        cfg->qkv_bias = true;
    } else {
        return ls_fail(err, "%s: general.architecture: \"%.*s\" is not supported (llama and "
                       "qwen2 are)", g->path, (int)(a.len > 40 ? 40 : a.len), a.ptr);
    }
    return 0;
}

int ls_gguf_config(const ls_gguf *g, ls_config *cfg, ls_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg_ctx x = {g, NULL, err};
    if (gguf_arch(g, cfg, &x.arch, err) != 0)
        return -1;
    int experts = 0;
    if (arch_int(&x, "expert_count", 0, false, &experts) < 0)
        return -1;
    if (experts > 0)
        return ls_fail(err, "%s: %s.expert_count: mixture-of-experts models are not supported",
                       g->path, x.arch);
    if (arch_int(&x, "block_count", 1, true, &cfg->n_layers) < 0 ||
        arch_int(&x, "embedding_length", 1, true, &cfg->dim) < 0 ||
        arch_int(&x, "feed_forward_length", 1, true, &cfg->hidden_dim) < 0 ||
        arch_int(&x, "attention.head_count", 1, true, &cfg->n_heads) < 0 ||
        arch_int(&x, "context_length", 1, true, &cfg->context) < 0 ||
        arch_float(&x, "attention.layer_norm_rms_epsilon", true, &cfg->norm_eps) < 0)
        return -1;
    cfg->n_kv_heads = cfg->n_heads;
    if (arch_int(&x, "attention.head_count_kv", 1, false, &cfg->n_kv_heads) < 0)
        return -1;
    if (cfg->n_heads % cfg->n_kv_heads != 0)
        return ls_fail(err, "%s: %s.attention.head_count_kv: %d does not divide head_count %d",
                       g->path, x.arch, cfg->n_kv_heads, cfg->n_heads);
    int rc = arch_int(&x, "attention.key_length", 1, false, &cfg->head_dim);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (cfg->dim % cfg->n_heads != 0)
            return ls_fail(err, "%s: %s.attention.head_count: %d does not divide "
                           "embedding_length %d", g->path, x.arch, cfg->n_heads, cfg->dim);
        cfg->head_dim = cfg->dim / cfg->n_heads;
    }
    if (cfg->head_dim % 2 != 0 || (int64_t)cfg->head_dim * cfg->n_heads > 1000000000)
        return ls_fail(err, "%s: %s.attention.key_length: head size %d is odd or too large",
                       g->path, x.arch, cfg->head_dim);
    int rot = cfg->head_dim;
    if (arch_int(&x, "rope.dimension_count", 1, false, &rot) < 0)
        return -1;
    if (rot != cfg->head_dim)
        return ls_fail(err, "%s: %s.rope.dimension_count: %d differs from the head size %d "
                       "(partial rotary embeddings are not supported)", g->path, x.arch, rot,
                       cfg->head_dim);
    cfg->rope_theta = 10000.0;
    if (arch_float(&x, "rope.freq_base", false, &cfg->rope_theta) < 0 ||
        gguf_rope_scaling(&x, cfg) != 0 || gguf_vocab(&x, cfg) != 0)
        return -1;
    cfg->tied = ls_gguf_find_tensor(g, "output.weight") < 0;
    return 0;
}
