/* GGUF v2/v3 reader (docs/formats.md §4): the key-value table with a small lookup API and
 * the tensor infos. Nothing is copied except key and tensor names; string and array values
 * point into the caller's mapping, which must outlive the ls_gguf. */
#ifndef LS_GGUF_H
#define LS_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"

typedef enum ls_gguf_type {
    LS_GGUF_UINT8 = 0,
    LS_GGUF_INT8 = 1,
    LS_GGUF_UINT16 = 2,
    LS_GGUF_INT16 = 3,
    LS_GGUF_UINT32 = 4,
    LS_GGUF_INT32 = 5,
    LS_GGUF_FLOAT32 = 6,
    LS_GGUF_BOOL = 7,
    LS_GGUF_STRING = 8,
    LS_GGUF_ARRAY = 9,
    LS_GGUF_UINT64 = 10,
    LS_GGUF_INT64 = 11,
    LS_GGUF_FLOAT64 = 12,
    LS_GGUF_N_TYPES
} ls_gguf_type;

const char *ls_gguf_type_name(int type); /* "UINT8" ... "FLOAT64", "?" when unknown */

/* ggml tensor types this reader loads. Any other type is rejected by ls_gguf_parse. */
enum { LS_GGML_F32 = 0, LS_GGML_F16 = 1, LS_GGML_BF16 = 30 };
const char *ls_ggml_type_name(int type); /* "Q4_K", ...; "unknown" for unassigned ids */

/* A string inside the mapping: not NUL-terminated. */
typedef struct ls_gguf_str {
    const char *ptr;
    uint64_t len;
} ls_gguf_str;

/* An array value: `count` elements of `type` starting at `data` (inside the mapping,
 * little-endian, possibly unaligned: read with memcpy). For a string array, data points at
 * the first element's uint64 length; walk it with ls_gguf_str_next. */
typedef struct ls_gguf_array {
    ls_gguf_type type;
    uint64_t count;
    const uint8_t *data;
    size_t nbytes;
} ls_gguf_array;

typedef struct ls_gguf_kv {
    char *key; /* owned, NUL-terminated */
    ls_gguf_type type;
    union {
        uint64_t u;  /* UINT8/16/32/64, BOOL (0 or 1) */
        int64_t i;   /* INT8/16/32/64 */
        double f;    /* FLOAT32/64 */
        ls_gguf_str s;
        ls_gguf_array a;
    } v;
} ls_gguf_kv;

typedef struct ls_gguf_tensor {
    char *name; /* owned */
    uint32_t n_dims;
    int64_t ne[4];   /* ne[0] is the contiguous dimension */
    uint32_t type;   /* ggml type id: F32, F16 or BF16 */
    uint64_t offset; /* relative to the data section */
    size_t nbytes;
    const uint8_t *data; /* into the mapping */
} ls_gguf_tensor;

typedef struct ls_gguf {
    uint32_t version;
    int64_t n_kv;
    ls_gguf_kv *kv;
    int64_t n_tensors;
    ls_gguf_tensor *tensors;
    size_t alignment;
    size_t data_start; /* file offset of the data section (may be > file size with 0 tensors) */
    char *path;        /* owned copy, for messages */
} ls_gguf;

/* Parses and validates a GGUF file held in memory. `path` is used in messages. */
int ls_gguf_parse(const char *path, const uint8_t *data, size_t size, ls_gguf **out,
                  ls_error *err);
void ls_gguf_free(ls_gguf *g);

/* Lookup. NULL when the key is absent. */
const ls_gguf_kv *ls_gguf_find(const ls_gguf *g, const char *key);

/* Typed getters: return 1 when found, 0 when absent, -1 (err filled as "FILE: KEY: reason")
 * when the key exists with an incompatible type. get_int accepts every integer type and
 * fails for a UINT64 above INT64_MAX; get_float accepts FLOAT32/64 and integers; get_bool
 * accepts BOOL. */
int ls_gguf_get_str(const ls_gguf *g, const char *key, ls_gguf_str *out, ls_error *err);
int ls_gguf_get_int(const ls_gguf *g, const char *key, int64_t *out, ls_error *err);
int ls_gguf_get_float(const ls_gguf *g, const char *key, double *out, ls_error *err);
int ls_gguf_get_bool(const ls_gguf *g, const char *key, bool *out, ls_error *err);
int ls_gguf_get_array(const ls_gguf *g, const char *key, ls_gguf_array *out, ls_error *err);

/* True when s equals the NUL-terminated lit. */
bool ls_gguf_str_eq(ls_gguf_str s, const char *lit);
/* Reads the string at p (a validated string-array element) into *s; returns the next one. */
const uint8_t *ls_gguf_str_next(const uint8_t *p, ls_gguf_str *s);
/* Element i of a numeric array as int64/double (any integer / float element type; a float
 * that does not fit an int64 reads as 0; an index out of range reads as 0). */
int64_t ls_gguf_array_int(const ls_gguf_array *a, uint64_t i);
double ls_gguf_array_float(const ls_gguf_array *a, uint64_t i);

/* Index of the tensor called name, or -1. */
int64_t ls_gguf_find_tensor(const ls_gguf *g, const char *name);

/* Maps the general.architecture / {arch}.* keys to cfg (§4.3): llama (pairs RoPE) or qwen2
 * (halves RoPE, q/k/v biases). vocab_size falls back to tokenizer.ggml.tokens. */
int ls_gguf_config(const ls_gguf *g, ls_config *cfg, ls_error *err);

#endif
