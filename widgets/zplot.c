#include "zplot.h"

#include <math.h>

int wg_zplot_col(double z, double zmin, double zmax, int width)
{
    if (width <= 1 || !(zmax > zmin))
        return 0;
    double f = (z - zmin) / (zmax - zmin);
    int c = (int)lround(f * (width - 1));
    return c < 0 ? 0 : c >= width ? width - 1 : c;
}

static void mark(WINDOW *w, int y, int x, int width, double v, double zmin, double zmax,
                 attr_t at, const char *g)
{
    if (v >= zmin && v <= zmax)
        wg_put(w, y, x + wg_zplot_col(v, zmin, zmax, width), 1, at, g);
}

void wg_zplot_row(WINDOW *w, const wg_style *st, int y, int x, int width, double z,
                  double zmin, double zmax, double threshold, const char *glyph, wg_role role)
{
    if (width <= 2)
        return;
    attr_t dim = wg_attr(st, WG_DIM), band = wg_attr(st, WG_THRESHOLD);
    for (int c = 0; c < width; c++)
        wg_put(w, y, x + c, 1, dim, WG_ZPLOT_AXIS);
    mark(w, y, x, width, 0, zmin, zmax, dim, WG_ZPLOT_ZERO);
    if (threshold > 0) {
        mark(w, y, x, width, -threshold, zmin, zmax, band, WG_ZPLOT_BAND);
        mark(w, y, x, width, threshold, zmin, zmax, band, WG_ZPLOT_BAND);
    }
    if (isfinite(z))
        wg_put(w, y, x + wg_zplot_col(z, zmin, zmax, width), 1, wg_attr(st, role) | A_BOLD,
               glyph);
}
