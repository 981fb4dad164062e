/* HQQ bit packing (docs/hqq.md §6), the layout of HQQ 0.1.x `bitpack.py`.
 *
 * Packing works on the grouped 2-D view [R, C] of the row-major code array q (R*C = N
 * codes, one per byte, each < 2^nbits). Row blocks are combined, not neighbours:
 *   8 bit ("8bit_u8"):  byte[x] = q[x]
 *   4 bit ("4bit_u8"):  byte[x] = q[x] << 4 | q[x + N/2]                 (R even)
 *   2 bit ("2bit_u8"):  byte[x] = q[x]<<6 | q[x+N/4]<<4 | q[x+N/2]<<2 | q[x+3N/4]  (R % 4 == 0)
 *   3 bit ("3bit_32"):  R padded with zero rows to R' = 10*ceil(R/10), t = R'/10,
 *                       int32 word[x] = sum_m q[x + m*t*C] << (27 - 3m), x < t*C
 * For HQQ's axis 0, R = group size and C = number of groups; for axis 1, R = number of
 * groups and C = group size. */
#ifndef LS_BITPACK_H
#define LS_BITPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "8bit_u8", "4bit_u8", "3bit_32", "2bit_u8"; NULL for other widths. */
const char *ls_bitpack_name(int nbits);

/* True when nbits is packable (2, 3, 4, 8) and R satisfies its row condition. */
bool ls_bitpack_ok(int nbits, int64_t R);

/* Packed view shape: rows (C columns each) and bytes per element (1, or 4 for 3-bit). */
int64_t ls_bitpack_rows(int nbits, int64_t R);
int ls_bitpack_elem_size(int nbits);
/* Total packed bytes for an [R, C] view. */
size_t ls_bitpack_bytes(int nbits, int64_t R, int64_t C);

/* Packs output elements [x0, x1) (x counts bytes, or int32 words for 3-bit) so callers can
 * split the work across threads. The full range is [0, ls_bitpack_rows(nbits,R) * C). */
void ls_bitpack_range(int nbits, const uint8_t *q, int64_t R, int64_t C, void *out,
                      int64_t x0, int64_t x1);
/* Whole array. Returns -1 when ls_bitpack_ok() is false. */
int ls_bitpack(int nbits, const uint8_t *q, int64_t R, int64_t C, void *out);
/* Inverse of ls_bitpack: fills q[0 .. R*C). Returns -1 when ls_bitpack_ok() is false. */
int ls_bitunpack(int nbits, const void *packed, int64_t R, int64_t C, uint8_t *q);
/* Code of flat element i (0 <= i < R*C) read straight from the packed array. */
unsigned ls_bitpack_get(int nbits, const void *packed, int64_t R, int64_t C, int64_t i);

#endif
