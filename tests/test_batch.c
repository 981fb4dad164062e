/* Batch mode end to end through ls_batch_run: the JSON result schema and values, the
 * allocation export, manual sets, and one-line errors with status 2. */
#include "test.h"

#include "batch_run.h"

#include <cjson/cJSON.h>

#include "cli/batch.h"
#include "method/import.h"
#include "method/manual.h"
#include "base/mapfile.h"
#include "cli/options.h"

static double num(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void test_paper_profile_json(void)
{
    NEED_SHARED(metrics, "data/paper/fnorm-Llama-2-7b-hf.csv");
    const char *dir = t_tmpdir("batch_json");
    char json[600], exp[600], e[1024];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(exp, sizeof exp, "%s/a.json", dir);
    char *argv[] = {"layerscope", "--batch", "--json", json, "--export", exp,
                    "--method", "kurt", (char *)metrics, NULL};
    CHECK(ls_test_run_batch(9, argv, e, sizeof e) == 0);
    cJSON *doc = ls_test_read_json(json);
    CHECK(doc != NULL);
    if (!doc)
        return;
    CHECK_STR(str(doc, "format"), "layerscope-result");
    CHECK(num(doc, "version") == 1);
    const cJSON *model = cJSON_GetObjectItem(doc, "model");
    CHECK_STR(str(model, "name"), "Llama-2-7b-hf");
    CHECK_STR(str(model, "format"), "fnorm-csv");
    CHECK(num(model, "n_layers") == 32);
    CHECK(num(model, "params_linear") == 6476005376.0);
    const cJSON *set = cJSON_GetObjectItem(doc, "settings");
    CHECK_STR(str(set, "method"), "kurt");
    CHECK_STR(str(set, "mode"), "subtract");
    CHECK_STR(str(set, "base"), "b3g128");
    CHECK(num(set, "top_m") == 0 && num(set, "boost_stop") == 3 && num(set, "seed") == 42);
    const cJSON *mods = cJSON_GetObjectItem(doc, "modules");
    CHECK(cJSON_GetArraySize(mods) == 224);
    int boosted = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, mods)
    {
        static const char *const keys[] = {"layer", "module", "params", "kurtosis",
                                           "sensitivity", "diff", "z", "outlier", "rank",
                                           "config", "boosted"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            CHECK(cJSON_GetObjectItem(m, keys[k]) != NULL);
        bool b = cJSON_IsTrue(cJSON_GetObjectItem(m, "boosted"));
        boosted += b;
        CHECK_STR(str(m, "config"), b ? "b4g128" : "b3g128");
        if (num(m, "layer") == 0)
            CHECK(cJSON_IsNull(cJSON_GetObjectItem(m, "z")));
    }
    CHECK(boosted == 18);
    /* KurtBoost flags q_proj layer 1 with z = 71.994 (docs/method.md §4.9) */
    const cJSON *q1 = cJSON_GetArrayItem(mods, 7 * 1 + 0);
    CHECK(num(q1, "layer") == 1);
    CHECK_NEAR(num(q1, "z"), 71.994, 5e-4);
    CHECK(num(q1, "rank") == 1);
    const cJSON *mem = cJSON_GetObjectItem(doc, "memory");
    CHECK_NEAR(num(mem, "extra_pct"), 2.7496, 5e-5);
    CHECK(num(mem, "base_bpp") == 3.126953125);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(mem, "model_mib")));
    cJSON_Delete(doc);

    cJSON *ex = ls_test_read_json(exp);
    CHECK(ex != NULL);
    if (!ex)
        return;
    CHECK_STR(str(ex, "format"), "layerscope-allocation");
    const cJSON *oc = cJSON_GetObjectItem(ex, "optimal_configs");
    CHECK(cJSON_GetArraySize(oc) == 224);
    const cJSON *t = cJSON_GetObjectItem(oc, "1.self_attn.q_proj");
    CHECK(cJSON_GetArraySize(t) == 4);
    CHECK(cJSON_GetArrayItem(t, 0)->valueint == 4 && cJSON_GetArrayItem(t, 1)->valueint == 128);
    CHECK(cJSON_GetArrayItem(t, 2)->valueint == 8 && cJSON_GetArrayItem(t, 3)->valueint == 128);
    t = cJSON_GetObjectItem(oc, "0.self_attn.q_proj");
    CHECK(cJSON_GetArrayItem(t, 0)->valueint == 3);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(ex, "boosted")) == 18);
    cJSON_Delete(ex);

    /* The export read back as a manual set reproduces the same allocation. */
    char json2[600];
    snprintf(json2, sizeof json2, "%s/r2.json", dir);
    char *argv2[] = {"layerscope", "--batch", "--json", json2, "--method", "manual",
                     "--manual", exp, (char *)metrics, NULL};
    CHECK(ls_test_run_batch(9, argv2, e, sizeof e) == 0);
    doc = ls_test_read_json(json2);
    CHECK(doc && num(cJSON_GetObjectItem(doc, "memory"), "n_boosted") == 18);
    CHECK(doc && fabs(num(cJSON_GetObjectItem(doc, "memory"), "extra_pct") - 2.7496) < 5e-5);
    cJSON_Delete(doc);
}

