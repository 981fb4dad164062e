/* The pure helpers behind the explorer: the detail pane's explanation, the weight
 * histogram, the background job queue, and the settings file. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "method/analysis.h"
#include "method/explain.h"
#include "method/histogram.h"
#include "method/kurtosis.h"
#include "base/half.h"
#include "base/jobs.h"
#include "method/profile.h"
#include "method/profile_copy.h"
#include "io/uiconfig.h"

/* A profile of L layers whose kurtosis is flat except a spike at layer `spike`. */
static ls_profile *spiky_profile(int L, int spike)
{
    ls_error err;
    ls_profile *p = ls_profile_new(L, "spiky", "mem", "kurtosis-csv", &err);
    for (int l = 0; l < L; l++)
        for (int m = 0; m < LS_N_MODULES; m++) {
            int i = LS_IDX(l, m);
            p->params[i] = 4096;
            p->kurtosis[i] = 3.0 + 0.01 * ((l * 7 + m * 3) % 5) + (l == spike ? 50.0 : 0);
        }
    return p;
}

static bool any_line(const ls_explain *e, const char *needle)
{
    for (int i = 0; i < e->n_lines; i++)
        if (strstr(e->line[i], needle))
            return true;
    return false;
}

static void test_explain_outlier_and_layer0(void)
{
    ls_profile *p = spiky_profile(24, 7);
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_KURT;
    ls_analysis *a = malloc(sizeof *a);
    ls_error err;
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK(a->boosted[LS_IDX(7, LS_MOD_DOWN)]);
    ls_explain e;
    ls_explain_matrix(p, a, 7, LS_MOD_DOWN, &e);
    CHECK(e.boosted);
    CHECK(any_line(&e, "boosted b3g128 -> b4g128"));
    CHECK(any_line(&e, "d = 53"));          /* the difference to layer 6 */
    CHECK(any_line(&e, "trimmed mean"));
    CHECK(any_line(&e, "> 3: outlier, rank"));
    CHECK(any_line(&e, "Outlier:"));
    ls_explain_matrix(p, a, 0, LS_MOD_DOWN, &e);
    CHECK(!e.boosted);
    CHECK(any_line(&e, "can never be flagged"));
    ls_explain_matrix(p, a, 3, LS_MOD_Q, &e);
    CHECK(any_line(&e, "<= 3"));
    CHECK(any_line(&e, "Not an outlier"));
    /* top-m 1 keeps layer 7 or 8 only; the other is explained as dropped */
    s.top_m = 1;
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    int dropped = a->boosted[LS_IDX(7, LS_MOD_DOWN)] ? 8 : 7;
    ls_explain_matrix(p, a, dropped, LS_MOD_DOWN, &e);
    CHECK(any_line(&e, "beyond top-m = 1"));
    /* SensiBoost without sensitivity says why nothing is flagged */
    s = ls_settings_default();
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    ls_explain_matrix(p, a, 7, LS_MOD_DOWN, &e);
    CHECK(any_line(&e, "no sensitivity known"));
    free(a);
    ls_profile_free(p);
}

static void test_explain_samuelson_note(void)
{
    ls_profile *p = spiky_profile(5, 2);
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_KURT;
    ls_analysis *a = malloc(sizeof *a);
    ls_error err;
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK(a->n_boosted == 0);
    ls_explain e;
    ls_explain_matrix(p, a, 2, LS_MOD_Q, &e);
    CHECK(any_line(&e, "threshold 3 unreachable: max z = 1.50 with 5 layers"));
    free(a);
    ls_profile_free(p);
}

