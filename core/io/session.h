/* Sessions: an exploration saved as one JSON file (format "layerscope-session", version
 * 1): the model path and a fingerprint of it, the settings, the manual set, the measured
 * metrics and any results, so a hand-tuned allocation can be resumed, shared and exported
 * later. A session whose model changed on disk (other tensor shapes or header bytes) is
 * reported, and its stored metrics are not mixed into the new model's. */
#ifndef LS_SESSION_H
#define LS_SESSION_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "method/analysis.h"
#include "base/error.h"
#include "formats/model.h"
#include "method/profile.h"

/* FNV-1a over the tensor table (names, dtypes, shapes), the file sizes and the first
 * 64 KiB of every file (the headers), or over a profile's parameter counts and metrics. */
uint64_t ls_model_fingerprint(const ls_model *m);
uint64_t ls_profile_fingerprint(const ls_profile *p);

typedef struct ls_session {
    char *model_path;
    int n_layers;
    uint64_t fingerprint;
    ls_settings settings;
    unsigned char *manual;   /* [n_layers * 7] or NULL */
    double *kurtosis;        /* [n_layers * 7], NaN unknown */
    double *sensitivity;     /* [n_layers * 7], NaN unknown */
    char sensitivity_source[256];
    double *act_energy;      /* [n_layers * 7] or NULL: the extra metric columns */
    double *imatrix_error;   /* [n_layers * 7] or NULL */
    double *measured_dkl;    /* [n_layers * 7] or NULL */
    cJSON *results;          /* results (core/io/session_results.h), owned, or NULL */
} ls_session;

/* results may be NULL; manual may be NULL. m is NULL for a profile. */
int ls_session_save(const char *path, const ls_profile *p, const ls_model *m,
                    const ls_settings *s, const unsigned char *manual, const cJSON *results,
                    ls_error *err);
int ls_session_load(const char *path, ls_session *out, ls_error *err);
void ls_session_free(ls_session *s);

/* Brings a session's stored metrics into a freshly opened profile. When the layer count or
 * the fingerprint differs, nothing is copied and *changed is set (the caller warns). Only
 * metrics the profile does not have yet are filled (the sensitivity is the usual one: it
 * is measured once per model), the extra columns (imatrix energy and error, measured dKL)
 * included. */
void ls_session_apply_metrics(const ls_session *s, ls_profile *p, uint64_t fingerprint,
                              bool *changed);

#endif
