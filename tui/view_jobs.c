/* The jobs panel: running and queued jobs first (one gauge and one ETA over all of a job's
 * steps), then finished jobs newest first, each with the numbers it produced. Text is
 * fitted to the width by whole words (a shorter form first), so no number is ever cut. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bar.h"
#include "view.h"

static void fmt_secs(char *buf, size_t cap, double s)
{
    if (!(s >= 0))
        snprintf(buf, cap, "?");
    else if (s < 60)
        snprintf(buf, cap, "%.1fs", s);
    else
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

/* The first text that fits w columns: full, then brief (each with the time), else brief cut
 * after its last whole word that fits. */
static void fit_result(const app_done_job *d, int w, char *out, size_t cap)
{
    char el[16], cand[1000];
    fmt_secs(el, sizeof el, d->elapsed);
    const char *pre = d->state == LS_JOB_DONE ? "" : d->state == LS_JOB_CANCELLED ? "cancelled: "
                                                                                  : "failed: ";
    bool plain = d->state != LS_JOB_DONE && (!strcmp(d->full, "cancelled") || !d->full[0]);
    const char *texts[2] = {d->full, d->brief};
    for (int k = 0; k < 2; k++) {
        if (plain)
            snprintf(cand, sizeof cand, "%s after %s", ls_job_state_name(d->state), el);
        else
            snprintf(cand, sizeof cand, "%s%s  %s", pre, texts[k], el);
        if (wg_fit_words(cand, w, out, cap))
            return;
    }
}

static void running_line(app *a, const ls_job_info *j, int y, int x, int end)
{
    attr_t d = wg_attr(&a->style, WG_DEFAULT);
    if (j->state == LS_JOB_QUEUED) {
        wg_put(stdscr, y, x, end - x, d, "queued");
        return;
    }
    const ls_progress_snapshot *p = &j->progress;
    double f = p->total > 0 ? (double)p->done / (double)p->total : 0;
    char step[24] = "";
    if (p->phase_count > 1)
        snprintf(step, sizeof step, "step %d/%d ", p->phase_index, p->phase_count);
    x += wg_put(stdscr, y, x, end - x, d, step);
    int gw = (end - x) / 4;
    gw = gw < 10 ? 10 : gw > 24 ? 24 : gw;
    wg_gauge_draw(stdscr, &a->style, y, x, gw, f, WG_GAUGE_OK);
    x += gw + 1;
    char eta[16], line[200], fit[200];
    fmt_secs(eta, sizeof eta, j->eta);
    snprintf(line, sizeof line, "ETA %s  %s", eta, p->what);
    wg_fit_words(line, end - x, fit, sizeof fit);
    wg_put(stdscr, y, x, end - x, d, fit);
}

void view_jobs(app *a, wg_rect r)
{
    wg_clear_rect(stdscr, r, A_NORMAL);
    attr_t t = wg_attr(&a->style, WG_TITLE), d = wg_attr(&a->style, WG_DEFAULT);
    int x0 = r.x + 6, end = r.x + r.w;
    wg_put(stdscr, r.y, r.x, 5, t, "Jobs");
    int n = app_job_rows(a);
    if (n == 0) {
        wg_put(stdscr, r.y, x0, end - x0, wg_attr(&a->style, WG_DIM),
               "none yet (kurtosis runs on open; Q quantizes, P perplexity, S sensitivity)");
        return;
    }
    /* active jobs, then the history; scrolled so the selected row shows */
    int first = a->job_sel >= r.h ? a->job_sel - r.h + 1 : 0;
    int row = 0, y = r.y;
    for (int i = 0; i < a->n_jobs; i++) {
        const ls_job_info *j = &a->job[i];
        if (j->state > LS_JOB_RUNNING)
            continue;
        if (row++ < first || y >= r.y + r.h)
            continue;
        attr_t at = row - 1 == a->job_sel ? wg_attr(&a->style, WG_SELECTION) : d;
        int x = x0 + wg_putf(stdscr, y, x0, 12, at, "%-11.11s ", j->name);
        running_line(a, j, y, x, end);
        y++;
    }
    for (int i = 0; i < a->n_history; i++) {
        const app_done_job *h = &a->history[i];
        if (row++ < first || y >= r.y + r.h)
            continue;
        attr_t at = row - 1 == a->job_sel ? wg_attr(&a->style, WG_SELECTION) : d;
        int x = x0 + wg_putf(stdscr, y, x0, 12, at, "%-11.11s ", h->name);
        attr_t role = wg_attr(&a->style, h->state == LS_JOB_FAILED      ? WG_ERROR
                                         : h->state == LS_JOB_CANCELLED ? WG_DIM
                                                                        : WG_DEFAULT);
        /* the full text word-wrapped when the rows the later entries leave spare hold it
         * (no word is cut: it fits whole or the short form is used) */
        int spare = r.y + r.h - y - (a->n_history - i - 1);
        char el[16], full[1000];
        fmt_secs(el, sizeof el, h->elapsed);
        snprintf(full, sizeof full, "%s  %s", h->full, el);
        if (h->state == LS_JOB_DONE && spare > 1 && wg_wrap_rows(full, end - x) <= spare &&
            wg_text_width(full) > end - x) {
            y += wg_wrap(stdscr, y, x, end - x, spare, role, full);
            continue;
        }
        char fit[1000];
        fit_result(h, end - x, fit, sizeof fit);
        wg_put(stdscr, y, x, end - x, role, fit);
        y++;
    }
}
