/* A minimal parallel-for over pthreads: tasks 0..n-1 are handed out dynamically to up to
 * `threads` workers (the caller's thread included). */
#ifndef LS_PARALLEL_H
#define LS_PARALLEL_H

#include <stdint.h>

typedef void (*ls_task_fn)(void *ctx, int64_t task);

/* Returns 0, or -1 when no thread could be created (then everything ran on the caller). */
int ls_parallel_for(int64_t n_tasks, int threads, ls_task_fn fn, void *ctx);

/* Number of online CPUs (at least 1). */
int ls_cpu_count(void);

#endif
