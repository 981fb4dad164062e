/* make bench: peak resident memory of the kurtosis pass over a multi-GB model, against the
 * file's size and against a peer in the same run that reads every tensor the way the pass
 * did before it released finished tensors (all pages stay resident).
 *
 *   bench_rss MODEL     (tests/bench.sh generates build/bench/rss-1b.gguf with
 *                        layerscope-mkmodel --preset 1b --format gguf when missing)
 *
 * Each variant runs in its own child process; its peak RSS is the child's ru_maxrss
 * (VmHWM), so one variant's pages never count for the other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/parallel.h"
#include "formats/model.h"
#include "method/kurtosis.h"
#include "method/profile.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Child: 0 = the kurtosis pass (releases finished tensors), 1 = the peer (every tensor
 * read, nothing released). Writes the seconds taken to fd. */
static int child(const char *path, int variant, int fd)
{
    ls_model *m;
    ls_error err;
    if (ls_model_open(path, NULL, &m, &err) < 0) {
        fprintf(stderr, "bench_rss: %s\n", err.msg);
        return 1;
    }
    double t0 = now();
    int rc = 0;
    if (variant == 0) {
        ls_profile *p = ls_profile_from_model(m, &err);
        rc = p && ls_kurtosis_model(m, ls_cpu_count(), NULL, p, &err) == 0 ? 0 : 1;
        ls_profile_free(p);
    } else {
        volatile unsigned sink = 0;
        for (int l = 0; l < m->cfg.n_layers; l++)
            for (int mod = 0; mod < LS_N_MODULES; mod++) {
                const ls_tensor *t = ls_model_linear(m, l, mod);
                if (!t)
                    continue;
                ls_kurtosis_result r;
                ls_kurtosis_data(t->data, t->dtype, t->n_elems, ls_cpu_count(), &r);
                sink += (unsigned)r.n_finite;
            }
        (void)sink;
    }
    double dt = now() - t0;
    if (write(fd, &dt, sizeof dt) != (ssize_t)sizeof dt)
        rc = 1;
    ls_model_free(m);
    return rc;
}

static int run(const char *path, int variant, long *maxrss_kib, double *secs)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        _exit(child(path, variant, pfd[1]));
    }
    close(pfd[1]);
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || read(pfd[0], secs, sizeof *secs) != (ssize_t)sizeof *secs) {
        close(pfd[0]);
        return -1;
    }
    close(pfd[0]);
    *maxrss_kib = ru.ru_maxrss;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_rss MODEL\n");
        return 2;
    }
    struct stat st;
    if (stat(argv[1], &st) != 0) {
        printf("SKIP bench_rss: %s not found\n", argv[1]);
        return 0;
    }
    double file_mib = (double)st.st_size / 1048576.0;
    long rss_pass, rss_peer;
    double t_pass, t_peer;
    if (run(argv[1], 0, &rss_pass, &t_pass) < 0 || run(argv[1], 1, &rss_peer, &t_peer) < 0) {
        fprintf(stderr, "bench_rss: a child failed\n");
        return 1;
    }
    printf("kurtosis peak RSS on %s (%.0f MiB file):\n", argv[1], file_mib);
    printf("  kurtosis pass (finished tensors released): %8.1f MiB = %5.1f %% of the file, "
           "%.2f s\n", rss_pass / 1024.0, 100.0 * rss_pass / 1024.0 / file_mib, t_pass);
    printf("  peer, same reads without release:          %8.1f MiB = %5.1f %% of the file, "
           "%.2f s\n", rss_peer / 1024.0, 100.0 * rss_peer / 1024.0 / file_mib, t_peer);
    printf("  ratio peer / pass: %.1fx; target under 10 %% of the file: %s\n",
           (double)rss_peer / (double)rss_pass,
           rss_pass / 1024.0 < 0.10 * file_mib ? "met" : "NOT met");
    return 0;
}
