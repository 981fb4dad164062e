#include "base/bigalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)
#define POOLED_MIN (2 * HUGE_PAGE) /* smaller buffers come and go through malloc */
#define KEEP_MAX ((size_t)2 << 30)
#define MAX_BLOCKS 64 /* large buffers tracked at once; more are plain allocations */

typedef struct block {
    void *p;
    size_t size;           /* rounded, as allocated */
    bool busy;             /* handed out; otherwise kept for reuse */
    unsigned long released; /* when it was last given back (for least recently used) */
} block;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static block pool[MAX_BLOCKS];
static int n_pool;
static size_t kept_bytes;
static unsigned long pool_clock;

static size_t keep_limit;
static pthread_once_t keep_limit_once = PTHREAD_ONCE_INIT;

static void compute_keep_limit(void)
{
    keep_limit = KEEP_MAX;
#ifdef __SANITIZE_ADDRESS__
    keep_limit = 0; /* under ASan every release is a real free, so a use after it is caught */
    return;
#endif
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && (size_t)pages / 8 < SIZE_MAX / (size_t)page) {
        size_t eighth = (size_t)pages / 8 * (size_t)page;
        keep_limit = eighth < keep_limit ? eighth : keep_limit;
    }
}

size_t ls_big_keep_limit(void)
{
    pthread_once(&keep_limit_once, compute_keep_limit);
    return keep_limit;
}

/* Frees the kept block released longest ago; false when none is kept. Caller holds the
 * lock. */
static bool drop_oldest(void)
{
    int oldest = -1;
    for (int i = 0; i < n_pool; i++)
        if (!pool[i].busy && (oldest < 0 || pool[i].released < pool[oldest].released))
            oldest = i;
    if (oldest < 0)
        return false;
    free(pool[oldest].p);
    kept_bytes -= pool[oldest].size;
    pool[oldest] = pool[--n_pool];
    return true;
}

void *ls_alloc_big(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    size_t align = bytes >= POOLED_MIN ? HUGE_PAGE : 64;
    if (bytes > SIZE_MAX - align)
        return NULL;
    size_t size = (bytes + align - 1) / align * align; /* aligned_alloc wants a multiple */
    if (align != HUGE_PAGE)
        return aligned_alloc(align, size);
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < n_pool; i++) {
        if (!pool[i].busy && pool[i].size == size) {
            pool[i].busy = true;
            kept_bytes -= size;
            void *p = pool[i].p;
            pthread_mutex_unlock(&pool_lock);
            return p;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    void *p = aligned_alloc(align, size);
    if (!p) { /* the kept buffers may be what is missing */
        ls_big_trim();
        p = aligned_alloc(align, size);
    }
    if (!p)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, size, MADV_HUGEPAGE); /* advice only: failure changes nothing */
#endif
    pthread_mutex_lock(&pool_lock);
    if (n_pool == MAX_BLOCKS)
        (void)drop_oldest(); /* a kept block makes room in the table, if there is one */
    if (n_pool < MAX_BLOCKS)
        pool[n_pool++] = (block){p, size, true, 0};
    pthread_mutex_unlock(&pool_lock);
    return p;
}

void ls_free_big(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&pool_lock);
    for (int i = 0; i < n_pool; i++) {
        if (pool[i].p != p)
            continue;
        pool[i].busy = false;
        pool[i].released = ++pool_clock;
        kept_bytes += pool[i].size;
        size_t limit = ls_big_keep_limit();
        while (kept_bytes > limit && drop_oldest())
            ;
        pthread_mutex_unlock(&pool_lock);
        return;
    }
    pthread_mutex_unlock(&pool_lock);
    free(p); /* small, or allocated while the table was full */
}

void ls_big_trim(void)
{
    pthread_mutex_lock(&pool_lock);
    while (drop_oldest())
        ;
    pthread_mutex_unlock(&pool_lock);
}

size_t ls_big_kept(void)
{
    pthread_mutex_lock(&pool_lock);
    size_t k = kept_bytes;
    pthread_mutex_unlock(&pool_lock);
    return k;
}
