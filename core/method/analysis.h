/* Settings -> detection -> allocation -> memory: the computation that runs on every key
 * press in the explorer and once in batch mode. Pure and cheap (microseconds). */
#ifndef LS_ANALYSIS_H
#define LS_ANALYSIS_H

#include <stdbool.h>
#include <stdint.h>

#include "method/budget.h"
#include "method/detect.h"
#include "method/mckp.h"
#include "method/profile.h"
#include "method/settings.h"

/* The budget solver's time limit for ls_analyze (the toolkit's 120 s). */
#define LS_BUDGET_TIME_LIMIT 120.0

typedef struct ls_analysis {
    int n_layers;
    ls_settings settings;
    bool have_sensi, have_kurt;              /* metric known for the series */
    ls_detection sensi[LS_N_MODULES];        /* sensitivity series (divide unless overridden) */
    ls_detection kurt[LS_N_MODULES];         /* kurtosis series (subtract unless overridden) */
    int target;                              /* stop index a boosted matrix gets */
    unsigned char boosted[LS_MAX_LAYERS * LS_N_MODULES];
    unsigned char cfg[LS_MAX_LAYERS * LS_N_MODULES]; /* stop index per matrix */
    int n_boosted;
    bool memory_known;                       /* every params[] known */
    ls_memory mem;
    /* budget methods: the solve behind cfg */
    bool budget;                             /* the method is a budget method */
    int64_t budget_units;                    /* the target in 1/512 bit (method/mxq.h) */
    double budget_bpp, budget_mib;           /* the same as bpp and MiB */
    double cost_total;                       /* optimal sum of costs (FNorm for mxq) */
    ls_mckp_result solve;
    int ablation_short[LS_N_MODULES];        /* eligible layers missing per module, 0 = ok */
    char note[256];                          /* why nothing is flagged, etc.; "" if none */
} ls_analysis;

/* manual: [n_layers * 7] boost flags, used when settings->method is MANUAL (NULL = none).
 * Fails only on settings that break a rule of method/settings.h (ls_settings_validate,
 * messages "settings.KEY: ..."); a method without its metric flags nothing, with a note. */
int ls_analyze(const ls_profile *p, const ls_settings *s, const unsigned char *manual,
               ls_analysis *out, ls_error *err);
/* The same with the budget solver's time limit (<= 0: none) and progress/cancel. A budget
 * method fails (and out must not be used) when the target is missing or outside the
 * feasible range, mxq has no fnorm, or the solver stops without a proven optimum. For
 * budget methods "boosted" marks the matrices whose config differs from the base. */
int ls_analyze_ex(const ls_profile *p, const ls_settings *s, const unsigned char *manual,
                  double time_limit, ls_progress *progress, ls_analysis *out, ls_error *err);

/* The detection a method's outliers come from for a module (for display): the
 * sensitivity series for sensi, kurtosis for kurt; for both, whichever flags; NULL for
 * manual. */
const ls_detection *ls_analysis_detection(const ls_analysis *a, int module, int layer);

#endif
