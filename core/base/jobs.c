#include "base/jobs.h"
#include "base/clock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEEP_FINISHED 8

typedef struct job {
    struct job *next;
    ls_job_info info; /* guarded by the queue lock; progress copied on read */
    ls_progress progress;
    ls_job_fn fn;
    void *arg, *result;
    ls_job_free_fn free_arg, free_result;
    double t_start;
    bool taken; /* the UI has seen it finish */
} job;

struct ls_jobs {
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    pthread_t worker;
    bool stop;
    job *head; /* submission order */
    int next_id;
    uint64_t gen;
};

const char *ls_job_state_name(ls_job_state s)
{
    static const char *const names[] = {"queued", "running", "done", "failed", "cancelled"};
    return (s >= 0 && s <= LS_JOB_CANCELLED) ? names[s] : "?";
}

static bool finished(const job *j)
{
    return j->info.state >= LS_JOB_DONE;
}

static void job_free(job *j)
{
    if (j->free_arg && j->arg)
        j->free_arg(j->arg);
    if (j->free_result && j->result)
        j->free_result(j->result);
    ls_progress_destroy(&j->progress);
    free(j);
}

/* Drops the oldest finished jobs the UI has taken, keeping the newest few for display.
 * (Counting from the head kept the oldest and freed the newest: a finished job's line
 * vanished behind old ones.) Locked. */
static void prune(ls_jobs *q)
{
    int kept = 0;
    for (job *j = q->head; j; j = j->next)
        kept += finished(j) && j->taken;
    for (job **pp = &q->head; *pp && kept > KEEP_FINISHED;) {
        job *j = *pp;
        if (finished(j) && j->taken) {
            *pp = j->next;
            job_free(j);
            kept--;
        } else {
            pp = &j->next;
        }
    }
}

static job *next_queued(ls_jobs *q)
{
    for (job *j = q->head; j; j = j->next)
        if (j->info.state == LS_JOB_QUEUED)
            return j;
    return NULL;
}

static void *worker_main(void *vq)
{
    ls_jobs *q = vq;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        job *j;
        while (!q->stop && !(j = next_queued(q)))
            pthread_cond_wait(&q->wake, &q->mu);
        if (q->stop)
            break;
        j->info.state = LS_JOB_RUNNING;
        j->t_start = ls_seconds_now();
        q->gen++;
        pthread_mutex_unlock(&q->mu);

        ls_error err = {{0}};
        void *result = NULL;
        int rc = j->fn(j->arg, &j->progress, &result, &err);
        bool cancelled = ls_progress_cancelled(&j->progress);

        pthread_mutex_lock(&q->mu);
        j->info.elapsed = ls_seconds_now() - j->t_start;
        j->result = result; /* partial work of a failed or cancelled job is handed back too */
        if (rc == 0 && !cancelled) {
            j->info.state = LS_JOB_DONE;
        } else {
            j->info.state = cancelled ? LS_JOB_CANCELLED : LS_JOB_FAILED;
            snprintf(j->info.error, sizeof j->info.error, "%s",
                     cancelled ? "cancelled" : (err.msg[0] ? err.msg : "failed"));
        }
        q->gen++;
        pthread_cond_broadcast(&q->idle);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

ls_jobs *ls_jobs_new(ls_error *err)
{
    ls_jobs *q = calloc(1, sizeof *q);
    if (!q) {
        ls_fail(err, "jobs: out of memory");
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->wake, NULL);
    pthread_cond_init(&q->idle, NULL);
    q->next_id = 1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&q->worker, NULL, worker_main, q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&q->wake);
        pthread_cond_destroy(&q->idle);
        pthread_mutex_destroy(&q->mu);
        free(q);
        ls_fail(err, "jobs: cannot start the worker thread");
        return NULL;
    }
    return q;
}

void ls_jobs_cancel_all(ls_jobs *q)
{
    pthread_mutex_lock(&q->mu);
    for (job *j = q->head; j; j = j->next) {
        if (j->info.state == LS_JOB_QUEUED) {
            j->info.state = LS_JOB_CANCELLED;
            snprintf(j->info.error, sizeof j->info.error, "cancelled");
        } else if (j->info.state == LS_JOB_RUNNING) {
            ls_progress_cancel(&j->progress);
        }
    }
    q->gen++;
    pthread_cond_broadcast(&q->idle);
    pthread_mutex_unlock(&q->mu);
}

