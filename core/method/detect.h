/* Outlier detection over one module's metric series (docs/method.md §4), exactly as the
 * paper's identify_sensitive_modules: differences between consecutive layers, scipy.mstats
 * trimmed mean and ddof=1 std, two-sided strict z > threshold, ranking by z, top-m, and the
 * +1 layer offset. */
#ifndef LS_DETECT_H
#define LS_DETECT_H

#include <stdbool.h>

#define LS_MAX_LAYERS 256

typedef enum ls_diff_mode { LS_DIFF_SUBTRACT, LS_DIFF_DIVIDE } ls_diff_mode;

const char *ls_diff_mode_name(ls_diff_mode m); /* "subtract" / "divide" */
int ls_diff_mode_parse(const char *s);          /* -1 when unknown */

typedef struct ls_detect_params {
    double threshold; /* paper: 3.0, strict > */
    double trim_frac; /* paper: 0.05 per side, k = floor(frac * n) */
} ls_detect_params;

#define LS_DETECT_PAPER ((ls_detect_params){3.0, 0.05})

typedef enum ls_detect_status {
    LS_DETECT_OK,
    LS_DETECT_NO_LAYERS,   /* fewer than 2 layers: no differences at all */
    LS_DETECT_TOO_FEW,     /* fewer than 2 valid differences survive trimming */
} ls_detect_status;

/* Everything about one series, indexed by the *reported* layer l = i + 1 (l = 1 .. L-1);
 * entry 0 is unused (layer 0 has no predecessor and can never be flagged). */
typedef struct ls_detection {
    int n_layers;
    ls_diff_mode mode;
    ls_detect_status status;
    double diff[LS_MAX_LAYERS];  /* d[l-1]; NaN where invalid */
    bool valid[LS_MAX_LAYERS];   /* finite difference (docs/method.md §4.7) */
    double z[LS_MAX_LAYERS];     /* NaN where invalid or no statistics */
    bool outlier[LS_MAX_LAYERS]; /* z > threshold, before top-m */
    int rank[LS_MAX_LAYERS];     /* 1-based rank among all outliers by z, 0 if none */
    bool selected[LS_MAX_LAYERS];/* kept after top-m */
    int order[LS_MAX_LAYERS];    /* selected layers in rank order */
    int n_valid, k, n_core;      /* valid differences, trimmed per side, core size */
    int n_outliers, n_selected;
    double mu, sigma;            /* trimmed mean and std; NaN without statistics */
    double max_z_possible;       /* Samuelson bound (n-1)/sqrt(n) when k = 0, else inf */
    int invalid_layers[LS_MAX_LAYERS]; /* reported layers with an invalid difference */
    int n_invalid;
} ls_detection;

/* Runs detection over s[0 .. n_layers-1]. top_m = 0 keeps all outliers. n_layers must be
 * <= LS_MAX_LAYERS (callers validate on import). Never fails: edge cases set status and
 * produce no outliers, as docs/method.md §4.7 defines. */
void ls_detect(const double *s, int n_layers, ls_diff_mode mode, int top_m,
               const ls_detect_params *params, ls_detection *out);

#endif