static void test_fmt_value(void)
{
    char b[32];
    ls_fmt_value(b, sizeof b, NAN);
    CHECK_STR(b, "n/a");
    ls_fmt_value(b, sizeof b, INFINITY);
    CHECK_STR(b, "inf");
    ls_fmt_value(b, sizeof b, 3.14159);
    CHECK_STR(b, "3.142");
    ls_fmt_value(b, sizeof b, 1234567.0);
    CHECK_STR(b, "1.235e+06");
    /* one format per column: fixed significant digits, so 3.2 keeps its zeros */
    ls_fmt_value(b, sizeof b, 3.2);
    CHECK_STR(b, "3.200");
    ls_fmt_value(b, sizeof b, 1304.4);
    CHECK_STR(b, "1304");
    ls_fmt_value(b, sizeof b, 0.00114);
    CHECK_STR(b, "0.001140");
    ls_fmt_value(b, sizeof b, 9.99996); /* rounding up adds a digit before the point */
    CHECK_STR(b, "10.00");
    ls_fmt_value(b, sizeof b, 1.0686e-06);
    CHECK_STR(b, "1.069e-06");
    ls_fmt_sig(b, sizeof b, 3.2003664, 7); /* batch's digits, the same rule */
    CHECK_STR(b, "3.200366");
    /* never "-0.00 %" */
    snprintf(b, sizeof b, "%+.2f", ls_no_neg_zero(-0.004, 2));
    CHECK_STR(b, "+0.00");
    snprintf(b, sizeof b, "%+.2f", ls_no_neg_zero(-0.006, 2));
    CHECK_STR(b, "-0.01");
}

/* Bins follow the F16 grid: a smooth sample around 1 (spacing 2^-11 below 1, 2^-10 above)
 * leaves empty interior bins under plain equal-width bins (narrower than the grid), none when
 * the width is snapped to the grid; each bin is a whole number of grid steps. */
static void test_histogram_dtype_grid(void)
{
    enum { N = 200000 };
    static float x[N];
    uint64_t st = 12345;
    for (int i = 0; i < N; i += 2) { /* Box-Muller, mean 1, std 0.01, rounded to F16 */
        double u1, u2;
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        u1 = ((st >> 11) + 0.5) / 9007199254740992.0;
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        u2 = ((st >> 11) + 0.5) / 9007199254740992.0;
        double r = sqrt(-2 * log(u1));
        x[i] = ls_f16_to_f32(ls_f32_to_f16((float)(1 + 0.01 * r * cos(2 * M_PI * u2))));
        x[i + 1] = ls_f16_to_f32(ls_f32_to_f16((float)(1 + 0.01 * r * sin(2 * M_PI * u2))));
    }
    ls_histogram plain, grid;
    ls_histogram_floats(x, N, 512, &plain);
    ls_histogram_floats_grid(x, N, 512, LS_DT_F16, &grid);
    /* interior = between the first and last bin that hold anything, within +-2 std where the
     * density is far from zero */
    int empty_plain = 0, empty_grid = 0;
    for (int b = 0; b < plain.n_bins; b++) {
        double c = plain.edge_lo + (b + 0.5) * plain.width;
        if (fabs(c - plain.mean) < 2 * plain.std && plain.count[b] == 0)
            empty_plain++;
    }
    for (int b = 0; b < grid.n_bins; b++) {
        double c = grid.edge_lo + (b + 0.5) * grid.width;
        if (fabs(c - grid.mean) < 2 * grid.std && grid.count[b] == 0)
            empty_grid++;
    }
    CHECK(empty_plain > 10); /* the false gaps the old binning drew */
    CHECK(empty_grid == 0);
    CHECK(grid.grid == ldexp(1.0, -10)); /* largest magnitude is just above 1 */
    CHECK(fmod(grid.width, grid.grid) == 0 && fmod(grid.edge_lo, grid.grid) == 0);
    CHECK(grid.n_bins <= 512 && grid.edge_lo <= grid.lo &&
          grid.edge_lo + grid.n_bins * grid.width > grid.hi);
    int64_t total = 0;
    for (int b = 0; b < grid.n_bins; b++)
        total += grid.count[b];
    CHECK(total == N);
    /* the kurtosis and tails agree with the kurtosis module and a direct count */
    ls_kurtosis_result kr;
    ls_kurtosis_data(x, LS_DT_F32, N, 1, &kr);
    CHECK_NEAR(grid.kurtosis, kr.kurtosis, 1e-9 * kr.kurtosis);
    int64_t beyond = 0;
    for (int i = 0; i < N; i++)
        beyond += fabs(x[i] - grid.mean) > 3 * grid.std;
    CHECK(grid.n_beyond3 == beyond && beyond > 0);
    /* regrouping to fewer columns keeps whole grid steps and every count */
    ls_histogram g2;
    ls_histogram_regroup(&grid, 37, &g2);
    CHECK(g2.n_bins <= 37 && fmod(g2.width, grid.grid) == 0);
    int64_t total2 = 0;
    for (int b = 0; b < g2.n_bins; b++)
        total2 += g2.count[b];
    CHECK(total2 == N);
    /* the normal curve's expected counts sum to about n over the bins */
    double e = 0;
    for (int b = 0; b < grid.n_bins; b++)
        e += ls_histogram_normal_expected(&grid, b);
    CHECK(e > 0.99 * N && e <= N * 1.0000001);
    /* BF16 spacing: 7 mantissa bits */
    CHECK(ls_dtype_grid_spacing(LS_DT_BF16, 1.5) == ldexp(1.0, -7));
    CHECK(ls_dtype_grid_spacing(LS_DT_F16, 0.1) == ldexp(1.0, -14));
    CHECK(ls_dtype_grid_spacing(LS_DT_F32, 0.1) == 0);
}

