/* Read-only memory mapping of a whole file. Models are never copied: tensors point into
 * the mapping. */
#ifndef LS_MAPFILE_H
#define LS_MAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct ls_mapped_file {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
} ls_mapped_file;

int ls_map_file(const char *path, ls_mapped_file *out, ls_error *err);
void ls_unmap_file(ls_mapped_file *mf);

/* Reads a whole (small) file into a NUL-terminated heap buffer; for JSON and CSV. Fails
 * above max_bytes. */
char *ls_read_text_file(const char *path, size_t max_bytes, size_t *len_out, ls_error *err);

#endif
