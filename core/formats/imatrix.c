#include "formats/imatrix.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic_write.h"
#include "base/mapfile.h"
#include "formats/gguf.h"

#define LEGACY_MAX_ENTRIES 1000000
#define LEGACY_MAX_NAME 1024
#define MAX_COLS (1 << 24)
#define IMATRIX_MAX_LAYER 100000 /* names beyond: not a layer (profiles take 256) */

const char *ls_imatrix_format_name(ls_imatrix_format f)
{
    return f == LS_IMATRIX_GGUF ? "gguf" : "legacy";
}

__attribute__((format(printf, 2, 3))) static void warn(ls_imatrix *im, const char *fmt, ...)
{
    if (im->n_warnings >= LS_IMATRIX_MAX_WARNINGS) {
        im->n_warnings_dropped++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->warnings[im->n_warnings++], sizeof im->warnings[0], fmt, ap);
    va_end(ap);
}

void ls_imatrix_free(ls_imatrix *im)
{
    if (!im)
        return;
    for (int i = 0; i < im->n_entries; i++)
        free(im->entries[i].sum2);
    free(im->entries);
    free(im->path);
    free(im);
}

static ls_imatrix *imatrix_new(const char *path, ls_imatrix_format f, int cap, ls_error *err)
{
    ls_imatrix *im = calloc(1, sizeof *im);
    if (im) {
        im->path = strdup(path);
        im->entries = calloc((size_t)(cap > 0 ? cap : 1), sizeof *im->entries);
    }
    if (!im || !im->path || !im->entries) {
        ls_imatrix_free(im);
        ls_fail(err, "%s: out of memory", path);
        return NULL;
    }
    im->format = f;
    im->chunks = -1;
    im->chunk_size = -1;
    return im;
}

/* ---- names ---- */

typedef enum name_kind { NAME_OK, NAME_UNKNOWN, NAME_EXPERT } name_kind;

/* "blk.N.<gguf module>.weight" -> (layer, module). Expert tensors are *_exps / *_shexp. */
static name_kind parse_name(const char *name, int *layer, int *module)
{
    int l = -1, n = 0;
    if (sscanf(name, "blk.%d.%n", &l, &n) != 1 || n == 0 || l < 0 || l >= IMATRIX_MAX_LAYER)
        return NAME_UNKNOWN;
    const char *rest = name + n;
    const char *dot = strchr(rest, '.');
    if (!dot || strcmp(dot, ".weight") != 0)
        return NAME_UNKNOWN;
    char mod[64];
    size_t len = (size_t)(dot - rest);
    if (len >= sizeof mod)
        return NAME_UNKNOWN;
    memcpy(mod, rest, len);
    mod[len] = '\0';
    if (strstr(mod, "_exps") || strstr(mod, "_shexp") || strstr(mod, "_chexps") ||
        strcmp(mod, "ffn_gate_inp") == 0)
        return NAME_EXPERT;
    static const char *const gguf[LS_N_MODULES] = {
        "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
    };
    for (int k = 0; k < LS_N_MODULES; k++)
        if (strcmp(mod, gguf[k]) == 0) {
            *layer = l;
            *module = k;
            return NAME_OK;
        }
    return NAME_UNKNOWN;
}

int ls_imatrix_find(const ls_imatrix *im, int layer, int module)
{
    for (int i = 0; i < im->n_entries; i++)
        if (im->entries[i].layer == layer && im->entries[i].module == module)
            return i;
    return -1;
}

/* Adds a parsed entry (sum2 already owned by e); checks duplicates and values. */
static int add_entry(ls_imatrix *im, ls_imatrix_entry *e, ls_error *err)
{
    if (ls_imatrix_find(im, e->layer, e->module) >= 0) {
        free(e->sum2);
        return ls_fail(err, "%s: %s: appears twice", im->path, e->name);
    }
    int64_t bad_at = -1;
    for (int64_t j = 0; j < e->n_cols && bad_at < 0; j++)
        if (!isfinite(e->sum2[j]) || e->sum2[j] < 0)
            bad_at = j;
    if (bad_at >= 0) {
        e->bad = true;
        warn(im, "%s: %s: value %lld is %g (not a finite non-negative number): entry left "
                 "out", im->path, e->name, (long long)bad_at, (double)e->sum2[bad_at]);
    } else if (!(e->count > 0) || !isfinite(e->count)) {
        e->bad = true;
        warn(im, "%s: %s: count %g is not positive: entry left out", im->path, e->name,
             e->count);
    }
    im->entries[im->n_entries++] = *e;
    if (e->layer + 1 > im->n_layers)
        im->n_layers = e->layer + 1;
    return 0;
}

