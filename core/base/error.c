#include "base/error.h"

#include <stdio.h>
#include <string.h>

int ls_vfail(ls_error *err, const char *fmt, va_list ap)
{
    if (err)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return -1;
}

int ls_fail(ls_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ls_vfail(err, fmt, ap);
    va_end(ap);
    return -1;
}

void ls_error_prefix(ls_error *err, const char *prefix)
{
    if (!err)
        return;
    char tmp[2 * LS_ERROR_MSG_MAX];
    snprintf(tmp, sizeof tmp, "%s: %s", prefix, err->msg);
    size_t n = strlen(tmp);
    if (n >= sizeof err->msg)
        n = sizeof err->msg - 1; /* truncate: the message stays one bounded line */
    memcpy(err->msg, tmp, n);
    err->msg[n] = '\0';
}