static void test_manual_text_format(void)
{
    int l, m;
    CHECK(ls_manual_parse_entry("3.mlp.down_proj", 32, &l, &m) == 0 && l == 3 && m == 6);
    CHECK(ls_manual_parse_entry(" 0 q ", 32, &l, &m) == 0 && l == 0 && m == 0);
    CHECK(ls_manual_parse_entry("31.self_attn.o_proj", 32, &l, &m) == 0 && m == 3);
    CHECK(ls_manual_parse_entry("32.q", 32, &l, &m) == -1);
    CHECK(ls_manual_parse_entry("x.q", 32, &l, &m) == -1);
    CHECK(ls_manual_parse_entry("3.nosuch", 32, &l, &m) == -1);
    CHECK(ls_manual_parse_entry("3.q extra", 32, &l, &m) == -1);
    const char *dir = t_tmpdir("manual_text");
    char path[600];
    snprintf(path, sizeof path, "%s/m.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("# hand-picked\n1.down\n\n2 gate   # comment\n", f);
    fclose(f);
    unsigned char flags[4 * 7];
    ls_error err;
    CHECK(ls_manual_read(path, 4, flags, &err) == 0);
    int n = 0;
    for (int i = 0; i < 28; i++)
        n += flags[i];
    CHECK(n == 2 && flags[1 * 7 + 6] && flags[2 * 7 + 4]);
    f = fopen(path, "w");
    fputs("1.down\n7.q\n", f);
    fclose(f);
    CHECK(ls_manual_read(path, 4, flags, &err) == -1);
    CHECK(strstr(err.msg, "line 2") != NULL);
}

static void test_errors_are_one_line_status_2(void)
{
    char e[1024];
    char *a1[] = {"layerscope", "--batch", "/nonexistent/model", NULL};
    CHECK(ls_test_run_batch(3, a1, e, sizeof e) == 2);
    CHECK(strstr(e, "/nonexistent/model") != NULL);
    CHECK(strchr(e, '\n') == strrchr(e, '\n')); /* one line */
    char *a2[] = {"layerscope", "--batch", "--base", "b5g64", "x", NULL};
    CHECK(ls_test_run_batch(5, a2, e, sizeof e) == 2);
    CHECK(strstr(e, "--base") != NULL);
    char *a3[] = {"layerscope", "--batch", "--top-m", "-1", "x", NULL};
    CHECK(ls_test_run_batch(5, a3, e, sizeof e) == 2);
    CHECK(strstr(e, "--top-m") != NULL);
    char *a4[] = {"layerscope", "--batch", "--method", "both", "--ablation", "x", NULL};
    CHECK(ls_test_run_batch(6, a4, e, sizeof e) == 2);
    CHECK(strstr(e, "ablation") != NULL);
    /* a CSV that is no toolkit file */
    const char *dir = t_tmpdir("batch_err");
    char path[600];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("a,b\n1,2\n", f);
    fclose(f);
    char *a5[] = {"layerscope", "--batch", path, NULL};
    CHECK(ls_test_run_batch(3, a5, e, sizeof e) == 2);
    CHECK(strstr(e, "bad.csv") && strstr(e, "header"));
    /* a metrics CSV with a missing module row */
    f = fopen(path, "w");
    fputs("layer,module,nbit1,gsize1,kurtosis\n0,self_attn.q_proj,4,64,3.5\n", f);
    fclose(f);
    CHECK(ls_test_run_batch(3, a5, e, sizeof e) == 2);
    CHECK(strstr(e, "layer 0") && strstr(e, "k_proj"));
    /* a bad number names line and column */
    f = fopen(path, "w");
    fputs("module,layer,param_count,kurtosis\nself_attn.q_proj,0,16,abc\n", f);
    fclose(f);
    CHECK(ls_test_run_batch(3, a5, e, sizeof e) == 2);
    CHECK(strstr(e, "line 2") && strstr(e, "kurtosis"));
}

static void test_sensitivity_csv_merge(void)
{
    NEED_SHARED(metrics, "data/paper/fnorm-Llama-2-7b-hf.csv");
    char mcopy[1024];
    snprintf(mcopy, sizeof mcopy, "%s", metrics);
    NEED_SHARED(sens, "data/paper/sensitivity-Llama-2-7b-hf.csv");
    const char *dir = t_tmpdir("batch_sens");
    char json[600], e[1024];
    snprintf(json, sizeof json, "%s/r.json", dir);
    /* the paper's sensitivity from the sensitivity file gives the same 15 matrices */
    char *argv[] = {"layerscope", "--batch", "--json", json, "--sensitivity-csv",
                    (char *)sens, mcopy, NULL};
    CHECK(ls_test_run_batch(7, argv, e, sizeof e) == 0);
    cJSON *doc = ls_test_read_json(json);
    CHECK(doc && num(cJSON_GetObjectItem(doc, "memory"), "n_boosted") == 15);
    CHECK(doc && str(doc, "sensitivity_source") && strstr(str(doc, "sensitivity_source"), "pileval"));
    cJSON_Delete(doc);
    /* a sensitivity file alone: no parameter counts, memory null */
    char *argv2[] = {"layerscope", "--batch", "--json", json, (char *)sens, NULL};
    CHECK(ls_test_run_batch(5, argv2, e, sizeof e) == 0);
    doc = ls_test_read_json(json);
    CHECK(doc && cJSON_IsNull(cJSON_GetObjectItem(doc, "memory")));
    CHECK(doc && num(cJSON_GetObjectItem(doc, "model"), "n_layers") == 32);
    cJSON_Delete(doc);
}

/* --perplexity and --sensitivity through batch mode on stories260K, against docs/method.md
 * §9.3 (llama.cpp running value after 3 chunks) and §3.7 (no-shuffle attn_in, layer 0). */
static void test_inference_options(void)
{
    NEED_SHARED(model, "models/stories260K/stories260K.bin");
    char mcopy[1024];
    snprintf(mcopy, sizeof mcopy, "%s", model);
    NEED_SHARED(tok, "models/stories260K/tok512.bin");
    char tcopy[1024];
    snprintf(tcopy, sizeof tcopy, "%s", tok);
    NEED_SHARED(text, "text/tinystories/tinystories_valid_head.txt");
    const char *dir = t_tmpdir("batch_infer");
    char json[600], csv[600], e[1024];
    snprintf(json, sizeof json, "%s/r.json", dir);
    snprintf(csv, sizeof csv, "%s/sens.csv", dir);
    char *argv[] = {"layerscope", "--batch", "--json", json, "--tokenizer", tcopy,
                    "--perplexity", "--ppl-protocol", "llama.cpp", "--chunks", "3",
                    "--eval", (char *)text, "--sensitivity", "--calib", (char *)text,
                    "--calib-no-shuffle", "--export-sensitivity-csv", csv, mcopy, NULL};
    CHECK(ls_test_run_batch(20, argv, e, sizeof e) == 0);
    cJSON *doc = ls_test_read_json(json);
    CHECK(doc != NULL);
    if (!doc)
        return;
    const cJSON *ppl = cJSON_GetObjectItem(doc, "perplexity");
    CHECK_STR(str(ppl, "protocol"), "llama.cpp");
    CHECK(num(ppl, "ctx") == 512 && num(ppl, "tokens") == 393019);
    CHECK_REL(num(ppl, "fp"), 3.5266, 2e-5);
    CHECK(num(ppl, "base") > num(ppl, "fp")); /* 3-bit costs perplexity */
    CHECK(num(ppl, "base") == num(ppl, "current")); /* nothing boosted on 5 layers */
    const cJSON *q0 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "modules"), 0);
    CHECK_REL(num(q0, "sensitivity"), 4.060240e-03, 1e-3);
    CHECK(strstr(str(doc, "sensitivity_source"), "tinystories_valid_head") != NULL);
    cJSON_Delete(doc);
    /* the exported CSV reads back (its only data set is picked) */
    ls_profile *p;
    ls_error err;
    CHECK(ls_import_sensitivity(csv, NULL, &p, &err) == 0);
    if (p) {
        CHECK_REL(p->sensitivity[0], 4.060240e-03, 1e-3);
        ls_profile_free(p);
    }
}

int main(void)
{
    RUN(test_inference_options);
    RUN(test_paper_profile_json);
    RUN(test_manual_text_format);
    RUN(test_errors_are_one_line_status_2);
    RUN(test_sensitivity_csv_merge);
    return t_summary();
}
