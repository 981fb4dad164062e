/* Budget-targeted allocation: the toolkit's MXQ and its MiLP variants (docs/method.md §8),
 * solved exactly with the multiple-choice knapsack solver (method/mckp.h).
 *
 * Memory is counted in units of 1/512 bit, in which every stop's nominal bpp is a whole
 * number (b1*512 + 8192/g1 + 128/g1: 1089 for b2g128 ... 4356 for b8g32), so a matrix's
 * memory is params * units exactly and the budget test is exact integer arithmetic. A
 * target is turned into a budget once: floor(value in units + 1e-6); the 1e-6 unit (2e-9
 * bit) only absorbs the binary representation of a decimal target such as 2.13. The
 * budget of --target-bpp B is P*B/8/2^20 MiB, P = parameters of the 7 linear types, as
 * the toolkit's budget_mb with tol = 0. */
#ifndef LS_MXQ_H
#define LS_MXQ_H

#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"
#include "method/mckp.h"
#include "method/profile.h"
#include "method/settings.h"

#define LS_MXQ_UNITS_PER_BIT 512



typedef enum ls_mxq_cost {
    LS_MXQ_COST_FNORM, /* plain MXQ: the FNorm of each config */
    LS_MXQ_COST_SENSI, /* SensiMiLP: penalty * f * 100 * params/P' / bpp, f from sensitivity */
    LS_MXQ_COST_KURT,  /* KurtMiLP: the same with f from kurtosis outliers */
} ls_mxq_cost;

/* Memory of stop s in units per parameter. */
int64_t ls_mxq_stop_units(int stop);

/* The budget in units for a target over matrices params[n] at base stop base. Fails with
 * the feasible range when the target is below the smallest or above the largest config. */
int ls_mxq_budget(const int64_t *params, int n, int base, ls_target_kind kind, double value,
                  int64_t *units, ls_error *err);

/* A budget's value in the target's own measure (for display: the target bpp, MiB or %). */
double ls_mxq_units_to_bpp(int64_t units, int64_t params_total);
double ls_mxq_units_to_mib(int64_t units);

/* Costs [n * 12] of the cost kind. FNORM needs p->fnorm (fails saying how to get one);
 * SENSI/KURT need outlier[n] (1 = detected outlier) and factor. */
int ls_mxq_costs(const ls_profile *p, ls_mxq_cost kind, const unsigned char *outlier,
                 double factor, double *cost, ls_error *err);

/* Solves: cfg[n] receives the stop per matrix only when the solve is optimal. */
int ls_mxq_solve(const int64_t *params, int n, const double *cost, int64_t budget_units,
                 double time_limit, ls_progress *progress, unsigned char *cfg,
                 ls_mckp_result *res, ls_error *err);

#endif
