/* Large working buffers (activations, weight blocks, logits): memory the evaluation
 * touches once per run and then reuses. With 4 KiB pages their first touch was a page
 * fault per 4 KiB, about a sixth of a bf16 evaluation's time on the bench model (perf).
 * Buffers of 4 MiB and more are aligned to 2 MiB and advised as transparent huge pages
 * (MADV_HUGEPAGE; a no-op where THP is off), so one fault maps 2 MiB. Smaller ones are
 * aligned to 64 bytes. Either way the result is released with free(). */
#ifndef LS_BIGALLOC_H
#define LS_BIGALLOC_H

#include <stddef.h>

void *ls_alloc_big(size_t bytes); /* NULL when out of memory (or bytes is 0) */

#endif