/* Maps a name; 1 = use it, 0 = skip it (warned), -1 = refuse the file. */
static int map_name(ls_imatrix *im, const char *name, ls_imatrix_entry *e, ls_error *err)
{
    snprintf(e->name, sizeof e->name, "%s", name);
    switch (parse_name(name, &e->layer, &e->module)) {
    case NAME_OK:
        return 1;
    case NAME_EXPERT:
        return ls_fail(err, "%s: %s: expert (MoE) tensors are not supported (layerscope "
                            "handles dense LLaMA-family models)", im->path, name);
    default:
        warn(im, "%s: %s: not one of the 7 linear types of a layer: skipped", im->path, name);
        return 0;
    }
}

static int finish(ls_imatrix *im, ls_error *err)
{
    int good = 0;
    for (int i = 0; i < im->n_entries; i++)
        good += !im->entries[i].bad;
    if (im->n_entries == 0)
        return ls_fail(err, "%s: no entry names a linear matrix of a layer (blk.N.attn_q.weight"
                            " ... blk.N.ffn_down.weight)", im->path);
    if (good == 0)
        return ls_fail(err, "%s: every entry has bad values (NaN, negative or a zero count): %s",
                       im->path, im->warnings[0]);
    return 0;
}

/* ---- legacy ---- */

typedef struct rd {
    const uint8_t *p;
    size_t size, pos;
} rd;

static bool rd_i32(rd *r, int32_t *v)
{
    if (r->size - r->pos < 4)
        return false;
    uint32_t u = (uint32_t)r->p[r->pos] | (uint32_t)r->p[r->pos + 1] << 8 |
                 (uint32_t)r->p[r->pos + 2] << 16 | (uint32_t)r->p[r->pos + 3] << 24;
    memcpy(v, &u, 4);
    r->pos += 4;
    return true;
}

static bool printable_name(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return n > 0;
}

static bool legacy_plausible(const uint8_t *d, size_t size)
{
    rd r = {d, size, 0};
    int32_t n, len;
    if (!rd_i32(&r, &n) || n < 1 || n > LEGACY_MAX_ENTRIES || !rd_i32(&r, &len) || len < 1 ||
        len > LEGACY_MAX_NAME || size - r.pos < (size_t)len)
        return false;
    return printable_name(d + r.pos, (size_t)len);
}

