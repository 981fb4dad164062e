#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AXIS_W 9

static bool usable(const wg_plot *p, const wg_plot_point *q)
{
    return isfinite(q->x) && isfinite(q->y) && (!p->log_y || q->y > 0);
}

static double yv(const wg_plot *p, double y)
{
    return p->log_y ? log10(y) : y;
}

static void put(char *cells, int w, int h, int r, int c, char ch)
{
    if (r >= 0 && r < h && c >= 0 && c < w)
        cells[r * w + c] = ch;
}

static void text(char *cells, int w, int h, int r, int c, const char *s)
{
    for (int i = 0; s[i]; i++)
        put(cells, w, h, r, c + i, s[i]);
}

/* True when s fits at (r, c) over blanks only, inside columns [c0, w). */
static bool free_span(const char *cells, int w, int r, int c, int c0, int len)
{
    if (c < c0 || c + len > w)
        return false;
    for (int i = 0; i < len; i++)
        if (cells[r * w + c + i] != ' ')
            return false;
    return true;
}

static int cmp_x(const void *a, const void *b)
{
    const wg_plot_point *const *x = a, *const *y = b;
    return ((*x)->x > (*y)->x) - ((*x)->x < (*y)->x);
}

int wg_plot_raster(const wg_plot *p, int w, int h, char *cells)
{
    if (w < 24 || h < 6)
        return -1;
    memset(cells, ' ', (size_t)w * (size_t)h);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < p->n; i++) {
        const wg_plot_point *q = &p->pts[i];
        if (!usable(p, q))
            continue;
        x0 = fmin(x0, q->x);
        x1 = fmax(x1, q->x);
        double lo = q->y, hi = q->y;
        if (isfinite(q->err) && q->err > 0) {
            hi = q->y + q->err;
            if (!p->log_y || q->y - q->err > 0)
                lo = q->y - q->err;
        }
        y0 = fmin(y0, yv(p, lo));
        y1 = fmax(y1, yv(p, hi));
    }
    int pw = w - AXIS_W, ph = h - 2; /* plot area: columns AXIS_W.., rows 0..ph-1 */
    for (int r = 0; r < ph; r++)
        put(cells, w, h, r, AXIS_W - 1, '|');
    for (int c = AXIS_W - 1; c < w; c++)
        put(cells, w, h, ph, c, '-');
    put(cells, w, h, ph, AXIS_W - 1, '+');
    if (!(x0 <= x1)) {
        text(cells, w, h, ph / 2, AXIS_W + 1, "(no measured point yet)");
        return 0;
    }
    if (x1 - x0 <= 0) {
        x0 -= 0.5;
        x1 += 0.5;
    }
    if (y1 - y0 <= 0) {
        double d = fabs(y0) > 0 ? fabs(y0) * 0.05 : 1;
        y0 -= d;
        y1 += d;
    }
    double mx = 0.03 * (x1 - x0);
    x0 -= mx;
    x1 += mx;
    /* ticks: y at top, middle, bottom; x at left, middle, right */
    for (int k = 0; k < 3; k++) {
        int r = k == 0 ? 0 : k == 1 ? (ph - 1) / 2 : ph - 1;
        double v = y1 - (y1 - y0) * r / (double)(ph - 1);
        char buf[16];
        snprintf(buf, sizeof buf, "%8.4g", p->log_y ? pow(10, v) : v);
        text(cells, w, h, r, 0, buf);
        int c = k == 0 ? AXIS_W : k == 1 ? AXIS_W + (pw - 1) / 2 : w - 1;
        double xv = x0 + (x1 - x0) * (c - AXIS_W) / (double)(pw - 1);
        snprintf(buf, sizeof buf, "%.2f", xv);
        int len = (int)strlen(buf);
        int at = k == 0 ? c : k == 1 ? c - len / 2 : c - len + 1;
        put(cells, w, h, ph, c, '+');
        text(cells, w, h, ph + 1, at, buf);
    }
    if (p->x_title) {
        int len = (int)strlen(p->x_title);
        int at = AXIS_W + (pw - 1) / 4 - len / 2; /* between the left and middle ticks */
        if (at > AXIS_W + 8 && at + len < AXIS_W + (pw - 1) / 2 - 6)
            text(cells, w, h, ph + 1, at, p->x_title);
    }
