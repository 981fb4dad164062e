#include "bar.h"

#include <math.h>
#include <string.h>

static const char *const eighths[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};

const char *wg_bar_fill(const wg_style *st, wg_bar_kind kind)
{
    if (kind == WG_BAR_OUTLIER)
        return st->unicode ? "▓" : "#";
    return st->unicode ? "█" : "|";
}

static double clamp01(double f)
{
    return !(f > 0) ? 0 : f > 1 ? 1 : f;
}

void wg_bar_draw(WINDOW *w, const wg_style *st, int y, int x, int width, double frac,
                 wg_bar_kind kind, wg_role role)
{
    if (width <= 0)
        return;
    frac = clamp01(frac);
    int units = (int)lround(frac * width * 8); /* eighths of a cell */
    if (frac > 0 && units == 0)
        units = 1;
    bool partial = st->unicode && kind == WG_BAR_NORMAL;
    int full = partial ? units / 8 : (units + 4) / 8;
    if (frac > 0 && full == 0 && !(partial && units % 8))
        full = 1;
    char buf[4096];
    size_t len = 0;
    const char *fill = wg_bar_fill(st, kind);
    size_t fl = strlen(fill);
    for (int i = 0; i < full && len + fl < sizeof buf; i++, len += fl)
        memcpy(buf + len, fill, fl);
    int cells = full;
    if (partial && units % 8 && cells < width) {
        const char *e = eighths[units % 8];
        memcpy(buf + len, e, strlen(e));
        len += strlen(e);
        cells++;
    }
    buf[len] = '\0';
    wg_blank(w, y, x, width, A_NORMAL);
    wg_put(w, y, x, width, wg_attr(st, role), buf);
}

void wg_gauge_draw(WINDOW *w, const wg_style *st, int y, int x, int width, double frac,
                   wg_role role)
{
    if (width < 8)
        return;
    frac = clamp01(frac);
    int inner = width - 7; /* "[" inner "] 100%" */
    wg_put(w, y, x, 1, A_NORMAL, "[");
    wg_bar_draw(w, st, y, x + 1, inner, frac, WG_BAR_NORMAL, role);
    wg_putf(w, y, x + 1 + inner, 6, A_NORMAL, "] %3d%%", (int)(frac * 100));
}

const char *wg_shade(const wg_style *st, double v)
{
    static const char *const ascii[] = {" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"};
    static const char *const blocks[] = {" ", "░", "▒", "▓", "█"};
    v = clamp01(v);
    if (st->unicode) {
        int i = (int)lround(v * 4);
        return blocks[i];
    }
    int i = (int)lround(v * 9);
    return ascii[i];
}

void wg_bar_mark(WINDOW *w, const wg_style *st, int y, int x, int width, double frac,
                 wg_role role)
{
    if (width <= 0 || !(frac >= 0 && frac <= 1))
        return;
    int cx = (int)(frac * (width - 1) + 0.5);
    wg_put(w, y, x + cx, 1, wg_attr(st, role), wg_bar_mark_glyph(st));
}

const char *wg_bar_mark_glyph(const wg_style *st)
{
    return st->unicode ? "\u2506" : ":";
}

void wg_bar_clipped(WINDOW *w, const wg_style *st, int y, int x, int width, wg_role role)
{
    if (width > 0)
        wg_put(w, y, x + width - 1, 1, wg_attr(st, role) | A_BOLD, WG_BAR_CLIP_GLYPH);
}
