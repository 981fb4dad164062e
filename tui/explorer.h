/* The interactive explorer: terminal setup, the UI loop, and teardown. */
#ifndef TUI_EXPLORER_H
#define TUI_EXPLORER_H

#include "cli/options.h"
#include "uiargs.h"

/* Returns the process exit status (0, or 2 when the terminal cannot be used). */
int explorer_run(const ls_options *o, const ui_args *ua);

/* Prints the key table (mode title, label, help; tab-separated) for --list-keys and the
 * man page test. */
void explorer_list_keys(void);

#endif
