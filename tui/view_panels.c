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
                     "delta %+.3f MiB  extra %+.4f %%", v.delta_mib, v.extra_pct);
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
            v.delta_mib, v.extra_pct);
    if (a->an->budget) /* the budget methods: target against used */
        wg_putf(stdscr, r.y + 4, r.x + 1, r.w - 2, d,
                "target   %.4f bpp  %12.3f MiB  used %.2f %%, %d changed", a->an->budget_bpp,
                a->an->budget_mib, 100.0 * v.mib / a->an->budget_mib, a->an->n_boosted);
    else
        wg_putf(stdscr, r.y + 4, r.x + 1, r.w - 2, d, "boosted %d of %d matrices",
                a->an->n_boosted, a->an->n_layers * LS_N_MODULES);
    wg_put(stdscr, r.y + 5, r.x + 1, r.w - 2, d, model);
}

static void fmt_secs(char *buf, size_t cap, double s)
{
    if (s < 0)
        snprintf(buf, cap, "?");
    else if (s < 60)
        snprintf(buf, cap, "%.1fs", s);
    else
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* A finished quantization: modules quantized and reused by the run, nominal vs stored size,
 * the total error and the time (a cancelled run shows what it kept). */
static void quant_totals(const app *a, const ls_job_info *j, const char *el, char *buf,
                         size_t cap)
{
    const ls_qtotals *t = &a->q_tot;
    const char *st = j->state == LS_JOB_DONE ? "" : j->state == LS_JOB_CANCELLED ? "cancelled: "
                                                                                  : "failed: ";
    snprintf(buf, cap, "%s%d quantized, %d reused  nominal %.3f MiB  stored %.3f MiB  err %.6g  %s",
             st, a->q_new, t->n_modules - a->q_new, t->nominal_mib, t->stored_mib,
             t->fro_total, el);
}

/* The paper's central comparison: PPL of fp, base and current, and against fp the KLD and
 * same-top rate of base and current with 95 % intervals, the verdict beside the memory it
 * costs (issue 10). */
static void ppl_line(const app *a, const char *el, char *buf, size_t cap)
{
    if (!a->kld_known) {
        snprintf(buf, cap, "PPL fp %.4f base %.4f cur %.4f  %+.2f %% at %+.3f %% mem  %s",
                 a->ppl_fp, a->ppl_base, a->ppl_cur, a->ppl_delta_pct, a->ppl_mem_pct, el);
        return;
    }
    const ls_quality_stats *b = &a->kld_base, *c = &a->kld_cur;
    snprintf(buf, cap,
             "PPL fp %.4f  base %.4f KLD %.4g+-%.2g top %.1f+-%.1f%%  "
             "cur %.4f KLD %.4g+-%.2g top %.1f+-%.1f%% (+- 95 %%)  %.255s  "
             "[%.150s, %.16s]",
             a->ppl_fp, b->ppl, b->kld_mean, LS_Z95 * b->kld_se, b->same_top_pct,
             LS_Z95 * b->same_top_se, c->ppl, c->kld_mean, LS_Z95 * c->kld_se,
             c->same_top_pct, LS_Z95 * c->same_top_se, a->kld_verdict, a->kld_info, el);
}

void view_jobs(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    attr_t t = wg_attr(&a->style, WG_TITLE), d = wg_attr(&a->style, WG_DEFAULT);
    int x0 = r.x + 6, w = r.w - 6;
    wg_put(stdscr, r.y, r.x, 5, t, "Jobs");
    if (a->n_jobs == 0) {
        wg_put(stdscr, r.y, x0, w, wg_attr(&a->style, WG_DIM),
               "none running (kurtosis runs on open; Q quantizes, P perplexity, S sensitivity)");
        return;
    }
    int y = r.y;
    for (int i = 0; i < a->n_jobs && y < r.y + r.h; i++, y++) {
        const ls_job_info *j = &a->job[i];
        /* rows this job may use: its own, plus what the remaining jobs leave spare */
        int left = r.y + r.h - y, rest = a->n_jobs - i - 1;
        int rows = left - rest > 1 ? left - rest : 1;
        char line[768] = "";
        attr_t at = i == a->job_sel ? wg_attr(&a->style, WG_SELECTION) : d;
        int x = x0 + wg_putf(stdscr, y, x0, 12, at, "%-11.11s ", j->name);
        char el[16], eta[16];
        fmt_secs(el, sizeof el, j->elapsed);
        fmt_secs(eta, sizeof eta, j->eta);
        if (j->state == LS_JOB_RUNNING) {
            double f = j->progress.total > 0 ? (double)j->progress.done / j->progress.total : 0;
            int gw = w / 3 < 12 ? 12 : w / 3;
            wg_gauge_draw(stdscr, &a->style, y, x, gw, f, WG_GAUGE_OK);
            x += gw + 1;
            wg_putf(stdscr, y, x, r.x + r.w - x, d, "ETA %s  %s", eta, j->progress.what);
        } else if (j->state == LS_JOB_QUEUED) {
            wg_put(stdscr, y, x, r.x + r.w - x, d, "queued");
        } else if ((j->id == a->q_job_id && j->kind == JOB_QUANT) ||
                   (j->id == a->ppl_job_id && j->kind == JOB_PPL && a->ppl_known)) {
            if (j->kind == JOB_QUANT)
                quant_totals(a, j, el, line, sizeof line);
            else
                ppl_line(a, el, line, sizeof line);
            y += wg_wrap(stdscr, y, x, r.x + r.w - x, rows,
                         wg_attr(&a->style, j->state == LS_JOB_FAILED ? WG_ERROR : WG_DEFAULT),
                         line) - 1;
        } else if (j->state == LS_JOB_DONE) {
            wg_putf(stdscr, y, x, r.x + r.w - x, d, "done in %s", el);
        } else {
            wg_putf(stdscr, y, x, r.x + r.w - x,
                    wg_attr(&a->style, j->state == LS_JOB_FAILED ? WG_ERROR : WG_DIM), "%s",
                    j->error);
        }
    }
}

void view_status(app *a, wg_rect r)
{
    attr_t st = wg_attr(&a->style, WG_STATUS);
    wg_blank(stdscr, r.y, r.x, r.w, st);
    if (a->prompt.active) {
        wg_prompt_draw(stdscr, &a->style, r.y, r.x, r.w, &a->prompt);
        return;
    }
    int x = r.x;
    if (a->confirm_quit) {
        wg_put(stdscr, r.y, x, r.w, wg_attr(&a->style, WG_ERROR),
               " Jobs are running. Quit anyway? (y/n) ");
        return;
    }
    if (a->msg[0]) {
        x += wg_putf(stdscr, r.y, x, r.w, wg_attr(&a->style, a->msg_error ? WG_ERROR : WG_STATUS),
                     " %s ", a->msg);
        x += 1;
    }
    /* help and quit first, so they show on the narrowest screen; then table order */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < ls_n_keys; i++) {
            const char *hint = ls_keys[i].hint;
            bool first = ls_keys[i].action == ACT_HELP || ls_keys[i].action == ACT_QUIT;
            if (!hint || first != (pass == 0))
                continue;
            int hw = wg_text_width(hint) + 1;
            if (x + hw > r.x + r.w)
                return;
            const char *colon = strchr(hint, ':');
            int kl = colon ? (int)(colon - hint) : 0;
            char keys[16];
            snprintf(keys, sizeof keys, "%.*s", kl, hint);
            x += 1;
            x += wg_put(stdscr, r.y, x, kl, st | A_BOLD, keys);
            x += wg_put(stdscr, r.y, x, r.x + r.w - x, st, colon ? colon : hint);
        }
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

void view_draw(app *a)
{
    wg_layout_compute(LINES, COLS, &a->layout);
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
