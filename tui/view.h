/* Drawing the explorer: one draw per frame from the application state, inside the
 * rectangles of the pure layout (widgets/layout.h). Nothing here changes settings. */
#ifndef TUI_VIEW_H
#define TUI_VIEW_H

#include "app.h"

/* (Re)initialises colours for a->theme (NO_COLOR / no colours: monochrome). */
void view_apply_theme(app *a);

/* Draws the whole screen into stdscr (the caller does doupdate). */
void view_draw(app *a);

/* Layer rows visible in the main panel; the layer under screen (y, x) or -1. */
int view_main_rows(const app *a);
int view_layer_at(const app *a, int y, int x);

/* The layers the list shows (all, or the flagged ones with the filter f) into out; their
 * count. view_visible_index: the position of layer in that list (or the next one after). */
int view_visible_layers(const app *a, int *out);
int view_visible_index(const int *vis, int n, int layer);

/* Parts, drawn by view_draw (view_main.c, view_panels.c, view_screens.c). */
void view_header(app *a, wg_rect r);
void view_layers(app *a, wg_rect r);
void view_detail(app *a, wg_rect r);
void view_memory(app *a, wg_rect r);
void view_jobs(app *a, wg_rect r);
void view_status(app *a, wg_rect r);
void view_help(app *a, wg_rect r);
void view_histogram(app *a, wg_rect r);
void view_sets(app *a, wg_rect r);
void view_detect(app *a, wg_rect r);
void view_inputs(app *a, wg_rect r); /* view_inputs.c */

/* The kurtosis bar scales K cycles through (view_main.c explains each). */
/* v: the layer list's order (the selection follows its layer) */
enum { SORT_LAYER, SORT_METRIC, SORT_ABSZ, SORT_COUNT };
const char *view_sort_name(int key);

enum { KSCALE_RANGE, KSCALE_CLIP, KSCALE_LOG, KSCALE_ZERO, KSCALE_COUNT };
const char *view_kurt_scale_name(int mode);
void view_frontier(app *a, wg_rect r); /* view_frontier.c */
void view_agreement(app *a, wg_rect r);

/* The glyphs the screens draw, named once so the legend (H, view_legend.c) shows the same.
 * Row marker of a boosted matrix: visible without colour and in text captures. */
#define VIEW_MARK_BOOSTED "*"
#define VIEW_MARK_SELECTED ">"  /* the selected layer's row */
#define VIEW_MARK_STALE "~"     /* an HQQ error whose config changed since Q */
#define VIEW_MARK_HEAT_SEL "<"  /* the selected cell of the heatmap */
#define VIEW_BOOST_ARROW "->"   /* base -> boosted config */
/* the detection view (z): a value, trimmed, an outlier kept, an outlier dropped by top-m */
#define VIEW_DETECT_VALUE "o"
#define VIEW_DETECT_TRIMMED "x"
#define VIEW_DETECT_KEPT "#"
#define VIEW_DETECT_DROPPED "+"
/* the histogram (h): the normal curve; bars and tails (ASCII: '!' marks a tail bar) */
#define VIEW_HIST_CURVE "*"
const char *view_hist_glyph(const wg_style *st, bool tail);
void view_legend(app *a, wg_rect r); /* view_legend.c */

#endif
