/* Detection, allocation, memory and ablation against docs/method.md and the paper's own
 * Llama-2-7B data in ../shared/data/paper. */
#include "test.h"

#include <math.h>

#include "method/budget.h"
#include "method/analysis.h"
#include "base/csv.h"
#include "method/detect.h"
#include "method/import.h"
#include "base/rng.h"

#define PAPER_METRICS "data/paper/fnorm-Llama-2-7b-hf.csv"

static void test_splitmix64_vectors(void)
{
    ls_rng r;
    ls_rng_seed(&r, 0);
    CHECK(ls_rng_next(&r) == 0xe220a8397b1dcdafull);
    CHECK(ls_rng_next(&r) == 0x6e789e6aa1b965f4ull);
    ls_rng_seed(&r, 42);
    CHECK(ls_rng_next(&r) == 13679457532755275413ull);
    CHECK(ls_rng_next(&r) == 2949826092126892291ull);
    CHECK(ls_rng_next(&r) == 5139283748462763858ull);
}

static void test_stops_and_bpp(void)
{
    static const double exact[LS_N_STOPS] = {2.126953125, 2.25390625, 2.5078125, 3.126953125,
                                             3.25390625,  3.5078125,  4.126953125, 4.25390625,
                                             4.5078125,   8.126953125, 8.25390625, 8.5078125};
    for (int i = 0; i < LS_N_STOPS; i++) {
        CHECK(ls_stop_bpp(i) == exact[i]);
        CHECK(ls_stop_parse(ls_stop_get(i)->name) == i);
        char key[16];
        snprintf(key, sizeof key, "%.2f", ls_stop_get(i)->key);
        CHECK(ls_stop_parse(key) == i);
        if (i > 0)
            CHECK(ls_stop_bpp(i) > ls_stop_bpp(i - 1));
    }
    CHECK(ls_stop_parse("b5g64") == -1);
    CHECK(ls_stop_parse("3.14") == -1);
    CHECK(ls_stop_parse("") == -1);
    /* docs/method.md §5.2: targets used in the experiments. */
    static const char *const table[][3] = {
        {"b3g128", "b3g32", "b4g128"}, {"b3g64", "b4g128", "b4g64"}, {"b3g32", "b4g64", "b4g32"},
        {"b4g128", "b4g32", "b8g128"}, {"b4g64", "b8g128", "b8g64"}, {"b4g32", "b8g64", "b8g32"},
    };
    for (size_t r = 0; r < sizeof table / sizeof table[0]; r++) {
        int base = ls_stop_parse(table[r][0]);
        CHECK_STR(ls_stop_get(ls_boost_target(base, 2))->name, table[r][1]);
        CHECK_STR(ls_stop_get(ls_boost_target(base, 3))->name, table[r][2]);
    }
    CHECK(ls_boost_target(3, 0) == 4);  /* stop 0 reads as 1 */
    CHECK(ls_boost_target(10, 5) == 11); /* capped at b8g32 */
}

static ls_detection run(const double *s, int n, ls_diff_mode mode, int top_m)
{
    ls_detection d;
    ls_detect(s, n, mode, top_m, NULL, &d);
    return d;
}

