/* Kurtosis (docs/method.md §2): against a long-double two-pass reference, scipy when present,
 * thread-count independence, dtypes, non-finite handling and the stories260K table. */
#include "test.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/half.h"
#include "method/kurtosis.h"
#include "formats/model.h"
#include "method/profile.h"
#include "base/rng.h"

static double uniform01(ls_rng *r)
{
    return ((ls_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double normal(ls_rng *r)
{
    return sqrt(-2 * log(uniform01(r))) * cos(6.283185307179586 * uniform01(r));
}

/* Long-double two-pass reference over the finite elements. */
static double ref_kurtosis(const float *x, int64_t n)
{
    long double s = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) {
            s += x[i];
            k++;
        }
    long double mean = s / k, m2 = 0, m4 = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) {
            long double d = x[i] - mean;
            m2 += d * d;
            m4 += d * d * d * d;
        }
    m2 /= k;
    m4 /= k;
    return (double)(m4 / (m2 * m2));
}

static float *make_data(int64_t n, uint64_t seed, double offset, int heavy)
{
    float *x = malloc((size_t)n * sizeof *x);
    ls_rng r;
    ls_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        double v = normal(&r) * 0.02;
        if (heavy && i % 997 == 0)
            v *= 40; /* outlier spikes like the paper's Figure 1 */
        x[i] = (float)(v + offset);
    }
    return x;
}

static void test_against_long_double(void)
{
    static const int64_t sizes[] = {1, 2, 7, 2048, 2049, 100003, 1 << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int64_t n = sizes[s];
        for (int heavy = 0; heavy < 2; heavy++) {
            float *x = make_data(n, 1234 + (uint64_t)s, heavy ? 0.0 : 3.0, heavy);
            ls_kurtosis_result r;
            ls_kurtosis_data(x, LS_DT_F32, n, 2, &r);
            CHECK(r.n_finite == n && r.n_nonfinite == 0);
            if (n < 2)
                CHECK(isnan(r.kurtosis));
            else
                CHECK_REL(r.kurtosis, ref_kurtosis(x, n), 1e-11);
            free(x);
        }
    }
}

/* Blocks whose means jump (a step of 1000 standard deviations, then back, then a slow
 * drift) exercise every kernel path: origin, shifted and the two-pass fallback. */
static void test_shifting_means(void)
{
    int64_t n = 5 * 2048 * 7 + 333;
    float *x = make_data(n, 31, 0.0, 0);
    for (int64_t i = 0; i < n; i++) {
        if (i >= 20000 && i < 41000)
            x[i] += 20.0f;
        if (i >= 50000)
            x[i] += (float)(i - 50000) * 1e-4f;
    }
    ls_kurtosis_result r;
    ls_kurtosis_data(x, LS_DT_F32, n, 2, &r);
    CHECK_REL(r.kurtosis, ref_kurtosis(x, n), 1e-11);
    free(x);
}

/* The scalar, AVX2 and best vector kernels agree with the reference and each other. */
static void test_kernels_agree(void)
{
    static const char *const kernels[] = {"scalar", "avx2", "best"};
    int64_t n = 300007;
    float *x = make_data(n, 8, 0.5, 1);
    uint16_t *h = malloc((size_t)n * 2);
    float *xh = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        h[i] = ls_f32_to_f16(x[i]);
        xh[i] = ls_f16_to_f32(h[i]);
    }
    x[777] = NAN; /* one block takes the non-finite path in every kernel */
    double want = ref_kurtosis(x, n), want_h = ref_kurtosis(xh, n);
    for (int k = 0; k < 3; k++) {
        if (k < 2)
            setenv("LAYERSCOPE_KURTOSIS_KERNEL", kernels[k], 1);
        else
            unsetenv("LAYERSCOPE_KURTOSIS_KERNEL");
        ls_kurtosis_result r;
        ls_kurtosis_data(x, LS_DT_F32, n, 2, &r);
        CHECK_REL(r.kurtosis, want, 1e-11);
        CHECK(r.n_nonfinite == 1);
        ls_kurtosis_data(h, LS_DT_F16, n, 2, &r);
        CHECK_REL(r.kurtosis, want_h, 1e-11);
    }
    free(x);
    free(h);
    free(xh);
}

static void test_thread_count_independent(void)
{
    int64_t n = 3 * (1 << 18) + 12345;
    float *x = make_data(n, 99, 0.0, 1);
    ls_kurtosis_result a, b, c;
    ls_kurtosis_data(x, LS_DT_F32, n, 1, &a);
    ls_kurtosis_data(x, LS_DT_F32, n, 2, &b);
    ls_kurtosis_data(x, LS_DT_F32, n, 7, &c);
    CHECK(a.kurtosis == b.kurtosis && b.kurtosis == c.kurtosis);
    CHECK(a.m2 == b.m2 && a.mean == c.mean);
    free(x);
}

