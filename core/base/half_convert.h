/* Bulk conversion of binary16 / bfloat16 arrays to float, exact, from unaligned data:
 * the evaluation converts a whole layer's weights per batch, so this is vectorized
 * (SSE2 for bfloat16, F16C for binary16 when the CPU has it) and can be split over
 * threads. */
#ifndef LS_HALF_CONVERT_H
#define LS_HALF_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

/* out[i] = src[i] for i < n; src holds n 16-bit values (bfloat16 when bf16, else IEEE
 * binary16), any alignment. */
void ls_half_to_f32(const void *src, int64_t n, bool bf16, float *out);

#endif
