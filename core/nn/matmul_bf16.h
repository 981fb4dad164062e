/* Matrix products in bf16 through oneDNN's matmul (--compute bf16): weights and activations
 * in bfloat16, accumulation and results in f32. oneDNN picks its AVX512-BF16 or AMX kernels;
 * on CPUs without either it would emulate bf16 slowly, so the forward pass uses this only
 * when ls_bf16_supported() says yes and falls back to f32 (with a one-line note) otherwise.
 *
 *   ls_mm_bf16 *mm;
 *   ls_mm_bf16_new(&mm, &err);
 *   ls_mm_bf16_xwt(mm, threads, x, ldx, rows, Wb, out, in, y, ldy);  // y = x . W^T
 *   if (ls_mm_bf16_failed(mm, &err)) ...                               // sticky error
 *   ls_mm_bf16_free(mm);
 *
 * Primitives are created once per shape and reused from a small cache. Large products are
 * split by rows over our threads; each part writes a dense result (a strided one sends
 * oneDNN 2.6 from its brgemm kernels to a slower gemm-based matmul), copied into y's rows
 * when y is strided. Weights declared fixed (ls_mm_bf16_weights_fixed; the forward pass
 * does so for each layer while its chunks run, and for the classifier) are packed once,
 * on all threads, into oneDNN's blocked layout and that one copy serves every part.
 * Threads: Debian's oneDNN 2.6.3 runs on OpenMP (libgomp), whose idle workers spin; like
 * OpenBLAS it is kept to the calling thread (matmul_bf16.c says why). */
#ifndef LS_MATMUL_BF16_H
#define LS_MATMUL_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef enum ls_compute { LS_COMPUTE_F32 = 0, LS_COMPUTE_BF16 = 1 } ls_compute;

const char *ls_compute_name(ls_compute c); /* "f32" / "bf16" */
int ls_compute_parse(const char *s);       /* -1 when unknown */

/* True when this CPU runs bf16 products natively (AVX512-BF16 or AMX-BF16, enabled by the
 * OS, and oneDNN agrees). Otherwise false with a one-line reason in why. The environment
 * variable LAYERSCOPE_NO_BF16=1 makes it answer false (to test the fallback). */
bool ls_bf16_supported(char *why, size_t cap);

typedef struct ls_mm_bf16 ls_mm_bf16;

int ls_mm_bf16_new(ls_mm_bf16 **out, ls_error *err);
void ls_mm_bf16_free(ls_mm_bf16 *mm);

/* y[rows][out] (row stride ldy) = x[rows][in] (row stride ldx) . W^T with W bf16
 * [out][in] row-major. x is rounded to bf16 (nearest even) by the parts. On
 * a oneDNN failure y is zeroed and the error kept for ls_mm_bf16_failed. */
void ls_mm_bf16_xwt(ls_mm_bf16 *mm, int threads, const float *x, int64_t ldx, int64_t rows,
                    const uint16_t *W, int64_t out, int64_t in, float *y, int64_t ldy);

/* A promise that W's contents (bf16 [out][in]) stay as they are until
 * ls_mm_bf16_weights_changed(mm, W): products with W then use a copy packed once into
 * oneDNN's blocked layout (one copy for all parts) instead of plain weights, which
 * oneDNN would repack on every call. Costs one more copy of W. */
void ls_mm_bf16_weights_fixed(ls_mm_bf16 *mm, const uint16_t *W, int64_t out, int64_t in);
/* Ends that promise for W (NULL: for all); its packed copy is dropped (buffers reused). */
void ls_mm_bf16_weights_changed(ls_mm_bf16 *mm, const uint16_t *W);
/* How many fixed weights were packed by our own word copy (the layout oneDNN chose was
 * the pair-blocked one it reads) rather than by oneDNN's reorder. LAYERSCOPE_BF16_PACK=onednn
 * forces the reorder (tests compare the two). */
int64_t ls_mm_bf16_direct_packs(const ls_mm_bf16 *mm);

/* True (err filled) when a product failed since the last call. */
bool ls_mm_bf16_failed(ls_mm_bf16 *mm, ls_error *err);

/* dst[i] = bf16(src[i]), round to nearest even, on `threads` threads. */
void ls_f32_to_bf16_array(int threads, const float *src, int64_t n, uint16_t *dst);

/* One line for --version: "oneDNN 2.6.3 (OpenMP runtime), bf16 ISA: avx512_core_bf16". */
void ls_onednn_describe(char *buf, size_t cap);

#endif
