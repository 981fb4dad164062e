#include "io/samples.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
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

bool ls_is_sample_demo(const char *path)
{
    char demo[4096], a[PATH_MAX], b[PATH_MAX];
    ls_sample_path("demo", demo, sizeof demo);
    return path && realpath(path, a) && realpath(demo, b) && strcmp(a, b) == 0;
}
