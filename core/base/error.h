/* Error reporting for core/: a message buffer filled by the failing function.
 * core/ never exits; every fallible call returns -1 (or NULL) and fills an ls_error
 * whose message reads "FILE: FIELD: reason" so batch mode can print it as one line. */
#ifndef LS_ERROR_H
#define LS_ERROR_H

#include <stdarg.h>

#define LS_ERROR_MSG_MAX 512

typedef struct ls_error {
    char msg[LS_ERROR_MSG_MAX];
} ls_error;

/* Formats the message into err (if err is non-NULL) and returns -1, so callers can write
 * `return ls_fail(err, "%s: header: too short", path);`. */
int ls_fail(ls_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int ls_vfail(ls_error *err, const char *fmt, va_list ap);

/* Prepends "prefix: " to an existing message (used when a lower layer's message needs the
 * file name of the caller). */
void ls_error_prefix(ls_error *err, const char *prefix);

#endif
