/* The toolkit's FNorm metric (docs/method.md §10, the `fnorm` column of fnorm-<model>.csv):
 * for every linear matrix and each of the twelve configurations, ||W - dequant(HQQ(W))||_F
 * with HQQ as the toolkit measured it (axis 0, optimizer on, round_zero off, scale and
 * zero unquantized). Filled into the profile so --export-metrics-csv writes it.
 *
 *   ls_fnorm_model(m, threads, progress, p, &err);   // p->fnorm [L*7*12] */
#ifndef LS_FNORM_H
#define LS_FNORM_H

#include "base/error.h"
#include "formats/model.h"
#include "method/profile.h"
#include "base/progress.h"

/* 12 HQQ runs per matrix, one matrix's f32 copy at a time. A configuration HQQ cannot
 * apply to a matrix (group size not dividing it) is left NaN (written as NA). */
int ls_fnorm_model(const ls_model *m, int threads, ls_progress *progress, ls_profile *p,
                   ls_error *err);

#endif