static int parse_legacy(const char *path, const uint8_t *d, size_t size, ls_imatrix **out,
                        ls_error *err)
{
    rd r = {d, size, 0};
    int32_t n;
    if (!rd_i32(&r, &n))
        return ls_fail(err, "%s: entry count: truncated (file of %zu bytes)", path, size);
    if (n < 1 || n > LEGACY_MAX_ENTRIES)
        return ls_fail(err, "%s: entry count: %d (expected 1 to %d)", path, n,
                       LEGACY_MAX_ENTRIES);
    ls_imatrix *im = imatrix_new(path, LS_IMATRIX_LEGACY, n, err);
    if (!im)
        return -1;
    for (int32_t i = 0; i < n; i++) {
        int32_t len, ncall, nval;
        if (!rd_i32(&r, &len))
            goto trunc;
        if (len < 1 || len > LEGACY_MAX_NAME) {
            ls_fail(err, "%s: entry %d: name length %d (expected 1 to %d)", path, i, len,
                    LEGACY_MAX_NAME);
            goto fail;
        }
        if (size - r.pos < (size_t)len)
            goto trunc;
        char name[LEGACY_MAX_NAME + 1];
        memcpy(name, d + r.pos, (size_t)len);
        name[len] = '\0';
        r.pos += (size_t)len;
        if (!printable_name((const uint8_t *)name, (size_t)len)) {
            ls_fail(err, "%s: entry %d: name is not printable text", path, i);
            goto fail;
        }
        if (!rd_i32(&r, &ncall) || !rd_i32(&r, &nval))
            goto trunc;
        if (nval < 1 || nval > MAX_COLS) {
            ls_fail(err, "%s: %s: value count %d (expected 1 to %d)", path, name, nval, MAX_COLS);
            goto fail;
        }
        if ((size - r.pos) / 4 < (size_t)nval)
            goto trunc;
        ls_imatrix_entry e;
        memset(&e, 0, sizeof e);
        int use = map_name(im, name, &e, err);
        if (use < 0)
            goto fail;
        if (use) {
            e.n_cols = nval;
            e.count = ncall;
            e.sum2 = malloc((size_t)nval * sizeof *e.sum2);
            if (!e.sum2) {
                ls_fail(err, "%s: out of memory", path);
                goto fail;
            }
            memcpy(e.sum2, d + r.pos, (size_t)nval * 4); /* little-endian hosts */
            if (add_entry(im, &e, err) < 0)
                goto fail;
        }
        r.pos += (size_t)nval * 4;
    }
    /* Optional tail: chunk count, then the dataset name. */
    int32_t chunks, dlen;
    if (rd_i32(&r, &chunks)) {
        im->chunks = chunks;
        if (rd_i32(&r, &dlen)) {
            if (dlen < 0 || (size_t)dlen > size - r.pos) {
                ls_fail(err, "%s: dataset name: length %d, %zu bytes left", path, dlen,
                        size - r.pos);
                goto fail;
            }
            size_t keep = (size_t)dlen < sizeof im->dataset - 1 ? (size_t)dlen
                                                                 : sizeof im->dataset - 1;
            memcpy(im->dataset, d + r.pos, keep);
            im->dataset[keep] = '\0';
        }
    }
    if (finish(im, err) < 0)
        goto fail;
    *out = im;
    return 0;
trunc:
    ls_fail(err, "%s: truncated at byte %zu (entry %d of %d)", path, r.pos,
            im->n_entries, n);
fail:
    ls_imatrix_free(im);
    return -1;
}

/* ---- GGUF ---- */

static bool has_suffix(const char *s, const char *suf, size_t *stem)
{
    size_t n = strlen(s), m = strlen(suf);
    if (n <= m || strcmp(s + n - m, suf) != 0)
        return false;
    *stem = n - m;
    return true;
}

