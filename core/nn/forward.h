/* The forward pass (docs/formats.md §1) in f32 with OpenBLAS sgemm over every token of a
 * batch of sequences at once. Evaluation runs layer by layer: the residual stream of the
 * whole batch stays in memory while one layer's f32 weights (converted, or dequantized
 * from an ls_qmodel) are loaded at a time; within a layer, sequences are processed in
 * chunks of whole sequences (chunk_rows tokens) so scratch memory stays bounded.
 *
 *   ls_fwd *f;
 *   ls_fwd_new(m, q, max_seq, 0, &f, &err);            // q == NULL: full precision
 *   ls_fwd_seqs s = {n_seq, tokens, offset};           // offset[n_seq + 1]
 *   ls_fwd_run(f, &s, hidden, NULL, &err);             // hidden: [rows][dim], final-normed
 *   ls_fwd_head_load(f, &err);
 *   ls_fwd_logits(f, hidden + r * dim, n, logits);      // [n][vocab]
 *   ls_fwd_free(f);
 *
 * Threads: with OpenBLAS on the caller's thread (ls_blas_use_caller_thread_only), large
 * products are split by output columns over all cores; the element-wise steps always run
 * on all cores, and attention uses core/nn/attention.h's fused kernel where it applies.
 *
 * An observer sees, per layer and chunk, the input of every linear module and the outputs
 * of the attention and MLP blocks (sensitivity uses it), and can recompute blocks with
 * other weights through ls_fwd_attention / ls_fwd_mlp on its own scratch. */
#ifndef LS_FORWARD_H
#define LS_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"
#include "nn/matmul_bf16.h"
#include "nn/rope.h"
#include "nn/weights_f32.h"

typedef struct ls_fwd_seqs {
    int n_seq;
    const int32_t *tokens;  /* all sequences back to back */
    const int64_t *offset;  /* [n_seq + 1]: sequence i is rows offset[i] .. offset[i+1]-1 */
} ls_fwd_seqs;

/* Scratch for one chunk of rows. */
typedef struct ls_fwd_scratch {
    int64_t cap_rows;
    int max_seq;
    float *xa, *xm;        /* [rows][dim] attention / MLP block inputs (after RMSNorm) */
    float *qkv;            /* [rows][n_heads*hd + 2*n_kv*hd]: q | k | v of each token */
    float *ctx;            /* [rows][n_heads*hd] attention output = input of o_proj */
    float *oa, *om;        /* [rows][dim] attention / MLP block outputs */
    float *gu;             /* [rows][2*hidden]: gate | up of each token */
    float *act;            /* [rows][hidden] silu(gate)*up = input of down_proj */
    bool fused;            /* attention by core/nn/attention.h; else sgemm over blocks: */
    float *kt;             /*   fused: keys transposed (ls_attn_scratch_floats) */
    float *qs, *cs;        /*   sgemm: [rep*QB][hd] one KV group's queries / contexts */
    float *scores;         /*   sgemm: [rep*QB][max_seq], QB = min(128, max_seq) */
} ls_fwd_scratch;

int ls_fwd_scratch_init(ls_fwd_scratch *s, const ls_config *c, int64_t rows, int max_seq,
                        ls_error *err);
void ls_fwd_scratch_free(ls_fwd_scratch *s);

/* What an observer sees for one chunk of whole sequences of one layer. */
typedef struct ls_fwd_record {
    int layer;
    int n_seq;               /* sequences in the chunk */
    const int *seq_len;      /* [n_seq] */
    int64_t n_rows;          /* tokens in the chunk */
    int64_t first_row;       /* row of the chunk's first token in the batch */
    const float *attn_in;    /* [rows][dim] input of q/k/v */
    const float *attn_ctx;   /* [rows][n_heads*hd] input of o_proj */
    const float *attn_out;   /* [rows][dim] o_proj output (before the residual add) */
    const float *mlp_in;     /* [rows][dim] input of gate/up */
    const float *mlp_act;    /* [rows][hidden] input of down_proj */
    const float *mlp_out;    /* [rows][dim] down_proj output (before the residual add) */
} ls_fwd_record;

/* Hooks; each returns 0 to go on or -1 (with err filled) to stop the run. Any may be NULL.
 * layer_end is the safe point for progress and cancel. */
typedef struct ls_fwd_observer {
    void *ctx;
    int (*layer_begin)(void *ctx, int layer, const ls_layer_f32 *w, ls_error *err);
    int (*chunk)(void *ctx, const ls_fwd_record *r, ls_error *err);
    int (*layer_end)(void *ctx, int layer, ls_error *err);
} ls_fwd_observer;

/* What ls_fwd_new_opts takes; perplexity and sensitivity (and what builds on them) pass
 * their compute mode through here. */
typedef struct ls_fwd_opts {
    int max_seq;
    int64_t chunk_rows;      /* <= 0: default */
    ls_compute compute;      /* f32 (default, the reference) or bf16 products */
    bool keep_f32_weights;   /* bf16: also keep the layer's f32 weights (for observers
                                that read ls_layer_f32.w, e.g. sensitivity's quantizer) */
} ls_fwd_opts;

