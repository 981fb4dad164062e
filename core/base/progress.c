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
    p->done = done;
    p->total = total;
    if (what)
        snprintf(p->what, sizeof p->what, "%s", what);
    p->gen++;
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&p->cancel) != 0;
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
    pthread_mutex_unlock(&p->mu);
}