static int gguf_to_imatrix(const ls_gguf *g, ls_imatrix **out, ls_error *err)
{
    const char *path = g->path;
    ls_gguf_str type;
    int rc = ls_gguf_get_str(g, "general.type", &type, err);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return ls_fail(err, "%s: general.type: missing (an imatrix has \"imatrix\"; is this a "
                            "model?)", path);
    if (!ls_gguf_str_eq(type, "imatrix"))
        return ls_fail(err, "%s: general.type: \"%.*s\", expected \"imatrix\"", path,
                       (int)(type.len < 64 ? type.len : 64), type.ptr);
    ls_imatrix *im = imatrix_new(path, LS_IMATRIX_GGUF, (int)(g->n_tensors / 2 + 1), err);
    if (!im)
        return -1;
    int64_t v;
    if ((rc = ls_gguf_get_int(g, "imatrix.chunk_count", &v, err)) < 0)
        goto fail;
    if (rc)
        im->chunks = v;
    if ((rc = ls_gguf_get_int(g, "imatrix.chunk_size", &v, err)) < 0)
        goto fail;
    if (rc)
        im->chunk_size = v;
    ls_gguf_array ds;
    if ((rc = ls_gguf_get_array(g, "imatrix.datasets", &ds, err)) < 0)
        goto fail;
    if (rc && ds.type == LS_GGUF_STRING) {
        const uint8_t *p = ds.data;
        for (uint64_t i = 0; i < ds.count; i++) {
            ls_gguf_str s;
            p = ls_gguf_str_next(p, &s);
            size_t used = strlen(im->dataset);
            snprintf(im->dataset + used, sizeof im->dataset - used, "%s%.*s", i ? ", " : "",
                     (int)(s.len < 200 ? s.len : 200), s.ptr);
        }
    }
    for (int64_t t = 0; t < g->n_tensors; t++) {
        const ls_gguf_tensor *ts = &g->tensors[t];
        size_t stem;
        if (has_suffix(ts->name, ".counts", &stem)) {
            char base[128];
            snprintf(base, sizeof base, "%.*s.in_sum2", (int)stem, ts->name);
            if (ls_gguf_find_tensor(g, base) < 0) {
                ls_fail(err, "%s: %s: no matching %s", path, ts->name, base);
                goto fail;
            }
            continue;
        }
        if (!has_suffix(ts->name, ".in_sum2", &stem)) {
            warn(im, "%s: %s: neither NAME.in_sum2 nor NAME.counts: skipped", path, ts->name);
            continue;
        }
        char name[128], cname[160];
        snprintf(name, sizeof name, "%.*s", (int)(stem < 120 ? stem : 120), ts->name);
        snprintf(cname, sizeof cname, "%s.counts", name);
        int64_t ci = ls_gguf_find_tensor(g, cname);
        if (ci < 0) {
            ls_fail(err, "%s: %s: no matching %s", path, ts->name, cname);
            goto fail;
        }
        const ls_gguf_tensor *ct = &g->tensors[ci];
        if (ts->type != LS_GGML_F32 || ct->type != LS_GGML_F32) {
            ls_fail(err, "%s: %s: type %s, expected F32", path,
                    ts->type != LS_GGML_F32 ? ts->name : ct->name,
                    ls_ggml_type_name((int)(ts->type != LS_GGML_F32 ? ts->type : ct->type)));
            goto fail;
        }
        int64_t cols = ts->ne[0], n_mat = 1, n_counts = 1;
        for (uint32_t k = 1; k < ts->n_dims; k++)
            n_mat *= ts->ne[k];
        for (uint32_t k = 0; k < ct->n_dims; k++)
            n_counts *= ct->ne[k];
        ls_imatrix_entry e;
        memset(&e, 0, sizeof e);
        int use = map_name(im, name, &e, err);
        if (use < 0)
            goto fail;
        if (n_mat != 1 || n_counts != 1) {
            if (use || strstr(name, "_exps")) {
                ls_fail(err, "%s: %s: %lld matrices (experts): expert (MoE) tensors are not "
                             "supported", path, ts->name, (long long)n_mat);
                goto fail;
            }
            continue;
        }
        if (!use)
            continue;
        if (cols < 1 || cols > MAX_COLS) {
            ls_fail(err, "%s: %s: %lld values (expected 1 to %d)", path, ts->name,
                    (long long)cols, MAX_COLS);
            goto fail;
        }
        e.n_cols = cols;
        float c;
        memcpy(&c, ct->data, 4);
        e.count = c;
        e.sum2 = malloc((size_t)cols * sizeof *e.sum2);
        if (!e.sum2) {
            ls_fail(err, "%s: out of memory", path);
            goto fail;
        }
        memcpy(e.sum2, ts->data, (size_t)cols * 4);
        if (add_entry(im, &e, err) < 0)
            goto fail;
    }
    if (finish(im, err) < 0)
        goto fail;
    *out = im;
    return 0;
fail:
    ls_imatrix_free(im);
    return -1;
}

int ls_imatrix_parse(const char *path, const uint8_t *data, size_t size, ls_imatrix **out,
                     ls_error *err)
{
    *out = NULL;
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
        ls_gguf *g;
        if (ls_gguf_parse(path, data, size, &g, err) < 0)
            return -1;
        int rc = gguf_to_imatrix(g, out, err);
        ls_gguf_free(g);
        return rc;
    }
    if (size < 8)
        return ls_fail(err, "%s: too short for an imatrix (%zu bytes)", path, size);
    if (!legacy_plausible(data, size))
        return ls_fail(err, "%s: not an importance matrix (neither a GGUF with general.type "
                            "imatrix nor llama.cpp's legacy format: an entry count followed "
                            "by a tensor name)", path);
    return parse_legacy(path, data, size, out, err);
}

int ls_imatrix_read(const char *path, ls_imatrix **out, ls_error *err)
{
    ls_mapped_file mf;
    if (ls_map_file(path, &mf, err) < 0)
        return -1;
    int rc = ls_imatrix_parse(path, mf.data, mf.size, out, err);
    ls_unmap_file(&mf);
    return rc;
}

