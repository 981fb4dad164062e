/* Files we write appear whole or not at all: a temporary file beside the target
 * (name.tmp.XXXXXX), fsync, then rename. A new file gets 0666 less the umask (what
 * open(O_CREAT) would give); a replaced file keeps its mode. */
#ifndef LS_ATOMIC_WRITE_H
#define LS_ATOMIC_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/error.h"

/* The process umask, read without changing it. */
mode_t ls_current_umask(void);

/* The mode for writing path: the existing file's mode (permission bits) when there is one,
 * else base (0666 for files, 0777 for directories) less the umask. */
mode_t ls_new_file_mode(const char *path, mode_t base);

/* Checks, before any long work, that path can be written: its directory exists and is
 * writable, and path itself is not a directory (a file) or is a directory (is_dir, e.g.
 * --save-quantized). option names the option in the message:
 * "--json out/r.json: directory out/: not found". */
int ls_check_output_path(const char *option, const char *path, bool is_dir, ls_error *err);

int ls_write_file_atomic(const char *path, const void *data, size_t len, ls_error *err);

/* Streaming form: open gives a FILE* on the temporary file; commit flushes, fsyncs and
 * renames; abort removes the temporary file. */
typedef struct ls_atomic_file {
    FILE *f;
    char *tmp_path;
    char *path;
} ls_atomic_file;

int ls_atomic_open(const char *path, ls_atomic_file *af, ls_error *err);
int ls_atomic_commit(ls_atomic_file *af, ls_error *err);
void ls_atomic_abort(ls_atomic_file *af);

#endif
