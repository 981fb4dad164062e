/* A small bounds-checked CSV reader: comma-separated, a header line, optional "quoted"
 * fields with "" escapes, LF or CRLF line ends. Columns are found by header name. */
#ifndef LS_CSV_H
#define LS_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct ls_csv {
    const char *path;  /* for messages; not owned */
    char *text;        /* owned; cells point into it */
    int n_cols;
    size_t n_rows;     /* data rows, header excluded */
    char **header;     /* [n_cols] */
    char **cells;      /* [n_rows * n_cols] */
    size_t *line_no;   /* [n_rows] 1-based line number of each row, for messages */
} ls_csv;

/* Parses text (taking ownership of the heap buffer, even on failure). */
int ls_csv_parse(const char *path, char *text, size_t len, ls_csv *out, ls_error *err);
/* Reads and parses a file (at most 256 MiB). */
int ls_csv_read(const char *path, ls_csv *out, ls_error *err);
void ls_csv_free(ls_csv *c);

/* Column index by header name, -1 if absent. */
int ls_csv_col(const ls_csv *c, const char *name);
/* Like ls_csv_col but fails with "FILE: header: missing column NAME". */
int ls_csv_need_col(const ls_csv *c, const char *name, ls_error *err);

const char *ls_csv_cell(const ls_csv *c, size_t row, int col);
/* Whole-field numbers; errors name file, line and column. */
int ls_csv_double(const ls_csv *c, size_t row, int col, double *out, ls_error *err);
int ls_csv_int(const ls_csv *c, size_t row, int col, int64_t min, int64_t max, int64_t *out,
               ls_error *err);

#endif