static void test_detect_trimming_rule(void)
{
    /* n = 21 differences -> k = 1: the smallest and largest are trimmed. */
    double s[22];
    for (int i = 0; i < 22; i++)
        s[i] = i * 1.0 + (i % 3) * 0.1;
    s[15] += 50; /* spike: rise at 15, fall at 16 */
    ls_detection d = run(s, 22, LS_DIFF_SUBTRACT, 0);
    CHECK(d.status == LS_DETECT_OK);
    CHECK(d.n_valid == 21 && d.k == 1 && d.n_core == 19);
    /* recompute mu/sigma independently */
    double diffs[21];
    for (int i = 0; i < 21; i++)
        diffs[i] = s[i + 1] - s[i];
    for (int i = 0; i < 21; i++)
        for (int j = i + 1; j < 21; j++)
            if (diffs[j] < diffs[i]) {
                double t = diffs[i];
                diffs[i] = diffs[j];
                diffs[j] = t;
            }
    double mu = 0, ss = 0;
    for (int i = 1; i < 20; i++)
        mu += diffs[i];
    mu /= 19;
    for (int i = 1; i < 20; i++)
        ss += (diffs[i] - mu) * (diffs[i] - mu);
    CHECK_NEAR(d.mu, mu, 1e-15);
    CHECK_NEAR(d.sigma, sqrt(ss / 18), 1e-15);
    CHECK(d.outlier[15] && d.outlier[16]);
    CHECK(d.n_outliers == 2);
    CHECK(d.rank[15] >= 1 && d.rank[16] >= 1);
    CHECK(!d.outlier[0]);
    /* top_m = 1 keeps the larger z only */
    ls_detection d1 = run(s, 22, LS_DIFF_SUBTRACT, 1);
    CHECK(d1.n_selected == 1 && d1.n_outliers == 2);
    CHECK(d1.order[0] == (d.z[15] >= d.z[16] ? 15 : 16));
}

