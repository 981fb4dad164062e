/* The sums behind every log-softmax of the evaluation: sum over v of exp(x[v] - shift) in
 * double, and the largest logit. Each of the perplexity's scored rows and the quality
 * measures' rows runs these over the whole vocabulary (32000 exps a row on LLaMA), where
 * libm's exp, one call per element, took about a twentieth of a bf16 evaluation (perf).
 *
 * With AVX-512 the exps run eight at a time: exp(t) = 2^n * e^r with n = round(t / ln 2),
 * r = t - n ln 2 (two-part ln 2, |r| <= ln 2 / 2) and e^r by its Taylor polynomial to
 * degree 13 (truncation below 1e-17 relative), scaled by vscalefpd, which also gives the
 * underflow to subnormals and 0 that libm gives. Relative error within a few units in the
 * last place of libm's; the eight partial sums are added in a fixed order, so a result
 * depends only on its inputs (and on whether the CPU has AVX-512). Elsewhere: libm, in
 * order. */
#ifndef LS_SUMEXP_H
#define LS_SUMEXP_H

#include <stdint.h>

/* sum of exp((double)x[i] - shift), i < n. A NaN anywhere gives NaN. */
double ls_sum_exp(const float *x, int64_t n, double shift);

/* max of x[0..n-1] (n >= 1), NaNs after x[0] skipped as `x[i] > m` skips them. */
float ls_max_float(const float *x, int64_t n);

#endif
