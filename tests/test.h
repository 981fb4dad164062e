/* A plain test runner: each test binary ends with "N passed, N failed, N skipped".
 * A test counts as failed if any CHECK in it failed, skipped if it called SKIP(). */
#ifndef LS_TEST_H
#define LS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int t_passed, t_failed, t_skipped;
static int t_cur_failed, t_cur_skipped;
static char t_skip_reason[512];

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
            t_cur_failed++;                                                             \
        }                                                                               \
    } while (0)

/* Relative-or-absolute closeness; prints both values and the difference on failure. */
#define CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                \
        double t_a_ = (double)(a), t_b_ = (double)(b), t_tol_ = (double)(tol);          \
        double t_d_ = fabs(t_a_ - t_b_);                                                \
        double t_s_ = fmax(1.0, fmax(fabs(t_a_), fabs(t_b_)));                          \
        if (!(t_d_ <= t_tol_ * t_s_)) {                                                 \
            fprintf(stderr, "  %s:%d: CHECK_NEAR failed: %s = %.17g, %s = %.17g, "     \
                    "diff %.3g > tol %.3g\n", __FILE__, __LINE__, #a, t_a_, #b, t_b_,   \
                    t_d_, t_tol_);                                                      \
            t_cur_failed++;                                                             \
        }                                                                               \
    } while (0)

/* Strictly relative closeness (for values far from 1). */
#define CHECK_REL(a, b, tol)                                                            \
    do {                                                                                \
        double t_a_ = (double)(a), t_b_ = (double)(b), t_tol_ = (double)(tol);          \
        double t_d_ = fabs(t_a_ - t_b_);                                                \
        if (!(t_d_ <= t_tol_ * fabs(t_b_))) {                                           \
            fprintf(stderr, "  %s:%d: CHECK_REL failed: %s = %.17g, %s = %.17g, "      \
                    "rel diff %.3g > tol %.3g\n", __FILE__, __LINE__, #a, t_a_, #b,    \
                    t_b_, t_b_ != 0 ? t_d_ / fabs(t_b_) : t_d_, t_tol_);                \
            t_cur_failed++;                                                             \
        }                                                                               \
    } while (0)

#define CHECK_STR(a, b)                                                                 \
    do {                                                                                \
        const char *t_a_ = (a), *t_b_ = (b);                                            \
        if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) {                                \
            fprintf(stderr, "  %s:%d: CHECK_STR failed: %s = \"%s\", expected \"%s\"\n",  \
                    __FILE__, __LINE__, #a, t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); \
            t_cur_failed++;                                                             \
        }                                                                               \
    } while (0)

/* Marks the current test skipped (printing why) and returns from it. */
#define SKIP(...)                                                                       \
    do {                                                                                \
        snprintf(t_skip_reason, sizeof t_skip_reason, __VA_ARGS__);                     \
        t_cur_skipped = 1;                                                              \
        return;                                                                         \
    } while (0)

#define RUN(fn) t_run(#fn, fn)

static inline void t_run(const char *name, void (*fn)(void))
{
    t_cur_failed = 0;
    t_cur_skipped = 0;
    fn();
    if (t_cur_failed) {
        t_failed++;
        printf("FAIL %s\n", name);
    } else if (t_cur_skipped) {
        t_skipped++;
        printf("SKIP %s: %s\n", name, t_skip_reason);
    } else {
        t_passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

static inline int t_summary(void)
{
    printf("%d passed, %d failed, %d skipped\n", t_passed, t_failed, t_skipped);
    return t_failed ? 1 : 0;
}

/* Path of a file under ../shared (or $LAYERSCOPE_SHARED); NULL when it does not exist.
 * The returned buffer is static: copy it if two are needed at once. */
static inline const char *t_shared(const char *rel)
{
    static char buf[8][1024]; /* rotating, so several paths can be held at once */
    static int which;
    const char *root = getenv("LAYERSCOPE_SHARED");
    if (!root || !*root)
        root = "../shared";
    which = (which + 1) % 8;
    snprintf(buf[which], sizeof buf[which], "%s/%s", root, rel);
    struct stat st;
    return stat(buf[which], &st) == 0 ? buf[which] : NULL;
}

/* Skips the current test unless ../shared/<rel> exists; sets var to its path. */
#define NEED_SHARED(var, rel)                                                           \
    const char *var = t_shared(rel);                                                    \
    if (!var)                                                                           \
        SKIP("../shared/%s not found", rel)

/* A fresh scratch directory under build/tmp for one test. */
static inline const char *t_tmpdir(const char *name)
{
    static char buf[2][512];
    static int which;
    which ^= 1;
    mkdir("build", 0777);
    mkdir("build/tmp", 0777);
    snprintf(buf[which], sizeof buf[which], "build/tmp/%s", name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", buf[which]);
    if (system(cmd) != 0)
        return NULL;
    mkdir(buf[which], 0777);
    return buf[which];
}

#endif