static void test_histogram(void)
{
    float x[1000];
    for (int i = 0; i < 1000; i++)
        x[i] = (float)(i % 10) / 10.0f; /* 0.0 .. 0.9, 100 each */
    x[999] = 10.0f;                      /* one far outlier */
    x[998] = NAN;
    ls_histogram h;
    ls_histogram_floats(x, 1000, 100, &h);
    CHECK(h.n == 999 && h.n_nonfinite == 1);
    CHECK(h.lo == 0.0 && h.hi == 10.0);
    int64_t total = 0;
    for (int b = 0; b < h.n_bins; b++)
        total += h.count[b];
    CHECK(total == 999);
    CHECK(h.count[99] == 1); /* the tail is its own bin */
    CHECK(h.count[0] == 100);
    CHECK(ls_histogram_bin(&h, 10.0) == 99);
    /* a tensor view of the same data gives the same histogram */
    ls_tensor t = {.dtype = LS_DT_F32, .n_dims = 1, .shape = {1000}, .n_elems = 1000, .data = x};
    snprintf(t.name, sizeof t.name, "w");
    ls_histogram h2;
    ls_error err;
    CHECK(ls_histogram_tensor(&t, 100, NULL, &h2, &err) == 0);
    CHECK(memcmp(h.count, h2.count, sizeof h.count) == 0);
    CHECK_NEAR(h.mean, h2.mean, 1e-12);
}

/* ---- jobs ---- */

typedef struct slow_arg {
    int steps;
    int *freed;
} slow_arg;

static int slow_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    slow_arg *a = varg;
    for (int i = 0; i < a->steps; i++) {
        if (ls_progress_tick(pr, i, a->steps, "step"))
            return ls_fail(err, "cancelled");
        usleep(2000);
    }
    int *r = malloc(sizeof *r);
    *r = a->steps;
    *result = r;
    return 0;
}

static int failing_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    (void)varg;
    (void)pr;
    (void)result;
    return ls_fail(err, "broken on purpose");
}

static void free_arg(void *p)
{
    slow_arg *a = p;
    if (a->freed)
        (*a->freed)++;
    free(a);
}

static slow_arg *mk(int steps, int *freed)
{
    slow_arg *a = malloc(sizeof *a);
    a->steps = steps;
    a->freed = freed;
    return a;
}

