/* HQQ speed benchmark (run by `make bench` via tests/bench.sh, never as a test).
 *
 * For a 4096x4096 and an 11008x4096 matrix (synthetic, LLaMA-like weights), at b4g64 and
 * b3g128, axis 0 with the optimizer (the paper's model config incl. metadata), it prints
 * ns per weight with 1 and 2 threads and the speed-up; then runs tests/bench_hqq_ref.py
 * (a straightforward numpy implementation of the reference algorithm) on the same matrix,
 * written to a temp file, and prints the ratio. Without python3+numpy that column is
 * skipped with a note.
 *
 * On 4096x4096 it also runs the exact (reference-order, single-thread) path once and prints
 * the relative Frobenius spread between the fast and exact results.
 *
 * Usage: bench_hqq [--quick] [--no-numpy] [--no-spread] [--python PATH]
 *   --quick: only 4096x4096 (the numpy column on the first config only).
 * Timings are the best of several runs, 1 and 2 threads interleaved; the numpy column is
 * one run (it is ~100x slower). Total runtime about 2 minutes. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quant/hqq.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Roughly Gaussian weights (std ~0.02) with rare large outliers, like a trained layer. */
static float *make_matrix(int64_t rows, int64_t cols)
{
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    if (!w)
        return NULL;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int64_t i = 0; i < rows * cols; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        float a = (float)((s & 0xffff) + ((s >> 16) & 0xffff) + ((s >> 32) & 0xffff) +
                          ((s >> 48) & 0xffff)) / 65536.0f - 2.0f;
        w[i] = a * 0.03f * (((s >> 40) & 0x3ff) == 0 ? 10.0f : 1.0f);
    }
    return w;
}

/* One timed run: seconds, and the iteration count / Frobenius error. */
static double time_once(const float *w, int64_t rows, int64_t cols, const ls_hqq_cfg *c,
                        int threads, int *iters, double *fro)
{
    ls_hqq_result res;
    ls_error err;
    double t0 = now();
    if (ls_hqq_quantize("bench", w, rows, cols, c, threads, &res, &err) < 0) {
        fprintf(stderr, "bench_hqq: %s\n", err.msg);
        return -1;
    }
    double t = now() - t0;
    *iters = res.iterations;
    if (fro)
        ls_hqq_error(w, &res, fro, NULL);
    ls_hqq_free(&res);
    return t;
}

/* Best of `reps` runs each with 1 and 2 threads, interleaved so that load from other
 * processes hits both alike. Returns -1 on error. */
static int time_pair(const float *w, int64_t rows, int64_t cols, const ls_hqq_cfg *c,
                     int reps, double *t1, double *t2, int *it1, int *it2, double *fro)
{
    *t1 = *t2 = 1e30;
    for (int r = 0; r < reps; r++) {
        double a = time_once(w, rows, cols, c, 1, it1, r == 0 ? fro : NULL);
        double b = time_once(w, rows, cols, c, 2, it2, NULL);
        if (a < 0 || b < 0)
            return -1;
        *t1 = a < *t1 ? a : *t1;
        *t2 = b < *t2 ? b : *t2;
    }
    return 0;
}

/* Prints the 1-minute load average and the CPU count: on a shared machine the 2-thread
 * figure only means something when the load is well below the CPU count. */
static void print_load(const char *when)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l1 = -1;
    if (f) {
        if (fscanf(f, "%lf", &l1) != 1)
            l1 = -1;
        fclose(f);
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (l1 >= 0)
        printf("load average %s: %.2f on %ld CPUs%s\n", when, l1, cpus,
               l1 > (double)cpus - 1.0 ? " (busy: the 2-thread speed-up is not meaningful)"
                                       : "");
}

static const char *find_python(const char *forced)
{
    static const char *cands[] = {"/usr/bin/python3", "python3"};
    static char chosen[256];
    for (size_t i = 0; i < 2; i++) {
        const char *p = forced ? forced : cands[i];
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s -c 'import numpy' >/dev/null 2>&1", p);
        if (system(cmd) == 0) {
            snprintf(chosen, sizeof chosen, "%s", p);
            return chosen;
        }
        if (forced)
            break;
    }
    return NULL;
}

static const char *script_path(void)
{
    static const char *cands[] = {"tests/bench_hqq_ref.py", "../tests/bench_hqq_ref.py"};
    for (size_t i = 0; i < 2; i++)
        if (access(cands[i], R_OK) == 0)
            return cands[i];
    return NULL;
}

