#include "base/progress.h"

#include <stdio.h>
#include <string.h>

void ls_progress_init(ls_progress *p)
{
    memset(p, 0, sizeof *p);
    atomic_init(&p->cancel, 0);
    pthread_mutex_init(&p->mu, NULL);
}

void ls_progress_destroy(ls_progress *p)
{
    pthread_mutex_destroy(&p->mu);
}

bool ls_progress_tick(ls_progress *p, int64_t done, int64_t total, const char *what)
{
    if (!p)
        return false;
    pthread_mutex_lock(&p->mu);
    if (p->phase_total > 0) {
        double f = total > 0 ? (double)done / (double)total : 0;
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        p->done = p->phase_start + (int64_t)(f * (double)p->phase_weight);
        p->total = p->phase_total;
    } else {
        p->done = done;
        p->total = total;
    }
    if (what)
        snprintf(p->what, sizeof p->what, "%s", what);
    p->gen++;
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&p->cancel) != 0;
}

void ls_progress_phases(ls_progress *p, int64_t total_weight, int count)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->phase_total = total_weight > 0 ? total_weight : 0;
    p->phase_count = total_weight > 0 ? count : 0;
    p->phase_index = 0;
    p->phase_start = p->phase_weight = 0;
    p->gen++;
    pthread_mutex_unlock(&p->mu);
}

void ls_progress_phase(ls_progress *p, int index, int64_t start, int64_t weight)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->phase_index = index;
    p->phase_start = start;
    p->phase_weight = weight;
    if (p->phase_total > 0) { /* the step starts: overall progress is its start */
        p->done = start;
        p->total = p->phase_total;
    }
    p->gen++;
    pthread_mutex_unlock(&p->mu);
}

bool ls_progress_cancelled(ls_progress *p)
{
    return p && atomic_load(&p->cancel) != 0;
}

void ls_progress_cancel(ls_progress *p)
{
    if (p)
        atomic_store(&p->cancel, 1);
}

void ls_progress_read(ls_progress *p, ls_progress_snapshot *out)
{
    pthread_mutex_lock(&p->mu);
    out->done = p->done;
    out->total = p->total;
    memcpy(out->what, p->what, sizeof out->what);
    out->gen = p->gen;
    out->phase_index = p->phase_index;
    out->phase_count = p->phase_count;
    pthread_mutex_unlock(&p->mu);
}