static void test_jobs_run_and_take(void)
{
    ls_error err;
    ls_jobs *q = ls_jobs_new(&err);
    CHECK(q != NULL);
    int freed = 0;
    int id1 = ls_jobs_submit(q, 1, "one", slow_job, mk(3, &freed), free_arg, free);
    int id2 = ls_jobs_submit(q, 2, "two", failing_job, mk(0, &freed), free_arg, free);
    CHECK(id1 > 0 && id2 > id1);
    ls_jobs_wait_idle(q);
    CHECK(ls_jobs_active(q) == 0);
    ls_job_info info;
    void *res;
    CHECK(ls_jobs_take(q, &info, &res));
    CHECK(info.id == id1 && info.state == LS_JOB_DONE && res && *(int *)res == 3);
    free(res);
    CHECK(ls_jobs_take(q, &info, &res));
    CHECK(info.id == id2 && info.state == LS_JOB_FAILED && res == NULL);
    CHECK(strstr(info.error, "broken on purpose") != NULL);
    CHECK(!ls_jobs_take(q, &info, &res));
    ls_job_info list[8];
    CHECK(ls_jobs_list(q, list, 8) == 2);
    CHECK(list[0].id == id2); /* newest first */
    ls_jobs_free(q);
    CHECK(freed == 2);
}

static void test_jobs_cancel_and_latest_wins(void)
{
    ls_error err;
    ls_jobs *q = ls_jobs_new(&err);
    int freed = 0;
    int a = ls_jobs_submit(q, 1, "long", slow_job, mk(100000, &freed), free_arg, free);
    /* wait until it runs, then check progress is published */
    /* (waits end on the condition; the 30 s limit only stops a broken queue hanging the
     * suite, so a loaded machine cannot fail them) */
    ls_job_info list[8];
    for (int i = 0; i < 15000; i++) {
        int n = ls_jobs_list(q, list, 8);
        if (n == 1 && list[0].state == LS_JOB_RUNNING && list[0].progress.done > 2)
            break;
        usleep(2000);
    }
    CHECK(list[0].state == LS_JOB_RUNNING && list[0].progress.total == 100000);
    CHECK(list[0].eta > 0);
    uint64_t g0 = ls_jobs_gen(q);
    bool moved = false;
    for (int i = 0; i < 15000 && !moved; i++) {
        usleep(2000);
        moved = ls_jobs_gen(q) != g0;
    }
    CHECK(moved); /* progress moves the generation */
    /* a new job of the same kind cancels the running one */
    int b = ls_jobs_submit(q, 1, "short", slow_job, mk(2, &freed), free_arg, free);
    int c = ls_jobs_submit(q, 3, "queued", slow_job, mk(100000, &freed), free_arg, free);
    ls_jobs_cancel(q, c); /* queued: dropped without running */
    ls_jobs_wait_idle(q);
    ls_job_info info;
    void *res;
    int states[4] = {0};
    while (ls_jobs_take(q, &info, &res)) {
        if (info.id == a)
            states[0] = info.state;
        if (info.id == b)
            states[1] = info.state;
        if (info.id == c)
            states[2] = info.state;
        free(res);
    }
    CHECK(states[0] == LS_JOB_CANCELLED);
    CHECK(states[1] == LS_JOB_DONE);
    CHECK(states[2] == LS_JOB_CANCELLED);
    ls_jobs_free(q);
    CHECK(freed == 3);
}

static void test_jobs_free_while_running(void)
{
    ls_error err;
    ls_jobs *q = ls_jobs_new(&err);
    int freed = 0;
    ls_jobs_submit(q, 1, "long", slow_job, mk(1000000, &freed), free_arg, free);
    usleep(5000);
    ls_jobs_free(q); /* cancels, joins, frees */
    CHECK(freed == 1);
}

/* A job that is cancelled midway still hands back its partial work (the explorer's Q
 * returns the quantized model this way, so finished modules are reused). */
static int partial_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    (void)varg;
    int *done = calloc(1, sizeof *done);
    for (int i = 0; i < 1000000; i++) {
        if (ls_progress_tick(pr, i, 1000000, "step")) {
            *done = i;
            *result = done;
            return ls_fail(err, "cancelled after %d", i);
        }
        usleep(1000);
    }
    *result = done;
    return 0;
}

