/* The jobs panel's memory: every finished job keeps the result it produced (its numbers),
 * newest first, however many jobs follow; and the guard against starting a job twice. */
#include <stdio.h>
#include <string.h>

#include "app.h"

void app_job_result(app *a, const char *full, const char *brief)
{
    snprintf(a->job_full, sizeof a->job_full, "%s", full);
    snprintf(a->job_short, sizeof a->job_short, "%s", brief ? brief : full);
}

void app_history_add(app *a, const ls_job_info *info)
{
    if (a->n_history == APP_HISTORY)
        a->n_history--; /* the oldest goes */
    memmove(&a->history[1], &a->history[0], sizeof a->history[0] * (size_t)a->n_history);
    app_done_job *d = &a->history[0];
    a->n_history++;
    memset(d, 0, sizeof *d);
    d->id = info->id;
    d->kind = info->kind;
    d->state = info->state;
    d->elapsed = info->elapsed;
    snprintf(d->name, sizeof d->name, "%s", info->name);
    if (a->job_full[0]) {
        snprintf(d->full, sizeof d->full, "%s", a->job_full);
        snprintf(d->brief, sizeof d->brief, "%s", a->job_short);
    } else if (info->state == LS_JOB_DONE) {
        snprintf(d->full, sizeof d->full, "done");
        snprintf(d->brief, sizeof d->brief, "done");
    } else {
        snprintf(d->full, sizeof d->full, "%.500s", info->error);
        snprintf(d->brief, sizeof d->brief, "%s", ls_job_state_name(info->state));
    }
    a->job_full[0] = a->job_short[0] = '\0';
}

bool app_job_already(app *a, int kind, const char *what)
{
    app_poll_jobs(a); /* the list as it is now, not as of the last frame */
    for (int i = 0; i < a->n_jobs; i++)
        if (a->job[i].kind == kind && a->job[i].state <= LS_JOB_RUNNING) {
            app_msg(a, true, "%s is already running (c cancels it; J selects a job)", what);
            return true;
        }
    return false;
}

int app_job_rows(const app *a)
{
    int active = 0;
    for (int i = 0; i < a->n_jobs; i++)
        active += a->job[i].state <= LS_JOB_RUNNING;
    return active + a->n_history;
}
