/* Interop exports: the toolkit CSV formats round-trip through our importers and, for the
 * paper's own metrics file, reproduce its rows (keys, params, cost_sensi) exactly; the
 * llama.cpp override list names exactly the boosted tensors. */
#include "test.h"

#include "method/analysis.h"
#include "base/csv.h"
#include "method/import.h"
#include "io/interop.h"
#include "base/mapfile.h"

static void test_metrics_csv_reproduces_paper_file(void)
{
    NEED_SHARED(src, "data/paper/fnorm-Llama-2-7b-hf.csv");
    ls_error err;
    ls_profile *p;
    CHECK(ls_import_metrics(src, &p, &err) == 0);
    if (!p)
        return;
    const char *dir = t_tmpdir("interop_metrics");
    char out[600];
    snprintf(out, sizeof out, "%s/fnorm-Llama-2-7b-hf.csv", dir);
    CHECK(ls_write_metrics_csv(out, p, &err) == 0);
    ls_csv a, b;
    CHECK(ls_csv_read(src, &a, &err) == 0);
    CHECK(ls_csv_read(out, &b, &err) == 0);
    CHECK(a.n_rows == b.n_rows && a.n_rows == 2688);
    static const char *const exact_cols[] = {"layer", "module", "nbit1", "gsize1", "nbit2",
                                             "gsize2", "params", "cost_sensi"};
    static const char *const num_cols[] = {"fnorm", "memmb", "kurtosis", "sensitivity"};
    int bad = 0;
    for (size_t r = 0; r < a.n_rows && r < b.n_rows; r++) {
        for (size_t k = 0; k < sizeof exact_cols / sizeof exact_cols[0]; k++) {
            const char *x = ls_csv_cell(&a, r, ls_csv_col(&a, exact_cols[k]));
            const char *y = ls_csv_cell(&b, r, ls_csv_col(&b, exact_cols[k]));
            if (strcmp(x, y) != 0 && bad++ < 5)
                fprintf(stderr, "  row %zu %s: %s vs %s\n", r, exact_cols[k], x, y);
        }
        for (size_t k = 0; k < sizeof num_cols / sizeof num_cols[0]; k++) {
            double x, y;
            ls_csv_double(&a, r, ls_csv_col(&a, num_cols[k]), &x, &err);
            ls_csv_double(&b, r, ls_csv_col(&b, num_cols[k]), &y, &err);
            if (fabs(x - y) > 1e-15 * fabs(x) && bad++ < 5)
                fprintf(stderr, "  row %zu %s: %.17g vs %.17g\n", r, num_cols[k], x, y);
        }
    }
    CHECK(bad == 0);
    /* and it reloads to the same profile */
    ls_profile *q;
    CHECK(ls_import_metrics(out, &q, &err) == 0);
    for (int i = 0; q && i < 32 * LS_N_MODULES; i++)
        CHECK(q->kurtosis[i] == p->kurtosis[i] && q->sensitivity[i] == p->sensitivity[i]);
    ls_profile_free(q);
    ls_csv_free(&a);
    ls_csv_free(&b);
    ls_profile_free(p);
}

static ls_profile *toy_profile(void)
{
    ls_profile *p = ls_profile_new(24, "toy", "toy", "synthetic", NULL);
    for (int l = 0; l < 24; l++)
        for (int m = 0; m < LS_N_MODULES; m++) {
            p->params[LS_IDX(l, m)] = 4096;
            p->kurtosis[LS_IDX(l, m)] = 3 + 0.01 * ((l * 7 + m) % 5) + (l == 9 && m == 6 ? 50 : 0);
        }
    p->kurtosis[LS_IDX(3, 2)] = NAN; /* undefined: written as NA */
    return p;
}

static void test_kurtosis_csv_round_trip(void)
{
    ls_profile *p = toy_profile();
    ls_error err;
    const char *dir = t_tmpdir("interop_kurt");
    char out[600];
    snprintf(out, sizeof out, "%s/kurtosis-toy.csv", dir);
    CHECK(ls_write_kurtosis_csv(out, p, &err) == 0);
    ls_profile *q;
    CHECK(ls_import_kurtosis(out, &q, &err) == 0);
    if (!q) {
        ls_profile_free(p);
        return;
    }
    CHECK_STR(q->name, "toy");
    CHECK(q->n_layers == 24);
    for (int i = 0; i < 24 * LS_N_MODULES; i++) {
        CHECK(q->params[i] == 4096);
        CHECK((isnan(p->kurtosis[i]) && isnan(q->kurtosis[i])) || q->kurtosis[i] == p->kurtosis[i]);
    }
    /* grouped by module in the toolkit order: the second block is k_proj */
    ls_csv c;
    CHECK(ls_csv_read(out, &c, &err) == 0);
    CHECK_STR(ls_csv_cell(&c, 24, 0), "self_attn.k_proj");
    CHECK_STR(ls_csv_cell(&c, 5 * 24, 0), "mlp.down_proj");
    ls_csv_free(&c);
    ls_profile_free(q);
    ls_profile_free(p);
}

static void test_llamacpp_overrides(void)
{
    ls_profile *p = toy_profile();
    ls_error err;
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_KURT;
    ls_analysis *a = malloc(sizeof *a);
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK(a->n_boosted == 2); /* the spike at layer 9 down: its rise (9) and fall (10) */
    const char *dir = t_tmpdir("interop_llamacpp");
    char out[600];
    snprintf(out, sizeof out, "%s/overrides.txt", dir);
    CHECK(ls_write_llamacpp_overrides(out, p, a, &err) == 0);
    char *text = ls_read_text_file(out, 1 << 20, NULL, &err);
    CHECK(text != NULL);
    if (text) {
        CHECK(strstr(text, "APPROXIMATION") != NULL);
        CHECK(strstr(text, "--tensor-type ^blk\\.9\\.ffn_down\\.weight$=q4_K\n") != NULL);
        CHECK(strstr(text, "--tensor-type ^blk\\.10\\.ffn_down\\.weight$=q4_K\n") != NULL);
        int lines = 0;
        for (const char *q = text; (q = strstr(q, "\n--tensor-type")) != NULL; q++)
            lines++;
        CHECK(lines == 2);
        free(text);
    }
    CHECK_STR(ls_gguf_type_for_bits(3), "q3_K");
    CHECK_STR(ls_gguf_type_for_bits(8), "q8_0");
    free(a);
    ls_profile_free(p);
}

int main(void)
{
    RUN(test_metrics_csv_reproduces_paper_file);
    RUN(test_kurtosis_csv_round_trip);
    RUN(test_llamacpp_overrides);
    return t_summary();
}
