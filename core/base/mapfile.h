/* Read-only memory mapping of a whole file. Models are never copied: tensors point into
 * the mapping. */
#ifndef LS_MAPFILE_H
#define LS_MAPFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "base/error.h"

typedef struct ls_mapped_file {
    const uint8_t *data; /* NULL for an empty file */
    size_t size;
} ls_mapped_file;

/* Opens path for reading only if it is a regular file, without ever blocking: the open uses
 * O_NONBLOCK (a FIFO with no writer would otherwise wait forever) and the kind is checked
 * with fstat before anything is read. The one-line refusals tell the cases apart:
 *   "PATH: not found", "PATH: unreadable: Permission denied",
 *   "PATH: not a regular file (a FIFO)" (or a directory, a character device, ...).
 * Returns the descriptor (blocking mode restored) or -1; st gets the file's stat if given. */
int ls_open_regular(const char *path, struct stat *st, ls_error *err);

/* The same as a FILE* opened "rb". */
FILE *ls_fopen_regular(const char *path, ls_error *err);

/* "a FIFO", "a directory", ... for the kind bits of st_mode. */
const char *ls_file_kind_name(unsigned mode);

int ls_map_file(const char *path, ls_mapped_file *out, ls_error *err);
void ls_unmap_file(ls_mapped_file *mf);

/* Drops the resident pages of [p, p + n) inside the read-only mapping mf (a finished
 * tensor), so a pass over a whole model keeps its RSS near one tensor instead of growing to
 * the file's size. Safe: the mapping is never written, so a later read faults the same bytes
 * back from the page cache. Does nothing when the range is not inside mf. */
void ls_mapped_release(const ls_mapped_file *mf, const void *p, size_t n);

/* Reads a whole (small) regular file into a NUL-terminated heap buffer; for JSON and CSV.
 * Fails above max_bytes ("PATH: larger than N bytes (the limit for this kind of file)"). */
char *ls_read_text_file(const char *path, size_t max_bytes, size_t *len_out, ls_error *err);

#endif
