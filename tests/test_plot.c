/* The text plot widget (widgets/plot.h) from plain data, without a terminal: markers at
 * the corners of the data range, the joined line between joined points only, labels beside
 * markers, error bars, log y, unmeasured points left out, too small an area refused. */
#include "test.h"

#include <stdbool.h>

#include "plot.h"

#define W 60
#define H 16

static char cells[W * H];

static char at(int r, int c)
{
    return cells[r * W + c];
}

static int count(char ch)
{
    int n = 0;
    for (int i = 0; i < W * H; i++)
        n += cells[i] == ch;
    return n;
}

static bool row_has(int r, const char *s)
{
    char line[W + 1];
    memcpy(line, cells + r * W, W);
    line[W] = 0;
    return strstr(line, s) != NULL;
}

static void test_corners_line_labels(void)
{
    wg_plot_point pts[] = {
        {2.0, 10.0, NAN, 'o', NULL, true},  {3.0, 6.0, NAN, 'o', NULL, true},
        {4.0, 5.0, NAN, 'o', NULL, true},   {3.2, 5.5, 0.3, 'S', "Sensi", false},
        {3.5, NAN, NAN, 'K', "Kurt", false}, /* not measured: not drawn */
    };
    wg_plot p = {pts, 5, false, "bpp", "PPL"};
    CHECK(wg_plot_raster(&p, W, H, cells) == 4);
    int ph = H - 2;
    /* the highest y at the top row, the lowest x at the left edge of the plot area */
    int c_first = -1;
    for (int c = 9; c < W; c++)
        if (at(0, c) == 'o')
            c_first = c;
    CHECK(c_first >= 9 && c_first <= 11); /* x = 2 is the minimum (3 % margin) */
    /* x = 4, y = 5: the lowest point is at the bottom row of the plot area, right side */
    bool found = false;
    for (int c = W - 4; c < W; c++)
        found |= at(ph - 1, c) == 'o';
    CHECK(found);
    CHECK(count('o') == 3);
    CHECK(count('S') >= 1 && count('K') == 0);
    CHECK(count('.') > 5);      /* the joined line */
    CHECK(count(':') >= 1);     /* the error bar of S */
    bool label = false;
    for (int r = 0; r < ph; r++)
        label |= row_has(r, "Sensi");
    CHECK(label);
    CHECK(row_has(ph + 1, "bpp"));
    CHECK(at(ph, 8) == '+');    /* the axes' corner */
    /* y ticks: the top label reads the top of the range */
    CHECK(row_has(0, "10"));
}

static void test_log_and_edge_cases(void)
{
    wg_plot_point pts[] = {
        {1.0, 1.0, NAN, 'o', NULL, true}, {2.0, 10.0, NAN, 'o', NULL, true},
        {3.0, 100.0, NAN, 'o', NULL, true}, {2.5, -1.0, NAN, 'x', NULL, false},
    };
    wg_plot p = {pts, 4, true, NULL, NULL};
    CHECK(wg_plot_raster(&p, W, H, cells) == 3); /* y <= 0 cannot be drawn on log y */
    /* log y: the middle point (10) sits halfway between 1 and 100 */
    int ph = H - 2, mid = -1;
    for (int r = 0; r < ph; r++)
        for (int c = 9; c < W; c++)
            if (at(r, c) == 'o' && c > 9 + (W - 9) / 3 && c < 9 + 2 * (W - 9) / 3)
                mid = r;
    CHECK(mid >= (ph - 1) / 2 - 1 && mid <= (ph - 1) / 2 + 1);
    p.log_y = false;
    CHECK(wg_plot_raster(&p, W, H, cells) == 4);
    CHECK(wg_plot_raster(&p, 20, H, cells) == -1);
    CHECK(wg_plot_raster(&p, W, 5, cells) == -1);
    wg_plot_point none[] = {{1.0, NAN, NAN, 'o', NULL, true}};
    wg_plot q = {none, 1, false, NULL, NULL};
    CHECK(wg_plot_raster(&q, W, H, cells) == 0);
    bool msg = false;
    for (int r = 0; r < H; r++)
        msg |= row_has(r, "no measured point");
    CHECK(msg);
}

int main(void)
{
    RUN(test_corners_line_labels);
    RUN(test_log_and_edge_cases);
    return t_summary();
}