typedef struct ls_fwd {
    const ls_model *m;
    const ls_qmodel *q;
    ls_config c;
    int max_seq;
    int64_t chunk_rows;
    int threads;             /* cores the products and element-wise steps are split over */
    ls_rope rope;
    ls_layer_f32 w;          /* the current layer */
    float *final_norm;       /* [dim] */
    float *head;             /* [vocab][dim] after ls_fwd_head_load, else NULL */
    ls_fwd_scratch s;
    int seq_len_cap;
    int *seq_len;            /* per-chunk sequence lengths for records */
    ls_compute compute;      /* as used: bf16 only where ls_bf16_supported() */
    char compute_note[200];  /* why bf16 fell back to f32, else "" */
    ls_mm_bf16 *mm;          /* bf16: oneDNN primitives, NULL in f32 */
    const uint16_t *head_b;  /* bf16: the classifier, [vocab][dim]: the mapped tensor
                                itself when stored as BF16, else head_b_own */
    uint16_t *head_b_own;
} ls_fwd;

/* chunk_rows <= 0 picks a default (about 2048 tokens, at least max_seq). Fails when the
 * model has no weights or max_seq < 1. */
int ls_fwd_new(const ls_model *m, const ls_qmodel *q, int max_seq, int64_t chunk_rows,
               ls_fwd **out, ls_error *err);
/* The same with options; bf16 on a CPU without bf16 support runs f32 and says why in
 * f->compute_note. */
int ls_fwd_new_opts(const ls_model *m, const ls_qmodel *q, const ls_fwd_opts *o,
                    ls_fwd **out, ls_error *err);
void ls_fwd_free(ls_fwd *f);

/* Bytes ls_fwd_new allocates (weights of one layer, scratch, RoPE table; not the head). */
int64_t ls_fwd_bytes(const ls_model *m, int max_seq, int64_t chunk_rows);

/* Runs every layer over the sequences. hidden [rows][dim] receives the final hidden states
 * after the final RMSNorm (ready for ls_fwd_logits). Token ids must be in [0, vocab). */
int ls_fwd_run(ls_fwd *f, const ls_fwd_seqs *s, float *hidden, const ls_fwd_observer *obs,
               ls_error *err);

/* The pieces of ls_fwd_run, for work that restarts the pass part-way (the measured ΔKL of
 * core/eval/measure.h): the token embeddings into hidden, then layers [first, end) on the
 * residual stream in hidden, in place (no final RMSNorm). With keep_first, layer `first`
 * runs on the weights already in f->w when they are that layer's (f->w.layer == first),
 * so the caller may have replaced one matrix there. Sequence lengths as for ls_fwd_run. */
int ls_fwd_embed(const ls_fwd *f, const ls_fwd_seqs *s, float *hidden, ls_error *err);
int ls_fwd_run_layers(ls_fwd *f, const ls_fwd_seqs *s, int first, int end, bool keep_first,
                      float *hidden, ls_error *err);
/* The classifier in f32 (vocab x dim floats), or in bf16 in bf16 mode. */
int ls_fwd_head_load(ls_fwd *f, ls_error *err);
void ls_fwd_head_free(ls_fwd *f);
/* logits [n][vocab] = head . hidden rows; the head must be loaded. */
void ls_fwd_logits(const ls_fwd *f, const float *hidden, int64_t n, float *logits);

/* Building blocks, on explicit weights and scratch. xn: [rows][dim] normalised input of the
 * block; sequences are seq_len[0..n_seq-1] back to back, each starting at position 0.
 * ctx_out (may be NULL: scratch ctx) gets the input of o_proj, out the block output. */
void ls_fwd_attention(const ls_fwd *f, const ls_layer_f32 *w, ls_fwd_scratch *s,
                      const float *xn, int n_seq, const int *seq_len, float *ctx_out,
                      float *out);
/* act (may be NULL: scratch act) gets silu(gate)*up, the input of down_proj. */
void ls_fwd_mlp(const ls_fwd *f, const ls_layer_f32 *w, ls_fwd_scratch *s, const float *xn,
                int64_t n_rows, float *act, float *out);
/* y[rows][out] = x[rows][in] . W^T, W [out][in] row-major: one sgemm, or one per thread
 * over column ranges when OpenBLAS runs on the caller's thread only. */
void ls_fwd_linear(int threads, const float *x, int64_t rows, const float *W, int64_t out,
                   int64_t in, float *y);
/* The same in the forward pass's compute mode: bf16 through oneDNN when f is in bf16 and Wb
 * (W in bf16) is given, else f32 with W. */
void ls_fwd_product(const ls_fwd *f, const float *x, int64_t rows, const float *W,
                    const uint16_t *Wb, int64_t out, int64_t in, float *y);
void ls_fwd_rmsnorm(int threads, const float *x, const float *weight, int64_t rows, int dim,
                    double eps, float *y);

/* The naive reference (core/nn/forward_ref.c): one sequence, plain loops with double
 * accumulation, weights read through ls_layer_f32_load. logits [n][vocab]. */
int ls_forward_ref(const ls_model *m, const ls_qmodel *q, const int32_t *tokens, int n,
                   double *logits, ls_error *err);

#endif
