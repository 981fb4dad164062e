/* Inference speed benchmark (run by `make bench` via tests/bench.sh, never as a test).
 *
 * 1. OpenBLAS sgemm peak (2048^3, best of several) measured in child processes with the
 *    environment as given and with OPENBLAS_CORETYPE=SkylakeX, plus the start-up check
 *    of core/nn/blas_check.h.
 * 2. Evaluation speed of the forward pass, configured as the program runs it (OpenBLAS on
 *    the calling thread, products split over our threads), on a generated model with
 *    TinyLlama-1.1B shapes (dim 2048, hidden 5632, 32/4 heads, vocab 32000, BF16) cut to
 *    a few layers: the llama.cpp protocol over random tokens, tokens per second and
 *    achieved GFLOP/s (useful FLOPs: linear layers, the causal half of attention, the
 *    scored classifier rows) against the sgemm peak of this process.
 * 3. PyTorch on the CPU (tests/bench_infer_torch.py, when python3 can import torch) runs
 *    the same forward on the same weights and tokens in the same run; the ratio is printed.
 * 4. --compute bf16 (when the CPU has AVX512-BF16 or AMX): oneDNN's bf16 matmul peak
 *    (2048^3, plain layouts as the forward pass uses them) measured in this process, the
 *    evaluation in bf16, and PyTorch with weights and activations in bf16 (run on every
 *    CPU, whatever it has).
 *
 * Usage: bench_infer [--layers N] [--chunks N] [--no-torch] [--keep]
 *   (internal: --sgemm-peak prints "PEAK gflops corename") */
#include <cblas.h>
#include <dnnl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nn/blas_check.h"
#include "nn/matmul_bf16.h"
#include "formats/model.h"
#include "model_writer.h"
#include "eval/perplexity.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double sgemm_peak(int n, int reps)
{
    float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4);
    float *c = malloc((size_t)n * n * 4);
    for (int64_t i = 0; i < (int64_t)n * n; i++) {
        a[i] = (float)((i * 7) % 13) * 0.01f;
        b[i] = (float)((i * 5) % 11) * 0.01f;
    }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    free(a), free(b), free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

/* oneDNN bf16 matmul n^3, src [n][n] bf16, weights transposed (strides {1, n}) as the
 * forward pass passes them, dst f32; best of reps, in GFLOP/s. 0 on failure. */
static double bf16_peak(int n, int reps)
{
    dnnl_engine_t eng;
    dnnl_stream_t str;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) || dnnl_stream_create(&str, eng, dnnl_stream_default_flags))
        return 0;
    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_dims_t d = {n, n}, rs = {n, 1}, cs = {1, n};
    dnnl_memory_desc_init_by_strides(&a_md, 2, d, dnnl_bf16, rs);
    dnnl_memory_desc_init_by_strides(&b_md, 2, d, dnnl_bf16, cs);
    dnnl_memory_desc_init_by_strides(&c_md, 2, d, dnnl_f32, rs);
    dnnl_matmul_desc_t md;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    if (dnnl_matmul_desc_init(&md, &a_md, &b_md, NULL, &c_md) ||
        dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL) || dnnl_primitive_create(&prim, pd))
        return 0;
    dnnl_primitive_desc_destroy(pd);
    uint16_t *a = malloc((size_t)n * n * 2), *b = malloc((size_t)n * n * 2);
    float *c = malloc((size_t)n * n * 4);
    for (int64_t i = 0; i < (int64_t)n * n; i++) {
        a[i] = 0x3c00 + (uint16_t)(i % 61); /* values near 0.0078 */
        b[i] = 0x3c00 + (uint16_t)(i % 53);
    }
    dnnl_memory_t am, bm, cm;
    dnnl_memory_create(&am, &a_md, eng, a);
    dnnl_memory_create(&bm, &b_md, eng, b);
    dnnl_memory_create(&cm, &c_md, eng, c);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now();
        dnnl_primitive_execute(prim, str, 3, args);
        dnnl_stream_wait(str);
        double t = now() - t0;
        if (r > 0) /* the first run warms up the OpenMP team */
            best = t < best ? t : best;
    }
    dnnl_memory_destroy(am), dnnl_memory_destroy(bm), dnnl_memory_destroy(cm);
    dnnl_primitive_destroy(prim);
    dnnl_stream_destroy(str);
    dnnl_engine_destroy(eng);
    free(a), free(b), free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}

