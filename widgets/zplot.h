/* One row of a z-score strip: an axis from zmin to zmax in width columns with a '|' at 0
 * and ':' at -threshold and +threshold (the band) where they fall inside, and the value's
 * glyph at its z. Plain data in, no knowledge of the method. */
#ifndef WG_ZPLOT_H
#define WG_ZPLOT_H

#include <stdbool.h>

#include "draw.h"
#include "style.h"

/* The axis glyphs: the empty axis, z = 0, and the +/-threshold band. */
#define WG_ZPLOT_AXIS "."
#define WG_ZPLOT_ZERO "|"
#define WG_ZPLOT_BAND ":"

/* Column (0 .. width-1) of z on the axis, clamped to the ends. */
int wg_zplot_col(double z, double zmin, double zmax, int width);

/* Draws the axis and, when z is finite, glyph in role at its column (a value beyond the
 * axis sits on the end cell). */
void wg_zplot_row(WINDOW *w, const wg_style *st, int y, int x, int width, double z,
                  double zmin, double zmax, double threshold, const char *glyph, wg_role role);

#endif
