/* Options only the explorer knows (test and automation hooks, the config file), taken out
 * of argv before the shared parser (core/cli/options.c) sees the rest. */
#ifndef TUI_UIARGS_H
#define TUI_UIARGS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ui_args {
    int max_frames;          /* --max-frames N: exit after N drawn frames (0 = no limit) */
    const char *script;      /* --script FILE: keys from a file, then quit */
    const char *dump_screen; /* --dump-screen FILE: write the screen text at exit */
    bool no_display;         /* --no-display: draw into /dev/null (scripted tests) */
    const char *config;      /* -c FILE / --config FILE: settings file */
    bool list_keys;          /* --list-keys: print the key table and exit */
} ui_args;

/* Removes the options above from argv (shifting the rest down, argv[*argc] = NULL).
 * Returns -1 with a message in err on a missing or bad value. */
int ui_args_extract(int *argc, char **argv, ui_args *out, char *err, size_t cap);

/* The usage lines of these options (appended to --help). */
const char *ui_args_usage(void);

#endif
