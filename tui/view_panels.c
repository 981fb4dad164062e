/* The panels around the layer list: detail, memory, jobs, status line; and the frame. */
#include <langinfo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bar.h"
#include "method/explain.h"
#include "keys.h"
#include "io/result_json.h"
#include "view.h"

void view_apply_theme(app *a)
{
    const char *nc = getenv("NO_COLOR");
    bool can_color = has_colors() && !(nc && *nc);
    bool unicode = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    wg_style_init(&a->style, a->theme, can_color, unicode);
}

static void panel_title(app *a, wg_rect r, const char *title)
{
    wg_put(stdscr, r.y, r.x, r.w, wg_attr(&a->style, WG_TITLE), title);
}

void view_detail(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    if (!a->profile || !a->an_ok)
        return;
    ls_explain e;
    ls_explain_matrix(a->profile, a->an, a->sel_layer, a->module, &e);
    int y = r.y, end = r.y + r.h;
    for (int i = 0; i < e.n_lines && y < end; i++) {
        attr_t at = i == 0 ? wg_attr(&a->style, e.boosted ? WG_OUTLIER : WG_TITLE)
                           : wg_attr(&a->style, WG_DEFAULT);
        y += wg_wrap(stdscr, y, r.x + 1, r.w - 2, end - y, at, e.line[i]);
    }
    int i = LS_IDX(a->sel_layer, a->module);
    if (a->q_known && a->q_stop[i] >= 0 && y < end)
        wg_putf(stdscr, y, r.x + 1, r.w - 2, wg_attr(&a->style, WG_DEFAULT),
                "HQQ %s: ||W - deq(Q(W))||_F = %.6g%s", ls_stop_get(a->q_stop[i])->name,
                a->q_err[i], app_q_stale(a, i) ? " (stale: the config changed; Q again)" : "");
}

void view_memory(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    if (!a->profile || !a->an_ok)
        return;
    ls_memory_view v;
    ls_memory_view_of(a->profile, a->an, &v);
    attr_t t = wg_attr(&a->style, WG_TITLE), d = wg_attr(&a->style, WG_DEFAULT);
    if (!v.known) {
        panel_title(a, r, "Memory");
        wg_put(stdscr, r.y + (r.h > 1), r.x + 8, r.w - 8, d,
               "unknown: the profile has no parameter counts");
        return;
    }
    attr_t delta_at = v.extra_pct > 0 ? wg_attr(&a->style, WG_OUTLIER) : d;
    const char *base = ls_stop_get(a->settings.base)->name;
    char model[96] = "model n/a";
    if (v.model_mib >= 0)
        snprintf(model, sizeof model, "model %.3f MiB (stored %.3f MiB)", v.model_mib,
                 v.model_fp_mib);
    if (r.h < 6) { /* two lines under the layer list */
        wg_put(stdscr, r.y, r.x, 7, t, "Memory");
        wg_putf(stdscr, r.y, r.x + 8, r.w - 8, d,
                "base %s %.4f bpp %.3f MiB | current %.4f bpp %.3f MiB", base, v.base_bpp,
                v.base_mib, v.bpp, v.mib);
        int x = r.x + 8;
        x += wg_putf(stdscr, r.y + 1, x, r.x + r.w - x, delta_at,
                     "delta %+.3f MiB  extra %+.4f %%", ls_no_neg_zero(v.delta_mib, 3),
                     ls_no_neg_zero(v.extra_pct, 4));
        if (a->an->budget) /* the budget methods: target against used */
            x += wg_putf(stdscr, r.y + 1, x, r.x + r.w - x, d, " | target %.4f bpp, used %.2f %%",
                         a->an->budget_bpp, 100.0 * v.mib / a->an->budget_mib);
        wg_putf(stdscr, r.y + 1, x, r.x + r.w - x, d, " | %s", model);
        return;
    }
    panel_title(a, r, "Memory (nominal bpp, 7 linear types)");
    wg_putf(stdscr, r.y + 1, r.x + 1, r.w - 2, d, "base     %-7s %.4f bpp  %12.3f MiB", base,
            v.base_bpp, v.base_mib);
    wg_putf(stdscr, r.y + 2, r.x + 1, r.w - 2, d, "current          %.4f bpp  %12.3f MiB",
            v.bpp, v.mib);
    wg_putf(stdscr, r.y + 3, r.x + 1, r.w - 2, delta_at, "delta %+.3f MiB  extra %+.4f %%",
            ls_no_neg_zero(v.delta_mib, 3), ls_no_neg_zero(v.extra_pct, 4));
    if (a->an->budget) /* the budget methods: target against used */
        wg_putf(stdscr, r.y + 4, r.x + 1, r.w - 2, d,
                "target   %.4f bpp  %12.3f MiB  used %.2f %%, %d changed", a->an->budget_bpp,
                a->an->budget_mib, 100.0 * v.mib / a->an->budget_mib, a->an->n_boosted);
    else
        wg_putf(stdscr, r.y + 4, r.x + 1, r.w - 2, d, "boosted %d of %d matrices",
                a->an->n_boosted, a->an->n_layers * LS_N_MODULES);
    wg_put(stdscr, r.y + 5, r.x + 1, r.w - 2, d, model);
}

