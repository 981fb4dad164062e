#include "draw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* Decodes one character; returns bytes consumed (>= 1) and its width in *cw (>= 0). */
static int next_char(const char *s, wchar_t *wc, int *cw)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = mbrtowc(wc, s, MB_CUR_MAX, &st);
    if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
        *wc = L'?';
        *cw = 1;
        return 1;
    }
    int width = wcwidth(*wc);
    *cw = width < 0 ? 1 : width;
    if (width < 0)
        *wc = L'?';
    return (int)n;
}

int wg_text_width(const char *s)
{
    int total = 0;
    while (*s) {
        wchar_t wc;
        int cw;
        s += next_char(s, &wc, &cw);
        total += cw;
    }
    return total;
}

int wg_put(WINDOW *w, int y, int x, int maxw, attr_t attr, const char *s)
{
    int rows, cols;
    getmaxyx(w, rows, cols);
    if (y < 0 || y >= rows || x < 0 || x >= cols || maxw <= 0)
        return 0;
    if (maxw > cols - x)
        maxw = cols - x;
    wchar_t buf[512];
    int n = 0, used = 0;
    while (*s && n < 511) {
        wchar_t wc;
        int cw;
        int len = next_char(s, &wc, &cw);
        if (wc < 32)
            wc = L' '; /* control characters would move the cursor */
        if (used + cw > maxw)
            break;
        buf[n++] = wc;
        used += cw;
        s += len;
    }
    buf[n] = L'\0';
    wattrset(w, attr);
    mvwaddnwstr(w, y, x, buf, n);
    wattrset(w, A_NORMAL);
    return used;
}

int wg_putf(WINDOW *w, int y, int x, int maxw, attr_t attr, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return wg_put(w, y, x, maxw, attr, buf);
}

void wg_blank(WINDOW *w, int y, int x, int n, attr_t attr)
{
    int rows, cols;
    getmaxyx(w, rows, cols);
    if (y < 0 || y >= rows || x < 0 || x >= cols)
        return;
    if (n > cols - x)
        n = cols - x;
    if (n <= 0)
        return;
    wattrset(w, attr);
    mvwhline(w, y, x, ' ', n);
    wattrset(w, A_NORMAL);
}

void wg_clear_rect(WINDOW *w, wg_rect r, attr_t attr)
{
    for (int i = 0; i < r.h; i++)
        wg_blank(w, r.y + i, r.x, r.w, attr);
}

/* Lays out s in lines of at most maxw columns, breaking at spaces; calls emit per line. */
static int wrap_lines(const char *s, int maxw, int max_rows,
                      void (*emit)(void *ctx, int row, const char *line), void *ctx)
{
    if (maxw <= 0)
        return 0;
    int rows = 0;
    while (*s && rows < max_rows) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        /* take characters while they fit; remember the last space */
        const char *p = s, *brk = NULL;
        int used = 0;
        while (*p) {
            wchar_t wc;
            int cw;
            int len = next_char(p, &wc, &cw);
            if (used + cw > maxw)
                break;
            if (*p == ' ')
                brk = p;
            used += cw;
            p += len;
        }
        /* stopped on a space or at the end: the line is complete; else break at a space */
        const char *end = (*p && *p != ' ' && brk) ? brk : p;
        char line[1024];
        size_t n = (size_t)(end - s) < sizeof line - 1 ? (size_t)(end - s) : sizeof line - 1;
        memcpy(line, s, n);
        line[n] = '\0';
        if (emit)
            emit(ctx, rows, line);
        rows++;
        s = end;
    }
    return rows;
}

typedef struct wrap_ctx {
    WINDOW *w;
    int y, x, maxw;
    attr_t attr;
} wrap_ctx;

static void emit_line(void *vctx, int row, const char *line)
{
    wrap_ctx *c = vctx;
    wg_put(c->w, c->y + row, c->x, c->maxw, c->attr, line);
}

int wg_wrap(WINDOW *w, int y, int x, int maxw, int max_rows, attr_t attr, const char *s)
{
    wrap_ctx c = {w, y, x, maxw, attr};
    return wrap_lines(s, maxw, max_rows, emit_line, &c);
}

int wg_wrap_rows(const char *s, int maxw)
{
    return wrap_lines(s, maxw, 1 << 20, NULL, NULL);
}

typedef struct fit_ctx {
    char *out;
    size_t cap;
} fit_ctx;

static void keep_first(void *vc, int row, const char *line)
{
    fit_ctx *c = vc;
    if (row == 0)
        snprintf(c->out, c->cap, "%s", line);
}

bool wg_fit_words(const char *s, int maxw, char *out, size_t cap)
{
    if (cap)
        out[0] = '\0';
    fit_ctx c = {out, cap};
    if (wrap_lines(s, maxw, 1, keep_first, &c) == 0)
        return !*s;
    /* everything fit when the rest of s is blank */
    const char *rest = s;
    while (*rest == ' ')
        rest++;
    rest += strlen(out);
    while (*rest == ' ')
        rest++;
    return *rest == '\0' && wg_text_width(out) <= maxw;
}
