/* Rotary position embedding (docs/formats.md §1, §2.2): inverse frequencies with the
 * linear and llama3 scalings (and GGUF rope_freqs divisors), a cos/sin table rounded to
 * fp32, and the rotation in both row layouts (pairs: (2i, 2i+1); halves: (i, i + hd/2)). */
#ifndef LS_ROPE_H
#define LS_ROPE_H

#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"

/* inv_freq[0 .. head_dim/2 - 1] in double for the model's config (scaling applied). */
int ls_rope_inv_freq(const ls_model *m, double *inv_freq, ls_error *err);

typedef struct ls_rope {
    int head_dim, half;   /* half = head_dim / 2 */
    int n_pos;            /* positions 0 .. n_pos-1 in the table */
    ls_rope_layout layout;
    float *cos, *sin;     /* [n_pos][half], computed in double, rounded to fp32 */
} ls_rope;

int ls_rope_init(ls_rope *r, const ls_model *m, int n_pos, ls_error *err);
void ls_rope_free(ls_rope *r);

/* Rotates n_heads heads of n_rows consecutive positions 0 .. n_rows-1 in place; row t
 * starts at x + t*ld and holds the heads back to back. n_rows <= r->n_pos. */
void ls_rope_apply(const ls_rope *r, float *x, int64_t n_rows, int64_t ld, int n_heads);

#endif