static void test_half_dtypes(void)
{
    int64_t n = 50000;
    float *x = make_data(n, 5, 0.0, 1);
    uint16_t *h = malloc((size_t)n * 2), *bf = malloc((size_t)n * 2);
    float *xh = malloc((size_t)n * 4), *xb = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) {
        h[i] = ls_f32_to_f16(x[i]);
        bf[i] = ls_f32_to_bf16(x[i]);
        xh[i] = ls_f16_to_f32(h[i]);
        xb[i] = ls_bf16_to_f32(bf[i]);
    }
    ls_kurtosis_result r;
    ls_kurtosis_data(h, LS_DT_F16, n, 2, &r);
    CHECK_REL(r.kurtosis, ref_kurtosis(xh, n), 1e-11);
    ls_kurtosis_data(bf, LS_DT_BF16, n, 2, &r);
    CHECK_REL(r.kurtosis, ref_kurtosis(xb, n), 1e-11);
    free(x);
    free(h);
    free(bf);
    free(xh);
    free(xb);
}

static void test_nonfinite_and_degenerate(void)
{
    float x[5000];
    ls_rng r;
    ls_rng_seed(&r, 3);
    for (int i = 0; i < 5000; i++)
        x[i] = (float)normal(&r);
    float y[5000];
    memcpy(y, x, sizeof x);
    y[10] = NAN;
    y[20] = INFINITY;
    y[4999] = -INFINITY;
    ls_kurtosis_result a;
    ls_kurtosis_data(y, LS_DT_F32, 5000, 2, &a);
    CHECK(a.n_nonfinite == 3 && a.n_finite == 4997);
    CHECK_REL(a.kurtosis, ref_kurtosis(y, 5000), 1e-11);
    float c[300];
    for (int i = 0; i < 300; i++)
        c[i] = 0.5f;
    ls_kurtosis_data(c, LS_DT_F32, 300, 2, &a);
    CHECK(isnan(a.kurtosis)); /* m2 == 0: undefined, as SciPy */
    float all_nan[4] = {NAN, NAN, NAN, 1.0f};
    ls_kurtosis_data(all_nan, LS_DT_F32, 4, 1, &a);
    CHECK(isnan(a.kurtosis) && a.n_finite == 1 && a.n_nonfinite == 3);
    /* a Gaussian sample is close to 3 */
    float *g = make_data(1 << 20, 77, 0.0, 0);
    ls_kurtosis_data(g, LS_DT_F32, 1 << 20, 2, &a);
    CHECK(fabs(a.kurtosis - 3.0) < 0.05);
    free(g);
}

/* scipy.stats.kurtosis(fisher=False, bias=True) in float64 on the same values, to 1e-9. */
static void test_against_scipy(void)
{
    /* Debian's python3-scipy lives under /usr/bin/python3, which may not be first on PATH. */
    const char *py = NULL;
    if (system("/usr/bin/python3 -c 'import scipy.stats, numpy' >/dev/null 2>&1") == 0)
        py = "/usr/bin/python3";
    else if (system("python3 -c 'import scipy.stats, numpy' >/dev/null 2>&1") == 0)
        py = "python3";
    else
        SKIP("python3-scipy not installed");
    const char *dir = t_tmpdir("kurt_scipy");
    char path[600], cmd[1600];
    snprintf(path, sizeof path, "%s/x.f32", dir);
    int64_t n = 300001;
    float *x = make_data(n, 2024, 0.01, 1);
    FILE *f = fopen(path, "wb");
    fwrite(x, 4, (size_t)n, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy as np, scipy.stats as s; "
             "x=np.fromfile('%s', dtype=np.float32).astype(np.float64); "
             "print(repr(float(s.kurtosis(x, fisher=False, bias=True))))\"",
             py, path);
    FILE *p = popen(cmd, "r");
    double want = NAN;
    CHECK(p && fscanf(p, "%lf", &want) == 1);
    if (p)
        pclose(p);
    ls_kurtosis_result r;
    ls_kurtosis_data(x, LS_DT_F32, n, 2, &r);
    CHECK_REL(r.kurtosis, want, 1e-9);
    free(x);
}

/* docs/method.md §2 table, identical for .bin, .gguf and both HF directories. */
static void test_stories260k_table(void)
{
    static const double want[LS_N_MODULES][5] = {
        {7.610605, 7.268755, 7.388040, 8.061973, 7.320455},
        {6.271031, 6.445182, 6.794716, 7.005093, 8.614839},
        {4.506542, 3.716896, 3.763643, 3.717511, 3.480106},
        {6.126743, 4.372554, 4.643852, 4.276590, 4.242879},
        {4.204211, 3.501969, 3.534732, 3.563004, 3.383924},
        {3.163546, 3.162885, 3.170341, 3.176294, 3.004905},
        {4.044901, 3.894366, 3.817040, 3.621522, 3.912121},
    };
    static const char *const paths[] = {"models/stories260K/stories260K.bin",
                                        "models/stories260K/stories260K.gguf",
                                        "models/stories260K-hf",
                                        "models/stories260K-hf-sharded"};
    for (size_t i = 0; i < 4; i++) {
        NEED_SHARED(path, paths[i]);
        ls_model *m;
        ls_error err;
        int rc = ls_model_open(path, NULL, &m, &err);
        CHECK(rc == 0);
        if (rc != 0) {
            fprintf(stderr, "  %s\n", err.msg);
            continue;
        }
        ls_profile *p = ls_profile_from_model(m, &err);
        CHECK(p != NULL);
        CHECK(ls_kurtosis_model(m, 2, NULL, p, &err) == 0);
        for (int mod = 0; mod < LS_N_MODULES; mod++)
            for (int l = 0; l < 5; l++)
                CHECK(fabs(p->kurtosis[LS_IDX(l, mod)] - want[mod][l]) < 6e-7);
        ls_profile_free(p);
        ls_model_free(m);
    }
}

