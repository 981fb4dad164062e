/* Batch mode: no curses. Opens the model or profile, computes kurtosis when there are
 * weights, runs detection and allocation, prints the per-layer table and the memory
 * summary, and writes the JSON result and allocation export when asked. */
#ifndef LS_BATCH_H
#define LS_BATCH_H

#include <stdio.h>

#include "cli/options.h"

/* Returns the process exit status: 0 success, 2 bad input (one line on errf). */
int ls_batch_run(const ls_options *o, FILE *out, FILE *errf);

/* --list-models: the Hugging Face cache and the models/profiles in dir (NULL = "."). */
int ls_batch_list_models(const char *dir, FILE *out);

#endif