ls_imatrix_kind ls_imatrix_sniff(const char *path)
{
    FILE *f = ls_fopen_regular(path, NULL); /* never blocks on a FIFO */
    if (!f)
        return LS_IMATRIX_NOT;
    uint8_t head[8 + LEGACY_MAX_NAME];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 4 && memcmp(head, "GGUF", 4) == 0) {
        /* A GGUF is an imatrix when its general.type says so: parse the header. */
        ls_mapped_file mf;
        ls_error e;
        if (ls_map_file(path, &mf, &e) < 0)
            return LS_IMATRIX_NOT;
        ls_gguf *g;
        ls_imatrix_kind k = LS_IMATRIX_NOT;
        if (ls_gguf_parse(path, mf.data, mf.size, &g, &e) == 0) {
            ls_gguf_str s;
            if (ls_gguf_get_str(g, "general.type", &s, &e) == 1 && ls_gguf_str_eq(s, "imatrix"))
                k = LS_IMATRIX_IS_GGUF;
            ls_gguf_free(g);
        }
        ls_unmap_file(&mf);
        return k;
    }
    return legacy_plausible(head, n) ? LS_IMATRIX_IS_LEGACY : LS_IMATRIX_NOT;
}

/* ---- values and statistics ---- */

double ls_imatrix_mean(const ls_imatrix_entry *e, int64_t j)
{
    return (double)e->sum2[j] / e->count;
}

double ls_imatrix_energy(const ls_imatrix_entry *e)
{
    if (e->bad)
        return NAN;
    double s = 0.0;
    for (int64_t j = 0; j < e->n_cols; j++)
        s += ls_imatrix_mean(e, j);
    return s;
}

void ls_imatrix_stats(const ls_imatrix *im, int i, ls_act_stats *o)
{
    memset(o, 0, sizeof *o);
    const ls_imatrix_entry *e = &im->entries[i];
    o->cossim = NAN;
    if (e->bad || e->n_cols < 1)
        return;
    int64_t n = e->n_cols;
    double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
    int64_t inactive = 0;
    for (int64_t j = 0; j < n; j++) {
        double a = ls_imatrix_mean(e, j);
        sum += a;
        sq += a * a;
        mn = a < mn ? a : mn;
        mx = a > mx ? a : mx;
        inactive += fabs(a) <= 1e-5;
    }
    o->known = true;
    o->n = n;
    o->sum = sum;
    o->min = mn;
    o->max = mx;
    o->mean = sum / (double)n;
    double var = sq / (double)n - o->mean * o->mean;
    o->stddev = sqrt(var > 0 ? var : 0);
    o->active = 1.0 - (double)inactive / (double)n;
    double ent = 0;
    if (sum > 0)
        for (int64_t j = 0; j < n; j++) {
            double p = ls_imatrix_mean(e, j) / sum;
            if (p > 0)
                ent -= p * log2(p);
        }
    o->entropy = ent;
    o->entropy_norm = n > 1 ? ent / log2((double)n) : 0;
    int64_t z = 0;
    if (o->stddev > 0)
        for (int64_t j = 0; j < n; j++)
            z += (ls_imatrix_mean(e, j) - o->mean) / o->stddev > 1;
    o->zd = (double)z / (double)n;
    int prev = e->layer > 0 ? ls_imatrix_find(im, e->layer - 1, e->module) : -1;
    if (prev >= 0 && !im->entries[prev].bad && im->entries[prev].n_cols == n) {
        const float *a = e->sum2, *b = im->entries[prev].sum2;
        double dot = 0, na = 0, nb = 0;
        for (int64_t j = 0; j < n; j++) {
            dot += (double)a[j] * b[j];
            na += (double)a[j] * a[j];
            nb += (double)b[j] * b[j];
        }
        o->cossim = na > 0 && nb > 0 ? dot / sqrt(na * nb) : NAN;
    }
}

/* ---- accumulating and writing ---- */

ls_imatrix *ls_imatrix_for_model(const ls_model *m, ls_error *err)
{
    int L = m->cfg.n_layers;
    ls_imatrix *im = imatrix_new(m->path, LS_IMATRIX_GGUF, L * LS_N_MODULES, err);
    if (!im)
        return NULL;
    for (int l = 0; l < L; l++)
        for (int mod = 0; mod < LS_N_MODULES; mod++) {
            ls_imatrix_entry *e = &im->entries[im->n_entries++];
            static const char *const gguf[LS_N_MODULES] = {
                "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
            };
            snprintf(e->name, sizeof e->name, "blk.%d.%s.weight", l, gguf[mod]);
            e->layer = l;
            e->module = mod;
            int64_t rows;
            ls_module_shape(&m->cfg, mod, &rows, &e->n_cols);
            e->sum2 = calloc((size_t)e->n_cols, sizeof *e->sum2);
            if (!e->sum2) {
                ls_imatrix_free(im);
                ls_fail(err, "%s: out of memory", m->path);
                return NULL;
            }
        }
    im->n_layers = L;
    im->chunks = 0;
    return im;
}

