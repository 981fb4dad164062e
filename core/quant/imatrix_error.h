/* The imatrix-weighted HQQ error: a sensitivity estimate from an importance matrix and the
 * weights, without a forward pass. For matrix W (rows x cols) with input channel energies
 * E[x_j^2] from the imatrix and W^ = dequant(HQQ(W)) at the config `stop`:
 *
 *   imatrix_error = (1/rows) * sum_j E[x_j^2] * sum_i (W[i,j] - W^[i,j])^2
 *
 * the diagonal part of E||(W - W^) x||^2 / rows: the expected squared output error per
 * output element and token when the input channels are taken as uncorrelated. Dividing by
 * rows puts it on the scale of the activation sensitivity (a mean over output elements),
 * so matrices of different shapes and layers compare. */
#ifndef LS_IMATRIX_ERROR_H
#define LS_IMATRIX_ERROR_H

#include <stdbool.h>

#include "base/error.h"
#include "base/progress.h"
#include "formats/imatrix.h"
#include "formats/model.h"
#include "method/profile.h"

/* The error of one matrix given W and W^ (row-major rows x cols) and the entry. */
double ls_imatrix_weighted_error(const float *W, const float *Wq, int64_t rows, int64_t cols,
                                 const ls_imatrix_entry *e);

/* Fills p->imatrix_error for every matrix with a usable entry (NaN otherwise), HQQ at
 * `stop` as model quantization runs it (ls_qmodel_hqq_cfg, metadata quantized when
 * quant_meta). The imatrix must fit the model (ls_imatrix_apply checks). When the profile
 * has no sensitivity, the estimate fills the sensitivity column ("imatrix error"). */
int ls_imatrix_error_model(const ls_model *m, const ls_imatrix *im, int stop, bool quant_meta,
                           int threads, ls_progress *progress, ls_profile *p, ls_error *err);

#endif
