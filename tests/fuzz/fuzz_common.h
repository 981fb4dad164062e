/* Helpers shared by the libFuzzer targets: a per-process scratch file or directory so that
 * inputs the in-memory parser accepts can also go through ls_model_open (binding and shape
 * checks). Everything is created once per process and reused. */
#ifndef LS_FUZZ_COMMON_H
#define LS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "formats/model.h"

/* A memfd holding the input, opened by path through /proc/self/fd. */
static inline const char *fuzz_memfile(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        if (fd < 0)
            return NULL;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        return NULL;
    return path;
}

/* Opens path as a model and frees it again; failures are expected and ignored. */
static inline void fuzz_open_model(const char *path)
{
    ls_model *m = NULL;
    ls_error err;
    if (path && ls_model_open(path, NULL, &m, &err) == 0) {
        /* touch the bound tensors so ASan sees any pointer outside the mapping */
        volatile float sink = 0;
        for (int i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].n_elems > 0)
                sink += ls_tensor_get(&m->tensors[i], m->tensors[i].n_elems - 1);
        (void)sink;
        ls_model_free(m);
    }
}

#endif
