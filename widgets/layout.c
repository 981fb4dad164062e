#include "layout.h"

#include <string.h>

static wg_rect rect(int y, int x, int h, int w)
{
    return (wg_rect){y, x, h, w};
}

static int clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

void wg_layout_compute(int rows, int cols, wg_layout *out)
{
    wg_layout_compute_fit(rows, cols, -1, -1, out);
}

void wg_layout_compute_fit(int rows, int cols, int detail_need, int jobs_need, wg_layout *out)
{
    memset(out, 0, sizeof *out);
    out->rows = rows;
    out->cols = cols;
    if (rows < WG_MIN_ROWS || cols < WG_MIN_COLS) {
        out->too_small = true;
        return;
    }
    out->header = rect(0, 0, 2, cols);
    out->status = rect(rows - 1, 0, 1, cols);
    int body_y = 2, body_h = rows - 3;
    if (cols >= WG_WIDE_COLS) {
        out->wide = true;
        int side_w = clamp(cols * 2 / 5, 52, 84);
        if (side_w > cols - 80) /* the layer list keeps its 79 columns */
            side_w = cols - 80;
        int side_x = cols - side_w;
        int jobs_h = clamp(body_h / 4, 3, 10);
        int mem_h = 6;
        int detail_h = body_h - jobs_h - mem_h;
        out->main = rect(body_y, 0, body_h, side_x - 1); /* one blank column as a gutter */
        out->detail = rect(body_y, side_x, detail_h, side_w);
        out->memory = rect(body_y + detail_h, side_x, mem_h, side_w);
        out->jobs = rect(body_y + detail_h + mem_h, side_x, jobs_h, side_w);
        return;
    }
    int jobs_h = rows >= 40 ? 4 : 2;
    int mem_h = 2;
    int detail_h = rows >= 40 ? 10 : rows >= 30 ? 8 : 7;
    if (detail_need >= 0) {
        int saved = detail_h - clamp(detail_need, 3, detail_h);
        detail_h -= saved;
        for (int k = 0; k < 2 && saved > 0 && jobs_need > jobs_h; k++) {
            jobs_h++; /* up to two saved lines to the jobs history */
            saved--;
        }
    }
    int main_h = body_h - jobs_h - mem_h - detail_h;
    out->main = rect(body_y, 0, main_h, cols);
    out->detail = rect(body_y + main_h, 0, detail_h, cols);
    out->memory = rect(body_y + main_h + detail_h, 0, mem_h, cols);
    out->jobs = rect(body_y + main_h + detail_h + mem_h, 0, jobs_h, cols);
}

void wg_layout_rects(const wg_layout *l, wg_rect out[WG_LAYOUT_N_RECTS])
{
    out[0] = l->header;
    out[1] = l->main;
    out[2] = l->detail;
    out[3] = l->memory;
    out[4] = l->jobs;
    out[5] = l->status;
}

bool wg_rect_overlap(wg_rect a, wg_rect b)
{
    return a.h > 0 && a.w > 0 && b.h > 0 && b.w > 0 && a.y < b.y + b.h && b.y < a.y + a.h &&
           a.x < b.x + b.w && b.x < a.x + a.w;
}

bool wg_rect_inside(wg_rect r, int rows, int cols)
{
    return r.y >= 0 && r.x >= 0 && r.h >= 0 && r.w >= 0 && r.y + r.h <= rows &&
           r.x + r.w <= cols;
}

bool wg_rect_contains(wg_rect r, int y, int x)
{
    return y >= r.y && y < r.y + r.h && x >= r.x && x < r.x + r.w;
}
