/* The exact budget solver (core/method/mckp.c) and MXQ (core/method/mxq.c): optimality
 * against the exhaustive reference on random small instances, infeasible and boundary
 * budgets, time limit and cancel, the 1/512-bit memory units, the MiLP costs of
 * docs/method.md §8, and the toolkit's published MXQ allocations for Llama-2-7B. */
#include "test.h"

#include "batch_run.h"

#include "base/rng.h"
#include "method/import.h"
#include "method/mckp.h"
#include "method/mxq.h"
#include "base/csv.h"
#include "base/mapfile.h"
#include "cli/batch.h"
#include "cli/options.h"
#include "io/session.h"
#include "method/analysis.h"

#include <cjson/cJSON.h>

#define PAPER_METRICS "data/paper/fnorm-Llama-2-7b-hf.csv"
#define PAPER_MXQ "data/paper/mxq1-Llama-2-7b-hf.csv"

static double urand(ls_rng *r)
{
    return (double)(ls_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Random instances of 1..6 items and 1..7 choices, with ties, equal weights and missing
 * choices; capacities from below the lightest to above the heaviest total. */
static void test_random_vs_exhaustive(void)
{
    ls_rng rng;
    ls_rng_seed(&rng, 7);
    int n_opt = 0, n_inf = 0;
    for (int t = 0; t < 3000; t++) {
        int n = 1 + (int)(ls_rng_next(&rng) % 6), k = 1 + (int)(ls_rng_next(&rng) % 7);
        int64_t w[64];
        double c[64];
        for (int i = 0; i < n * k; i++) {
            w[i] = (int64_t)(ls_rng_next(&rng) % 20);
            /* integers make exact ties common; fractions exercise the rounding slack */
            c[i] = (t % 2) ? (double)(ls_rng_next(&rng) % 10) : 10.0 * urand(&rng);
            if (ls_rng_next(&rng) % 9 == 0)
                c[i] = NAN;
        }
        for (int i = 0; i < n; i++) /* at least one choice per item */
            if (isnan(c[i * k]))
                c[i * k] = 5.0;
        int64_t cap = (int64_t)(ls_rng_next(&rng) % (uint64_t)(20 * n + 4)) - 2;
        ls_mckp p = {n, k, w, c, cap, 0};
        int ch[8], ref[8];
        ls_mckp_result r, rr;
        ls_error err;
        ls_mckp_status s = ls_mckp_solve(&p, 0, NULL, ch, &r, &err);
        ls_mckp_status sr = ls_mckp_solve_exhaustive(&p, ref, &rr, &err);
        CHECK(s == sr);
        if (s != sr) {
            fprintf(stderr, "  instance %d: status %d, reference %d\n", t, s, sr);
            continue;
        }
        if (s == LS_MCKP_INFEASIBLE) {
            n_inf++;
            continue;
        }
        n_opt++;
        CHECK_NEAR(r.cost, rr.cost, 1e-12);
        CHECK(r.weight <= cap);
        /* the returned choices really give the reported cost and weight */
        double sc = 0;
        int64_t sw = 0;
        for (int i = 0; i < n; i++) {
            CHECK(ch[i] >= 0 && ch[i] < k && !isnan(c[i * k + ch[i]]));
            sc += c[i * k + ch[i]];
            sw += w[i * k + ch[i]];
        }
        CHECK_NEAR(sc, r.cost, 1e-12);
        CHECK(sw == r.weight);
        CHECK(r.lower_bound <= r.cost + 1e-9);
    }
    CHECK(n_opt > 1000 && n_inf > 100); /* both kinds were exercised */
}

/* MXQ-shaped instances from the real Llama-2-7B fnorm rows: 6 matrices x 12 configs
 * (12^6 combinations for the reference), budgets across the whole range. */
static void test_real_rows_vs_exhaustive(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    ls_profile *p = NULL;
    ls_error err;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    if (!p)
        return;
    ls_rng rng;
    ls_rng_seed(&rng, 11);
    for (int t = 0; t < 12; t++) {
        int idx[6];
        int64_t params[6], w[72];
        double c[72];
        for (int j = 0; j < 6; j++) {
            idx[j] = (int)(ls_rng_next(&rng) % (uint64_t)(p->n_layers * LS_N_MODULES));
            params[j] = p->params[idx[j]];
            for (int s = 0; s < LS_N_STOPS; s++) {
                c[j * 12 + s] = p->fnorm[(size_t)idx[j] * 12 + s];
                w[j * 12 + s] = params[j] * ls_mxq_stop_units(s);
            }
        }
        int64_t lo = 0, hi = 0;
        for (int j = 0; j < 6; j++) {
            lo += w[j * 12];
            hi += w[j * 12 + 11];
        }
        int64_t cap = lo + (int64_t)((double)(hi - lo) * (t + 0.5) / 12.0);
        ls_mckp pr = {6, 12, w, c, cap, 0};
        int ch[6], ref[6];
        ls_mckp_result r, rr;
        CHECK(ls_mckp_solve(&pr, 0, NULL, ch, &r, &err) == LS_MCKP_OPTIMAL);
        CHECK(ls_mckp_solve_exhaustive(&pr, ref, &rr, &err) == LS_MCKP_OPTIMAL);
        CHECK_NEAR(r.cost, rr.cost, 1e-12);
        CHECK(r.weight <= cap);
    }
    ls_profile_free(p);
}

static void test_boundaries(void)
{
    /* 3 items: lightest total 6, heaviest 30 */
    int64_t w[] = {1, 5, 10, 2, 4, 8, 3, 6, 12};
    double c[] = {9, 4, 1, 8, 5, 2, 7, 3, 0.5};
    int ch[3] = {-1, -1, -1};
    ls_mckp_result r;
    ls_error err;
    ls_mckp p = {3, 3, w, c, 5, 0};
    CHECK(ls_mckp_solve(&p, 0, NULL, ch, &r, &err) == LS_MCKP_INFEASIBLE);
    CHECK(ch[0] == -1); /* untouched */
    CHECK(strstr(err.msg, "infeasible") != NULL);
    p.capacity = 6; /* exactly the lightest */
    CHECK(ls_mckp_solve(&p, 0, NULL, ch, &r, &err) == LS_MCKP_OPTIMAL);
    CHECK(ch[0] == 0 && ch[1] == 0 && ch[2] == 0 && r.weight == 6);
    p.capacity = 30; /* exactly the heaviest */
    CHECK(ls_mckp_solve(&p, 0, NULL, ch, &r, &err) == LS_MCKP_OPTIMAL);
    CHECK(ch[0] == 2 && ch[1] == 2 && ch[2] == 2 && r.weight == 30 && r.cost == 3.5);
    p.capacity = 29; /* one unit short: the best of the rest */
    CHECK(ls_mckp_solve(&p, 0, NULL, ch, &r, &err) == LS_MCKP_OPTIMAL);
    int ref[3];
    ls_mckp_result rr;
    CHECK(ls_mckp_solve_exhaustive(&p, ref, &rr, &err) == LS_MCKP_OPTIMAL);
    CHECK(r.cost == rr.cost && r.weight <= 29);
    p.capacity = INT64_MAX / 2; /* far beyond: the unconstrained optimum */
    CHECK(ls_mckp_solve(&p, 0, NULL, ch, &r, &err) == LS_MCKP_OPTIMAL);
    CHECK(r.cost == 3.5);
}

/* A large instance stopped by the time limit and by cancel: no answer, choices untouched. */
static void test_stop(void)
{
    ls_rng rng;
    ls_rng_seed(&rng, 3);
    int n = 400, k = 12;
    int64_t *w = malloc(sizeof *w * n * k);
    double *c = malloc(sizeof *c * n * k);
    int *ch = malloc(sizeof *ch * n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            w[i * k + j] = 1000 + 997 * j + (int64_t)(ls_rng_next(&rng) % 500);
            c[i * k + j] = 100.0 / (1 + j) + urand(&rng);
        }
    for (int i = 0; i < n; i++)
        ch[i] = -7;
    ls_mckp p = {n, k, w, c, (int64_t)n * 6000, 0};
    ls_mckp_result r;
    ls_error err;
    CHECK(ls_mckp_solve(&p, 1e-9, NULL, ch, &r, &err) == LS_MCKP_STOPPED);
    CHECK(strstr(err.msg, "time limit") != NULL);
    CHECK(ch[0] == -7 && ch[n - 1] == -7);
    ls_progress prog;
    ls_progress_init(&prog);
    ls_progress_cancel(&prog);
    CHECK(ls_mckp_solve(&p, 0, &prog, ch, &r, &err) == LS_MCKP_STOPPED);
    CHECK(strstr(err.msg, "cancelled") != NULL);
    CHECK(ch[0] == -7);
    ls_progress_destroy(&prog);
    free(w);
    free(c);
    free(ch);
}

static void test_units_and_budget(void)
{
    for (int s = 0; s < LS_N_STOPS; s++)
        CHECK((double)ls_mxq_stop_units(s) / 512.0 == ls_stop_bpp(s)); /* exact */
    int64_t params[7] = {100, 200, 300, 400, 500, 600, 700}; /* P = 2800 */
    int64_t u;
    ls_error err;
    int base = ls_stop_find(3, 128);
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_BPP, 3.25, &u, &err) == 0);
    CHECK(u == 2800 * 512 * 13 / 4); /* exact: 3.25 is a binary fraction */
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_BPP, 2.126953125, &u, &err) == 0);
    CHECK(u == 2800 * ls_mxq_stop_units(0)); /* the boundary itself is feasible */
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_BPP, 2.1269, &u, &err) < 0);
    CHECK(strstr(err.msg, "feasible range 2.1270 to 8.5078 bpp") != NULL);
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_BPP, 8.6, &u, &err) < 0);
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_BPP, 8.5078125, &u, &err) == 0);
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_EXTRA, 0, &u, &err) == 0);
    CHECK(u == 2800 * ls_mxq_stop_units(base)); /* 0 % extra = the base exactly */
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_EXTRA, 10, &u, &err) == 0);
    CHECK(u == (2800 * ls_mxq_stop_units(base) * 110) / 100);
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_EXTRA, -40, &u, &err) < 0);
    CHECK(strstr(err.msg, "feasible range") != NULL);
    double mib = 2800.0 * 4.0 / 8 / 1048576; /* 4 bpp */
    CHECK(ls_mxq_budget(params, 7, base, LS_TARGET_MIB, mib, &u, &err) == 0);
    CHECK(u == 2800 * 4 * 512);
    /* 2.13 is not a binary fraction: the budget is floor(P*512*2.13) all the same */
    int64_t big[1] = {6476005376};
    CHECK(ls_mxq_budget(big, 1, base, LS_TARGET_BPP, 2.13, &u, &err) == 0);
    CHECK(u == (int64_t)6476005376 * 109056 / 100); /* 512*2.13 = 1090.56 */
}

