/* A profile: the per-(layer, module) metrics the method works on, with or without weights.
 * A model yields one (params from its shapes, kurtosis once computed); the paper toolkit's
 * CSV files yield one directly. Everything that needs no weights works on a profile. */
#ifndef LS_PROFILE_H
#define LS_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "method/budget.h"
#include "base/error.h"
#include "formats/imatrix.h"
#include "formats/model.h"

#define LS_IDX(layer, module) ((layer) * LS_N_MODULES + (module))
#define LS_PROFILE_MAX_WARNINGS 8


typedef struct ls_profile {
    char *name;      /* model name, e.g. "Llama-2-7b-hf" */
    char *path;      /* file or directory it came from */
    char *source;    /* "hf" "hf-sharded" "gguf" "llama2c" "fnorm-csv" "kurtosis-csv"
                        "sensitivity-csv" */
    int n_layers;
    int64_t *params;      /* [L*7] elements per matrix; 0 = unknown */
    double *kurtosis;     /* [L*7] Pearson kurtosis; NaN = unknown or undefined */
    int64_t *nonfinite;   /* [L*7] NaN/Inf elements skipped by the kurtosis; -1 unknown */
    double *sensitivity;  /* [L*7] activation sensitivity; NaN = not measured */
    double *fnorm;        /* [L*7*12] HQQ Frobenius error per stop (metrics CSV), or NULL */
    int64_t other_bytes;  /* embeddings, head and norms at their stored dtype; -1 unknown */
    int64_t linear_bytes; /* the 7 linear types at their stored dtype; -1 unknown */
    char sensitivity_source[256]; /* where the sensitivity came from, "" if none */
    char sensitivity_label[32];   /* the column's label when it is not measured activation
                                     sensitivity ("imatrix energy", "imatrix error"); "" */
    double *act_energy;      /* [L*7] sum_j E[x_j^2] from an imatrix, or NULL */
    double *imatrix_error;   /* [L*7] imatrix-weighted HQQ error (--imatrix), or NULL */
    double *measured_dkl;    /* [L*7] measured ΔKL (--measure, core/eval/measure.h), or NULL */
    ls_act_stats *act_stats; /* [L*7] imatrix statistics per matrix, or NULL */
    ls_imatrix_meta imatrix; /* imatrix.file[0] == 0 when none */
    int n_warnings;
    char warnings[LS_PROFILE_MAX_WARNINGS][256];
} ls_profile;

ls_profile *ls_profile_new(int n_layers, const char *name, const char *path,
                           const char *source, ls_error *err);
void ls_profile_free(ls_profile *p);
void ls_profile_warn(ls_profile *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True when every matrix has a known element count. */
bool ls_profile_params_known(const ls_profile *p);
/* True when the metric is known for at least one matrix. */
bool ls_profile_has_kurtosis(const ls_profile *p);
bool ls_profile_has_sensitivity(const ls_profile *p);

/* A profile with the shapes of a model (metrics unknown until measured). */
ls_profile *ls_profile_from_model(const ls_model *m, ls_error *err);

/* Copies the sensitivity of src into dst (same layer count); records the source. */
int ls_profile_take_sensitivity(ls_profile *dst, const ls_profile *src, ls_error *err);

#endif
