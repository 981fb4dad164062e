/* The agreement screen: for every two metric columns present, Spearman's rank correlation
 * over all matrices and per module type, and how many of their top-N matrices coincide. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "method/agreement.h"
#include "view.h"

static void fmt_rho(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "%6s", "-");
    else
        snprintf(buf, cap, "%6.3f", v);
}

void view_agreement(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    attr_t t = wg_attr(&a->style, WG_TITLE);
    int top = a->opts->agreement_top > 0 ? a->opts->agreement_top : 10;
    wg_putf(stdscr, r.y, r.x + 1, r.w - 2, t,
            "Agreement of the metric columns: Spearman rank correlation, top-%d overlap  "
            "(A or Esc closes)", top);
    ls_agreement ag;
    if (!a->profile || ls_agreement_compute(a->profile, a->settings.base, top, &ag) < 0) {
        wg_put(stdscr, r.y + 2, r.x + 1, r.w - 2, A_NORMAL, "nothing to compare");
        return;
    }
    if (ag.n_pairs == 0) {
        wg_putf(stdscr, r.y + 2, r.x + 1, r.w - 2, A_NORMAL,
                "needs two metric columns; this profile has %d (S measures sensitivity, "
                "--imatrix FILE adds imatrix energy and error, --fnorm FNorm)", ag.n_metrics);
        return;
    }
    char line[256];
    int n = snprintf(line, sizeof line, "%-14s %-14s %5s %7s", "metric a", "metric b", "n",
                     "rho");
    for (int m = 0; m < LS_N_MODULES && n > 0 && (size_t)n < sizeof line; m++)
        n += snprintf(line + n, sizeof line - (size_t)n, " %6s", ls_module_short_name(m));
    if (n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, "  top-%d", top);
    wg_put(stdscr, r.y + 2, r.x + 1, r.w - 2, t, line);
    int y = r.y + 3;
    for (int i = 0; i < ag.n_pairs && y < r.y + r.h; i++, y++) {
        const ls_agreement_pair *q = &ag.pairs[i];
        char rho[16];
        fmt_rho(rho, sizeof rho, q->rho);
        n = snprintf(line, sizeof line, "%-14s %-14s %5d %7s", ls_metric_label(q->a),
                     ls_metric_label(q->b), q->n, rho);
        for (int m = 0; m < LS_N_MODULES && n > 0 && (size_t)n < sizeof line; m++) {
            fmt_rho(rho, sizeof rho, q->rho_module[m]);
            n += snprintf(line + n, sizeof line - (size_t)n, " %s", rho);
        }
        if (n > 0 && (size_t)n < sizeof line)
            snprintf(line + n, sizeof line - (size_t)n, "  %d/%d", q->overlap, q->top_n);
        wg_put(stdscr, y, r.x + 1, r.w - 2, A_NORMAL, line);
    }
    if (y + 1 < r.y + r.h)
        wg_put(stdscr, y + 1, r.x + 1, r.w - 2, A_NORMAL,
               "rho: 1 = same order, 0 = unrelated, -1 = reversed; per module: over the "
               "layers of that type. Only matrices with both values count.");
}
