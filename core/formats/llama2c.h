/* llama2.c checkpoints (docs/formats.md §5): legacy version 0 (run.c) and version 1
 * (export.py, fp32). Version 2 (Q8_0) is recognised and rejected with a message. */
#ifndef LS_LLAMA2C_H
#define LS_LLAMA2C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"

#define LS_L2C_MAGIC 0x616b3432u /* file bytes "24ka" */
#define LS_L2C_V1_HEADER 256

typedef struct ls_l2c_header {
    int version; /* 0 (legacy), 1 */
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    bool shared_classifier;
    size_t header_bytes;   /* 28 or 256 */
    int64_t n_weights;     /* float32 weights, wcls included when not shared */
    int64_t expected_size; /* exact file size in bytes */
} ls_l2c_header;

/* Parses and validates the header of a llama2.c file held in memory (data, size), including
 * the exact file-size check computed in 64-bit arithmetic. `path` is used in messages. */
int ls_l2c_parse_header(const char *path, const uint8_t *data, size_t size, ls_l2c_header *h,
                        ls_error *err);

/* The tensors of a validated file, with HF-style names ("model.layers.0.mlp.gate_proj.weight"
 * for w1; w2 = down_proj, w3 = up_proj). *out is a malloc'ed array of *n_out tensors
 * pointing into data. Also fills cfg (pairs RoPE layout, theta 10000, eps 1e-5). */
int ls_l2c_tensors(const char *path, const ls_l2c_header *h, const uint8_t *data,
                   ls_tensor **out, int *n_out, ls_config *cfg, ls_error *err);

#endif
