/* Horizontal bars and gauges drawn as one attributed span (the htop/nvtop recipe).
 * Normal bars use eighth blocks (UTF-8) or '|' (ASCII); outlier bars use a full shade
 * block or '#', so they differ in text as well as colour. */
#ifndef WG_BAR_H
#define WG_BAR_H

#include <stdbool.h>

#include "draw.h"
#include "style.h"

typedef enum wg_bar_kind { WG_BAR_NORMAL, WG_BAR_OUTLIER } wg_bar_kind;

/* Draws a bar of frac (clamped to [0, 1]) in width columns at (y, x); the unfilled part is
 * blank. A positive frac always shows at least one mark. role colours the filled part. */
void wg_bar_draw(WINDOW *w, const wg_style *st, int y, int x, int width, double frac,
                 wg_bar_kind kind, wg_role role);

/* A reference mark inside a bar of width columns at (y, x): the cell at frac (e.g. where
 * kurtosis 3, the normal value, falls) gets ':' (ASCII) or a dotted rule (UTF-8) in role,
 * over the bar or the blank. Nothing when frac is outside [0, 1]. */
void wg_bar_mark(WINDOW *w, const wg_style *st, int y, int x, int width, double frac,
                 wg_role role);

/* A bar cut at the scale's end: its last cell becomes WG_BAR_CLIP_GLYPH in role. */
#define WG_BAR_CLIP_GLYPH ">"
void wg_bar_clipped(WINDOW *w, const wg_style *st, int y, int x, int width, wg_role role);

/* The reference mark's glyph (wg_bar_mark): ':' or a dotted rule. */
const char *wg_bar_mark_glyph(const wg_style *st);

/* The fill character of a bar kind ("#", "|", a UTF-8 block). */
const char *wg_bar_fill(const wg_style *st, wg_bar_kind kind);

/* A progress gauge "[#####     ]  45%" in width columns; role by caller. */
void wg_gauge_draw(WINDOW *w, const wg_style *st, int y, int x, int width, double frac,
                   wg_role role);

/* A shade character for an intensity in [0, 1] (heatmap cells): " .:-=+*#%@" or
 * " ░▒▓█". */
const char *wg_shade(const wg_style *st, double v);

#endif
