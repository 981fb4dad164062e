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

typedef enum ls_method {
    LS_METHOD_SENSI,  /* SensiBoost: sensitivity, divide */
    LS_METHOD_KURT,   /* KurtBoost: kurtosis, subtract */
    LS_METHOD_BOTH,   /* union of the two sets */
    LS_METHOD_MANUAL, /* a user-chosen set */
    /* Budget methods (docs/method.md §8): one config per matrix from the exact solver. */
    LS_METHOD_MXQ,        /* plain MXQ: minimise the sum of FNorm under the target */
    LS_METHOD_SENSI_MILP, /* SensiMiLP: the size costs, sensitivity outliers weighted */
    LS_METHOD_KURT_MILP,  /* KurtMiLP: the same with kurtosis outliers */
    LS_N_METHODS
} ls_method;

const char *ls_method_name(ls_method m); /* "sensi" "kurt" "both" "manual" "mxq"
                                            "sensi-milp" "kurt-milp" */
/* True for mxq, sensi-milp and kurt-milp (they need a target and run the solver). */
bool ls_method_is_budget(ls_method m);
int ls_method_parse(const char *s);      /* -1 when unknown */

typedef struct ls_settings {
    ls_method method;
    int mode;          /* -1: each method's own pairing; else an ls_diff_mode override */
    int top_m;         /* 0 = all outliers */
    int boost_stop;    /* 1 .. 11 */
    int base;          /* stop index of the base config */
    bool ablation;     /* random layers, same count (docs/method.md §7); sensi or kurt only */
    uint64_t seed;     /* ablation seed */
    ls_detect_params detect;
    /* budget methods */
    int target_kind;   /* ls_target_kind (method/mxq.h): none, bpp, mib or extra_pct */
    double target;     /* its value: bits per parameter, MiB, or % over the base */
    double factor;     /* MiLP cost weight of an outlier (default 2) */
} ls_settings;

/* The solver's time limit for ls_analyze (the toolkit's 120 s). */
#define LS_BUDGET_TIME_LIMIT 120.0

/* The paper's headline setting: base b3g128, sensi, top-m 0, boost stop 3, seed 42. */
ls_settings ls_settings_default(void);

/* "divide", "subtract", "paired" (both, each its own) or NULL (manual). */
const char *ls_settings_mode_label(const ls_settings *s);

/* True when the detection parameters are the paper's (threshold 3, trim 0.05). */
bool ls_settings_paper_detect(const ls_settings *s);

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
 * Fails only on settings that cannot be applied (ablation with both/manual, no metric for
 * the method). */
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