/* Runs this binary with --sgemm-peak in a child, OPENBLAS_CORETYPE set to coretype (NULL:
 * environment unchanged). */
static int child_peak(const char *self, const char *coretype, double *gflops, char *core,
                      size_t cap)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        if (coretype)
            setenv("OPENBLAS_CORETYPE", coretype, 1);
        execl(self, self, "--sgemm-peak", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    char buf[256] = {0};
    ssize_t n = read(fd[0], buf, sizeof buf - 1);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n <= 0)
        return -1;
    char name[64] = "";
    if (sscanf(buf, "PEAK %lf %63s", gflops, name) != 2)
        return -1;
    snprintf(core, cap, "%s", name);
    return 0;
}

/* Useful FLOPs of the llama.cpp protocol over n_chunks chunks of ctx tokens: the linear
 * layers, attention over the causal triangle (QK and AV), the scored classifier rows. */
static double eval_flops(const ls_config *c, int ctx, int n_chunks)
{
    double hd = c->head_dim, qw = (double)c->n_heads * hd, kw = (double)c->n_kv_heads * hd;
    double lin = c->dim * (qw + 2 * kw) + qw * c->dim + 3.0 * c->dim * c->hidden_dim;
    double pairs = (double)ctx * (ctx + 1) / 2; /* (query, key) pairs with key <= query */
    double att = 2.0 * 2.0 * pairs * hd * c->n_heads;
    double per_chunk = c->n_layers * (2.0 * lin * ctx + att) +
                       2.0 * (ctx - ctx / 2 - 1) * (double)c->vocab_size * c->dim;
    return per_chunk * n_chunks;
}

/* The Python that has Debian's python3-torch: /usr/bin/python3 first (the python3 on PATH
 * may be another installation without Debian's packages). NULL when none imports torch. */
static const char *torch_python(void)
{
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0)
        return "/usr/bin/python3";
    if (system("python3 -c 'import torch' >/dev/null 2>&1") == 0)
        return "python3";
    return NULL;
}