void ls_jobs_free(ls_jobs *q)
{
    if (!q)
        return;
    ls_jobs_cancel_all(q);
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->worker, NULL); /* a running job sees its cancel flag and unwinds */
    for (job *j = q->head; j;) {
        job *n = j->next;
        job_free(j);
        j = n;
    }
    pthread_cond_destroy(&q->wake);
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static void cancel_locked(ls_jobs *q, job *j)
{
    if (j->info.state == LS_JOB_QUEUED) {
        j->info.state = LS_JOB_CANCELLED;
        snprintf(j->info.error, sizeof j->info.error, "cancelled");
        pthread_cond_broadcast(&q->idle);
    } else if (j->info.state == LS_JOB_RUNNING) {
        ls_progress_cancel(&j->progress);
    }
    q->gen++;
}

int ls_jobs_submit(ls_jobs *q, int kind, const char *name, ls_job_fn fn, void *arg,
                   ls_job_free_fn free_arg, ls_job_free_fn free_result)
{
    job *j = calloc(1, sizeof *j);
    if (!j) {
        if (free_arg && arg)
            free_arg(arg);
        return -1;
    }
    ls_progress_init(&j->progress);
    j->fn = fn;
    j->arg = arg;
    j->free_arg = free_arg;
    j->free_result = free_result;
    j->info.kind = kind;
    j->info.eta = -1;
    snprintf(j->info.name, sizeof j->info.name, "%s", name);
    pthread_mutex_lock(&q->mu);
    for (job *o = q->head; o; o = o->next) /* latest wins */
        if (o->info.kind == kind && !finished(o))
            cancel_locked(q, o);
    j->info.id = q->next_id++;
    job **pp = &q->head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = j;
    prune(q);
    q->gen++;
    pthread_cond_broadcast(&q->wake);
    int id = j->info.id;
    pthread_mutex_unlock(&q->mu);
    return id;
}

void ls_jobs_cancel(ls_jobs *q, int id)
{
    pthread_mutex_lock(&q->mu);
    for (job *j = q->head; j; j = j->next)
        if (j->info.id == id)
            cancel_locked(q, j);
    pthread_mutex_unlock(&q->mu);
}

static void copy_info(const job *j, ls_job_info *out, double now)
{
    *out = j->info;
    ls_progress_read((ls_progress *)&j->progress, &out->progress);
    if (j->info.state == LS_JOB_RUNNING) {
        out->elapsed = now - j->t_start;
        const ls_progress_snapshot *p = &out->progress;
        if (p->done > 0 && p->total > p->done)
            out->eta = out->elapsed / (double)p->done * (double)(p->total - p->done);
        else if (p->total > 0 && p->done >= p->total)
            out->eta = 0;
    }
}

int ls_jobs_list(ls_jobs *q, ls_job_info *out, int cap)
{
    int n = 0;
    double now = ls_seconds_now();
    pthread_mutex_lock(&q->mu);
    for (job *j = q->head; j && n < cap; j = j->next)
        if (!finished(j))
            copy_info(j, &out[n++], now);
    /* finished ones, newest first: walk the list and keep the tail */
    job *fin[64];
    int nf = 0;
    for (job *j = q->head; j; j = j->next)
        if (finished(j) && nf < 64)
            fin[nf++] = j;
    for (int i = nf - 1; i >= 0 && n < cap; i--)
        copy_info(fin[i], &out[n++], now);
    pthread_mutex_unlock(&q->mu);
    return n;
}

int ls_jobs_active(ls_jobs *q)
{
    int n = 0;
    pthread_mutex_lock(&q->mu);
    for (job *j = q->head; j; j = j->next)
        n += !finished(j);
    pthread_mutex_unlock(&q->mu);
    return n;
}

uint64_t ls_jobs_gen(ls_jobs *q)
{
    uint64_t g;
    pthread_mutex_lock(&q->mu);
    g = q->gen;
    for (job *j = q->head; j; j = j->next)
        if (j->info.state == LS_JOB_RUNNING) {
            ls_progress_snapshot s;
            ls_progress_read(&j->progress, &s);
            g += s.gen;
        }
    pthread_mutex_unlock(&q->mu);
    return g;
}

bool ls_jobs_take(ls_jobs *q, ls_job_info *info, void **result)
{
    bool found = false;
    pthread_mutex_lock(&q->mu);
    for (job *j = q->head; j; j = j->next)
        if (finished(j) && !j->taken) {
            copy_info(j, info, ls_seconds_now());
            *result = j->result;
            j->result = NULL; /* ownership moves to the caller */
            j->taken = true;
            found = true;
            break;
        }
    if (found)
        prune(q);
    pthread_mutex_unlock(&q->mu);
    return found;
}

void ls_jobs_wait_idle(ls_jobs *q)
{
    pthread_mutex_lock(&q->mu);
    for (;;) {
        bool busy = false;
        for (job *j = q->head; j; j = j->next)
            busy |= !finished(j);
        if (!busy)
            break;
        pthread_cond_wait(&q->idle, &q->mu);
    }
    pthread_mutex_unlock(&q->mu);
}