static void test_milp_costs(void)
{
    ls_error err;
    ls_profile *p = ls_profile_new(2, "t", "t", "fnorm-csv", &err);
    for (int i = 0; i < 14; i++)
        p->params[i] = 1000 * (i + 1); /* P' = 105000 */
    double cost[14 * 12];
    unsigned char out[14] = {0};
    out[9] = 1;
    CHECK(ls_mxq_costs(p, LS_MXQ_COST_SENSI, out, 2.0, cost, &err) == 0);
    /* matrix 0 at b2g128: penalty 4, f 1 */
    CHECK_REL(cost[0], 4.0 * 100.0 * (1000.0 / 105000.0) / ls_stop_bpp(0), 1e-15);
    /* matrix 9 (an outlier) at b3g64: penalty 2, f 2 */
    CHECK_REL(cost[9 * 12 + 4], 2.0 * 2.0 * 100.0 * (10000.0 / 105000.0) / ls_stop_bpp(4),
              1e-15);
    /* b4 and b8: penalty 1 */
    CHECK_REL(cost[11], 100.0 * (1000.0 / 105000.0) / ls_stop_bpp(11), 1e-15);
    CHECK(ls_mxq_costs(p, LS_MXQ_COST_FNORM, NULL, 2.0, cost, &err) < 0);
    CHECK(strstr(err.msg, "--fnorm") != NULL && strstr(err.msg, "no fnorm column") != NULL);
    ls_profile_free(p);
}