static void too_small(app *a)
{
    erase();
    const char *msg1 = "Terminal too small";
    char msg2[96];
    snprintf(msg2, sizeof msg2, "need %dx%d, have %dx%d", WG_MIN_COLS, WG_MIN_ROWS, COLS, LINES);
    int y = LINES / 2 - 1;
    wg_put(stdscr, y < 0 ? 0 : y, 0, COLS, wg_attr(&a->style, WG_ERROR), msg1);
    wg_put(stdscr, y + 1 < LINES ? y + 1 : 0, 0, COLS, A_NORMAL, msg2);
    if (LINES > 2)
        wg_put(stdscr, y + 2, 0, COLS, A_NORMAL, "enlarge it, or q to quit");
}

/* Rows the detail text needs at the stacked layout's width (-1: nothing to explain). */
static int detail_need(const app *a)
{
    if (!a->profile || !a->an_ok)
        return -1;
    ls_explain e;
    ls_explain_matrix(a->profile, a->an, a->sel_layer, a->module, &e);
    int need = 0;
    for (int i = 0; i < e.n_lines; i++)
        need += wg_wrap_rows(e.line[i], COLS - 2);
    int i = LS_IDX(a->sel_layer, a->module);
    return need + (a->q_known && a->q_stop[i] >= 0);
}

void view_draw(app *a)
{
    /* the detail panel takes the rows the selected matrix's text needs; the rest goes to
     * the layer rows (the selection stays in view when the list changes length) */
    int need = detail_need(a);
    /* the jobs history asks for a row per entry, plus one when the newest result wraps */
    int jobs_need = app_job_rows(a) + (a->n_history > 0 && wg_text_width(a->history[0].full) > COLS - 20);
    wg_layout_compute_fit(LINES, COLS, need, jobs_need, &a->layout);
    if (a->layout.too_small) {
        too_small(a);
        return;
    }
    erase();
    const wg_layout *l = &a->layout;
    view_header(a, l->header);
    if (a->screen == SCREEN_HELP) {
        wg_rect body = {l->header.y + l->header.h, 0, l->status.y - 2, l->status.w};
        view_help(a, body);
    } else if (a->screen == SCREEN_DETECT) {
        wg_rect body = {l->header.y + l->header.h, 0, l->status.y - 2, l->status.w};
        view_detect(a, body);
    } else if (a->screen == SCREEN_LEGEND) {
        wg_rect body = {l->header.y + l->header.h, 0, l->status.y - 2, l->status.w};
        view_legend(a, body);
    } else if (a->screen == SCREEN_INPUTS) {
        wg_rect body = {l->header.y + l->header.h, 0, l->status.y - 2, l->status.w};
        view_inputs(a, body);
    } else if (a->screen == SCREEN_SETS) {
        wg_rect body = {l->header.y + l->header.h, 0, l->status.y - 2, l->status.w};
        view_sets(a, body);
    } else if (a->screen == SCREEN_HIST) {
        wg_rect body = {l->header.y + l->header.h, 0, l->status.y - 2, l->status.w};
        view_histogram(a, body);
    } else if (a->screen == SCREEN_FRONTIER) {
        wg_rect body = {l->header.y + l->header.h, 0, l->status.y - 2, l->status.w};
        view_frontier(a, body);
    } else if (a->screen == SCREEN_AGREE) {
        wg_rect body = {l->header.y + l->header.h, 0, l->status.y - 2, l->status.w};
        view_agreement(a, body);
    } else {
        view_layers(a, l->main);
        view_detail(a, l->detail);
        view_memory(a, l->memory);
        view_jobs(a, l->jobs);
    }
    if (a->prompt.active && a->picker.active) {
        int h = a->picker.n + 1, body = l->status.y - 2;
        wg_rect pr = {2, 0, h < body ? h : body, l->status.w};
        pr.y = l->status.y - pr.h;
        wg_picker_draw(stdscr, &a->style, pr,
                       "Found models (origin, format, name, path): Up/Down choose, Enter opens",
                       &a->picker, app_picker_label, &a->found);
    }
    view_status(a, l->status);
    curs_set(a->prompt.active ? 1 : 0);
    if (!a->prompt.active)
        wmove(stdscr, l->status.y, 0);
}
