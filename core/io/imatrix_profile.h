/* An importance matrix (core/formats/imatrix.h) into a profile: the act_energy and the
 * --show-statistics numbers of every matrix, where the file came from, and, opened alone,
 * the act_energy as the sensitivity column ("imatrix energy"). */
#ifndef LS_IMATRIX_PROFILE_H
#define LS_IMATRIX_PROFILE_H

#include "base/error.h"
#include "formats/imatrix.h"
#include "formats/model.h"
#include "method/profile.h"

/* A profile from an imatrix alone: act_energy in the sensitivity column ("imatrix
 * energy"), parameter counts unknown. */
int ls_imatrix_to_profile(const ls_imatrix *im, ls_profile **out, ls_error *err);

/* Fills p->act_energy, p->act_stats and p->imatrix from im. With a model (m != NULL) every
 * entry's channel count must match the model's matrix; the layer counts must agree. */
int ls_imatrix_apply(const ls_imatrix *im, const ls_model *m, ls_profile *p, ls_error *err);

#endif
