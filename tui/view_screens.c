/* Full-body screens: the key help (from the key table) and the weight histogram. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bar.h"
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
    const ls_histogram *h = a->hist;
    int plot_h = r.h - 5, plot_w = r.w - 2 > 512 ? 512 : r.w - 2;
    if (plot_h < 3 || plot_w < 10 || h->n == 0) {
        wg_put(stdscr, r.y + 2, r.x + 1, r.w - 2, A_NORMAL, "no finite values");
        return;
    }
    /* merge the fine bins into plot columns */
    double col[512] = {0}, maxlog = 0;
    for (int b = 0; b < h->n_bins; b++) {
        int c = (int)((int64_t)b * plot_w / h->n_bins);
        col[c] += (double)h->count[b];
    }
    for (int c = 0; c < plot_w; c++) {
        col[c] = log10(1 + col[c]);
        if (col[c] > maxlog)
            maxlog = col[c];
    }
    double lo3 = h->mean - 3 * h->std, hi3 = h->mean + 3 * h->std;
    const char *full = a->style.unicode ? "█" : "#";
    int base_y = r.y + 1 + plot_h;
    for (int c = 0; c < plot_w; c++) {
        double center = h->lo + (c + 0.5) * (h->hi - h->lo) / plot_w;
        bool tail = center < lo3 || center > hi3;
        int height = maxlog > 0 ? (int)lround(col[c] / maxlog * plot_h) : 0;
        if (col[c] > 0 && height == 0)
            height = 1;
        attr_t at = wg_attr(&a->style, tail ? WG_OUTLIER : WG_BAR);
        for (int k = 0; k < height; k++)
            wg_put(stdscr, base_y - k, r.x + 1 + c, 1, at, tail && !a->style.unicode ? "!" : full);
    }
    char lo[32], hi[32];
    snprintf(lo, sizeof lo, "%.4g", h->lo);
    snprintf(hi, sizeof hi, "%.4g", h->hi);
    wg_put(stdscr, base_y + 1, r.x + 1, plot_w, A_NORMAL, lo);
    wg_put(stdscr, base_y + 1, r.x + 1 + plot_w - (int)strlen(hi), (int)strlen(hi), A_NORMAL, hi);
    wg_putf(stdscr, base_y + 2, r.x + 1, plot_w, A_NORMAL,
            "n %lld  mean %.4g  std %.4g  non-finite %lld  beyond 3 std: highlighted tails",
            (long long)h->n, h->mean, h->std, (long long)h->n_nonfinite);
}
