/* Large working buffers (activations, weight blocks, packed weights, logits): memory an
 * evaluation touches once per run and then reuses.
 *
 * First touch is what costs. With 4 KiB pages it was a page fault per 4 KiB, about a sixth
 * of a bf16 evaluation's time on the bench model (perf), so buffers of 4 MiB and more are
 * aligned to 2 MiB and advised as transparent huge pages (MADV_HUGEPAGE; a no-op where THP
 * is off). Even then the kernel zeroes every fresh page, and on a virtual machine that
 * hands freed memory back to its host the zeroing stays near a sixth of the time
 * (clear_page in perf). So released large buffers are kept and handed out again to the
 * next request of the same size: the second evaluation of a model in a process (the
 * explorer's base then current, a quality run, sensitivity, the frontier, the bench's
 * repeats) writes into memory that is already mapped. At most ls_big_keep_limit() bytes
 * are kept; beyond it the buffers released longest ago are freed, and all kept ones are
 * freed before an allocation is allowed to fail. Smaller buffers are 64-byte aligned heap
 * memory.
 * Thread-safe. Release with ls_free_big, never free(). */
#ifndef LS_BIGALLOC_H
#define LS_BIGALLOC_H

#include <stddef.h>

void *ls_alloc_big(size_t bytes); /* NULL when out of memory (or bytes is 0) */
void ls_free_big(void *p);        /* NULL-safe */

/* Gives every kept buffer back to the system now. */
void ls_big_trim(void);

/* Bytes kept at most: 2 GiB, and never more than an eighth of physical memory (none
 * under AddressSanitizer, which then sees every release). */
size_t ls_big_keep_limit(void);
/* Bytes kept right now (tests). */
size_t ls_big_kept(void);

#endif
