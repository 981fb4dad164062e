#include "base/bigalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

void *ls_alloc_big(size_t bytes)
{
    if (bytes == 0)
        return NULL;
    size_t align = bytes >= 2 * HUGE_PAGE ? HUGE_PAGE : 64;
    if (bytes > SIZE_MAX - align)
        return NULL;
    size_t size = (bytes + align - 1) / align * align; /* aligned_alloc wants a multiple */
    void *p = aligned_alloc(align, size);
#ifdef MADV_HUGEPAGE
    if (p && align == HUGE_PAGE)
        (void)madvise(p, size, MADV_HUGEPAGE); /* advice only: failure changes nothing */
#endif
    return p;
}
