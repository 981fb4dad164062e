/* The constants of Cephes' expf (relative error ~2e-7), shared by the forward pass's scalar
 * and SSE exp (core/nn/forward.c) and the AVX-512 one of the fused attention
 * (core/nn/attention.c), so all paths compute the same exp:
 *   n = round(x * log2(e)); r = x - n*LN2_HI - n*LN2_LO;
 *   exp(x) = 2^n * (1 + r + r^2 * (((((P0 r + P1) r + P2) r + P3) r + P4) r + P5)) */
#ifndef LS_EXP_POLY_H
#define LS_EXP_POLY_H

#define LS_EXP_MIN (-87.0f) /* inputs are clamped to [MIN, MAX] */
#define LS_EXP_MAX 88.0f
#define LS_EXP_LOG2E 1.44269504088896341f
#define LS_EXP_LN2_HI 0.693359375f
#define LS_EXP_LN2_LO (-2.12194440e-4f)
#define LS_EXP_P0 1.9875691500e-4f
#define LS_EXP_P1 1.3981999507e-3f
#define LS_EXP_P2 8.3334519073e-3f
#define LS_EXP_P3 4.1665795894e-2f
#define LS_EXP_P4 1.6666665459e-1f
#define LS_EXP_P5 5.0000001201e-1f

#endif
