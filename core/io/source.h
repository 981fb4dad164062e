/* Opening what the user names: a model (weights) or a profile (toolkit CSV), plus the
 * optional metric files that complete it. Shared by batch mode and the explorer. */
#ifndef LS_SOURCE_H
#define LS_SOURCE_H

#include "base/error.h"
#include "method/import.h"
#include "formats/model.h"
#include "method/profile.h"

typedef struct ls_source_options {
    const char *tokenizer_path;
    const char *sensitivity_csv;
    const char *kurtosis_csv;
    ls_sensi_select sensi_select;
} ls_source_options;

/* What a regular file is, by its first bytes. Every kind has a recogniser in one table
 * (source.c); a file none recognises is refused with one line naming each check, e.g.
 * "README.md: not a model: no GGUF magic, not safetensors, not a llama2.c header, not a
 * toolkit CSV, not an imatrix", so adding a reader (a new row) keeps the message true. */
typedef enum ls_file_kind {
    LS_FILE_UNKNOWN = 0,
    LS_FILE_GGUF,
    LS_FILE_SAFETENSORS,
    LS_FILE_LLAMA2C,
    LS_FILE_TOOLKIT_CSV,
    LS_FILE_IMATRIX,
} ls_file_kind;

/* The kind of a regular file (directories are not asked). On LS_FILE_UNKNOWN err holds the
 * refusal; on a read error err says why and the kind is unknown too. */
ls_file_kind ls_source_identify(const char *path, ls_error *err);

/* Opens path as a model (directory, .gguf, .bin) or a profile (a toolkit CSV, or an
 * importance matrix recognised by content: its act_energy fills the sensitivity column). *model is
 * NULL for a profile. Kurtosis of a model is not computed here (it is a job). */
int ls_source_open(const char *path, const ls_source_options *opt, ls_model **model,
                   ls_profile **profile, ls_error *err);

/* Merges --sensitivity-csv / --kurtosis-csv into profile (layer counts must match). Without
 * --sensitivity-csv, a sensitivity.csv inside a model directory (a measurement saved
 * beside the weights, as the bundled demo ships one) is read. */
int ls_source_add_metrics(ls_profile *profile, const ls_source_options *opt, ls_error *err);

/* --imatrix FILE: fills profile->act_energy, act_stats and imatrix from an importance
 * matrix (checked against the model's shapes when model is not NULL). Without a model and
 * without a sensitivity, act_energy fills the sensitivity column ("imatrix energy"). The
 * imatrix is handed back in *out (NULL: freed) for the imatrix error. */
struct ls_imatrix;
int ls_source_add_imatrix(ls_profile *profile, const ls_model *model, const char *path,
                          struct ls_imatrix **out, ls_error *err);

#endif
