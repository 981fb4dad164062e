/* safetensors header parser and sharded-checkpoint index (docs/formats.md §3.1, §3.2).
 * The parser only describes tensors; their data stays in the caller's mapping. */
#ifndef LS_SAFETENSORS_H
#define LS_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define LS_ST_MAX_HEADER 100000000u /* reference MAX_HEADER_SIZE */
#define LS_ST_MAX_DIMS 8

/* Every dtype the reference library knows, so that a foreign one gets a precise message. */
typedef enum ls_st_dtype {
    LS_ST_BOOL, LS_ST_U8, LS_ST_I8, LS_ST_I16, LS_ST_U16, LS_ST_I32, LS_ST_U32, LS_ST_I64,
    LS_ST_U64, LS_ST_F16, LS_ST_BF16, LS_ST_F32, LS_ST_F64, LS_ST_C64, LS_ST_F8_E5M2,
    LS_ST_F8_E4M3, LS_ST_F8_E8M0, LS_ST_F8_E4M3FNUZ, LS_ST_F8_E5M2FNUZ, LS_ST_F4,
    LS_ST_F6_E2M3, LS_ST_F6_E3M2, LS_ST_N_DTYPES
} ls_st_dtype;

const char *ls_st_dtype_name(ls_st_dtype dt);
/* Size of one element in bits (4 and 6 for the sub-byte types). */
int ls_st_dtype_bits(ls_st_dtype dt);

typedef struct ls_st_tensor {
    char *name; /* owned */
    ls_st_dtype dtype;
    int n_dims;
    int64_t shape[LS_ST_MAX_DIMS];
    int64_t n_elems;
    uint64_t begin, end;   /* relative to the data buffer */
    const uint8_t *data;   /* into the caller's mapping */
} ls_st_tensor;

typedef struct ls_st_file {
    uint64_t header_len;  /* N */
    size_t data_start;    /* 8 + N */
    size_t data_len;      /* file size - 8 - N */
    int n_tensors;
    ls_st_tensor *tensors; /* in header order */
    int n_meta;            /* entries of __metadata__ */
} ls_st_file;

/* Parses and validates the header of a safetensors file held in memory (data, size).
 * `path` is only used in messages. On success the tensors' data pointers point into data. */
int ls_st_parse(const char *path, const uint8_t *data, size_t size, ls_st_file *out,
                ls_error *err);
void ls_st_free(ls_st_file *f);
/* Index of the tensor called name, or -1. */
int ls_st_find(const ls_st_file *f, const char *name);

/* model.safetensors.index.json: tensor -> shard file name. */
typedef struct ls_st_index {
    int n_entries;
    char **tensor_names; /* [n_entries], owned */
    int *shard_of;       /* [n_entries]: index into shard_files */
    int n_shards;
    char **shard_files;  /* distinct file names in first-seen order, owned */
    bool has_total_size;
    int64_t total_size;  /* metadata.total_size */
} ls_st_index;

/* Parses the index JSON text (json[len], need not be NUL-terminated). Shard names must be
 * plain file names (no '/'), tensor names unique. */
int ls_st_index_parse(const char *path, const char *json, size_t len, ls_st_index *out,
                      ls_error *err);
void ls_st_index_free(ls_st_index *ix);

#endif
