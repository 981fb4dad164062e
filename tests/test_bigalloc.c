/* core/base/bigalloc: large buffers released are kept and handed out again to a request of
 * the same size (an evaluation's second run writes into mapped memory), within the keep
 * limit, oldest dropped first, never for another size; small ones are plain heap memory. */
#include "test.h"

#include <stdint.h>
#include <string.h>

#include "base/bigalloc.h"

#define MiB ((size_t)1 << 20)

static void test_reuse_same_size(void)
{
    ls_big_trim();
    if (ls_big_keep_limit() == 0) { /* AddressSanitizer: every release is a real free */
        char *p = ls_alloc_big(24 * MiB);
        CHECK(p != NULL);
        ls_free_big(p);
        CHECK(ls_big_kept() == 0);
        return;
    }
    CHECK(ls_big_keep_limit() >= 64 * MiB);
    char *a = ls_alloc_big(24 * MiB);
    CHECK(a != NULL);
    CHECK((uintptr_t)a % (2 * MiB) == 0); /* huge-page aligned */
    memset(a, 1, 24 * MiB);
    CHECK(ls_big_kept() == 0);
    ls_free_big(a);
    CHECK(ls_big_kept() == 24 * MiB);
    char *other = ls_alloc_big(10 * MiB); /* another size: not the kept one */
    CHECK(other != NULL && other != a);
    char *b = ls_alloc_big(24 * MiB - 100); /* rounds to the same size: the kept one */
    CHECK(b == a);
    CHECK(ls_big_kept() == 0);
    ls_free_big(b);
    ls_free_big(other);
    CHECK(ls_big_kept() == 34 * MiB);
    ls_big_trim();
    CHECK(ls_big_kept() == 0);
}

static void test_limit_drops_oldest(void)
{
    ls_big_trim();
    size_t limit = ls_big_keep_limit();
    if (limit == 0)
        return; /* nothing is kept (test_reuse_same_size checked it) */
    /* three buffers that together pass the limit: the first released is dropped */
    size_t part = (limit / 2 / (2 * MiB) + 1) * (2 * MiB);
    char *a = ls_alloc_big(part), *b = ls_alloc_big(part), *c = ls_alloc_big(4 * MiB);
    CHECK(a && b && c);
    ls_free_big(a);
    ls_free_big(c);
    CHECK(ls_big_kept() == part + 4 * MiB);
    ls_free_big(b); /* 2 * part + 4 MiB > limit: a, the oldest, goes */
    CHECK(ls_big_kept() == part + 4 * MiB);
    CHECK(ls_big_kept() <= limit);
    ls_big_trim();
}

static void test_small_and_null(void)
{
    CHECK(ls_alloc_big(0) == NULL);
    ls_free_big(NULL);
    char *s = ls_alloc_big(1000);
    CHECK(s != NULL && (uintptr_t)s % 64 == 0);
    memset(s, 2, 1000);
    size_t before = ls_big_kept();
    ls_free_big(s); /* small: freed, never kept */
    CHECK(ls_big_kept() == before);
    CHECK(ls_alloc_big(SIZE_MAX - 10) == NULL);
}

int main(void)
{
    RUN(test_reuse_same_size);
    RUN(test_limit_drops_oldest);
    RUN(test_small_and_null);
    return t_summary();
}
