#include "base/csv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/mapfile.h"

#define CSV_MAX_BYTES ((size_t)256 << 20)
#define CSV_MAX_COLS 4096

void ls_csv_free(ls_csv *c)
{
    free(c->text);
    free(c->header);
    free(c->cells);
    free(c->line_no);
    memset(c, 0, sizeof *c);
}

/* Splits one record starting at *pos into fields, unquoting in place. Returns the number
 * of fields, or -1 on an unterminated quote. *pos moves past the line end. */
static int split_record(char *text, size_t len, size_t *pos, char **fields, int max_fields,
                        size_t *line)
{
    size_t i = *pos;
    int n = 0;
    for (;;) {
        char *start = text + i, *w = start;
        if (i < len && text[i] == '"') {
            i++;
            for (;;) {
                if (i >= len)
                    return -1;
                if (text[i] == '"') {
                    if (i + 1 < len && text[i + 1] == '"') {
                        *w++ = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (text[i] == '\n')
                    (*line)++;
                *w++ = text[i++];
            }
            while (i < len && text[i] != ',' && text[i] != '\n')
                i++; /* junk after a closing quote is dropped */
        } else {
            while (i < len && text[i] != ',' && text[i] != '\n')
                *w++ = text[i++];
        }
        if (w > start && w[-1] == '\r')
            w--;
        char sep = i < len ? text[i] : '\n';
        *w = '\0';
        if (n < max_fields)
            fields[n] = start;
        n++;
        if (i < len)
            i++;
        if (sep == '\n')
            break;
    }
    *pos = i;
    return n;
}

static int is_blank_line(const char *text, size_t len, size_t pos)
{
    while (pos < len && (text[pos] == '\r' || text[pos] == ' ' || text[pos] == '\t'))
        pos++;
    return pos >= len || text[pos] == '\n';
}

static size_t skip_line(const char *text, size_t len, size_t pos)
{
    while (pos < len && text[pos] != '\n')
        pos++;
    return pos < len ? pos + 1 : pos;
}

int ls_csv_parse(const char *path, char *text, size_t len, ls_csv *out, ls_error *err)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    out->text = text;
    if (memchr(text, '\0', len))
        return ls_fail(err, "%s: contains a NUL byte: not a text CSV file", path);
    size_t pos = 0, line = 1;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        pos = 3; /* UTF-8 byte order mark */
    if (is_blank_line(text, len, pos))
        return ls_fail(err, "%s: line 1: empty file or missing header", path);

    /* Upper bound on records: one per newline. */
    size_t n_lines = 1;
    for (size_t i = pos; i < len; i++)
        n_lines += text[i] == '\n';
    char **hdr = malloc(CSV_MAX_COLS * sizeof *hdr);
    if (!hdr)
        return ls_fail(err, "%s: out of memory", path);
    int nc = split_record(text, len, &pos, hdr, CSV_MAX_COLS, &line);
    if (nc < 0 || nc > CSV_MAX_COLS) {
        free(hdr);
        return ls_fail(err, "%s: line 1: %s", path,
                       nc < 0 ? "unterminated quote in header" : "too many columns");
    }
    out->header = hdr;
    out->n_cols = nc;
    for (int a = 0; a < nc; a++)
        for (int b = a + 1; b < nc; b++)
            if (strcmp(hdr[a], hdr[b]) == 0)
                return ls_fail(err, "%s: header: duplicate column \"%s\"", path, hdr[a]);

    size_t max_rows = n_lines;
    if (max_rows > SIZE_MAX / sizeof(char *) / (size_t)nc)
        return ls_fail(err, "%s: too many rows", path);
    out->cells = malloc(max_rows * (size_t)nc * sizeof(char *) + 1);
    out->line_no = malloc(max_rows * sizeof(size_t) + 1);
    char **tmp = malloc(((size_t)nc + 1) * sizeof *tmp);
    if (!out->cells || !out->line_no || !tmp) {
        free(tmp);
        return ls_fail(err, "%s: out of memory", path);
    }
    size_t rows = 0;
    while (pos < len) {
        line++;
        if (is_blank_line(text, len, pos)) {
            pos = skip_line(text, len, pos);
            continue;
        }
        size_t rec_line = line;
        int n = split_record(text, len, &pos, tmp, nc + 1, &line);
        if (n < 0) {
            free(tmp);
            return ls_fail(err, "%s: line %zu: unterminated quote", path, rec_line);
        }
        if (n != nc) {
            free(tmp);
            return ls_fail(err, "%s: line %zu: %d fields, header has %d", path, rec_line, n,
                           nc);
        }
        if (rows >= max_rows) { /* cannot happen: one record per line at least */
            free(tmp);
            return ls_fail(err, "%s: line %zu: internal row count error", path, rec_line);
        }
        memcpy(out->cells + rows * (size_t)nc, tmp, (size_t)nc * sizeof *tmp);
        out->line_no[rows] = rec_line;
        rows++;
    }
    free(tmp);
    out->n_rows = rows;
    return 0;
}

int ls_csv_read(const char *path, ls_csv *out, ls_error *err)
{
    size_t len;
    char *text = ls_read_text_file(path, CSV_MAX_BYTES, &len, err);
    if (!text) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    return ls_csv_parse(path, text, len, out, err);
}

int ls_csv_col(const ls_csv *c, const char *name)
{
    for (int i = 0; i < c->n_cols; i++)
        if (strcmp(c->header[i], name) == 0)
            return i;
    return -1;
}

int ls_csv_need_col(const ls_csv *c, const char *name, ls_error *err)
{
    int i = ls_csv_col(c, name);
    if (i < 0)
        ls_fail(err, "%s: header: missing column \"%s\"", c->path, name);
    return i;
}

const char *ls_csv_cell(const ls_csv *c, size_t row, int col)
{
    if (row >= c->n_rows || col < 0 || col >= c->n_cols)
        return "";
    return c->cells[row * (size_t)c->n_cols + (size_t)col];
}

int ls_csv_double(const ls_csv *c, size_t row, int col, double *out, ls_error *err)
{
    const char *s = ls_csv_cell(c, row, col);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || end == s || *end != '\0')
        return ls_fail(err, "%s: line %zu: column \"%s\": not a number: \"%.40s\"", c->path,
                       c->line_no[row], c->header[col], s);
    *out = v;
    return 0;
}

int ls_csv_int(const ls_csv *c, size_t row, int col, int64_t min, int64_t max, int64_t *out,
               ls_error *err)
{
    const char *s = ls_csv_cell(c, row, col);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || end == s || *end != '\0' || errno == ERANGE) {
        /* Integral values written as floats ("16777216.0", "1e3") are accepted too. */
        double d = strtod(s, &end);
        if (*s == '\0' || end == s || *end != '\0' || d != floor(d) || fabs(d) > 9e15)
            return ls_fail(err, "%s: line %zu: column \"%s\": not an integer: \"%.40s\"",
                           c->path, c->line_no[row], c->header[col], s);
        v = (long long)d;
    }
    if (v < min || v > max)
        return ls_fail(err, "%s: line %zu: column \"%s\": %lld outside [%lld, %lld]", c->path,
                       c->line_no[row], c->header[col], v, (long long)min, (long long)max);
    *out = v;
    return 0;
}
