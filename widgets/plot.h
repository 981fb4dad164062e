/* A text scatter plot from plain data: points with an x, a y, an optional error bar, a
 * one-character marker and a label; the points of a "joined" group are connected by a
 * dotted line (the frontier's "no boosting" line). Log y optional. The picture is made of
 * characters only (markers, labels, axes), so it reads without colour and in captures.
 * Where markers share a cell, the earlier point is drawn on top.
 * wg_plot_raster is pure (testable); wg_plot_draw puts the raster on a curses window. */
#ifndef WG_PLOT_H
#define WG_PLOT_H

#include <stdbool.h>

#include "draw.h"

typedef struct wg_plot_point {
    double x, y, err;   /* err <= 0 or NaN: no bar; NaN y: not drawn (not measured yet) */
    char marker;        /* 'o', 'S', ... */
    const char *label;  /* drawn right of the marker where it fits; may be NULL */
    bool joined;        /* part of the joined line (joined points in x order) */
} wg_plot_point;

typedef struct wg_plot {
    const wg_plot_point *pts;
    int n;
    bool log_y;
    const char *x_title, *y_title;
} wg_plot;

/* Renders into cells[h][w] (row-major, w*h chars, no terminators). The left 9 columns
 * hold the y axis, the last 2 rows the x axis. Returns the points drawn, or -1 when the
 * area is too small (w < 24 or h < 6). */
int wg_plot_raster(const wg_plot *p, int w, int h, char *cells);

/* Draws the raster in r with attr. */
void wg_plot_draw(WINDOW *win, wg_rect r, const wg_plot *p, attr_t attr);

#endif
