#include "base/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256

typedef struct pool_job {
    atomic_llong next;
    int64_t n_tasks;
    ls_task_fn fn;
    void *ctx;
} pool_job;

static void *worker(void *arg)
{
    pool_job *job = arg;
    for (;;) {
        int64_t t = atomic_fetch_add(&job->next, 1);
        if (t >= job->n_tasks)
            break;
        job->fn(job->ctx, t);
    }
    return NULL;
}

int ls_parallel_for(int64_t n_tasks, int threads, ls_task_fn fn, void *ctx)
{
    if (threads < 1)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    if (threads > n_tasks)
        threads = (int)(n_tasks > 0 ? n_tasks : 1);
    pool_job job;
    atomic_init(&job.next, 0);
    job.n_tasks = n_tasks;
    job.fn = fn;
    job.ctx = ctx;
    pthread_t tid[MAX_THREADS];
    int started = 0, rc = 0;
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&tid[started], NULL, worker, &job) != 0) {
            rc = -1;
            break;
        }
        started++;
    }
    worker(&job);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    return rc;
}

int ls_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
