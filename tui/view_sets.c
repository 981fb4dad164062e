/* The boosted list screen (L): every matrix the current allocation boosts, across modules,
 * with a cursor to jump to one; beside it SensiBoost against KurtBoost as two sets (both,
 * only one), each computed with the current settings and only the method changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

/* "3.q 7.down ..." of the matrices in set (at most cap bytes). */
static void list_of(const unsigned char *set, int n, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at + 16 < cap; i++)
        if (set[i])
            at += (size_t)snprintf(buf + at, cap - at, "%s%d.%s", at ? " " : "",
                                   i / LS_N_MODULES, ls_module_short_name(i % LS_N_MODULES));
    if (!buf[0])
        snprintf(buf, cap, "none");
}

static void compare(app *a, wg_rect r)
{
    attr_t t = wg_attr(&a->style, WG_TITLE), d = wg_attr(&a->style, WG_DEFAULT);
    ls_analysis *as = malloc(sizeof *as), *ak = malloc(sizeof *ak);
    int n = app_n_layers(a) * LS_N_MODULES;
    unsigned char *both = calloc((size_t)n + 1, 1), *only_s = calloc((size_t)n + 1, 1),
                  *only_k = calloc((size_t)n + 1, 1);
    char *buf = malloc(8192);
    ls_settings s = a->settings;
    s.ablation = false;
    ls_error err;
    int y = r.y, end = r.y + r.h;
    if (!as || !ak || !both || !only_s || !only_k || !buf)
        goto done;
    s.method = LS_METHOD_SENSI;
    int rs = ls_analyze(a->profile, &s, NULL, as, &err);
    s.method = LS_METHOD_KURT;
    int rk = rs == 0 ? ls_analyze(a->profile, &s, NULL, ak, &err) : -1;
    if (rk < 0) {
        wg_wrap(stdscr, y, r.x, r.w, end - y, wg_attr(&a->style, WG_ERROR), err.msg);
        goto done;
    }
    int nb = 0, ns = 0, nk = 0;
    for (int i = 0; i < n; i++) {
        both[i] = as->boosted[i] && ak->boosted[i];
        only_s[i] = as->boosted[i] && !ak->boosted[i];
        only_k[i] = ak->boosted[i] && !as->boosted[i];
        nb += both[i], ns += only_s[i], nk += only_k[i];
    }
    wg_put(stdscr, y++, r.x, r.w, t, "SensiBoost against KurtBoost (current settings)");
    snprintf(buf, 8192, "SensiBoost flags %d, KurtBoost %d%s%s", as->n_boosted, ak->n_boosted,
             as->have_sensi ? "" : " (no sensitivity: SensiBoost flags nothing)",
             ak->have_kurt ? "" : " (kurtosis not known yet)");
    y += wg_wrap(stdscr, y, r.x, r.w, end - y, d, buf);
    const struct {
        const char *title;
        const unsigned char *set;
        int count;
    } part[3] = {{"both", both, nb}, {"only SensiBoost", only_s, ns}, {"only KurtBoost", only_k, nk}};
    for (int k = 0; k < 3 && y < end; k++) {
        char list[6000];
        list_of(part[k].set, n, list, sizeof list);
        snprintf(buf, 8192, "%s (%d): %s", part[k].title, part[k].count, list);
        y += wg_wrap(stdscr, y, r.x, r.w, end - y, d, buf);
    }
    /* where the numbers come from: measured, imported or computed, and the warnings batch
     * mode prints (e.g. the GQA o_proj rule of a toolkit CSV) */
    if (y + 1 < end) {
        y++;
        wg_put(stdscr, y++, r.x, r.w, t, "Where the numbers come from");
        const ls_profile *p = a->profile;
        if (a->sensi)
            snprintf(buf, 8192, "sensitivity: measured here by S (see the jobs panel)");
        else
            snprintf(buf, 8192, "sensitivity: %s",
                     p->sensitivity_source[0] ? p->sensitivity_source
                                              : "none (S measures it on a model)");
        y += wg_wrap(stdscr, y, r.x, r.w, end - y, d, buf);
        if (a->model)
            snprintf(buf, 8192, "kurtosis: %s%s", a->opts->kurtosis_csv ? "imported from " :
                     "computed from the weights of ", a->opts->kurtosis_csv ? a->opts->kurtosis_csv
                                                                            : a->path);
        else
            snprintf(buf, 8192, "kurtosis and parameter counts: imported from %s (%s)", a->path,
                     p->source);
        y += wg_wrap(stdscr, y, r.x, r.w, end - y, d, buf);
        for (int w = 0; w < p->n_warnings && y < end; w++) {
            snprintf(buf, 8192, "warning: %s", p->warnings[w]);
            y += wg_wrap(stdscr, y, r.x, r.w, end - y, wg_attr(&a->style, WG_THRESHOLD), buf);
        }
    }
done:
    free(as);
    free(ak);
    free(both);
    free(only_s);
    free(only_k);
    free(buf);
}

void view_sets(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    if (!a->profile || !a->an_ok)
        return;
    attr_t t = wg_attr(&a->style, WG_TITLE), d = wg_attr(&a->style, WG_DEFAULT);
    int lw = 26;
    wg_putf(stdscr, r.y, r.x + 1, lw - 1, t, "Boosted now: %d", a->an->n_boosted);
    int rows = r.h - 2, nb = a->an->n_boosted;
    if (a->sets_sel >= nb)
        a->sets_sel = nb > 0 ? nb - 1 : 0;
    int first = a->sets_sel >= rows ? a->sets_sel - rows + 1 : 0;
    int k = 0, y = r.y + 1, n = app_n_layers(a) * LS_N_MODULES;
    for (int i = 0; i < n && y < r.y + 1 + rows; i++) {
        if (!a->an->boosted[i])
            continue;
        if (k++ < first)
            continue;
        bool sel = k - 1 == a->sets_sel;
        wg_putf(stdscr, y++, r.x + 1, lw - 2, sel ? wg_attr(&a->style, WG_SELECTION) : d,
                "%s%3d %-5s %s", sel ? ">" : " ", i / LS_N_MODULES,
                ls_module_short_name(i % LS_N_MODULES), ls_stop_get(a->an->cfg[i])->name);
    }
    if (nb == 0)
        wg_put(stdscr, y, r.x + 1, lw - 2, wg_attr(&a->style, WG_DIM), "none");
    wg_put(stdscr, r.y + r.h - 1, r.x + 1, r.w - 2, wg_attr(&a->style, WG_DIM),
           "Up/Down choose, Enter goes there, any other key closes");
    wg_rect right = {r.y, r.x + lw + 1, r.h - 1, r.w - lw - 2};
    compare(a, right);
}
