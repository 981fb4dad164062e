/* Importers for the paper toolkit's CSV files (docs/method.md §10): the metrics file
 * fnorm-<model>.csv, the kurtosis file kurtosis-<model>.csv (and wdist-<model>.csv), and
 * the sensitivity file. Each yields a profile. */
#ifndef LS_IMPORT_H
#define LS_IMPORT_H

#include "base/error.h"
#include "method/profile.h"

typedef enum ls_csv_kind {
    LS_CSV_UNKNOWN,
    LS_CSV_METRICS,     /* fnorm-<model>.csv */
    LS_CSV_KURTOSIS,    /* kurtosis-<model>.csv or wdist-<model>.csv */
    LS_CSV_SENSITIVITY, /* llama-sensitivity.csv / qnt-mtd-sensi.csv */
} ls_csv_kind;

/* Which rows of a sensitivity file to use; the paper's are pileval, 4 bits, group 64.
 * dataset NULL picks pileval when the file has it, else the file's only data set (a CSV
 * written by our own measurement names its calibration file). */
typedef struct ls_sensi_select {
    const char *dataset;
    int nbits, group_size;
} ls_sensi_select;

#define LS_SENSI_SELECT_PAPER ((ls_sensi_select){NULL, 4, 64})

/* Reads the header of a file and tells which kind it is (LS_CSV_UNKNOWN if none). */
ls_csv_kind ls_csv_kind_of(const char *path);

int ls_import_metrics(const char *path, ls_profile **out, ls_error *err);
int ls_import_kurtosis(const char *path, ls_profile **out, ls_error *err);
int ls_import_sensitivity(const char *path, const ls_sensi_select *sel, ls_profile **out,
                          ls_error *err);

/* One selection a sensitivity file offers (its hqq rows). */
typedef struct ls_sensi_choice {
    char dataset[64];
    int nbits, group_size;
} ls_sensi_choice;

#define LS_SENSI_MAX_CHOICES 64

/* The distinct (dataset, nbits, group_size) selections of a sensitivity file, in file order,
 * at most cap of them; their count, or -1 with err set. */
int ls_sensitivity_choices(const char *path, ls_sensi_choice *out, int cap, ls_error *err);

/* Imports any of the three kinds, chosen by the header. */
int ls_import_profile(const char *path, const ls_sensi_select *sel, ls_profile **out,
                      ls_error *err);

#endif
