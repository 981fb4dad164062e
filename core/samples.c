#include "samples.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The build passes the source tree's samples directory; a relative fallback keeps other
 * builds working from the project root. */
#ifndef LS_SAMPLES_DIR
#define LS_SAMPLES_DIR "samples"
#endif

void ls_sample_path(const char *name, char *buf, size_t cap)
{
    const char *dir = getenv("LAYERSCOPE_SAMPLES");
    snprintf(buf, cap, "%s/%s", dir && *dir ? dir : LS_SAMPLES_DIR, name);
}

bool ls_sample_exists(const char *name)
{
    char path[4096];
    ls_sample_path(name, path, sizeof path);
    struct stat st;
    return stat(path, &st) == 0;
}