static void test_jobs_partial_result_on_cancel(void)
{
    ls_error err;
    ls_jobs *q = ls_jobs_new(&err);
    int id = ls_jobs_submit(q, 1, "partial", partial_job, NULL, NULL, free);
    ls_job_info list[2];
    for (int i = 0; i < 500 && !(ls_jobs_list(q, list, 2) == 1 && list[0].progress.done > 1); i++)
        usleep(2000);
    ls_jobs_cancel(q, id);
    ls_jobs_wait_idle(q);
    ls_job_info info;
    void *res = NULL;
    CHECK(ls_jobs_take(q, &info, &res));
    CHECK(info.state == LS_JOB_CANCELLED);
    CHECK(res != NULL && *(int *)res > 1);
    free(res);
    /* a partial result nobody takes is freed with the queue */
    ls_jobs_submit(q, 1, "partial", partial_job, NULL, NULL, free);
    usleep(5000);
    ls_jobs_free(q);
}

/* After more jobs than the queue keeps, the newest finished ones stay listed, newest first
 * (the pruning once kept the oldest eight and dropped the newest result). */
static void test_jobs_keep_newest(void)
{
    ls_error err;
    ls_jobs *q = ls_jobs_new(&err);
    int ids[12];
    for (int k = 0; k < 12; k++) {
        ids[k] = ls_jobs_submit(q, 100 + k, "n", slow_job, mk(1, NULL), free_arg, free);
        ls_jobs_wait_idle(q);
        ls_job_info info;
        void *res;
        while (ls_jobs_take(q, &info, &res))
            free(res);
    }
    ls_job_info list[8];
    int n = ls_jobs_list(q, list, 8);
    CHECK(n == 8);
    CHECK(list[0].id == ids[11]);
    CHECK(list[7].id == ids[4]);
    ls_jobs_free(q);
}

/* Phases: ticks inside each step map onto one overall scale that never goes back. */
static void test_progress_phases(void)
{
    ls_progress p;
    ls_progress_init(&p);
    ls_progress_phases(&p, 3000, 3);
    int64_t last = -1;
    bool monotone = true;
    for (int ph = 0; ph < 3; ph++) {
        ls_progress_phase(&p, ph + 1, ph * 1000, 1000);
        for (int i = 0; i <= 10; i++) {
            ls_progress_tick(&p, i, 10, "x");
            ls_progress_snapshot s;
            ls_progress_read(&p, &s);
            monotone &= s.done >= last && s.total == 3000 && s.phase_index == ph + 1 &&
                        s.phase_count == 3;
            last = s.done;
        }
    }
    CHECK(monotone);
    CHECK(last == 3000);
    ls_progress_phases(&p, 0, 0); /* off again: ticks pass through */
    ls_progress_tick(&p, 5, 7, "y");
    CHECK(p.done == 5 && p.total == 7);
    ls_progress_destroy(&p);
}

static void test_profile_copy(void)
{
    ls_profile *p = spiky_profile(6, 3);
    p->sensitivity[LS_IDX(2, 1)] = 0.5;
    snprintf(p->sensitivity_source, sizeof p->sensitivity_source, "%s", "calib");
    ls_error err;
    ls_profile *c = ls_profile_copy(p, &err);
    CHECK(c != NULL);
    CHECK(c->n_layers == 6 && strcmp(c->name, "spiky") == 0);
    CHECK(c->kurtosis[LS_IDX(3, 0)] == p->kurtosis[LS_IDX(3, 0)]);
    CHECK(c->sensitivity[LS_IDX(2, 1)] == 0.5 && isnan(c->sensitivity[0]));
    CHECK(c->params[5] == 4096 && c->fnorm == NULL);
    CHECK_STR(c->sensitivity_source, "calib");
    p->kurtosis[0] = 99; /* independent storage */
    CHECK(c->kurtosis[0] != 99);
    ls_profile_free(c);
    ls_profile_free(p);
}

/* ---- config ---- */

