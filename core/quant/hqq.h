/* HQQ quantization of one weight matrix, as the paper ran it (docs/hqq.md: HQQ 0.1.7.post2,
 * fp32 on the CPU).
 *
 *   ls_hqq_cfg cfg;
 *   ls_hqq_cfg_default(&cfg, 4, 64);          // the paper's model config for b4g64
 *   ls_hqq_result r;
 *   if (ls_hqq_quantize("0.self_attn.q_proj", W, rows, cols, &cfg, threads, &r, &err) < 0) ...
 *   ls_hqq_error(W, &r, &fro, &mean_abs);     // or ls_hqq_dequantize(&r, out)
 *   ls_hqq_free(&r);
 *
 * Two paths compute the same algorithm:
 *  - exact (cfg.exact): core/quant/hqq.c, plain loops in the reference's operation order, one
 *    thread; built with -ffp-contract=off it reproduces docs/hqq.md §10 A-F bit for bit and G
 *    within 1e-4 with the same iteration counts. Group sums run in fp32: axis 0 in k
 *    order, axis 1 in numpy's pairwise order (vector C needs it); the per-iteration mean
 *    |W - R| is summed in double and rounded to fp32, as the reference's float32 mean is
 *    (table G, b8g32, needs that: a 5e-13 "improvement" in double is a tie in fp32).
 *  - fast (default): core/quant/hqq_fast.c, AVX-512 when the CPU has it (portable C otherwise),
 *    `threads` pthreads, approximate pow and other summation orders. Results differ from
 *    the exact path by rounding only, but the optimizer's global stopping test can turn
 *    that into a different iteration count; tests bound the Frobenius error spread.
 *    The fast path is deterministic and independent of the thread count.
 *
 * Non-finite weights (NaN, +-inf) are quantized as if they were 0, and finite ones beyond
 * +-LS_HQQ_WMAX (whose group range would overflow float) as +-LS_HQQ_WMAX; both are
 * counted in result.n_nonfinite. No output value is ever NaN. (HQQ would propagate NaN;
 * docs/hqq.md §10 suggests refusing such matrices, the issue asks to quantize and report, so
 * callers that want a refusal check n_nonfinite.) */
#ifndef LS_HQQ_H
#define LS_HQQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define LS_HQQ_WMAX 1e37f
#define LS_HQQ_MAX_ITERS 20 /* optimizer: lp 0.7, beta 10, kappa 1.01, at most 20 iterations */

typedef struct ls_hqq_cfg {
    int nbits;        /* 2, 3, 4 or 8 */
    int group_size;   /* a power of two in 8..1024 (the paper: 32, 64, 128) */
    int axis;         /* 0 (the paper's: strided groups, docs/hqq.md §1.2) or 1 (contiguous) */
    bool optimize;    /* proximal optimizer of the zero point (§2) */
    bool round_zero;  /* rint the starting zero (the paper's fork: nbits == 4) */
    bool quant_scale; /* scale -> 8 bit, meta groups of scale_group along axis 0 (§4) */
    bool quant_zero;  /* zero -> 8 bit, one min/max per tensor (§4) */
    int scale_group;  /* meta group size of quant_scale; 0 means 128 */
    bool exact;       /* reference path (bit-exact, single thread) instead of the fast one */
} ls_hqq_cfg;

/* The paper's model-quantization config: axis 0, optimize, round_zero = (nbits == 4),
 * scale 8-bit g128 and zero 8-bit per tensor, fast path. For the paper's sensitivity and
 * FNorm measurements (`--no-quant-meta`) clear quant_scale, quant_zero and round_zero. */
void ls_hqq_cfg_default(ls_hqq_cfg *cfg, int nbits, int group_size);

