/* Pearson (non-excess) kurtosis with population moments over a whole matrix
 * (docs/method.md §2), read straight from the mapped F32/F16/BF16 data. */
#ifndef LS_KURTOSIS_H
#define LS_KURTOSIS_H

#include <stdint.h>

#include "base/error.h"
#include "formats/model.h"
#include "method/profile.h"
#include "base/progress.h"

typedef struct ls_kurtosis_result {
    double kurtosis;      /* m4 / m2^2; NaN when undefined (< 2 finite values, m2 == 0) */
    double mean, m2, m4;  /* population moments of the finite elements */
    int64_t n_finite, n_nonfinite;
} ls_kurtosis_result;

/* Accumulates in double per cache-sized block (two passes over the block: mean, then
 * central sums), merges blocks with Pebay's pairwise formulas, and combines fixed-size
 * chunks in index order, so the result does not depend on the thread count. */
void ls_kurtosis_data(const void *data, ls_dtype dt, int64_t n, int threads,
                      ls_kurtosis_result *out);

/* Fills p->kurtosis and p->nonfinite for every linear module of m. Returns -1 with err
 * set when cancelled through progress (nothing half-filled is left: untouched entries stay
 * NaN). */
int ls_kurtosis_model(const ls_model *m, int threads, ls_progress *progress, ls_profile *p,
                      ls_error *err);

#endif
