/* The in-memory model every loader produces (docs/formats.md §1): a config plus a table of
 * named tensors that point into read-only file mappings. Nothing is copied. */
#ifndef LS_MODEL_H
#define LS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/mapfile.h"

/* The seven quantizable linear module types, in the order the paper's code iterates them. */
enum ls_module {
    LS_MOD_Q,
    LS_MOD_K,
    LS_MOD_V,
    LS_MOD_O,
    LS_MOD_GATE,
    LS_MOD_UP,
    LS_MOD_DOWN,
    LS_N_MODULES
};

/* "self_attn.q_proj" ... "mlp.down_proj" */
const char *ls_module_name(int module);
/* "q" "k" "v" "o" "gate" "up" "down" */
const char *ls_module_short_name(int module);
/* Accepts the full name, the short name, or "q_proj"-style names; -1 when unknown. */
int ls_module_from_name(const char *name);

typedef enum ls_dtype { LS_DT_F32, LS_DT_F16, LS_DT_BF16 } ls_dtype;

size_t ls_dtype_size(ls_dtype dt);
const char *ls_dtype_name(ls_dtype dt);

typedef struct ls_tensor {
    char name[128];   /* name in the source file */
    ls_dtype dtype;
    int n_dims;       /* 0 (scalar) .. 4 */
    int64_t shape[4]; /* row-major, outermost first: a weight is {out, in} */
    int64_t n_elems;
    const void *data; /* points into a mapping owned by the model */
} ls_tensor;

/* Converts n elements of a tensor starting at element first to f32. The mapped data need
 * not be aligned (safetensors offsets need not be); 16-bit values are read unaligned. */
void ls_tensor_range_f32(const ls_tensor *t, int64_t first, int64_t n, float *out);

/* Reads element i of a tensor as float (exact for F32/F16/BF16). For tests and slow paths;
 * hot loops convert blocks themselves. */
float ls_tensor_get(const ls_tensor *t, int64_t i);

typedef enum ls_arch { LS_ARCH_LLAMA, LS_ARCH_MISTRAL, LS_ARCH_QWEN2 } ls_arch;
typedef enum ls_rope_layout { LS_ROPE_PAIRS, LS_ROPE_HALVES } ls_rope_layout;
typedef enum ls_rope_scaling_type {
    LS_ROPE_SCALING_NONE,
    LS_ROPE_SCALING_LINEAR,
    LS_ROPE_SCALING_LLAMA3
} ls_rope_scaling_type;

typedef struct ls_config {
    ls_arch arch;
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab_size;
    int context; /* trained context length */
    double norm_eps;
    double rope_theta;
    ls_rope_scaling_type rope_scaling;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_context;
    ls_rope_layout rope_layout; /* layout of the q/k rows as stored in the file */
    bool tied;                  /* classifier shares the embedding */
    bool qkv_bias;              /* qwen2 */
    int sliding_window;         /* 0 = none */
} ls_config;

const char *ls_arch_name(ls_arch a);

typedef enum ls_model_format {
    LS_FORMAT_HF,         /* config.json + model.safetensors */
    LS_FORMAT_HF_SHARDED, /* config.json + model.safetensors.index.json + shards */
    LS_FORMAT_GGUF,
    LS_FORMAT_LLAMA2C
} ls_model_format;

const char *ls_model_format_name(ls_model_format f); /* "hf" "hf-sharded" "gguf" "llama2c" */

typedef struct ls_layer {
    const ls_tensor *attn_norm, *ffn_norm;
    const ls_tensor *linear[LS_N_MODULES]; /* indexed by enum ls_module */
    const ls_tensor *bq, *bk, *bv;         /* qwen2 only, else NULL */
} ls_layer;

struct ls_gguf; /* GGUF metadata table (core/formats/gguf.h), kept for the tokenizer */

typedef struct ls_model {
    ls_model_format format;
    char *path; /* as given by the user */
    char *name; /* directory or file base name */
    ls_config cfg;
    bool has_weights; /* false for a vocabulary-only GGUF */

    int n_tensors;
    ls_tensor *tensors; /* every tensor of the source, owned */

    const ls_tensor *tok_emb;    /* [vocab][dim] */
    const ls_tensor *final_norm; /* [dim] */
    const ls_tensor *lm_head;    /* [vocab][dim]; == tok_emb when tied */
    ls_layer *layers;            /* [n_layers], NULL without weights */
    const ls_tensor *rope_freqs; /* GGUF rope_freqs.weight [head_dim/2] (per-frequency
                                    divisors, Llama-3.1 conversions), else NULL */

    int n_files;
    ls_mapped_file *files; /* owned mappings */
    char **file_paths;     /* [n_files] path of each mapping, owned */

    struct ls_gguf *gguf;    /* GGUF files: the metadata; else NULL */
    char *tokenizer_path;    /* llama2.c: --tokenizer FILE; HF: tokenizer.json if present */

    int64_t params_linear;    /* elements of the 7 linear types over all layers */
    int64_t params_total;     /* elements of all tensors the forward pass uses */
    int64_t bytes_total;      /* bytes of those tensors at their stored dtype */

    char warnings[1024]; /* non-fatal notes from loading, one "FILE: FIELD: note" per line */
} ls_model;

typedef struct ls_open_options {
    const char *tokenizer_path; /* llama2.c tokenizer; NULL = none */
} ls_open_options;

/* Opens a model: a directory (Hugging Face), a .gguf file or a llama2.c .bin file, detected
 * by content. On failure returns -1 with "FILE: FIELD: reason" in err. */
int ls_model_open(const char *path, const ls_open_options *opt, ls_model **out, ls_error *err);
void ls_model_free(ls_model *m);

/* Row-major shape {out, in} of a linear module for a config. */
void ls_module_shape(const ls_config *c, int module, int64_t *rows, int64_t *cols);

/* The linear weight of (layer, module), or NULL without weights. */
const ls_tensor *ls_model_linear(const ls_model *m, int layer, int module);

/* The q/k row permutation of docs/formats.md §3.4 within heads of size head_dim (even):
 * halves-layout row r holds pairs-layout row ls_rope_row_halves_to_pairs(r, head_dim), and
 * the other function is its inverse. */
int64_t ls_rope_row_halves_to_pairs(int64_t r, int head_dim);
int64_t ls_rope_row_pairs_to_halves(int64_t r, int head_dim);

/* Bytes of a tensor's data (n_elems x dtype size). */
int64_t ls_tensor_bytes(const ls_tensor *t);

#endif
