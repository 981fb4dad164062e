/* Writes what a window shows as UTF-8 text, one line per row (trailing blanks trimmed):
 * for --dump-screen and off-screen tests. */
#ifndef WG_DUMP_H
#define WG_DUMP_H

#include <curses.h>
#include <stdio.h>

/* Row y as UTF-8 into buf (trailing blanks trimmed). */
void wg_row_text(WINDOW *w, int y, char *buf, size_t cap);

int wg_dump_window(WINDOW *w, FILE *f);

#endif