/* The toolkit's published MXQ allocations: at each of the 9 budgets ours fits, and its sum
 * of fnorm is at most the published one wherever the published one fits. */
static void test_published_allocations(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    NEED_SHARED(mxq_path, PAPER_MXQ);
    ls_profile *p = NULL;
    ls_error err;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    ls_csv c;
    CHECK(ls_csv_read(mxq_path, &c, &err) == 0);
    if (!p || !c.n_rows)
        return;
    int n = p->n_layers * LS_N_MODULES;
    int cm = ls_csv_col(&c, "module"), cl = ls_csv_col(&c, "layer"),
        cb = ls_csv_col(&c, "bit_budget"), c1 = ls_csv_col(&c, "b1"), cg = ls_csv_col(&c, "g1"),
        cmem = ls_csv_col(&c, "memmb"), cq = ls_csv_col(&c, "params_quant_tot");
    CHECK(cm >= 0 && cl >= 0 && cb >= 0 && c1 >= 0 && cg >= 0 && cmem >= 0 && cq >= 0);
    double budgets[16];
    int nb = 0;
    unsigned char pub[16][256 * 7];
    double pub_mem[16] = {0};
    int64_t P = 0;
    for (int i = 0; i < n; i++)
        P += p->params[i];
    for (size_t r = 0; r < c.n_rows; r++) {
        double b, mem;
        int64_t layer, b1, g1, pq;
        CHECK(ls_csv_double(&c, r, cb, &b, &err) == 0);
        CHECK(ls_csv_int(&c, r, cl, 0, p->n_layers - 1, &layer, &err) == 0);
        CHECK(ls_csv_int(&c, r, c1, 1, 8, &b1, &err) == 0);
        CHECK(ls_csv_int(&c, r, cg, 1, 1024, &g1, &err) == 0);
        CHECK(ls_csv_double(&c, r, cmem, &mem, &err) == 0);
        CHECK(ls_csv_int(&c, r, cq, 0, INT64_MAX, &pq, &err) == 0);
        CHECK(pq == P); /* the file's P is ours */
        int m = ls_module_from_name(ls_csv_cell(&c, r, cm));
        int j = 0;
        while (j < nb && budgets[j] != b)
            j++;
        if (j == nb) {
            CHECK(nb < 16);
            budgets[nb++] = b;
            memset(pub[j], 255, sizeof pub[j]);
        }
        pub[j][LS_IDX(layer, m)] = (unsigned char)ls_stop_find((int)b1, (int)g1);
        pub_mem[j] += mem;
    }
    CHECK(nb == 9);
    double *cost = malloc(sizeof *cost * (size_t)n * 12);
    CHECK(ls_mxq_costs(p, LS_MXQ_COST_FNORM, NULL, 0, cost, &err) == 0);
    unsigned char cfg[256 * 7];
    int n_pub_over = 0;
    printf("  budget  published: fnorm      MiB  fits | ours: fnorm      MiB  agree  states  s\n");
    for (int j = 0; j < nb; j++) {
        int64_t budget;
        CHECK(ls_mxq_budget(p->params, n, 0, LS_TARGET_BPP, budgets[j], &budget, &err) == 0);
        ls_mckp_result r;
        int rc = ls_mxq_solve(p->params, n, cost, budget, 60, NULL, cfg, &r, &err);
        CHECK(rc == 0);
        if (rc < 0) {
            fprintf(stderr, "  %s\n", err.msg);
            continue;
        }
        double pub_f = 0, our_f = 0, our_mem = 0;
        int64_t pub_u = 0;
        int agree = 0;
        for (int i = 0; i < n; i++) {
            CHECK(pub[j][i] < LS_N_STOPS); /* every matrix present */
            pub_f += p->fnorm[(size_t)i * 12 + pub[j][i]];
            pub_u += p->params[i] * ls_mxq_stop_units(pub[j][i]);
            our_f += p->fnorm[(size_t)i * 12 + cfg[i]];
            our_mem += (double)p->params[i] * ls_stop_bpp(cfg[i]) / 8 / 1048576;
            agree += pub[j][i] == cfg[i];
        }
        double budget_mb = (double)P * budgets[j] / 8 / 1048576;
        bool pub_fits = pub_u <= budget;
        CHECK(r.weight <= budget);
        CHECK(our_mem <= budget_mb); /* the toolkit's own test, in doubles */
        CHECK_NEAR(our_f, r.cost, 1e-12);
        if (pub_fits)
            CHECK(our_f <= pub_f);
        else
            n_pub_over++;
        CHECK_NEAR(pub_mem[j], ls_mxq_units_to_mib(pub_u), 1e-12); /* file's memmb = ours */
        printf("  %6.2f  %16.4f %8.2f  %-4s | %11.4f %8.2f  %3d/%d %7lld %.3f\n", budgets[j],
               pub_f, pub_mem[j], pub_fits ? "yes" : "NO", our_f, our_mem, agree, n,
               (long long)r.states_total, r.seconds);
    }
    CHECK(n_pub_over == 1); /* the README: one of the nine (2.25) exceeds its budget */
    free(cost);
    ls_csv_free(&c);
    ls_profile_free(p);
}

