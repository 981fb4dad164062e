/* The legend (H): every glyph and colour the screens draw, each drawn with the same constant
 * and role the views use (view.h, widgets/bar.h, widgets/zplot.h), so the two cannot drift.
 * One row per glyph, in one column, or two when the rows do not fit. */
#include <stdio.h>
#include <string.h>

#include "bar.h"
#include "view.h"
#include "zplot.h"

typedef struct legend_row {
    const char *glyph; /* NULL: a section title */
    wg_role role;
    const char *text;
} legend_row;

static int legend_rows(const wg_style *st, legend_row *rows, char *shades, size_t cap)
{
    /* the heatmap's shades from low to high, as wg_shade draws them */
    shades[0] = '\0';
    for (int k = 1; k <= 4; k++)
        strncat(shades, wg_shade(st, k / 4.0), cap - strlen(shades) - 1);
    const legend_row all[] = {
        {NULL, WG_TITLE, "Main screen"},
        {VIEW_MARK_SELECTED, WG_SELECTION, "the selected layer's row"},
        {VIEW_MARK_BOOSTED, WG_OUTLIER, "a boosted matrix"},
        {VIEW_BOOST_ARROW, WG_OUTLIER, "base -> boosted config"},
        {wg_bar_fill(st, WG_BAR_NORMAL), WG_BAR, "a metric's bar"},
        {wg_bar_fill(st, WG_BAR_OUTLIER), WG_OUTLIER, "an outlier the method keeps"},
        {wg_bar_fill(st, WG_BAR_NORMAL), WG_THRESHOLD, "an outlier dropped by top-m"},
        {wg_bar_mark_glyph(st), WG_THRESHOLD, "kurtosis 3, the normal value"},
        {WG_BAR_CLIP_GLYPH, WG_OUTLIER, "a bar cut by the clip scale (K)"},
        {VIEW_MARK_STALE, WG_THRESHOLD, "HQQ error of a changed config"},
        {VIEW_MARK_HEAT_SEL, WG_DEFAULT, "heatmap: the selected cell"},
        {shades, WG_BAR, "heatmap: low to high"},
        {NULL, WG_TITLE, "Histogram (h)"},
        {view_hist_glyph(st, false), WG_BAR, "a bin's count (log scale)"},
        {view_hist_glyph(st, true), WG_OUTLIER, "a bin beyond 3 std (a tail)"},
        {VIEW_HIST_CURVE, WG_THRESHOLD, "the normal curve, same mean/std"},
        {NULL, WG_TITLE, "Detection (z)"},
        {VIEW_DETECT_VALUE, WG_BAR, "a layer's z"},
        {VIEW_DETECT_TRIMMED, WG_DIM, "trimmed: not in the mean/std"},
        {VIEW_DETECT_KEPT, WG_OUTLIER, "an outlier kept"},
        {VIEW_DETECT_DROPPED, WG_THRESHOLD, "an outlier dropped by top-m"},
        {WG_ZPLOT_BAND, WG_THRESHOLD, "the +/-threshold band"},
        {WG_ZPLOT_ZERO, WG_DIM, "z = 0"},
        {WG_ZPLOT_AXIS, WG_DIM, "the z axis"},
    };
    int n = (int)(sizeof all / sizeof all[0]);
    memcpy(rows, all, sizeof all);
    return n;
}

void view_legend(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    const wg_style *st = &a->style;
    wg_putf(stdscr, r.y, r.x + 1, r.w - 2, wg_attr(st, WG_TITLE),
            "Legend: glyphs and colours  (H or Esc closes)");
    legend_row rows[32];
    char shades[64];
    int n = legend_rows(st, rows, shades, sizeof shades);
    int top = r.y + 2, avail = r.h - 4; /* the colour line below */
    int ncol = n <= avail ? 1 : 2;
    int per = (n + ncol - 1) / ncol, colw = r.w / ncol;
    for (int i = 0; i < n; i++) {
        int y = top + i % per, x = r.x + (i / per) * colw;
        if (y >= top + avail)
            continue;
        if (!rows[i].glyph) {
            wg_put(stdscr, y, x + 1, colw - 1, wg_attr(st, WG_TITLE), rows[i].text);
            continue;
        }
        wg_put(stdscr, y, x + 2, 5, wg_attr(st, rows[i].role), rows[i].glyph);
        wg_put(stdscr, y, x + 8, colw - 9, wg_attr(st, WG_DEFAULT), rows[i].text);
    }
    /* the colours, each name in its own role */
    static const struct {
        wg_role role;
        const char *name;
    } colours[] = {
        {WG_OUTLIER, "outlier"}, {WG_THRESHOLD, "marks"},      {WG_BAR, "bar"},
        {WG_DIM, "dim"},         {WG_SELECTION, "selection"}, {WG_ERROR, "error"},
    };
    int y = top + (per < avail ? per : avail) + 1;
    if (y >= r.y + r.h)
        return;
    int x = r.x + 1 + wg_putf(stdscr, y, r.x + 1, r.w - 2, wg_attr(st, WG_TITLE),
                              "Colours (theme %s; t):", wg_theme_name(st->theme));
    for (size_t k = 0; k < sizeof colours / sizeof colours[0] && x < r.x + r.w - 1; k++) {
        x += 1;
        x += wg_put(stdscr, y, x, r.x + r.w - 1 - x, wg_attr(st, colours[k].role), colours[k].name);
    }
}
