/* Progress and cancel for long core work. The worker calls ls_progress_tick at safe points;
 * the UI copies the record under the lock each tick. All functions accept NULL. */
#ifndef LS_PROGRESS_H
#define LS_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ls_progress {
    atomic_int cancel;   /* set by anyone; checked by the worker */
    pthread_mutex_t mu;  /* guards the fields below */
    int64_t done, total; /* units of work */
    char what[96];       /* what is being worked on now */
    uint64_t gen;        /* bumped on every update, so readers redraw only on change */
    /* phases of one job (ls_progress_phase): ticks inside a phase map onto one overall
     * scale, so a job of several steps shows one progress and one ETA */
    int64_t phase_start, phase_weight, phase_total; /* phase_total 0: no phases */
    int phase_index, phase_count;
} ls_progress;

void ls_progress_init(ls_progress *p);
void ls_progress_destroy(ls_progress *p);
/* Publishes progress; returns true when cancellation was requested. */
bool ls_progress_tick(ls_progress *p, int64_t done, int64_t total, const char *what);
bool ls_progress_cancelled(ls_progress *p);

/* Phases: a job made of steps (P: fp, quantize base, base, quantize current, current)
 * declares the overall weight, then each step's start and weight on that scale; ticks
 * within a step (any units) are mapped onto it. The overall ETA then assumes the
 * remaining steps cost what their weights say. total_weight 0 turns phases off. */
void ls_progress_phases(ls_progress *p, int64_t total_weight, int count);
void ls_progress_phase(ls_progress *p, int index, int64_t start, int64_t weight);
void ls_progress_cancel(ls_progress *p);

/* A consistent copy of the record. */
typedef struct ls_progress_snapshot {
    int64_t done, total;
    char what[96];
    uint64_t gen;
    int phase_index, phase_count; /* 1-based step of count; count 0: no phases */
} ls_progress_snapshot;
void ls_progress_read(ls_progress *p, ls_progress_snapshot *out);

#endif