/* The last line of errbuf contains want, and the error is one line. */
static int one_line_error(const char *errbuf, const char *want)
{
    const char *last = errbuf, *nl;
    while ((nl = strchr(last, '\n')) && nl[1])
        last = nl + 1;
    return strstr(last, want) != NULL;
}

/* Batch: the JSON records the target and the solve, the export carries exactly the
 * solver's allocation, and every kind of bad input is one line with status 2. */
static void test_batch(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    const char *dir = t_tmpdir("mxq_batch");
    char json[600], exp[600], sess[600], e[4096];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(exp, sizeof exp, "%s/e.json", dir);
    snprintf(sess, sizeof sess, "%s/s.json", dir);
    char *argv[] = {"layerscope", "--batch", "--method", "mxq", "--target-bpp", "3.3",
                    "--json", json, "--export", exp, "--save-session", sess,
                    (char *)metrics};
    CHECK(ls_test_run_batch(13, argv, e, sizeof e) == 0);
    cJSON *doc = ls_test_read_json(json), *ex = ls_test_read_json(exp);
    CHECK(doc && ex);
    if (!doc || !ex)
        return;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(doc, "settings");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(s, "method")->valuestring, "mxq");
    const cJSON *bt = cJSON_GetObjectItemCaseSensitive(s, "budget_target");
    CHECK(bt && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(bt, "kind")));
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(bt, "kind")->valuestring, "bpp");
    CHECK(cJSON_GetObjectItemCaseSensitive(bt, "value")->valuedouble == 3.3);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(s, "budget");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "optimal")));
    /* the export's optimal_configs are the solver's answer, computed here independently */
    ls_profile *p = NULL;
    ls_error err;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    int n = p->n_layers * LS_N_MODULES;
    int64_t budget;
    CHECK(ls_mxq_budget(p->params, n, 0, LS_TARGET_BPP, 3.3, &budget, &err) == 0);
    unsigned char cfg[256 * 7];
    ls_mckp_result r;
    CHECK(ls_mxq_solve(p->params, n, p->fnorm, budget, 60, NULL, cfg, &r, &err) == 0);
    CHECK_NEAR(cJSON_GetObjectItemCaseSensitive(b, "cost_total")->valuedouble, r.cost, 1e-12);
    const cJSON *oc = cJSON_GetObjectItemCaseSensitive(ex, "optimal_configs");
    int same = 0, n_boosted = 0;
    for (int i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, "%d.%s", i / LS_N_MODULES, ls_module_name(i % LS_N_MODULES));
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(oc, key);
        const cJSON *nb = t ? cJSON_GetArrayItem(t, 0) : NULL, *gs = t ? cJSON_GetArrayItem(t, 1) : NULL;
        if (nb && gs && ls_stop_find(nb->valueint, gs->valueint) == cfg[i])
            same++;
        n_boosted += cfg[i] != ls_stop_find(3, 128);
    }
    CHECK(same == n);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ex, "boosted")) == n_boosted);
    /* the session keeps the target */
    ls_session se;
    memset(&se, 0, sizeof se);
    CHECK(ls_session_load(sess, &se, &err) == 0);
    CHECK(se.settings.method == LS_METHOD_MXQ && se.settings.target_kind == LS_TARGET_BPP &&
          se.settings.target == 3.3);
    ls_session_free(&se);
    cJSON_Delete(doc);
    cJSON_Delete(ex);
    ls_profile_free(p);

    char *no_target[] = {"layerscope", "--batch", "--method", "mxq", (char *)metrics};
    CHECK(ls_test_run_batch(5, no_target, e, sizeof e) == 2 && one_line_error(e, "needs a target"));
    char *low[] = {"layerscope", "--batch", "--method", "mxq", "--target-bpp", "2",
                   (char *)metrics};
    CHECK(ls_test_run_batch(7, low, e, sizeof e) == 2 &&
          one_line_error(e, "outside the feasible range 2.1270 to 8.5078 bpp"));
    char *high[] = {"layerscope", "--batch", "--method", "kurt-milp", "--target-extra", "200",
                    (char *)metrics};
    CHECK(ls_test_run_batch(7, high, e, sizeof e) == 2 && one_line_error(e, "feasible range"));
    char *boost[] = {"layerscope", "--batch", "--target-bpp", "3.3", (char *)metrics};
    CHECK(ls_test_run_batch(5, boost, e, sizeof e) == 2 && one_line_error(e, "applies to --method mxq"));
    const char *demo = "samples/demo";
    struct stat st;
    if (stat(demo, &st) == 0) {
        char *nofn[] = {"layerscope", "--batch", "--method", "mxq", "--target-bpp", "3.3",
                        (char *)demo};
        CHECK(ls_test_run_batch(7, nofn, e, sizeof e) == 2 && one_line_error(e, "--fnorm"));
    }
}

