#include "eval/qcache.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/atomic_write.h"

#define FNV_PRIME 0x100000001b3ull

uint64_t ls_qcache_hash(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

int ls_qcache_dir(char *buf, size_t cap)
{
    const char *e = getenv("LAYERSCOPE_CACHE_DIR");
    if (e && *e)
        return snprintf(buf, cap, "%s", e) < (int)cap ? 0 : -1;
    e = getenv("XDG_CACHE_HOME");
    if (e && *e == '/')
        return snprintf(buf, cap, "%s/layerscope", e) < (int)cap ? 0 : -1;
    e = getenv("HOME");
    if (e && *e)
        return snprintf(buf, cap, "%s/.cache/layerscope", e) < (int)cap ? 0 : -1;
    return -1;
}

uint64_t ls_qcache_model_key(const ls_model *m)
{
    /* the tensor table (names, types, shapes), as the session fingerprint hashes it */
    uint64_t h = LS_QCACHE_HASH_INIT;
    for (int i = 0; i < m->n_tensors; i++) {
        const ls_tensor *t = &m->tensors[i];
        h = ls_qcache_hash(h, t->name, strlen(t->name));
        h = ls_qcache_hash(h, &t->dtype, sizeof t->dtype);
        h = ls_qcache_hash(h, &t->n_dims, sizeof t->n_dims);
        h = ls_qcache_hash(h, t->shape, (size_t)t->n_dims * sizeof *t->shape);
    }
    const ls_config *c = &m->cfg; /* field by field: the struct has padding */
    int ints[] = {(int)c->arch, c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                  c->head_dim, c->vocab_size, c->context, (int)c->rope_scaling,
                  c->rope_original_context, (int)c->rope_layout, c->tied, c->qkv_bias,
                  c->sliding_window};
    double dbl[] = {c->norm_eps, c->rope_theta, c->rope_factor, c->rope_low_freq_factor,
                    c->rope_high_freq_factor};
    h = ls_qcache_hash(h, ints, sizeof ints);
    h = ls_qcache_hash(h, dbl, sizeof dbl);
    for (int i = 0; i < m->n_files; i++) {
        const unsigned char *d = m->files[i].data;
        uint64_t size = m->files[i].size;
        h = ls_qcache_hash(h, &size, sizeof size);
        if (!d || size == 0)
            continue;
        h = ls_qcache_hash(h, d, (size_t)(size < 65536 ? size : 65536));
        for (int s = 0; s < 64; s++) {
            uint64_t at = size > 4096 ? (size - 4096) / 63 * (uint64_t)s : 0;
            uint64_t len = size - at < 4096 ? size - at : 4096;
            h = ls_qcache_hash(h, d + at, (size_t)len);
        }
    }
    return h;
}

void ls_qcache_path(const char *dir, const ls_qcache_hdr *h, char *buf, size_t cap)
{
    uint64_t k = ls_qcache_hash(LS_QCACHE_HASH_INIT, &h->model, sizeof h->model);
    k = ls_qcache_hash(k, &h->text, sizeof h->text);
    k = ls_qcache_hash(k, &h->alloc, sizeof h->alloc);
    k = ls_qcache_hash(k, &h->protocol, sizeof h->protocol);
    k = ls_qcache_hash(k, &h->ctx, sizeof h->ctx);
    k = ls_qcache_hash(k, &h->stride, sizeof h->stride);
    snprintf(buf, cap, "%s/%s-%016llx.lsq", dir, h->kind == LS_QCACHE_REF ? "ref" : "alloc",
             (unsigned long long)k);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int ls_qcache_load(const char *dir, const ls_qcache_hdr *want, ls_qcache_hdr *got,
                   void **payload, char *why, size_t why_cap)
{
    *payload = NULL;
    why[0] = '\0';
    char path[4096];
    ls_qcache_path(dir, want, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    struct stat st;
    int rc = -1;
    void *buf = NULL;
    const char *what = NULL;
    if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size < sizeof *got) {
        what = "shorter than its header (truncated)";
    } else if (fread(got, sizeof *got, 1, f) != 1) {
        what = "unreadable header";
    } else if (memcmp(got->magic, "LSQCACHE", 8) != 0) {
        what = "not a layerscope cache entry (bad magic)";
    } else if (got->version != LS_QCACHE_VERSION) {
        what = "another format version";
    } else if ((uint64_t)st.st_size != sizeof *got + got->payload_bytes) {
        what = "size does not match its header (truncated or extended)";
    } else if (got->kind != want->kind || got->model != want->model) {
        what = "from another model";
    } else if (got->text != want->text) {
        what = "from another text";
    } else if (got->alloc != want->alloc || got->protocol != want->protocol ||
               got->ctx != want->ctx || got->stride != want->stride) {
        what = "from other settings";
    } else if (!(buf = malloc(got->payload_bytes ? (size_t)got->payload_bytes : 1))) {
        what = "too large to load";
    } else if (got->payload_bytes &&
               fread(buf, (size_t)got->payload_bytes, 1, f) != 1) {
        what = "unreadable payload";
    } else if (ls_qcache_hash(LS_QCACHE_HASH_INIT, buf, (size_t)got->payload_bytes) !=
               got->checksum) {
        what = "checksum mismatch (corrupted)";
    } else {
        rc = 1;
    }
    fclose(f);
    if (rc == 1) {
        *payload = buf;
        utimes(path, NULL); /* recently used: evicted last */
        return 1;
    }
    free(buf);
    snprintf(why, why_cap, "cache entry %s ignored: %s; recomputing", path, what);
    return -1;
}

static atomic_int unwritable_said;

int ls_qcache_store(const char *dir, ls_qcache_hdr *h, const void *const *parts,
                    const size_t *sizes, int n_parts, int64_t limit, char *why,
                    size_t why_cap)
{
    why[0] = '\0';
    memcpy(h->magic, "LSQCACHE", 8);
    h->version = LS_QCACHE_VERSION;
    h->payload_bytes = 0;
    h->checksum = LS_QCACHE_HASH_INIT;
    for (int i = 0; i < n_parts; i++) {
        h->payload_bytes += sizes[i];
        h->checksum = ls_qcache_hash(h->checksum, parts[i], sizes[i]);
    }
    if ((int64_t)(sizeof *h + h->payload_bytes) > limit) {
        snprintf(why, why_cap, "cache: an entry of %.1f MiB exceeds the cache limit of "
                 "%.1f MiB; not stored", (double)(sizeof *h + h->payload_bytes) / 1048576.0,
                 (double)limit / 1048576.0);
        return -1;
    }
    /* mkdir -p */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(tmp, 0755);
            *s = '/';
        }
    mkdir(tmp, 0755);
    char path[4096];
    ls_qcache_path(dir, h, path, sizeof path);
    ls_atomic_file af;
    ls_error err;
    int rc = ls_atomic_open(path, &af, &err);
    if (rc == 0) {
        bool ok = fwrite(h, sizeof *h, 1, af.f) == 1;
        for (int i = 0; ok && i < n_parts; i++)
            ok = sizes[i] == 0 || fwrite(parts[i], sizes[i], 1, af.f) == 1;
        if (!ok) {
            ls_atomic_abort(&af);
            ls_fail(&err, "%s: write error", path);
            rc = -1;
        } else {
            rc = ls_atomic_commit(&af, &err);
        }
    }
    if (rc < 0) {
        if (atomic_exchange(&unwritable_said, 1) == 0)
            snprintf(why, why_cap, "cache directory %s is not writable (%s): working without "
                     "the cache", dir, err.msg);
        return -1;
    }
    ls_qcache_evict(dir, limit, base_name(path));
    return 0;
}

typedef struct entry {
    char name[256];
    int64_t size;
    double mtime;
} entry;

static int by_age(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

int ls_qcache_evict(const char *dir, int64_t limit, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    entry *e = NULL;
    size_t n = 0, cap = 0;
    int64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || len >= sizeof e->name || strcmp(de->d_name + len - 4, ".lsq") != 0)
            continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            entry *ne = realloc(e, (cap = cap ? 2 * cap : 16) * sizeof *e);
            if (!ne)
                break;
            e = ne;
        }
        snprintf(e[n].name, sizeof e[n].name, "%s", de->d_name);
        e[n].size = (int64_t)st.st_size;
        e[n].mtime = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
        total += e[n].size;
        n++;
    }
    closedir(d);
    qsort(e, n, sizeof *e, by_age);
    int deleted = 0;
    for (size_t i = 0; i < n && total > limit; i++) {
        if (keep && strcmp(e[i].name, keep) == 0)
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e[i].name);
        if (unlink(p) == 0) {
            total -= e[i].size;
            deleted++;
        }
    }
    free(e);
    return deleted;
}
