/* A small safetensors writer: collect tensors (name, dtype, shape, bytes) and string
 * metadata, then write header and data in one atomic file (docs/formats.md §3.1: JSON header
 * padded with spaces to a multiple of 8, offsets relative to the data buffer). */
#ifndef LS_ST_WRITER_H
#define LS_ST_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

/* Produces an entry's data while the file is written, for tensors too large to hold (the
 * synthetic model writer streams 7B models row by row): it must put exactly the entry's
 * bytes into f, and returns -1 with err on failure. */
typedef int (*ls_st_fill)(FILE *f, void *ctx, ls_error *err);

typedef struct ls_st_entry {
    char *name;
    const char *dtype; /* "F32", "F16", "BF16", "U8", "I32" */
    int n_dims;
    int64_t shape[4];
    const void *data;  /* not owned: must stay valid until ls_st_writer_write */
    size_t bytes;
    ls_st_fill fill;   /* instead of data when set */
    void *fill_ctx;
} ls_st_entry;

typedef struct ls_st_writer {
    ls_st_entry *t;
    int n, cap;
    char **meta_keys, **meta_values;
    int n_meta, cap_meta;
    unsigned file_mode; /* permission bits of the file; 0 leaves ls_atomic_open's (0600) */
} ls_st_writer;

void ls_st_writer_init(ls_st_writer *w);
void ls_st_writer_free(ls_st_writer *w);
int ls_st_writer_add(ls_st_writer *w, const char *name, const char *dtype, int n_dims,
                     const int64_t *shape, const void *data, size_t bytes, ls_error *err);
/* Like ls_st_writer_add, with the data produced by fill(f, ctx, err) during the write. */
int ls_st_writer_add_stream(ls_st_writer *w, const char *name, const char *dtype, int n_dims,
                            const int64_t *shape, size_t bytes, ls_st_fill fill, void *ctx,
                            ls_error *err);
int ls_st_writer_meta(ls_st_writer *w, const char *key, const char *value, ls_error *err);
int ls_st_writer_write(const ls_st_writer *w, const char *path, ls_error *err);

#endif
