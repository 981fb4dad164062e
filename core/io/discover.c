#include "io/discover.h"

#include <limits.h>
#include "io/samples.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mapfile.h"
#include "method/import.h"

static void add(ls_found_list *l, const char *path, const char *name, const char *kind,
                const char *origin)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ls_found_model *it = realloc(l->items, cap * sizeof *it);
        if (!it)
            return;
        l->items = it;
        l->cap = cap;
    }
    ls_found_model *m = &l->items[l->n];
    m->path = strdup(path);
    m->name = strdup(name);
    m->kind = strdup(kind);
    m->origin = strdup(origin);
    if (!m->path || !m->name || !m->kind || !m->origin) {
        free(m->path);
        free(m->name);
        free(m->kind);
        free(m->origin);
        return;
    }
    l->n++;
}

/* dir + "/" + name (+ suffix); false when it would not fit (the entry is then skipped). */
static bool join(char *out, size_t cap, const char *dir, const char *name, const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, name, suffix);
    return n > 0 && (size_t)n < cap;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "hf", "hf-sharded" or NULL for a directory. */
static const char *hf_kind(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/config.json", dir);
    if (!is_file(p))
        return NULL;
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    if (is_file(p))
        return "hf";
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    if (is_file(p))
        return "hf-sharded";
    return NULL;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Kind of a regular file by content: GGUF magic, llama2.c size rule, toolkit CSV header. */
static const char *file_kind(const char *path)
{
    FILE *f = ls_fopen_regular(path, NULL); /* never blocks on a FIFO */
    if (!f)
        return NULL;
    unsigned char head[28];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n >= 4 && memcmp(head, "GGUF", 4) == 0)
        return "gguf";
    if (has_suffix(path, ".bin") && n == sizeof head) {
        /* llama2.c: 7 int32 whose dims are plausible, or the versioned magic */
        int32_t v[7];
        memcpy(v, head, sizeof v);
        if ((uint32_t)v[0] == 0x616b3432u)
            return "llama2c";
        if (v[0] > 0 && v[1] > 0 && v[2] > 0 && v[3] > 0 && v[4] > 0 && v[0] % v[3] == 0 &&
            v[6] > 0)
            return "llama2c";
        return NULL;
    }
    if (has_suffix(path, ".csv") && ls_csv_kind_of(path) != LS_CSV_UNKNOWN)
        return "profile";
    return NULL;
}

void ls_discover_directory(const char *dir, ls_found_list *out)
{
    if (!dir)
        dir = ".";
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        if (!join(path, sizeof path, dir, e->d_name, ""))
            continue;
        const char *kind = is_dir(path) ? hf_kind(path) : is_file(path) ? file_kind(path) : NULL;
        if (kind)
            add(out, path, e->d_name, kind, "directory");
    }
    closedir(d);
}

/* models--ORG--NAME -> ORG/NAME */
static void repo_name(const char *entry, char *out, size_t cap)
{
    const char *s = entry + strlen("models--");
    size_t k = 0;
    for (; *s && k + 1 < cap; s++) {
        if (s[0] == '-' && s[1] == '-') {
            out[k++] = '/';
            s++;
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
}

void ls_discover_hf_cache(const char *hub_dir, ls_found_list *out)
{
    char hub[4096];
    if (hub_dir) {
        snprintf(hub, sizeof hub, "%s", hub_dir);
    } else {
        const char *hf_home = getenv("HF_HOME"), *home = getenv("HOME");
        if (hf_home && *hf_home)
            snprintf(hub, sizeof hub, "%s/hub", hf_home);
        else if (home && *home)
            snprintf(hub, sizeof hub, "%s/.cache/huggingface/hub", home);
        else
            return;
    }
    DIR *d = opendir(hub);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "models--", 8) != 0)
            continue;
        char snaps[4096];
        if (!join(snaps, sizeof snaps, hub, e->d_name, "/snapshots"))
            continue;
        DIR *s = opendir(snaps);
        if (!s)
            continue;
        char name[512];
        repo_name(e->d_name, name, sizeof name);
        struct dirent *r;
        while ((r = readdir(s)) != NULL) {
            if (r->d_name[0] == '.')
                continue;
            char path[4096];
            if (!join(path, sizeof path, snaps, r->d_name, ""))
                continue;
            const char *kind = hf_kind(path);
            if (kind)
                add(out, path, name, kind, "hf-cache");
        }
        closedir(s);
    }
    closedir(d);
}

void ls_discover_bundled(ls_found_list *out)
{
    char demo[4096], a[PATH_MAX], b[PATH_MAX];
    ls_sample_path("demo", demo, sizeof demo);
    const char *kind = is_dir(demo) ? hf_kind(demo) : NULL;
    if (!kind || !realpath(demo, a))
        return;
    for (size_t i = 0; i < out->n; i++)
        if (realpath(out->items[i].path, b) && strcmp(a, b) == 0)
            return;
    add(out, demo, "demo", kind, "bundled");
}

static int cmp_found(const void *a, const void *b)
{
    const ls_found_model *x = a, *y = b;
    int c = strcmp(x->origin, y->origin);
    if (c)
        return -c; /* hf-cache first */
    c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->path, y->path);
}

void ls_found_list_sort(ls_found_list *l)
{
    if (l->n > 1)
        qsort(l->items, l->n, sizeof *l->items, cmp_found);
}

void ls_found_list_free(ls_found_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].path);
        free(l->items[i].name);
        free(l->items[i].kind);
        free(l->items[i].origin);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}