#define COL(x) (AXIS_W + (int)lround(((x) - x0) / (x1 - x0) * (pw - 1)))
#define ROW(y) ((int)lround((y1 - yv(p, (y))) / (y1 - y0) * (ph - 1)))
    /* joined line: dots between consecutive joined points in x order */
    const wg_plot_point *line[256];
    int nl = 0;
    for (int i = 0; i < p->n && nl < 256; i++)
        if (p->pts[i].joined && usable(p, &p->pts[i]))
            line[nl++] = &p->pts[i];
    qsort(line, (size_t)nl, sizeof line[0], cmp_x);
    for (int i = 0; i + 1 < nl; i++) {
        int c0 = COL(line[i]->x), c1 = COL(line[i + 1]->x);
        int r0 = ROW(line[i]->y), r1 = ROW(line[i + 1]->y);
        int steps = abs(c1 - c0) > abs(r1 - r0) ? abs(c1 - c0) : abs(r1 - r0);
        for (int s = 1; s < steps; s++) {
            int c = c0 + (int)lround((double)(c1 - c0) * s / steps);
            int r = r0 + (int)lround((double)(r1 - r0) * s / steps);
            put(cells, w, h, r, c, '.');
        }
    }
    /* error bars, then markers, then labels where they fit */
    int drawn = 0;
    for (int i = 0; i < p->n; i++) {
        const wg_plot_point *q = &p->pts[i];
        if (!usable(p, q) || !(isfinite(q->err) && q->err > 0))
            continue;
        int c = COL(q->x);
        int ra = ROW(q->y + q->err);
        int rb = (!p->log_y || q->y - q->err > 0) ? ROW(q->y - q->err) : ROW(q->y);
        for (int r = ra; r <= rb; r++)
            put(cells, w, h, r, c, ':');
    }
    for (int i = p->n - 1; i >= 0; i--) { /* earlier points end up on top */
        const wg_plot_point *q = &p->pts[i];
        if (!usable(p, q))
            continue;
        put(cells, w, h, ROW(q->y), COL(q->x), q->marker);
        drawn++;
    }
    for (int i = 0; i < p->n; i++) {
        const wg_plot_point *q = &p->pts[i];
        if (!usable(p, q) || !q->label)
            continue;
        int r = ROW(q->y), c = COL(q->x), len = (int)strlen(q->label);
        if (free_span(cells, w, r, c + 2, AXIS_W, len) && cells[r * w + c + 1] == ' ')
            text(cells, w, h, r, c + 2, q->label);
        else if (free_span(cells, w, r, c - 1 - len, AXIS_W, len) && cells[r * w + c - 1] == ' ')
            text(cells, w, h, r, c - 1 - len, q->label);
    }
#undef COL
#undef ROW
    return drawn;
}

void wg_plot_draw(WINDOW *win, wg_rect r, const wg_plot *p, attr_t attr)
{
    if (r.w <= 0 || r.h <= 0)
        return;
    char *cells = malloc((size_t)r.w * (size_t)r.h);
    if (!cells)
        return;
    wg_clear_rect(win, r, A_NORMAL);
    if (wg_plot_raster(p, r.w, r.h, cells) < 0) {
        wg_put(win, r.y, r.x, r.w, attr, "(window too small for the plot)");
        free(cells);
        return;
    }
    char line[1024];
    int n = r.w < 1023 ? r.w : 1023;
    for (int y = 0; y < r.h; y++) {
        memcpy(line, cells + (size_t)y * (size_t)r.w, (size_t)n);
        line[n] = '\0';
        wg_put(win, r.y + y, r.x, n, attr, line);
    }
    free(cells);
}