/* Runs the numpy reference on w; returns its seconds (-1 on failure). */
static double run_numpy(const char *py, const char *script, const float *w, int64_t rows,
                        int64_t cols, const ls_hqq_cfg *c, int *iters, double *fro)
{
    char path[] = "/tmp/bench_hqq_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "wb");
    size_t n = (size_t)(rows * cols);
    bool ok = f && fwrite(w, sizeof *w, n, f) == n;
    if (f)
        fclose(f);
    double secs = -1;
    if (ok) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 %s %s %s %lld "
                 "%lld %d %d %d", py, script, path, (long long)rows, (long long)cols,
                 c->nbits, c->group_size, c->round_zero ? 1 : 0);
        FILE *p = popen(cmd, "r");
        if (p) {
            char line[256];
            while (fgets(line, sizeof line, p))
                if (sscanf(line, "seconds %lf iters %d fro %lf", &secs, iters, fro) == 3)
                    break;
            if (pclose(p) != 0)
                secs = -1;
        }
    }
    unlink(path);
    return secs;
}

int main(int argc, char **argv)
{
    bool quick = false, numpy = true, spread = true;
    const char *forced_py = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--no-numpy"))
            numpy = false;
        else if (!strcmp(argv[i], "--no-spread"))
            spread = false;
        else if (!strcmp(argv[i], "--python") && i + 1 < argc)
            forced_py = argv[++i];
        else {
            fprintf(stderr, "usage: bench_hqq [--quick] [--no-numpy] [--no-spread] "
                    "[--python PATH]\n");
            return 2;
        }
    }
    const char *py = numpy ? find_python(forced_py) : NULL, *script = script_path();
    if (numpy && (!py || !script))
        printf("numpy reference: skipped (%s)\n",
               !script ? "tests/bench_hqq_ref.py not found" : "python3 with numpy not found");
    const int64_t shapes[2][2] = {{4096, 4096}, {11008, 4096}};
    const int cfgs[2][2] = {{4, 64}, {3, 128}};
    print_load("at start");
    printf("HQQ fast path, axis 0, optimizer + metadata (paper config); best of runs\n");
    printf("%-12s %-7s %5s %11s %11s %8s %12s %8s\n", "matrix", "config", "iters",
           "1 thr ns/w", "2 thr ns/w", "speedup", "numpy ns/w", "ratio");
    int ok = 1;
    for (int si = 0; si < (quick ? 1 : 2); si++) {
        int64_t rows = shapes[si][0], cols = shapes[si][1], n = rows * cols;
        float *w = make_matrix(rows, cols);
        if (!w) {
            fprintf(stderr, "bench_hqq: out of memory\n");
            return 1;
        }
        for (int ci = 0; ci < 2; ci++) {
            ls_hqq_cfg c;
            ls_hqq_cfg_default(&c, cfgs[ci][0], cfgs[ci][1]);
            int it1, it2, itn = 0;
            double f1, fn = 0;
            double t1, t2;
            if (time_pair(w, rows, cols, &c, si == 0 ? 7 : 4, &t1, &t2, &it1, &it2, &f1) < 0)
                return 1;
            char mat[32], cfg[16], npcol[16] = "-", ratio[16] = "-";
            snprintf(mat, sizeof mat, "%lldx%lld", (long long)rows, (long long)cols);
            snprintf(cfg, sizeof cfg, "b%dg%d", c.nbits, c.group_size);
            double ns1 = 1e9 * t1 / (double)n, ns2 = 1e9 * t2 / (double)n;
            /* numpy: ~10 s (4096^2) and ~30 s (11008x4096) per config */
            if (py && script && (!quick || ci == 0)) {
                double tn = run_numpy(py, script, w, rows, cols, &c, &itn, &fn);
                if (tn > 0) {
                    snprintf(npcol, sizeof npcol, "%.1f", 1e9 * tn / (double)n);
                    snprintf(ratio, sizeof ratio, "%.0fx", tn / t1);
                } else {
                    snprintf(npcol, sizeof npcol, "failed");
                }
            }
            printf("%-12s %-7s %5d %11.2f %11.2f %7.2fx %12s %8s\n", mat, cfg, it1, ns1, ns2,
                   t1 / t2, npcol, ratio);
            printf("    (1 thread %.3f s, 2 threads %.3f s; fro %.6g", t1, t2, f1);
            if (itn)
                printf("; numpy %d iters, fro %.6g of weights-only HQQ", itn, fn);
            printf(")\n");
            if (spread && si == 0) {
                ls_hqq_cfg ce = c;
                ce.exact = true;
                int ite;
                double fe;
                double te = time_once(w, rows, cols, &ce, 1, &ite, &fe);
                if (te > 0)
                    printf("    exact path: %.1f ns/w, %d iters, fro %.7g; fast vs exact "
                           "relative Frobenius spread %.2g\n", 1e9 * te / (double)n, ite, fe,
                           fabs(f1 - fe) / fe);
            }
            fflush(stdout);
            ok &= it1 == it2;
        }
        free(w);
    }
    print_load("at end");
    printf("target: <= 20 ns/weight on 1 thread (50x the ~1000 ns/weight PyTorch "
           "reference), 2-thread speed-up >= 1.7\n");
    return ok ? 0 : 1;
}