/* The MiLP variants: top-m, the factor and the ablation (no outliers) change the costs as
 * §8 says; with factor 1 the outliers do not matter. */
static void test_milp_analysis(void)
{
    NEED_SHARED(metrics, PAPER_METRICS);
    ls_profile *p = NULL;
    ls_error err;
    CHECK(ls_import_metrics(metrics, &p, &err) == 0);
    ls_analysis *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_SENSI_MILP;
    s.target_kind = LS_TARGET_BPP;
    s.target = 3.5;
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK(a->budget && a->solve.status == LS_MCKP_OPTIMAL);
    CHECK(a->mem.bpp <= 3.5);
    /* the outliers (factor 2) get at least the bits the others of their size get: check
     * that the outlier matrices' mean bpp is above the rest's */
    double bo = 0, br = 0;
    int no = 0, nr = 0;
    for (int m = 0; m < LS_N_MODULES; m++)
        for (int l = 1; l < p->n_layers; l++) {
            double v = ls_stop_bpp(a->cfg[LS_IDX(l, m)]);
            if (a->sensi[m].selected[l]) {
                bo += v;
                no++;
            } else {
                br += v;
                nr++;
            }
        }
    CHECK(no > 0 && nr > 0 && bo / no > br / nr);
    s.ablation = true; /* f = 1 everywhere */
    CHECK(ls_analyze(p, &s, NULL, b, &err) == 0);
    s.ablation = false;
    s.factor = 1.0;
    ls_analysis *c = malloc(sizeof *c);
    CHECK(ls_analyze(p, &s, NULL, c, &err) == 0);
    CHECK_NEAR(b->cost_total, c->cost_total, 1e-12);
    CHECK(a->cost_total > c->cost_total); /* the outlier weight raises the optimum */
    free(a);
    free(b);
    free(c);
    ls_profile_free(p);
}

int main(void)
{
    RUN(test_random_vs_exhaustive);
    RUN(test_real_rows_vs_exhaustive);
    RUN(test_boundaries);
    RUN(test_stop);
    RUN(test_units_and_budget);
    RUN(test_milp_costs);
    RUN(test_published_allocations);
    RUN(test_batch);
    RUN(test_milp_analysis);
    return t_summary();
}
