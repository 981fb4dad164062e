/* Full-body screens: the key help (from the key table) and the weight histogram. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bar.h"
#include "method/explain.h"
#include "keys.h"
#include "view.h"

static bool same_line(const ls_key *x, const ls_key *y)
{
    return x->context == y->context && x->action == y->action && strcmp(x->help, y->help) == 0;
}

/* Help lines mode by mode, each under its title, in table order: keys that share a mode,
 * an action and a text share a line. */
static int help_lines(char lines[][160], int cap)
{
    int n = 0;
    for (int c = 0; c < CTX_COUNT; c++) {
        if (n + 2 > cap)
            break;
        if (c > 0)
            lines[n++][0] = '\0';
        snprintf(lines[n++], 160, " %s", ls_key_context_title((ls_key_context)c));
        for (int i = 0; i < ls_n_keys && n < cap; i++) {
            const ls_key *k = &ls_keys[i];
            if (k->context != (ls_key_context)c)
                continue;
            bool seen = false;
            for (int j = 0; j < i && !seen; j++)
                seen = same_line(&ls_keys[j], k);
            if (seen)
                continue;
            char labels[64] = "";
            for (int j = i; j < ls_n_keys; j++)
                if (same_line(&ls_keys[j], k)) {
                    size_t len = strlen(labels);
                    snprintf(labels + len, sizeof labels - len, "%s%s", len ? ", " : "",
                             ls_keys[j].label);
                }
            snprintf(lines[n++], 160, "  %-20s %s", labels, k->help);
        }
    }
    return n;
}

void view_help(app *a, wg_rect r)
{
    static char lines[192][160];
    int n = help_lines(lines, 192);
    wg_clear_rect(stdscr, r, A_NORMAL);
    wg_put(stdscr, r.y, r.x + 1, r.w - 2, wg_attr(&a->style, WG_TITLE),
           "Keys  (Up/Down/PgUp/PgDn scroll, any other key closes)");
    int rows = r.h - 2;
    int max_scroll = n - rows > 0 ? n - rows : 0;
    if (a->help_scroll > max_scroll)
        a->help_scroll = max_scroll;
    for (int i = 0; i < rows && a->help_scroll + i < n; i++) {
        const char *s = lines[a->help_scroll + i];
        wg_put(stdscr, r.y + 2 + i, r.x, 23, wg_attr(&a->style, WG_KEY), s);
        if ((int)strlen(s) > 23)
            wg_put(stdscr, r.y + 2 + i, r.x + 23, r.w - 23, A_NORMAL, s + 23);
    }
}

const char *view_hist_glyph(const wg_style *st, bool tail)
{
    if (st->unicode)
        return "\u2588"; /* a tail differs in colour (the outlier role) */
    return tail ? "!" : "#";
}

/* y axis labels at the rows where the log-scaled bars reach 1, 10, 100, ... */
static void histogram_y_axis(app *a, int x, int base_y, int plot_h, double maxlog)
{
    attr_t dim = wg_attr(&a->style, WG_DIM);
    for (int row = base_y - plot_h + 1; row <= base_y; row++)
        wg_put(stdscr, row, x + 6, 1, dim, "|");
    int last_row = -1;
    for (int p = 0; p <= (int)maxlog + 1; p++) {
        double lg = log10(1 + pow(10, p));
        if (lg > maxlog * 1.0001 && p > 0)
            break;
        int height = (int)lround(lg / maxlog * plot_h);
        if (height < 1)
            height = 1;
        int row = base_y - height + 1;
        if (row == last_row || row < base_y - plot_h + 1)
            continue;
        char lab[16];
        if (p < 4)
            snprintf(lab, sizeof lab, "%d", (int)lround(pow(10, p)));
        else
            snprintf(lab, sizeof lab, "1e%d", p);
        wg_putf(stdscr, row, x, 6, dim, "%5s-", lab);
        last_row = row;
    }
}

static int log_height(double count, double maxlog, int plot_h)
{
    return maxlog > 0 ? (int)lround(log10(1 + count) / maxlog * plot_h) : 0;
}

