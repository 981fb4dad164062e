/* The screen layout as a pure function of the terminal size (no curses calls), so it can
 * be property-tested over many sizes: no overlap, nothing off-screen, no empty panel.
 * Narrow terminals stack the panels under the layer list; from 132 columns the detail,
 * memory and jobs panels move to a column on the right. */
#ifndef WG_LAYOUT_H
#define WG_LAYOUT_H

#include <stdbool.h>

#include "draw.h"

#define WG_MIN_ROWS 24
#define WG_MIN_COLS 80
#define WG_WIDE_COLS 132

typedef struct wg_layout {
    int rows, cols;
    bool too_small; /* below WG_MIN_ROWS x WG_MIN_COLS: show a notice, nothing else */
    bool wide;      /* side column */
    wg_rect header, main, detail, memory, jobs, status;
} wg_layout;

void wg_layout_compute(int rows, int cols, wg_layout *out);

/* The same, with the detail panel of the stacked layout shrunk to the rows its text needs
 * (detail_need, at least 3; < 0: the default height), the lines saved going to the layer
 * list; the jobs panel takes up to two of those lines when its history needs them (jobs_need). */
void wg_layout_compute_fit(int rows, int cols, int detail_need, int jobs_need, wg_layout *out);

/* The panels as an array (header, main, detail, memory, jobs, status), for tests. */
#define WG_LAYOUT_N_RECTS 6
void wg_layout_rects(const wg_layout *l, wg_rect out[WG_LAYOUT_N_RECTS]);

bool wg_rect_overlap(wg_rect a, wg_rect b);
bool wg_rect_inside(wg_rect r, int rows, int cols);
bool wg_rect_contains(wg_rect r, int y, int x);

#endif
