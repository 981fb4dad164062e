/* Causal self-attention of one sequence, fused (scores, online softmax and the weighted sum
 * of values in one pass over key blocks that stay in the caches), with AVX-512 on all
 * CPUs. The forward pass uses it where it applies and falls back to sgemm over score
 * blocks otherwise; both compute the same function (the order of the float sums differs).
 *
 *   if (ls_attn_fused_usable(head_dim))
 *       ls_attn_fused(&a, scratch);   // ls_attn_scratch_floats(...) floats
 *
 * LAYERSCOPE_ATTENTION=sgemm in the environment forces the fallback (tests compare both). */
#ifndef LS_ATTENTION_H
#define LS_ATTENTION_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ls_attn_args {
    const float *q, *k, *v;  /* row t of head h at q + t*ld + h*hd (k, v: KV head) */
    int64_t ld;              /* row stride of q, k and v */
    int T;                   /* tokens; query i sees keys 0 .. i */
    int n_heads, n_kv_heads, head_dim;
    float scale;             /* applied to q.k before the softmax */
    int window;              /* > 0: query i sees keys i-window+1 .. i only */
    float *out;              /* row t of head h at out + t*ld_out + h*hd */
    int64_t ld_out;
    int threads;             /* tasks are spread over this many threads */
} ls_attn_args;

/* True when this CPU has AVX-512, head_dim is a multiple of 16 up to 256, and the
 * environment does not ask for the fallback. */
bool ls_attn_fused_usable(int head_dim);

/* Floats of the scratch ls_attn_fused needs for up to max_seq tokens (keys and values
 * repacked per KV head). */
int64_t ls_attn_scratch_floats(int n_kv_heads, int head_dim, int max_seq);

void ls_attn_fused(const ls_attn_args *a, float *scratch);

#endif