void view_histogram(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    attr_t t = wg_attr(&a->style, WG_TITLE);
    wg_putf(stdscr, r.y, r.x + 1, r.w - 2, t,
            "Weight histogram: layer %d %s  (log counts; h or Esc closes, arrows/Tab move)",
            a->hist_layer, ls_module_name(a->hist_module));
    if (a->hist_pending) {
        wg_put(stdscr, r.y + 2, r.x + 1, r.w - 2, A_NORMAL, "computing... (see the jobs line)");
        return;
    }
    enum { YAXIS = 7 };
    int plot_h = r.h - 5, plot_w = r.w - 2 - YAXIS > 512 ? 512 : r.w - 2 - YAXIS;
    if (plot_h < 3 || plot_w < 10 || a->hist->n == 0) {
        wg_put(stdscr, r.y + 2, r.x + 1, r.w - 2, A_NORMAL, "no finite values");
        return;
    }
    /* whole fine bins per column, so every column stands for the same number of grid steps */
    ls_histogram hc;
    ls_histogram_regroup(a->hist, plot_w, &hc);
    const ls_histogram *h = &hc;
    double expect[512] = {0}, maxlog = 0;
    for (int c = 0; c < h->n_bins; c++) {
        expect[c] = ls_histogram_normal_expected(h, c);
        maxlog = fmax(maxlog, log10(1 + (double)h->count[c]));
        maxlog = fmax(maxlog, log10(1 + expect[c]));
    }
    double lo3 = h->mean - 3 * h->std, hi3 = h->mean + 3 * h->std;
    int base_y = r.y + 1 + plot_h, x0 = r.x + 1 + YAXIS;
    histogram_y_axis(a, r.x + 1, base_y, plot_h, maxlog);
    attr_t curve = wg_attr(&a->style, WG_THRESHOLD) | A_BOLD;
    for (int c = 0; c < h->n_bins; c++) {
        double center = h->edge_lo + (c + 0.5) * h->width;
        bool tail = center < lo3 || center > hi3;
        int height = log_height((double)h->count[c], maxlog, plot_h);
        if (h->count[c] > 0 && height == 0)
            height = 1;
        attr_t at = wg_attr(&a->style, tail ? WG_OUTLIER : WG_BAR);
        for (int k = 0; k < height; k++)
            wg_put(stdscr, base_y - k, x0 + c, 1, at, view_hist_glyph(&a->style, tail));
        /* the normal curve of the same n, mean and std: one '*' at its height */
        int eh = log_height(expect[c], maxlog, plot_h);
        if (eh >= 1)
            wg_put(stdscr, base_y - eh + 1, x0 + c, 1, curve, VIEW_HIST_CURVE);
    }
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%.4g", h->edge_lo);
    snprintf(hi, sizeof hi, "%.4g", h->edge_lo + h->n_bins * h->width);
    int span = h->n_bins;
    wg_put(stdscr, base_y + 1, x0, span, A_NORMAL, lo);
    if (span > (int)strlen(lo) + (int)strlen(hi) + 1)
        wg_put(stdscr, base_y + 1, x0 + span - (int)strlen(hi), (int)strlen(hi), A_NORMAL, hi);
    char kurt[32], width[32];
    ls_fmt_sig(kurt, sizeof kurt, h->kurtosis, 4);
    ls_fmt_sig(width, sizeof width, h->width, 4);
    double pct = h->n ? 100.0 * (double)h->n_beyond3 / (double)h->n : 0;
    char nonfinite[48] = "";
    if (h->n_nonfinite)
        snprintf(nonfinite, sizeof nonfinite, "  non-finite %lld", (long long)h->n_nonfinite);
    wg_putf(stdscr, base_y + 2, r.x + 1, r.w - 2, A_NORMAL,
            "n %lld  mean %.4g  std %.4g  kurtosis %s  beyond 3 std: %lld (%.2f %%; normal 0.27 %%)"
            "%s",
            (long long)h->n, h->mean, h->std, kurt, (long long)h->n_beyond3, pct,
            nonfinite);
    const ls_tensor *w = a->model ? ls_model_linear(a->model, a->hist_layer, a->hist_module) : NULL;
    const char *dt = !w ? "?" : w->dtype == LS_DT_F16 ? "F16" : w->dtype == LS_DT_BF16 ? "BF16" : "F32";
    const char *tail = a->style.unicode ? "highlighted:" : view_hist_glyph(&a->style, true);
    if (h->grid > 0)
        wg_putf(stdscr, base_y + 3, r.x + 1, r.w - 2, wg_attr(&a->style, WG_DIM),
                "bin width %s = %.0f %s grid steps (bins follow the dtype grid)  %s normal curve"
                " (same mean, std)  %s beyond 3 std",
                width, h->width / h->grid, dt, VIEW_HIST_CURVE, tail);
    else
        wg_putf(stdscr, base_y + 3, r.x + 1, r.w - 2, wg_attr(&a->style, WG_DIM),
                "bin width %s (%s, equal-width bins)  %s normal curve (same mean, std)"
                "  %s beyond 3 std",
                width, dt, VIEW_HIST_CURVE, tail);
}
