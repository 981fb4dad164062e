/* A deep copy of a profile, for background work that must not read the UI's own copy
 * while the UI keeps changing it (kurtosis and sensitivity arrive later). */
#ifndef LS_PROFILE_COPY_H
#define LS_PROFILE_COPY_H

#include "base/error.h"
#include "method/profile.h"

ls_profile *ls_profile_copy(const ls_profile *p, ls_error *err);

#endif