void ls_imatrix_accumulate(ls_imatrix_entry *e, const float *x, int64_t rows)
{
    int64_t n = e->n_cols;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * n;
        for (int64_t j = 0; j < n; j++)
            e->sum2[j] += row[j] * row[j];
    }
    e->count += (double)rows;
}

/* GGUF v3 writing: little-endian scalars, strings as u64 length + bytes. */
static void w_u32(FILE *f, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

static void w_u64(FILE *f, uint64_t v)
{
    w_u32(f, (uint32_t)v);
    w_u32(f, (uint32_t)(v >> 32));
}

static void w_str(FILE *f, const char *s)
{
    w_u64(f, strlen(s));
    fwrite(s, 1, strlen(s), f);
}

static int by_name(const void *a, const void *b)
{
    const ls_imatrix_entry *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

int ls_imatrix_write_gguf(const char *path, const ls_imatrix *im, ls_error *err)
{
    const ls_imatrix_entry **order = malloc((size_t)(im->n_entries + 1) * sizeof *order);
    if (!order)
        return ls_fail(err, "%s: out of memory", path);
    int n = 0;
    for (int i = 0; i < im->n_entries; i++)
        if (!im->entries[i].bad && im->entries[i].count > 0)
            order[n++] = &im->entries[i];
    qsort(order, (size_t)n, sizeof *order, by_name); /* llama.cpp writes them sorted */
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0) {
        free(order);
        return -1;
    }
    FILE *f = af.f;
    const uint32_t align = 32;
    fwrite("GGUF", 1, 4, f);
    w_u32(f, 3);
    w_u64(f, (uint64_t)n * 2);
    w_u64(f, 4);
    w_str(f, "general.type");
    w_u32(f, LS_GGUF_STRING);
    w_str(f, "imatrix");
    w_str(f, "imatrix.datasets");
    w_u32(f, LS_GGUF_ARRAY);
    w_u32(f, LS_GGUF_STRING);
    w_u64(f, im->dataset[0] ? 1 : 0);
    if (im->dataset[0])
        w_str(f, im->dataset);
    w_str(f, "imatrix.chunk_count");
    w_u32(f, LS_GGUF_UINT32);
    w_u32(f, (uint32_t)(im->chunks > 0 ? im->chunks : 0));
    w_str(f, "imatrix.chunk_size");
    w_u32(f, LS_GGUF_UINT32);
    w_u32(f, (uint32_t)(im->chunk_size > 0 ? im->chunk_size : 0));
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        char name[160];
        for (int part = 0; part < 2; part++) {
            snprintf(name, sizeof name, "%s.%s", order[i]->name, part ? "counts" : "in_sum2");
            w_str(f, name);
            w_u32(f, 2);
            w_u64(f, part ? 1 : (uint64_t)order[i]->n_cols);
            w_u64(f, 1);
            w_u32(f, LS_GGML_F32);
            w_u64(f, off);
            uint64_t bytes = part ? 4 : (uint64_t)order[i]->n_cols * 4;
            off += (bytes + align - 1) / align * align;
        }
    }
    long pos = ftell(f);
    static const uint8_t zeros[32];
    if (pos > 0 && pos % align)
        fwrite(zeros, 1, (size_t)(align - (uint64_t)pos % align), f);
    for (int i = 0; i < n; i++) {
        fwrite(order[i]->sum2, 4, (size_t)order[i]->n_cols, f); /* little-endian hosts */
        uint64_t bytes = (uint64_t)order[i]->n_cols * 4;
        if (bytes % align)
            fwrite(zeros, 1, (size_t)(align - bytes % align), f);
        float c = (float)order[i]->count;
        fwrite(&c, 4, 1, f);
        fwrite(zeros, 1, align - 4, f);
    }
    free(order);
    if (ferror(f)) {
        ls_atomic_abort(&af);
        return ls_fail(err, "%s: write error", path);
    }
    return ls_atomic_commit(&af, err);
}
