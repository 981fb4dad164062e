/* Small drawing helpers on a WINDOW inside rectangles: clipped UTF-8 text (by display
 * columns), filled spans, word-wrapped paragraphs. Nothing here draws outside the rect. */
#ifndef WG_DRAW_H
#define WG_DRAW_H

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wg_rect {
    int y, x, h, w;
} wg_rect;

/* Display width of a UTF-8 string (invalid bytes count as one column). */
int wg_text_width(const char *s);

/* Prints s at (y, x) with attr, at most maxw columns; returns the columns used. */
int wg_put(WINDOW *w, int y, int x, int maxw, attr_t attr, const char *s);

/* printf form of wg_put. */
int wg_putf(WINDOW *w, int y, int x, int maxw, attr_t attr, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Fills n columns at (y, x) with blanks in attr. */
void wg_blank(WINDOW *w, int y, int x, int n, attr_t attr);

/* Clears a rectangle. */
void wg_clear_rect(WINDOW *w, wg_rect r, attr_t attr);

/* Word-wraps s into rows y.. of width maxw, at most max_rows rows; returns rows used.
 * A word longer than the width is cut. */
int wg_wrap(WINDOW *w, int y, int x, int maxw, int max_rows, attr_t attr, const char *s);

/* The first wrapped line of s at width maxw into out: whole words only, so a number is
 * never cut. Returns true when all of s fit. */
bool wg_fit_words(const char *s, int maxw, char *out, size_t cap);

/* Rows wg_wrap would use for s at width maxw (no drawing). */
int wg_wrap_rows(const char *s, int maxw);

#endif