typedef struct ls_hqq_result {
    int nbits, group_size, axis;
    int64_t rows, cols;      /* the matrix, out x in */
    int64_t n_groups;        /* M = rows*cols / group_size */
    /* Packed codes in HQQ's layout (bitpack.h): the [pack_rows, pack_cols] view of uint8
     * (2/4/8 bit) or int32 (3 bit). view_rows/view_cols is the unpacked grouped view. */
    void *wq;
    size_t wq_bytes;
    int64_t view_rows, view_cols, pack_rows, pack_cols;
    /* Per group, fp32 as HQQ computed them: the dequantization scale 1/s_inv and the zero
     * (after the optimizer). */
    float *scale, *zero;
    float *s_inv;            /* per group: the inverse scale quantization used */
    /* Per group, what dequantization uses: equal to scale/zero, or the dequantized
     * metadata when quantized. */
    float *scale_dq, *zero_dq;
    /* Metadata quantization (§4). scale_q/zero_q have n_groups entries. */
    bool scale_quantized, zero_quantized;
    bool scale_meta_skipped;       /* quant_scale asked but scale_group does not divide
                                      n_groups: the scale stays unquantized (docs/hqq.md §4) */
    int scale_group;
    int64_t n_scale_groups;        /* n_groups / scale_group */
    uint8_t *scale_q, *zero_q;
    float *meta_scale_scale, *meta_scale_zero; /* [n_scale_groups] */
    float meta_zero_scale, meta_zero_zero;
    /* Optimizer: iterations run (0 without optimize) and mean |W - R| of each. */
    int iterations;
    double err_trace[LS_HQQ_MAX_ITERS];
    int64_t n_nonfinite;     /* NaN/inf (quantized as 0) or |w| > LS_HQQ_WMAX weights */
    size_t stored_bytes;     /* HQQ 0.1.x storage: packed W_q + metadata (fp16 when not
                                quantized, 2 x fp16 per meta group / tensor) */
} ls_hqq_result;

/* Validates cfg for a rows x cols matrix; the message reads "NAME: field: reason". */
int ls_hqq_check(const char *name, int64_t rows, int64_t cols, const ls_hqq_cfg *cfg,
                 ls_error *err);

/* Quantizes W (row-major rows x cols, f32). threads <= 0 means 1; ignored by the exact
 * path. On success res owns its buffers (ls_hqq_free); on failure res is zeroed. */
int ls_hqq_quantize(const char *name, const float *W, int64_t rows, int64_t cols,
                    const ls_hqq_cfg *cfg, int threads, ls_hqq_result *res, ls_error *err);

/* W_hat = (q - zero_dq) * scale_dq in fp32, row-major rows x cols. */
void ls_hqq_dequantize(const ls_hqq_result *res, float *out);

/* Frobenius norm and mean of |W - W_hat|, accumulated in double over the finite weights
 * of W (non-finite ones are skipped). Either output may be NULL. */
void ls_hqq_error(const float *W, const ls_hqq_result *res, double *fro, double *mean_abs);

void ls_hqq_free(ls_hqq_result *res);

/* Bytes HQQ 0.1.x stores for this matrix and config (packed W_q incl. 3-bit int32 padding,
 * scale_q/zero_q + fp16 meta values, or fp16 scale/zero). 0 if cfg is invalid. */
size_t ls_hqq_stored_bytes(const ls_hqq_cfg *cfg, int64_t rows, int64_t cols);
/* 8 * stored bytes / weights. */
double ls_hqq_stored_bpp(const ls_hqq_cfg *cfg, int64_t rows, int64_t cols);

/* ---- Internal: shared by hqq.c and hqq_fast.c, not for other callers. ---- */

/* One solve: from W to per-group s_inv and final zero, plus the packed codes (bitpack.h
 * layout of the grouped view). */
typedef struct ls_hqq_solve {
    const float *W;
    int64_t n;        /* weights */
    int64_t m;        /* groups */
    int nbits, group_size, axis;
    bool optimize, round_zero;
    bool portable;    /* fast path: use the portable kernels even with AVX-512 (tests) */
    float *s_inv;     /* [m] out: inverse scale (clamped at 2e4) */
    float *zero;      /* [m] out */
    void *wq;         /* out: packed codes */
    int iterations;
    double err_trace[LS_HQQ_MAX_ITERS];
    int64_t n_bad;    /* fast path: NaN/inf/|w| > LS_HQQ_WMAX weights seen; when > 0 the
                         solve stopped early and the caller must sanitize W and rerun */
} ls_hqq_solve;

/* s_inv = fp32(fp32(1/(mx-mn)) * (2^nbits - 1)) clamped at 2e4, zero = -mn*s_inv (rint'ed
 * when round_zero): the exact per-group start both paths share (docs/hqq.md §1.5). */
void ls_hqq_init_group(float mn, float mx, int nbits, bool round_zero, float *s_inv,
                       float *zero);
/* Both return -1 only when memory runs out. The exact one needs W free of bad weights. */
int ls_hqq_solve_exact(ls_hqq_solve *s);
int ls_hqq_solve_fast(ls_hqq_solve *s, int threads);

#endif
