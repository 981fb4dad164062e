#include "uiargs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *ui_args_usage(void)
{
    return "\nExplorer options:\n"
           "  -c, --config FILE        settings file (default $XDG_CONFIG_HOME/layerscope/"
           "config.json)\n"
           "      --list-keys          print every key of the explorer and exit\n"
           "      --max-frames N       exit after N drawn frames (smoke tests)\n"
           "      --script FILE        read keys from FILE (one token each), then quit\n"
           "      --dump-screen FILE   write the final screen as text to FILE\n"
           "      --no-display         draw off-screen (with --script, for tests)\n";
}

/* Matches "--name", "--name=value" or the short form; sets *val for options with values.
 * Returns the number of argv entries consumed (0 = no match, -1 = missing value). */
static int match(int argc, char **argv, int i, const char *lng, const char *shrt,
                 bool has_val, const char **val)
{
    const char *a = argv[i];
    size_t n = strlen(lng);
    if (has_val && strncmp(a, lng, n) == 0 && a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (strcmp(a, lng) != 0 && !(shrt && strcmp(a, shrt) == 0))
        return 0;
    if (!has_val)
        return 1;
    if (i + 1 >= argc)
        return -1;
    *val = argv[i + 1];
    return 2;
}

int ui_args_extract(int *argc, char **argv, ui_args *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    int w = 1;
    for (int i = 1; i < *argc;) {
        const char *val = NULL;
        int used;
        if (strcmp(argv[i], "--") == 0) { /* the rest is positional */
            while (i < *argc)
                argv[w++] = argv[i++];
            break;
        }
        if ((used = match(*argc, argv, i, "--max-frames", NULL, true, &val)) != 0) {
            char *end;
            long v = used > 0 ? strtol(val, &end, 10) : -1;
            if (used < 0 || *val == '\0' || *end != '\0' || v < 1 || v > 1000000000) {
                snprintf(err, cap, "option --max-frames: needs a whole number from 1");
                return -1;
            }
            out->max_frames = (int)v;
        } else if ((used = match(*argc, argv, i, "--script", NULL, true, &val)) != 0) {
            out->script = val;
        } else if ((used = match(*argc, argv, i, "--dump-screen", NULL, true, &val)) != 0) {
            out->dump_screen = val;
        } else if ((used = match(*argc, argv, i, "--config", "-c", true, &val)) != 0) {
            out->config = val;
        } else if ((used = match(*argc, argv, i, "--no-display", NULL, false, &val)) != 0) {
            out->no_display = true;
        } else if ((used = match(*argc, argv, i, "--list-keys", NULL, false, &val)) != 0) {
            out->list_keys = true;
        }
        if (used < 0 || (used > 0 && !val && strcmp(argv[i], "--no-display") != 0 &&
                         strcmp(argv[i], "--list-keys") != 0)) {
            snprintf(err, cap, "option %s: needs a value", argv[i]);
            return -1;
        }
        if (used > 0) {
            i += used;
            continue;
        }
        argv[w++] = argv[i++];
    }
    *argc = w;
    argv[w] = NULL;
    return 0;
}
