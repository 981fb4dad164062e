/* The frontier screen (F): the plot (widgets/plot.h) of the KL divergence to the
 * unquantized model (+/- one standard error) against bpp on top, the table below.
 * Markers: o uniform (joined: "no boosting"), S SensiBoost, K KurtBoost, x ablation seeds,
 * M MXQ, @ current. l toggles a log y axis. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "plot.h"
#include "view.h"

static char marker_of(ls_frontier_kind k)
{
    static const char m[] = {'o', 'S', 'K', 'x', 'M', '@'};
    return (k >= LS_FK_UNIFORM && k <= LS_FK_CURRENT) ? m[k] : '?';
}

void view_frontier(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    attr_t t = wg_attr(&a->style, WG_TITLE), d = wg_attr(&a->style, WG_DEFAULT);
    double fp_ppl = NAN;
    bool busy = false;
    const ls_frontier *f = app_frontier_view(a, &fp_ppl, &busy);
    if (!f) {
        wg_put(stdscr, r.y, r.x + 1, r.w - 2, t, "Frontier: nothing built (F builds it)");
        return;
    }
    int done = 0;
    for (int i = 0; i < f->n; i++)
        done += f->pts[i].done;
    wg_putf(stdscr, r.y, r.x + 1, r.w - 2, t,
            "Frontier: KLD to the unquantized model against memory, %d of %d measured%s%s  (F or Esc closes, "
            "l: log y)", done, f->n, busy ? ", measuring..." : "",
            a->log_scale ? ", log y" : "");
    int table_rows = f->n + 2; /* header + points + summary */
    int plot_h = r.h - 1 - table_rows;
    if (plot_h < 8) /* small screens: the table first, the plot where it fits */
        plot_h = r.h - 1 - table_rows < 0 ? 0 : r.h - 1 - table_rows;
    wg_plot_point pts[LS_FRONTIER_MAX];
    for (int i = 0; i < f->n; i++) {
        const ls_frontier_point *p = &f->pts[i];
        pts[i] = (wg_plot_point){p->bpp, p->done ? p->kld_mean : NAN, p->done ? p->kld_se : NAN,
                                 marker_of(p->kind),
                                 p->kind == LS_FK_UNIFORM ? p->label : NULL,
                                 p->kind == LS_FK_UNIFORM};
    }
    if (plot_h >= 6) {
        wg_plot pl = {pts, f->n, a->log_scale, "bpp", "KLD"};
        wg_rect pr = {r.y + 1, r.x, plot_h, r.w};
        wg_plot_draw(stdscr, pr, &pl, d);
    }
    int y = r.y + 1 + (plot_h >= 6 ? plot_h : 0);
    int bottom = r.y + r.h;
    if (y < bottom)
        wg_putf(stdscr, y++, r.x + 1, r.w - 2, t, "%c %-28s %-9s %8s %9s %11s %10s %9s", ' ',
                "point", "kind", "bpp", "extra %", "KLD", "+/-", "PPL");
    for (int i = 0; i < f->n && y < bottom; i++) {
        const ls_frontier_point *p = &f->pts[i];
        char kld[24] = "...", se[24] = "", ppl[16] = "";
        if (p->done && isfinite(p->kld_mean))
            snprintf(kld, sizeof kld, "%.6f", p->kld_mean);
        if (p->done && isfinite(p->kld_se))
            snprintf(se, sizeof se, "%.6f", p->kld_se);
        if (p->done && isfinite(p->ppl))
            snprintf(ppl, sizeof ppl, "%.4f", p->ppl);
        wg_putf(stdscr, y++, r.x + 1, r.w - 2, d, "%c %-28s %-9s %8.4f %+9.3f %11s %10s %9s",
                marker_of(p->kind), p->label, ls_frontier_kind_name(p->kind), p->bpp,
                p->extra_pct, kld, se, ppl);
    }
    double bpp, pm, psd, km, ksd;
    int ns;
    if (y < bottom) {
        char line[512] = "";
        size_t len = 0;
        if (isfinite(fp_ppl))
            len += (size_t)snprintf(line + len, sizeof line - len, "unquantized PPL %.4f  ",
                                    fp_ppl);
        if (ls_frontier_ablation_summary(f, &bpp, &pm, &psd, &km, &ksd, &ns))
            len += (size_t)snprintf(line + len, sizeof line - len,
                                    "ablation: %d seeds, KLD %.6f sd %.6f  ", ns, km, ksd);
        if (f->note[0] && len < sizeof line)
            snprintf(line + len, sizeof line - len, "left out: %.180s", f->note);
        wg_put(stdscr, y, r.x + 1, r.w - 2, d, line);
    }
}