static void test_config_roundtrip_and_errors(void)
{
    const char *dir = t_tmpdir("uiconfig");
    char path[600], bad[600];
    snprintf(path, sizeof path, "%s/nested/dir/config.json", dir);
    ls_uiconfig c, back;
    ls_uiconfig_default(&c);
    c.settings.method = LS_METHOD_KURT;
    c.settings.mode = LS_DIFF_DIVIDE;
    c.settings.top_m = 2;
    c.settings.boost_stop = 2;
    c.settings.base = 5;
    c.settings.seed = 7;
    c.log_scale = true;
    snprintf(c.theme, sizeof c.theme, "mono");
    snprintf(c.last_model, sizeof c.last_model, "/models/x");
    ls_error err;
    CHECK(ls_uiconfig_save(path, &c, &err) == 0);
    char note[256];
    CHECK(ls_uiconfig_load(path, &back, note, sizeof note, &err) == 0);
    CHECK(back.has_settings);
    CHECK(back.settings.method == LS_METHOD_KURT && back.settings.mode == LS_DIFF_DIVIDE);
    CHECK(back.settings.top_m == 2 && back.settings.boost_stop == 2);
    CHECK(back.settings.base == 5 && back.settings.seed == 7);
    CHECK(back.log_scale);
    CHECK_STR(back.theme, "mono");
    CHECK_STR(back.last_model, "/models/x");
    CHECK_STR(note, "");
    /* missing file: defaults */
    snprintf(bad, sizeof bad, "%s/none.json", dir);
    CHECK(ls_uiconfig_load(bad, &back, note, sizeof note, &err) == 1);
    CHECK(!back.has_settings);
    /* broken JSON and bad values: reported, defaults kept */
    snprintf(bad, sizeof bad, "%s/broken.json", dir);
    FILE *f = fopen(bad, "w");
    fputs("{\"version\": 1, \"method\": ", f);
    fclose(f);
    CHECK(ls_uiconfig_load(bad, &back, note, sizeof note, &err) == -1);
    CHECK(strstr(err.msg, "broken.json") != NULL);
    CHECK(back.settings.method == LS_METHOD_SENSI);
    f = fopen(bad, "w");
    fputs("{\"version\": 1, \"top_m\": -4}", f);
    fclose(f);
    CHECK(ls_uiconfig_load(bad, &back, note, sizeof note, &err) == -1);
    CHECK(strstr(err.msg, "top_m") != NULL);
    /* unknown keys are ignored with a note */
    f = fopen(bad, "w");
    fputs("{\"version\": 1, \"colour\": 3, \"top_m\": 1}", f);
    fclose(f);
    CHECK(ls_uiconfig_load(bad, &back, note, sizeof note, &err) == 0);
    CHECK(back.settings.top_m == 1);
    CHECK(strstr(note, "colour") != NULL);
}

static void test_config_path_precedence(void)
{
    char buf[512];
    setenv("LAYERSCOPE_CONFIG", "/x/explicit.json", 1);
    setenv("XDG_CONFIG_HOME", "/xdg", 1);
    CHECK(ls_uiconfig_path(buf, sizeof buf) == 0);
    CHECK_STR(buf, "/x/explicit.json");
    unsetenv("LAYERSCOPE_CONFIG");
    CHECK(ls_uiconfig_path(buf, sizeof buf) == 0);
    CHECK_STR(buf, "/xdg/layerscope/config.json");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(ls_uiconfig_path(buf, sizeof buf) == 0);
    CHECK_STR(buf, "/home/u/.config/layerscope/config.json");
}

int main(void)
{
    RUN(test_explain_outlier_and_layer0);
    RUN(test_explain_samuelson_note);
    RUN(test_fmt_value);
    RUN(test_histogram);
    RUN(test_histogram_dtype_grid);
    RUN(test_jobs_run_and_take);
    RUN(test_jobs_cancel_and_latest_wins);
    RUN(test_jobs_free_while_running);
    RUN(test_jobs_partial_result_on_cancel);
    RUN(test_jobs_keep_newest);
    RUN(test_progress_phases);
    RUN(test_profile_copy);
    RUN(test_config_roundtrip_and_errors);
    RUN(test_config_path_precedence);
    return t_summary();
}