int main(int argc, char **argv)
{
    int layers = 4, chunks = 4;
    bool torch = true, keep = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sgemm-peak") == 0) {
            sgemm_peak(1024, 1); /* warm-up: thread start, page faults */
            printf("PEAK %.2f %s\n", sgemm_peak(2048, 5), ls_blas_corename());
            return 0;
        } else if (strcmp(argv[i], "--layers") == 0 && i + 1 < argc) {
            layers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--chunks") == 0 && i + 1 < argc) {
            chunks = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-torch") == 0) {
            torch = false;
        } else if (strcmp(argv[i], "--keep") == 0) {
            keep = true;
        } else {
            fprintf(stderr, "usage: bench_infer [--layers N] [--chunks N] [--no-torch] "
                            "[--keep]\n");
            return 2;
        }
    }
    char self[1024];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        fprintf(stderr, "bench_infer: cannot find itself\n");
        return 1;
    }
    self[sl] = '\0';

    /* 1. OpenBLAS */
    char warn[256], desc[256];
    ls_blas_describe(desc, sizeof desc);
    printf("OpenBLAS: %s\n", desc);
    printf("start-up check: %s\n", ls_blas_check(warn, sizeof warn) ? warn : "ok");
    double peak_env = 0, peak_skx = 0;
    char core_env[64] = "?", core_skx[64] = "?";
    int rc1 = child_peak(self, NULL, &peak_env, core_env, sizeof core_env);
    int rc2 = child_peak(self, "SkylakeX", &peak_skx, core_skx, sizeof core_skx);
    const char *envc = getenv("OPENBLAS_CORETYPE");
    if (rc1 == 0)
        printf("sgemm 2048^3 peak, environment as given (OPENBLAS_CORETYPE=%s): %.1f GFLOP/s "
               "(core %s)\n", envc ? envc : "unset", peak_env, core_env);
    if (rc2 == 0)
        printf("sgemm 2048^3 peak, OPENBLAS_CORETYPE=SkylakeX: %.1f GFLOP/s (core %s)%s\n",
               peak_skx, core_skx, rc1 == 0 ? "" : "");
    if (rc1 == 0 && rc2 == 0)
        printf("SkylakeX / as given: %.2fx\n", peak_skx / peak_env);

    /* 2. the forward pass */
    ls_synth_spec spec;
    ls_error e;
    ls_synth_preset("1b", &spec, &e);
    spec.cfg.n_layers = layers;
    const char *dir = "build/tmp/bench_infer";
    if (system("mkdir -p build/tmp/bench_infer") != 0)
        return 1;
    char mdir[256];
    snprintf(mdir, sizeof mdir, "%s/hf", dir);
    double t0 = now();
    if (ls_write_hf_dir(mdir, &spec, 1, &e) != 0) {
        fprintf(stderr, "bench_infer: %s\n", e.msg);
        return 1;
    }
    printf("\nmodel: TinyLlama-1.1B shapes, %d layers, BF16, written in %.1f s\n", layers,
           now() - t0);
    ls_model *m = NULL;
    if (ls_model_open(mdir, NULL, &m, &e) != 0) {
        fprintf(stderr, "bench_infer: %s\n", e.msg);
        return 1;
    }
    int ctx = 512;
    int64_t n = (int64_t)ctx * chunks;
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    uint32_t x = 12345;
    for (int64_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        tok[i] = (int32_t)((x >> 8) % (uint32_t)m->cfg.vocab_size);
    }
    tok[0] = 1;
    char tpath[300];
    snprintf(tpath, sizeof tpath, "%s/tokens.bin", dir);
    FILE *tf = fopen(tpath, "wb");
    if (tf) {
        fwrite(tok, sizeof *tok, (size_t)n, tf);
        fclose(tf);
    }
    double peak_here = sgemm_peak(2048, 5);
    /* As the program runs (tui/main.c): OpenBLAS on the calling thread, the forward pass
     * splitting products over its own threads. */
    ls_blas_use_caller_thread_only();
    ls_blas_describe(desc, sizeof desc);
    printf("evaluation runs with %s\n", desc);
    char why[160];
    bool bf16_ok = ls_bf16_supported(why, sizeof why);
    double bpeak = bf16_ok ? bf16_peak(2048, 5) : 0;
    char dnnl_desc[256];
    ls_onednn_describe(dnnl_desc, sizeof dnnl_desc);
    printf("%s\n", dnnl_desc);
    if (bf16_ok)
        printf("oneDNN bf16 matmul 2048^3 peak in this process: %.1f GFLOP/s (%.2fx the sgemm "
               "peak)\n", bpeak, bpeak / peak_here);
    double flops = eval_flops(&m->cfg, ctx, chunks);
    /* useful FLOPs of the products alone (linear layers and classifier) */
    double tps_ls[2] = {0, 0}, bound[2] = {0, 0};
    for (int mode = 0; mode < 2; mode++) {
        if (mode == LS_COMPUTE_BF16 && !bf16_ok) {
            printf("evaluation in bf16: skipped (%s)\n", why);
            continue;
        }
        ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
        p.ctx = ctx;
        p.compute = (ls_compute)mode;
        ls_ppl_result r;
        /* best of three runs: the machine is shared */
        double best = 1e30, ppl = 0, run_s[3];
        for (int rep = 0; rep < 3; rep++) {
            t0 = now();
            if (ls_ppl_eval(m, NULL, tok, n, 1, &p, NULL, NULL, NULL, &r, &e) != 0) {
                fprintf(stderr, "bench_infer: %s\n", e.msg);
                return 1;
            }
            double t = now() - t0;
            run_s[rep] = t;
            best = t < best ? t : best;
            ppl = r.ppl;
            ls_ppl_result_free(&r);
        }
        double pk = mode == LS_COMPUTE_BF16 ? bpeak : peak_here;
        const char *pkname = mode == LS_COMPUTE_BF16 ? "oneDNN bf16" : "sgemm";
        double tps = (double)n / best, gf = flops / best / 1e9;
        tps_ls[mode] = tps;
        printf("evaluation %s (llama.cpp protocol, %d chunks of %d): %.2f s, %.0f tokens/s, "
               "%.1f GFLOP/s = %.0f%% of this process's %s peak %.1f GFLOP/s (target %s)"
               "; PPL %.4f\n", ls_compute_name((ls_compute)mode), chunks, ctx, best, tps, gf,
               100 * gf / pk, pkname, pk, mode == LS_COMPUTE_BF16 ? "80%" : "60%", ppl);
        /* The ceiling: every FLOP at the peak, nothing else costing anything. */
        bound[mode] = (double)n / (flops / (pk * 1e9));
        printf("  ceiling (all FLOPs at that peak): %.0f tokens/s; we are at %.0f%% of it\n",
               bound[mode], 100 * tps / bound[mode]);
        printf("  runs: %.2f s, %.2f s, %.2f s (the first maps and zeroes its buffers; the "
               "later ones reuse them, core/base/bigalloc.h)\n", run_s[0], run_s[1], run_s[2]);
    }

    /* 3. PyTorch, f32 and bf16 */
    const char *tname[2] = {"f32", "bf16"};
    double target[2] = {1.35, 1.0};
    for (int mode = 0; mode < 2; mode++) {
        if (!torch) {
            printf("torch: skipped (--no-torch)\n");
            break;
        } else if (!torch_python()) {
            printf("torch: python3 cannot import torch; skipped (Debian: apt-get install "
                   "python3-torch)\n");
            break;
        }
        char cmd[1024], line[256];
        snprintf(cmd, sizeof cmd, "%s tests/bench_infer_torch.py %s %s %d %d %s",
                 torch_python(), mdir, tpath, ctx, chunks, tname[mode]);
        FILE *pp = popen(cmd, "r");
        double ttps = 0, tppl = 0;
        int tthreads = 0;
        while (pp && fgets(line, sizeof line, pp)) {
            printf("  torch %s: ", tname[mode]);
            fputs(line, stdout);
            sscanf(line, "TORCH %lf %lf %d", &ttps, &tppl, &tthreads);
        }
        if (pp)
            pclose(pp);
        if (ttps <= 0) {
            printf("torch %s: no result\n", tname[mode]);
            continue;
        }
        if (tps_ls[mode] > 0)
            printf("%s: %.0f tokens/s = %.2fx PyTorch %s (%.0f tokens/s, %d threads, PPL %.4f)"
                   "; target %.2fx, the ceiling above is %.2fx\n", tname[mode], tps_ls[mode],
                   tps_ls[mode] / ttps, tname[mode], ttps, tthreads, tppl, target[mode],
                   bound[mode] / ttps);
        else
            printf("%s: layerscope skipped; PyTorch %s %.0f tokens/s (%d threads, PPL %.4f)\n",
                   tname[mode], tname[mode], ttps, tthreads, tppl);
        if (mode == 1 && bpeak > 0)
            printf("  PyTorch bf16 at %.0f%% of the oneDNN bf16 peak\n",
                   100 * flops / ((double)n / ttps) / 1e9 / bpeak);
    }
    free(tok);
    ls_model_free(m);
    if (!keep) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_infer: could not remove %s\n", dir);
    }
    return 0;
}