static void test_cancel(void)
{
    NEED_SHARED(path, "models/stories260K/stories260K.bin");
    ls_model *m;
    ls_error err;
    CHECK(ls_model_open(path, NULL, &m, &err) == 0);
    if (!m)
        return;
    ls_profile *p = ls_profile_from_model(m, &err);
    ls_progress prog;
    ls_progress_init(&prog);
    ls_progress_cancel(&prog);
    CHECK(ls_kurtosis_model(m, 1, &prog, p, &err) == -1);
    CHECK(strstr(err.msg, "cancel") != NULL);
    ls_progress_destroy(&prog);
    ls_profile_free(p);
    ls_model_free(m);
}

/* Resident KiB of this process's mappings of the file whose name ends with suffix
 * (/proc/self/smaps), or -1 when it cannot be read. */
static long mapping_rss_kib(const char *suffix)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[1024];
    long total = 0;
    bool in = false;
    size_t ns = strlen(suffix);
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
            line[--n] = '\0';
        long kib;
        if (sscanf(line, "Rss: %ld kB", &kib) == 1) {
            if (in)
                total += kib;
        } else if (line[0] && ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) &&
                   strchr(line, '-') && strchr(line, '-') < strchr(line, ' ')) {
            in = n >= ns && strcmp(line + n - ns, suffix) == 0; /* a mapping header line */
        }
    }
    fclose(f);
    return total;
}

/* The pass releases each finished tensor's pages (RSS stays small) and the values do not
 * change when it runs again over the released pages. */
static void test_release_keeps_values(void)
{
    NEED_SHARED(path, "models/stories260K/stories260K.gguf");
    ls_model *m;
    ls_error err;
    CHECK(ls_model_open(path, NULL, &m, &err) == 0);
    if (!m)
        return;
    ls_profile *a = ls_profile_from_model(m, &err), *b = ls_profile_from_model(m, &err);
    CHECK(a && b);
    if (a && b) {
        CHECK(ls_kurtosis_model(m, 2, NULL, a, &err) == 0);
        CHECK(ls_kurtosis_model(m, 1, NULL, b, &err) == 0);
        size_t n = (size_t)m->cfg.n_layers * LS_N_MODULES;
        CHECK(memcmp(a->kurtosis, b->kurtosis, n * sizeof *a->kurtosis) == 0);
        /* the tensors are still readable, with the same bytes as a fresh read */
        const ls_tensor *t = ls_model_linear(m, 0, LS_MOD_Q);
        ls_kurtosis_result r;
        ls_kurtosis_data(t->data, t->dtype, t->n_elems, 1, &r);
        CHECK(r.kurtosis == a->kurtosis[LS_IDX(0, LS_MOD_Q)]);
        /* every page resident, then one pass: the linear weights' pages leave */
        volatile unsigned char sink = 0;
        for (size_t i = 0; i < m->files[0].size; i += 4096)
            sink ^= m->files[0].data[i];
        (void)sink;
        long before = mapping_rss_kib("stories260K.gguf");
        CHECK(ls_kurtosis_model(m, 2, NULL, a, &err) == 0);
        long after = mapping_rss_kib("stories260K.gguf");
        int64_t linear = 0;
        for (int l = 0; l < m->cfg.n_layers; l++)
            for (int mod = 0; mod < LS_N_MODULES; mod++) {
                const ls_tensor *lt = ls_model_linear(m, l, mod);
                linear += lt ? lt->n_elems * (int64_t)ls_dtype_size(lt->dtype) : 0;
            }
        printf("  mapping RSS %ld KiB before the pass, %ld KiB after (linear weights %lld "
               "KiB)\n", before, after, (long long)(linear / 1024));
        CHECK(before > 0 && after >= 0);
        CHECK(before - after >= linear / 1024 / 2); /* at least half (page edges stay) */
    }
    ls_profile_free(a);
    ls_profile_free(b);
    ls_model_free(m);
}

int main(void)
{
    RUN(test_against_long_double);
    RUN(test_shifting_means);
    RUN(test_kernels_agree);
    RUN(test_thread_count_independent);
    RUN(test_half_dtypes);
    RUN(test_nonfinite_and_degenerate);
    RUN(test_against_scipy);
    RUN(test_stories260k_table);
    RUN(test_cancel);
    RUN(test_release_keeps_values);
    return t_summary();
}