static void test_detect_edge_cases(void)
{
    double one[1] = {1.0};
    ls_detection d = run(one, 1, LS_DIFF_DIVIDE, 0);
    CHECK(d.status == LS_DETECT_NO_LAYERS && d.n_outliers == 0);
    double two[2] = {1.0, 5.0};
    d = run(two, 2, LS_DIFF_DIVIDE, 0);
    CHECK(d.status == LS_DETECT_TOO_FEW && d.n_outliers == 0 && isnan(d.sigma));
    /* 5 layers: Samuelson bound (n-1)/sqrt(n) = 1.5 */
    double five[5] = {1, 2, 3, 100, 5};
    d = run(five, 5, LS_DIFF_SUBTRACT, 0);
    CHECK_NEAR(d.max_z_possible, 1.5, 1e-12);
    CHECK(d.n_outliers == 0);
    for (int l = 1; l < 5; l++)
        CHECK(d.z[l] <= 1.5 + 1e-12);
    /* divide by zero: invalid, never flagged, excluded from k */
    double z[14] = {1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    d = run(z, 14, LS_DIFF_DIVIDE, 0);
    CHECK(!d.valid[4] && d.n_invalid == 1 && d.invalid_layers[0] == 4);
    CHECK(!d.outlier[4]);
    CHECK(d.n_valid == 12);
    for (int l = 1; l < 14; l++)
        CHECK(!isnan(d.z[l]) || !d.valid[l]);
    /* NaN in the series invalidates both differences that touch it */
    double nanser[14] = {1, 2, 3, 4, NAN, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    d = run(nanser, 14, LS_DIFF_SUBTRACT, 0);
    CHECK(!d.valid[4] && !d.valid[5] && d.n_invalid == 2 && d.n_valid == 11);
    /* constant core: sigma 0 -> z inf where d != mu, 0 where d == mu */
    double flat[22]; /* 21 differences: k = 1 trims the odd one out of the core */
    for (int i = 0; i < 22; i++)
        flat[i] = i;
    flat[21] = 27; /* last difference 6 instead of 1 */
    d = run(flat, 22, LS_DIFF_SUBTRACT, 0);
    CHECK(d.sigma == 0);
    CHECK(isinf(d.z[21]) && d.outlier[21]);
    CHECK(d.z[1] == 0 && !d.outlier[1]);
    /* two-sided: a drop is flagged like a jump */
    double drop[40];
    for (int i = 0; i < 40; i++)
        drop[i] = 100 + i * 0.01 * (i % 2 ? 1 : -1);
    drop[9] = 10;
    d = run(drop, 40, LS_DIFF_SUBTRACT, 0);
    CHECK(d.outlier[9]);
    CHECK(d.diff[9] < 0);
}

/* Every row of outlier_trace-Llama-2-7b-hf.csv: diff, trimmed mean and std, z, flag, rank. */
static void test_paper_outlier_trace(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    NEED_SHARED(trace_path, "data/paper/outlier_trace-Llama-2-7b-hf.csv");
    char trace_copy[1024];
    snprintf(trace_copy, sizeof trace_copy, "%s", trace_path);
    ls_error err;
    ls_profile *p;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    if (!p)
        return;
    CHECK(p->n_layers == 32);
    ls_csv c;
    CHECK(ls_csv_read(trace_copy, &c, &err) == 0);
    CHECK(c.n_rows == 434);
    int cs = ls_csv_col(&c, "source"), cd = ls_csv_col(&c, "diff_method");
    int cm = ls_csv_col(&c, "module"), cl = ls_csv_col(&c, "layer");
    int cdiff = ls_csv_col(&c, "diff"), cmu = ls_csv_col(&c, "trim_mean");
    int csd = ls_csv_col(&c, "trim_std"), cz = ls_csv_col(&c, "z");
    int co = ls_csv_col(&c, "outlier"), cr = ls_csv_col(&c, "outlier_rank");
    int cvp = ls_csv_col(&c, "value_prev"), cv = ls_csv_col(&c, "value");
    int rows_checked = 0, outliers = 0, bad = 0;
    for (size_t r = 0; r < c.n_rows; r++) {
        const char *src = ls_csv_cell(&c, r, cs);
        int mode = ls_diff_mode_parse(ls_csv_cell(&c, r, cd));
        int m = ls_module_from_name(ls_csv_cell(&c, r, cm));
        int64_t layer;
        ls_csv_int(&c, r, cl, 1, 31, &layer, &err);
        const double *metric = strcmp(src, "sensitivity") == 0 ? p->sensitivity : p->kurtosis;
        double series[32];
        for (int l = 0; l < 32; l++)
            series[l] = metric[LS_IDX(l, m)];
        ls_detection d;
        ls_detect(series, 32, (ls_diff_mode)mode, 0, NULL, &d);
        double diff, mu, sd, z, vp, v;
        ls_csv_double(&c, r, cdiff, &diff, &err);
        ls_csv_double(&c, r, cmu, &mu, &err);
        ls_csv_double(&c, r, csd, &sd, &err);
        ls_csv_double(&c, r, cz, &z, &err);
        ls_csv_double(&c, r, cvp, &vp, &err);
        ls_csv_double(&c, r, cv, &v, &err);
        bool flag = strcmp(ls_csv_cell(&c, r, co), "True") == 0;
        const char *rank_s = ls_csv_cell(&c, r, cr);
        int rank = *rank_s ? atoi(rank_s) : 0;
        int l = (int)layer;
        int before = t_cur_failed;
        CHECK_REL(series[l - 1], vp, 1e-9);
        CHECK_REL(series[l], v, 1e-9);
        CHECK_REL(d.diff[l], diff, 1e-9);
        CHECK_REL(d.mu, mu, 1e-9);
        CHECK_REL(d.sigma, sd, 1e-9);
        CHECK_REL(d.z[l], z, 1e-8);
        CHECK(d.outlier[l] == flag);
        CHECK(d.rank[l] == rank);
        if (t_cur_failed != before && bad++ < 3)
            fprintf(stderr, "  (trace line %zu: %s %s layer %d)\n", c.line_no[r], src,
                    ls_csv_cell(&c, r, cm), l);
        outliers += flag;
        rows_checked++;
    }
    CHECK(rows_checked == 434);
    CHECK(outliers == 33);
    ls_csv_free(&c);
    ls_profile_free(p);
}

/* docs/method.md §4.9: flagged counts for top_m 0..3. */
static void test_paper_flag_counts(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    ls_error err;
    ls_profile *p;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    if (!p)
        return;
    static const int want_sensi[4] = {15, 7, 13, 15}, want_kurt[4] = {18, 7, 14, 18};
    for (int top = 0; top <= 3; top++) {
        ls_settings s = ls_settings_default();
        s.top_m = top;
        ls_analysis *a = malloc(sizeof *a);
        s.method = LS_METHOD_SENSI;
        CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
        CHECK(a->n_boosted == want_sensi[top]);
        s.method = LS_METHOD_KURT;
        CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
        CHECK(a->n_boosted == want_kurt[top]);
        free(a);
    }
    /* SB30 and KB30 extra memory (docs/method.md §6.1) */
    ls_settings s = ls_settings_default();
    ls_analysis *a = malloc(sizeof *a);
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK(a->memory_known);
    CHECK(a->mem.params_linear == 6476005376LL);
    CHECK_NEAR(a->mem.extra_pct, 2.3612, 5e-5);
    s.method = LS_METHOD_KURT;
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK_NEAR(a->mem.extra_pct, 2.7496, 5e-5);
    CHECK(a->mem.base_bpp == 3.126953125);
    free(a);
    ls_profile_free(p);
}

/* Parses "sensi-boost-3-0" into method, stop, top_m; false for other attempts. */
static bool parse_attempt(const char *att, ls_method *method, int *stop, int *top_m)
{
    char kind[16], what[16];
    if (sscanf(att, "%15[a-z]-%15[a-z]-%d-%d", kind, what, stop, top_m) != 4)
        return false;
    if (strcmp(what, "boost") != 0)
        return false;
    if (strcmp(kind, "sensi") == 0)
        *method = LS_METHOD_SENSI;
    else if (strcmp(kind, "kurt") == 0)
        *method = LS_METHOD_KURT;
    else
        return false;
    return true;
}

/* All 95 SensiBoost/KurtBoost allocations of boosted_modules-*.csv, exactly, and
 * n_boosted and mem_inc_pct of every boost row of boost_summary-*.csv. */
static void test_paper_allocations(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    NEED_SHARED(bm_path, "data/paper/boosted_modules-Llama-2-7b-hf.csv");
    char bm_copy[1024];
    snprintf(bm_copy, sizeof bm_copy, "%s", bm_path);
    NEED_SHARED(sum_path, "data/paper/boost_summary-Llama-2-7b-hf.csv");
    char sum_copy[1024];
    snprintf(sum_copy, sizeof sum_copy, "%s", sum_path);
    ls_error err;
    ls_profile *p;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    if (!p)
        return;
    ls_csv bm, sum;
    CHECK(ls_csv_read(bm_copy, &bm, &err) == 0);
    CHECK(ls_csv_read(sum_copy, &sum, &err) == 0);
    CHECK(bm.n_rows == 1269);
    int b_att = ls_csv_col(&bm, "attempt"), b_base = ls_csv_col(&bm, "base_cfg");
    int b_mod = ls_csv_col(&bm, "module"), b_layer = ls_csv_col(&bm, "layer");
    int b_cfg = ls_csv_col(&bm, "boost_cfg"), b_prm = ls_csv_col(&bm, "param_cnt");
    int s_att = ls_csv_col(&sum, "attempt"), s_base = ls_csv_col(&sum, "base_cfg");
    int s_nb = ls_csv_col(&sum, "n_boosted"), s_mem = ls_csv_col(&sum, "mem_inc_pct");
    ls_analysis *a = malloc(sizeof *a);
    int allocations = 0, summary_rows = 0, bm_rows = 0;
    for (size_t r = 0; r < sum.n_rows; r++) {
        ls_settings s = ls_settings_default();
        const char *att = ls_csv_cell(&sum, r, s_att);
        const char *base = ls_csv_cell(&sum, r, s_base);
        if (!parse_attempt(att, &s.method, &s.boost_stop, &s.top_m))
            continue;
        bool anomaly = strcmp(att, "sensi-boost-3-3") == 0 && strcmp(base, "b3g128") == 0;
        if (anomaly)
            continue; /* docs/method.md §11: a stale MiLP-like checkpoint in the paper's data */
        s.base = ls_stop_parse(base);
        CHECK(s.base >= 0);
        CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
        double nb, mem;
        ls_csv_double(&sum, r, s_nb, &nb, &err);
        ls_csv_double(&sum, r, s_mem, &mem, &err);
        CHECK(a->n_boosted == (int)nb);
        CHECK(fabs(round(a->mem.extra_pct * 1000) / 1000 - mem) < 1e-9);
        summary_rows++;
        /* the boosted set of this attempt and base in boosted_modules */
        unsigned char want[32 * LS_N_MODULES] = {0};
        int n_want = 0;
        for (size_t q = 0; q < bm.n_rows; q++) {
            if (strcmp(ls_csv_cell(&bm, q, b_att), att) != 0 ||
                strcmp(ls_csv_cell(&bm, q, b_base), base) != 0)
                continue;
            int m = ls_module_from_name(ls_csv_cell(&bm, q, b_mod));
            int l = atoi(ls_csv_cell(&bm, q, b_layer));
            CHECK(m >= 0 && l >= 0 && l < 32);
            if (m < 0 || l < 0 || l >= 32)
                continue;
            want[LS_IDX(l, m)] = 1;
            n_want++;
            bm_rows++;
            CHECK_STR(ls_csv_cell(&bm, q, b_cfg), ls_stop_get(a->target)->name);
            CHECK(atoll(ls_csv_cell(&bm, q, b_prm)) == p->params[LS_IDX(l, m)]);
        }
        CHECK(n_want == a->n_boosted);
        CHECK(memcmp(want, a->boosted, sizeof want) == 0);
        allocations++;
    }
    CHECK(allocations == 95);
    CHECK(summary_rows == 95);
    CHECK(bm_rows == 1269);
    free(a);
    ls_csv_free(&bm);
    ls_csv_free(&sum);
    ls_profile_free(p);
}

/* docs/method.md §7.2: seeded ablation draws on Llama-2-7B, top_m 0, seed 42. */
static void test_paper_ablation_draws(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    ls_error err;
    ls_profile *p;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    if (!p)
        return;
    static const int sensi[LS_N_MODULES][4] = {{9, 22, -1}, {19, 25, -1}, {17, 21, -1},
                                               {14, -1},    {21, 26, 29, -1}, {6, 28, 29, -1},
                                               {13, 20, -1}};
    static const int kurt[LS_N_MODULES][4] = {{9, 22, -1}, {19, 25, -1}, {17, 21, -1},
                                              {0, 14, 23, -1}, {14, 25, 26, -1},
                                              {11, 17, 25, -1}, {15, 17, 28, -1}};
    ls_analysis *a = malloc(sizeof *a);
    for (int which = 0; which < 2; which++) {
        ls_settings s = ls_settings_default();
        s.method = which == 0 ? LS_METHOD_SENSI : LS_METHOD_KURT;
        s.ablation = true;
        s.seed = 42;
        CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
        const int(*want)[4] = which == 0 ? sensi : kurt;
        for (int m = 0; m < LS_N_MODULES; m++) {
            int got[32], n = 0;
            for (int l = 0; l < 32; l++)
                if (a->boosted[LS_IDX(l, m)])
                    got[n++] = l;
            int k = 0;
            while (want[m][k] >= 0)
                k++;
            CHECK(n == k);
            for (int i = 0; i < n && i < k; i++)
                CHECK(got[i] == want[m][i]);
            CHECK(!a->boosted[LS_IDX(31, m)]); /* the last layer is never eligible */
        }
    }
    /* same seed, same draw; another seed, (almost surely) another */
    ls_settings s = ls_settings_default();
    s.ablation = true;
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    unsigned char first[32 * LS_N_MODULES];
    memcpy(first, a->boosted, sizeof first);
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK(memcmp(first, a->boosted, sizeof first) == 0);
    s.seed = 43;
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK(memcmp(first, a->boosted, sizeof first) != 0);
    s.method = LS_METHOD_BOTH;
    CHECK(ls_analyze(p, &s, NULL, a, &err) == -1);
    free(a);
    ls_profile_free(p);
}

static void test_manual_and_both(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    ls_error err;
    ls_profile *p;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    if (!p)
        return;
    ls_analysis *a = malloc(sizeof *a), *b = malloc(sizeof *b), *u = malloc(sizeof *u);
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_SENSI;
    ls_analyze(p, &s, NULL, a, &err);
    s.method = LS_METHOD_KURT;
    ls_analyze(p, &s, NULL, b, &err);
    s.method = LS_METHOD_BOTH;
    ls_analyze(p, &s, NULL, u, &err);
    int n_union = 0;
    for (int i = 0; i < 32 * LS_N_MODULES; i++) {
        CHECK(u->boosted[i] == (a->boosted[i] | b->boosted[i]));
        n_union += a->boosted[i] | b->boosted[i];
    }
    CHECK(u->n_boosted == n_union);
    unsigned char manual[32 * LS_N_MODULES] = {0};
    manual[LS_IDX(5, LS_MOD_DOWN)] = 1;
    s.method = LS_METHOD_MANUAL;
    ls_analyze(p, &s, manual, u, &err);
    CHECK(u->n_boosted == 1 && u->boosted[LS_IDX(5, LS_MOD_DOWN)]);
    CHECK(u->cfg[LS_IDX(5, LS_MOD_DOWN)] == ls_stop_parse("b4g128"));
    CHECK(u->cfg[LS_IDX(4, LS_MOD_DOWN)] == ls_stop_parse("b3g128"));
    /* mode override: sensitivity with subtract differs from the paper's divide */
    s.method = LS_METHOD_SENSI;
    s.mode = LS_DIFF_SUBTRACT;
    ls_analyze(p, &s, NULL, u, &err);
    CHECK(u->sensi[0].mode == LS_DIFF_SUBTRACT);
    free(a);
    free(b);
    free(u);
    ls_profile_free(p);
}

/* The sensitivity CSV's pileval/b4g64 rows equal the metrics file's column (1e-12). */
static void test_paper_sensitivity_import(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    char mcopy[1024];
    snprintf(mcopy, sizeof mcopy, "%s", metrics);
    NEED_SHARED(sens, "data/paper/sensitivity-Llama-2-7b-hf.csv");
    ls_error err;
    ls_profile *p, *q;
    CHECK(ls_import_metrics(mcopy, &p, &err) == 0);
    CHECK(ls_import_sensitivity(sens, NULL, &q, &err) == 0);
    if (!p || !q)
        return;
    CHECK(q->n_layers == 32);
    CHECK_STR(q->name, "Llama-2-7b-hf");
    for (int i = 0; i < 32 * LS_N_MODULES; i++)
        CHECK_REL(q->sensitivity[i], p->sensitivity[i], 1e-12);
    CHECK(ls_csv_kind_of(sens) == LS_CSV_SENSITIVITY);
    CHECK(ls_csv_kind_of(mcopy) == LS_CSV_METRICS);
    ls_profile_free(q);
    ls_sensi_select sel = {"wikitext", 3, 128};
    CHECK(ls_import_sensitivity(sens, &sel, &q, &err) == 0);
    ls_profile_free(q);
    sel.dataset = "nosuch";
    CHECK(ls_import_sensitivity(sens, &sel, &q, &err) == -1);
    CHECK(strstr(err.msg, "nosuch") && strstr(err.msg, "pileval"));
    ls_profile_free(p);
}

static void test_paper_wdist_kurtosis(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    char mcopy[1024];
    snprintf(mcopy, sizeof mcopy, "%s", metrics);
    NEED_SHARED(wd, "data/paper/wdist-Llama-2-7b-hf.csv");
    ls_error err;
    ls_profile *p, *q;
    CHECK(ls_import_metrics(mcopy, &p, &err) == 0);
    CHECK(ls_import_kurtosis(wd, &q, &err) == 0);
    if (!p || !q)
        return;
    for (int i = 0; i < 32 * LS_N_MODULES; i++) {
        CHECK_REL(q->kurtosis[i], p->kurtosis[i], 1e-14);
        CHECK(q->params[i] == p->params[i]);
    }
    ls_profile_free(p);
    ls_profile_free(q);
}

int main(void)
{
    RUN(test_splitmix64_vectors);
    RUN(test_stops_and_bpp);
    RUN(test_detect_trimming_rule);
    RUN(test_detect_edge_cases);
    RUN(test_paper_outlier_trace);
    RUN(test_paper_flag_counts);
    RUN(test_paper_allocations);
    RUN(test_paper_ablation_draws);
    RUN(test_manual_and_both);
    RUN(test_paper_sensitivity_import);
    RUN(test_paper_wdist_kurtosis);
    return t_summary();
}
