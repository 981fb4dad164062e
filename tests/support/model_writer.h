/* Synthetic LLaMA-family models: deterministic weights from a seed, written as a Hugging Face
 * directory (safetensors, optionally sharded), a GGUF v3 file or a llama2.c legacy v0 file.
 * Used by the tests of every module and by the layerscope-mkmodel tool.
 *
 * Weights are a pure function of (seed, tensor, element): ls_synth_value gives any element
 * without generating the rest, so writers stream row by row (a 7B model never sits in
 * memory) and tests can check any loaded value against the generator.
 *
 * Distributions: linear weights are N(0, s^2/in) scale mixtures whose contamination (and so
 * kurtosis) varies mildly from layer to layer and module to module; norms are 1 + 0.1 N;
 * biases 0.1 N. Optional injected outliers make a few rows or columns of chosen (layer,
 * module) weights heavy-tailed and larger.
 *
 * All files are written through the product's writers: core/base/atomic_write (temporary
 * file beside the target, fsync, rename) and, for safetensors, core/formats/st_writer with
 * the tensors streamed into it; files are made readable by all (0644). */
#ifndef LS_MODEL_WRITER_H
#define LS_MODEL_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"

typedef enum ls_outlier_kind {
    LS_OUTLIER_ROWS, /* some output channels (rows) heavy-tailed */
    LS_OUTLIER_COLS  /* some input channels (columns) heavy-tailed */
} ls_outlier_kind;

typedef struct ls_outlier {
    int layer;
    int module; /* enum ls_module */
    ls_outlier_kind kind;
    double strength; /* multiplier of the selected rows/columns; e.g. 5 .. 50 */
} ls_outlier;

#define LS_SYNTH_MAX_OUTLIERS 32

typedef struct ls_synth_spec {
    ls_config cfg;   /* shapes, arch, tied, qkv_bias (qwen2), rope, eps, context */
    ls_dtype dtype;  /* storage dtype of the weights (GGUF keeps 1-D tensors in F32;
                        llama2.c is always F32) */
    uint64_t seed;
    int n_shards;    /* HF: default shard count used when ls_write_hf_dir gets 0 */
    bool gguf_tokenizer; /* GGUF: also write a minimal SentencePiece-style vocabulary */
    int n_outliers;
    ls_outlier outliers[LS_SYNTH_MAX_OUTLIERS];
} ls_synth_spec;

/* Fills spec with a preset: "tiny" (16 layers, dim 64, hidden 172, 8 heads / 4 KV, vocab 512,
 * F32, untied), "1b" (TinyLlama-1.1B shapes: 22 layers, dim 2048, hidden 5632, 32/4 heads,
 * vocab 32000, BF16, untied) or "llama2-7b" (32 layers, dim 4096, hidden 11008, 32 heads,
 * vocab 32000, F16, untied, 2 shards). Seed 1, no outliers. */
int ls_synth_preset(const char *name, ls_synth_spec *spec, ls_error *err);

/* Checks the shapes (positive, heads divide, even head_dim) and the outlier list. */
int ls_synth_validate(const ls_synth_spec *spec, ls_error *err);

/* Which tensor an element belongs to. */
typedef enum ls_synth_role {
    LS_SYN_EMBED,      /* [vocab][dim] */
    LS_SYN_ATTN_NORM,  /* [dim], per layer */
    LS_SYN_FFN_NORM,   /* [dim], per layer */
    LS_SYN_LINEAR,     /* per layer and module, [out][in] */
    LS_SYN_BIAS_Q,     /* [n_heads*head_dim], qwen2 */
    LS_SYN_BIAS_K,     /* [n_kv_heads*head_dim], qwen2 */
    LS_SYN_BIAS_V,     /* [n_kv_heads*head_dim], qwen2 */
    LS_SYN_FINAL_NORM, /* [dim] */
    LS_SYN_LM_HEAD     /* [vocab][dim], untied models */
} ls_synth_role;

/* Element (row, col) of a tensor (col = 0 for 1-D), as float before rounding to the storage
 * dtype. q/k rows are in the layout GGUF and llama2.c store for the architecture (pairs for
 * llama/mistral, halves for qwen2); the HF writer moves llama/mistral q/k rows to the halves
 * layout (ls_rope_row_pairs_to_halves). layer/module are ignored where they do not apply. */
float ls_synth_value(const ls_synth_spec *spec, ls_synth_role role, int layer, int module,
                     int64_t row, int64_t col);

/* v rounded to dt and converted back (what a loader reads from a file of that dtype). */
float ls_synth_round(float v, ls_dtype dt);

/* Row-major shape of a role's tensor; returns the rank (1 or 2). */
int ls_synth_shape(const ls_config *cfg, ls_synth_role role, int module, int64_t shape[2]);

/* Writes config.json and the weights into dir (created if missing). n_shards == 1 writes
 * model.safetensors; n_shards > 1 writes model-0000k-of-0000n.safetensors plus
 * model.safetensors.index.json; n_shards == 0 uses spec->n_shards (or 1). A stale file of the
 * other layout is removed. */
int ls_write_hf_dir(const char *dir, const ls_synth_spec *spec, int n_shards, ls_error *err);

/* Writes a GGUF v3 file (general.architecture llama or qwen2, alignment 32). */
int ls_write_gguf(const char *path, const ls_synth_spec *spec, ls_error *err);

/* Writes a llama2.c legacy (version 0) checkpoint: fp32, negative vocab_size when untied.
 * Rejects what the format cannot store (biases, head_dim != dim/n_heads, rope theta other
 * than 10000, eps other than 1e-5, RoPE scaling). */
int ls_write_llama2c(const char *path, const ls_synth_spec *spec, ls_error *err);

/* Dispatches on format (LS_FORMAT_HF uses 1 shard, LS_FORMAT_HF_SHARDED spec->n_shards or 3). */
int ls_write_model(const char *path, ls_model_format format, const ls_synth_spec *spec,
                   ls_error *err);

#endif
