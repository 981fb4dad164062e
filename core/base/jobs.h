/* Background jobs: one worker thread runs submitted jobs one at a time (BLAS already
 * threads inside each call; two compute jobs at once would only double the memory peak).
 * The UI thread submits, polls copied status records and takes finished results by
 * pointer; it never waits on the worker. A new job of the same kind cancels the stale one.
 * Jobs get their own ls_progress, whose cancel flag the job function must honour. */
#ifndef LS_JOBS_H
#define LS_JOBS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "base/progress.h"

typedef enum ls_job_state {
    LS_JOB_QUEUED,
    LS_JOB_RUNNING,
    LS_JOB_DONE,
    LS_JOB_FAILED,
    LS_JOB_CANCELLED
} ls_job_state;

const char *ls_job_state_name(ls_job_state s); /* "queued" "running" "done" ... */

/* Runs on the worker. Returns 0 and sets *result (ownership moves to whoever takes it), or
 * -1 with err set (a cancelled job returns -1 too; the queue tells the two apart). A job
 * that fails or is cancelled may still set *result to hand back partial work (e.g. a
 * quantized model whose finished modules stay reusable); the taker gets it as usual. */
typedef int (*ls_job_fn)(void *arg, ls_progress *progress, void **result, ls_error *err);
typedef void (*ls_job_free_fn)(void *p);

typedef struct ls_job_info {
    int id, kind;
    char name[48];
    ls_job_state state;
    ls_progress_snapshot progress;
    double elapsed; /* seconds since it started (final once finished) */
    double eta;     /* seconds left, < 0 when unknown */
    char error[LS_ERROR_MSG_MAX];
} ls_job_info;

typedef struct ls_jobs ls_jobs;

/* Starts the worker with async signals blocked, so SIGINT/SIGWINCH reach the UI thread. */
ls_jobs *ls_jobs_new(ls_error *err);
/* Cancels everything, joins the worker, frees arguments and results nobody took. */
void ls_jobs_free(ls_jobs *q);

/* Queues fn(arg). free_arg (may be NULL) is called once the job is over; free_result frees
 * a result that is never taken. Returns the job id (> 0) or -1. */
int ls_jobs_submit(ls_jobs *q, int kind, const char *name, ls_job_fn fn, void *arg,
                   ls_job_free_fn free_arg, ls_job_free_fn free_result);

/* A queued job is dropped at once; a running one is asked to stop. No-op when finished. */
void ls_jobs_cancel(ls_jobs *q, int id);
void ls_jobs_cancel_all(ls_jobs *q);

/* Copies the status of active jobs, then the most recent finished ones (newest first),
 * at most cap records. Returns the count. */
int ls_jobs_list(ls_jobs *q, ls_job_info *out, int cap);

/* Number of queued or running jobs. */
int ls_jobs_active(ls_jobs *q);

/* Changes whenever any job's state or progress changes (redraw only then). */
uint64_t ls_jobs_gen(ls_jobs *q);

/* Takes the oldest finished job not yet taken: its status, and its result (owned by the
 * caller from now on; NULL when the job set none). Returns false when there is none. */
bool ls_jobs_take(ls_jobs *q, ls_job_info *info, void **result);

/* Blocks until no job is queued or running (for tests and scripted runs). */
void ls_jobs_wait_idle(ls_jobs *q);

#endif
