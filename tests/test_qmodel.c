/* Whole-model HQQ quantization: every module with its allocated config, reuse of unchanged
 * modules, totals against the allocation's nominal memory, cancel, and the batch JSON. */
#include "test.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "method/analysis.h"
#include "cli/batch.h"
#include "method/kurtosis.h"
#include "base/mapfile.h"
#include "model_writer.h"
#include "cli/options.h"
#include "quant/qmodel.h"
#include "io/qmodel_io.h"

/* A 24-layer tiny model (F16) with two injected outliers, so KurtBoost boosts a few. */
static ls_model *tiny_model(const char *name, char *dir_out, size_t cap)
{
    const char *dir = t_tmpdir(name);
    snprintf(dir_out, cap, "%s/m", dir);
    ls_synth_spec spec;
    ls_error err;
    if (ls_synth_preset("tiny", &spec, &err) < 0)
        return NULL;
    spec.cfg.n_layers = 24;
    spec.dtype = LS_DT_F16;
    spec.n_outliers = 2;
    spec.outliers[0] = (ls_outlier){7, LS_MOD_DOWN, LS_OUTLIER_COLS, 30};
    spec.outliers[1] = (ls_outlier){11, LS_MOD_Q, LS_OUTLIER_ROWS, 20};
    if (ls_write_hf_dir(dir_out, &spec, 1, &err) < 0)
        return NULL;
    ls_model *m;
    return ls_model_open(dir_out, NULL, &m, &err) == 0 ? m : NULL;
}

static void test_quantize_reuse_and_totals(void)
{
    char dir[600];
    ls_model *m = tiny_model("qmodel_a", dir, sizeof dir);
    CHECK(m != NULL);
    if (!m)
        return;
    ls_error err;
    ls_profile *p = ls_profile_from_model(m, &err);
    CHECK(ls_kurtosis_model(m, 2, NULL, p, &err) == 0);
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_KURT;
    ls_analysis *a = malloc(sizeof *a);
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    CHECK(a->n_boosted >= 4);
    ls_qmodel *qm = ls_qmodel_new(24, true, &err);
    CHECK(ls_qmodel_quantize(qm, m, a->cfg, 2, NULL, &err) == 0);
    CHECK(qm->n_last_quantized == 24 * LS_N_MODULES);
    float *w = malloc(172 * 64 * sizeof *w);
    for (int i = 0; i < 24 * LS_N_MODULES; i++) {
        const ls_qmodule *q = &qm->mods[i];
        CHECK(q->stop == a->cfg[i]);
        CHECK(q->qerr > 0 && isfinite(q->qerr));
        const ls_tensor *t = ls_model_linear(m, i / LS_N_MODULES, i % LS_N_MODULES);
        ls_tensor_range_f32(t, 0, t->n_elems, w);
        double fro, mean;
        ls_hqq_error(w, &q->q, &fro, &mean);
        CHECK(fro == q->qerr && mean == q->qerr_mean_abs);
        CHECK(q->q.nbits == ls_stop_get(a->cfg[i])->nbits);
    }
    /* boosted (4-bit) matrices quantize with less error than at the 3-bit base */
    int b = -1;
    for (int i = 0; i < 24 * LS_N_MODULES && b < 0; i++)
        if (a->boosted[i])
            b = i;
    ls_qtotals t;
    ls_qmodel_totals(qm, &t);
    CHECK(t.n_modules == 24 * LS_N_MODULES);
    CHECK_REL(t.nominal_mib, a->mem.mib, 1e-12); /* the allocation's nominal memory */
    CHECK(t.stored_bpp > t.nominal_bpp);         /* 3-bit int32 packing with padding */
    /* nothing changed: nothing is quantized again */
    CHECK(ls_qmodel_quantize(qm, m, a->cfg, 2, NULL, &err) == 0);
    CHECK(qm->n_last_quantized == 0);
    /* one module moves to b4g128: exactly it is redone, with a smaller error */
    double before = qm->mods[b ^ 1].qerr;
    unsigned char cfg[24 * LS_N_MODULES];
    memcpy(cfg, a->cfg, sizeof cfg);
    int j = b ^ 1; /* a neighbour, unboosted in this model */
    if (!a->boosted[j]) {
        cfg[j] = (unsigned char)ls_stop_parse("b4g128");
        CHECK(ls_qmodel_quantize(qm, m, cfg, 2, NULL, &err) == 0);
        CHECK(qm->n_last_quantized == 1);
        CHECK(qm->mods[j].qerr < before);
    }
    free(w);
    free(a);
    ls_qmodel_free(qm);
    ls_profile_free(p);
    ls_model_free(m);
}

static void test_no_quant_meta_and_cancel(void)
{
    char dir[600];
    ls_model *m = tiny_model("qmodel_b", dir, sizeof dir);
    CHECK(m != NULL);
    if (!m)
        return;
    ls_error err;
    unsigned char cfg[24 * LS_N_MODULES];
    memset(cfg, ls_stop_parse("b4g64"), sizeof cfg);
    ls_qmodel *with = ls_qmodel_new(24, true, &err), *without = ls_qmodel_new(24, false, &err);
    CHECK(ls_qmodel_quantize(with, m, cfg, 1, NULL, &err) == 0);
    CHECK(ls_qmodel_quantize(without, m, cfg, 1, NULL, &err) == 0);
    for (int i = 0; i < 24 * LS_N_MODULES; i++) {
        CHECK(!without->mods[i].q.scale_quantized && !without->mods[i].q.zero_quantized);
        CHECK(with->mods[i].q.zero_quantized);
    }
    ls_progress prog;
    ls_progress_init(&prog);
    ls_progress_cancel(&prog);
    ls_qmodel *c = ls_qmodel_new(24, true, &err);
    CHECK(ls_qmodel_quantize(c, m, cfg, 1, &prog, &err) == -1);
    CHECK(strstr(err.msg, "cancelled") != NULL);
    ls_progress_destroy(&prog);
    ls_qmodel_free(c);
    ls_qmodel_free(with);
    ls_qmodel_free(without);
    ls_model_free(m);
}

static void test_batch_quantize_json(void)
{
    char dir[600];
    ls_model *m = tiny_model("qmodel_c", dir, sizeof dir);
    CHECK(m != NULL);
    if (!m)
        return;
    ls_model_free(m);
    char json[700];
    snprintf(json, sizeof json, "%s.json", dir);
    char *argv[] = {"layerscope", "--batch", "--quantize", "--method", "kurt", "--json", json,
                    dir, NULL};
    ls_options o;
    ls_error err;
    CHECK(ls_options_parse(8, argv, &o, &err) == 0);
    FILE *null = fopen("/dev/null", "w");
    CHECK(ls_batch_run(&o, null, null) == 0);
    fclose(null);
    char *text = ls_read_text_file(json, 64 << 20, NULL, &err);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(doc != NULL);
    if (!doc)
        return;
    const cJSON *q = cJSON_GetObjectItem(doc, "quantization");
    CHECK(cJSON_IsObject(q));
    CHECK(cJSON_GetObjectItem(q, "modules")->valueint == 24 * LS_N_MODULES);
    CHECK(cJSON_GetObjectItem(q, "stored_mib")->valuedouble >
          cJSON_GetObjectItem(q, "nominal_mib")->valuedouble);
    const cJSON *mod = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "modules"), 0);
    static const char *const keys[] = {"qerr", "qerr_mean_abs", "iterations", "stored_bytes"};
    for (int k = 0; k < 4; k++)
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(mod, keys[k])));
    cJSON_Delete(doc);
    /* a profile cannot be quantized: one line, status 2 */
    NEED_SHARED(metrics, "data/paper/fnorm-Llama-2-7b-hf.csv");
    char *argv2[] = {"layerscope", "--batch", "--quantize", (char *)metrics, NULL};
    CHECK(ls_options_parse(4, argv2, &o, &err) == 0);
    FILE *e = tmpfile();
    null = fopen("/dev/null", "w");
    CHECK(ls_batch_run(&o, null, e) == 2);
    rewind(e);
    char line[600] = "";
    CHECK(fgets(line, sizeof line, e) && strstr(line, "--quantize needs a model"));
    fclose(e);
    fclose(null);
}

/* Save and reload: every module dequantizes to exactly the same weights. */
static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

/* Each broken quant.json is refused by a line that names the field at fault (the model is
 * a Hugging Face directory: q/k rows in halves order). */
static void test_quant_json_fields(const char *out, const ls_model *m)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_la", "truncated JSON"},
        {"[1,2]", "not a JSON object"},
        {"{\"version\":1}", "format: missing"},
        {"{\"format\":\"other\"}", "format: \"other\""},
        {"{\"format\":\"layerscope-quantized\"}", "version: missing"},
        {"{\"format\":\"layerscope-quantized\",\"version\":7}", "version: 7 is not supported"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1}", "n_layers: missing"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":0}",
         "n_layers: 0 is not a whole number"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":1e9}",
         "n_layers: 1e+09 is not a whole number"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":24,"
         "\"qk_row_layout\":\"zigzag\",\"modules\":{}}", "qk_row_layout: unknown layout"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":24,"
         "\"qk_row_layout\":\"pairs\",\"modules\":{}}", "qk_row_layout: pairs, but"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":24,"
         "\"qk_row_layout\":\"halves\"}", "modules: missing"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":24,"
         "\"qk_row_layout\":\"halves\",\"modules\":{}}", "modules: empty"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":24,"
         "\"qk_row_layout\":\"halves\",\"modules\":{\"0.self_attn.q_proj\":{\"nbits\":4,"
         "\"group_size\":64,\"axis\":1,\"view_cols\":64}}}",
         "modules.0.self_attn.q_proj.view_rows"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":24,"
         "\"qk_row_layout\":\"halves\",\"modules\":{\"0.self_attn.q_proj\":{\"nbits\":9}}}",
         "modules.0.self_attn.q_proj.nbits"},
        {"{\"format\":\"layerscope-quantized\",\"version\":1,\"n_layers\":24,"
         "\"qk_row_layout\":\"halves\",\"modules\":{\"0.self_attn.q_proj\":{\"nbits\":4,"
         "\"group_size\":64,\"axis\":1,\"view_rows\":64,\"view_cols\":64,\"packing\":\"x\"}}}",
         "modules.0.self_attn.q_proj.packing"},
    };
    char f[800];
    snprintf(f, sizeof f, "%s/quant.json", out);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(f, cases[i].json);
        ls_qmodel *back = NULL;
        ls_error err;
        err.msg[0] = '\0';
        CHECK(ls_qmodel_load(out, m, &back, &err) == -1);
        if (!strstr(err.msg, cases[i].want)) {
            fprintf(stderr, "  case %zu: want \"%s\" in: %s\n", i, cases[i].want, err.msg);
            CHECK(strstr(err.msg, cases[i].want) != NULL);
        }
        ls_qmodel_free(back);
    }
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (st.st_mode & 07777) : (mode_t)-1;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Count of entries beside out named out.tmp.* / out.old.* */
static int count_leftovers(const char *out)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp.* '%s'.old.* 2>/dev/null | wc -l", out, out);
    FILE *pp = popen(cmd, "r");
    int n = -1;
    if (pp) {
        if (fscanf(pp, "%d", &n) != 1)
            n = -1;
        pclose(pp);
    }
    return n;
}

/* Modes (0777/0666 less the umask, a replaced directory keeps its mode), the swap with and
 * without RENAME_EXCHANGE, and leftovers: ours (name + marker) removed, others kept. */
static void test_swap_modes_and_leftovers(const char *out, const ls_qmodel *qm,
                                          const ls_model *m, const ls_profile *p,
                                          const ls_analysis *a)
{
    ls_error err;
    char cmd[2400], f[900];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'.tmp.* '%s'.old.*", out, out, out);
    CHECK(system(cmd) == 0);
    mode_t old_mask = umask(027);
    CHECK(ls_qmodel_save(out, qm, m, p, a, &err) == 0);
    CHECK(mode_of(out) == 0750);
    snprintf(f, sizeof f, "%s/quant.json", out);
    CHECK(mode_of(f) == 0640);
    snprintf(f, sizeof f, "%s/.layerscope-temporary", out);
    CHECK(!exists(f)); /* the marker leaves with the temporary name */
    umask(022);
    CHECK(chmod(out, 0711) == 0);
    CHECK(ls_qmodel_save(out, qm, m, p, a, &err) == 0); /* RENAME_EXCHANGE where available */
    CHECK(mode_of(out) == 0711);
    CHECK(count_leftovers(out) == 0);
    setenv("LAYERSCOPE_NO_RENAMEAT2", "1", 1);
    CHECK(ls_qmodel_save(out, qm, m, p, a, &err) == 0); /* the two-rename fallback */
    unsetenv("LAYERSCOPE_NO_RENAMEAT2");
    CHECK(mode_of(out) == 0711);
    CHECK(count_leftovers(out) == 0);
    snprintf(f, sizeof f, "%s/quant.json", out);
    CHECK(mode_of(f) == 0644);
    umask(old_mask);
    /* leftovers of a run that died: ours go, look-alikes without the marker, with a
     * subdirectory, or of a live process stay */
    const char *names[] = {"tmp.aB3xYz", "old.Q1w2E3", "tmp.NOMARK", "old.SUBDIR", "tmp.LIVE01",
                           "tmp.toolong1"};
    for (int i = 0; i < 6; i++) {
        snprintf(f, sizeof f, "%s.%s", out, names[i]);
        mkdir(f, 0777);
        char g[1100];
        snprintf(g, sizeof g, "%s/qmodel.safetensors", f);
        write_file(g, "x");
        snprintf(g, sizeof g, "%s/.layerscope-temporary", f);
        if (i != 2) {
            char text[64];
            snprintf(text, sizeof text, "layerscope %ld: temporary\n",
                     i == 4 ? (long)getppid() : 999999999L);
            write_file(g, text);
        }
        if (i == 3) {
            snprintf(g, sizeof g, "%s/sub", f);
            mkdir(g, 0777);
        }
    }
    int removed = -1;
    CHECK(ls_qmodel_clean_leftovers(out, &removed) == 0);
    CHECK(removed == 2);
    snprintf(f, sizeof f, "%s.tmp.aB3xYz", out);
    CHECK(!exists(f));
    snprintf(f, sizeof f, "%s.old.Q1w2E3", out);
    CHECK(!exists(f));
    for (int i = 2; i < 6; i++) {
        snprintf(f, sizeof f, "%s.%s", out, names[i]);
        CHECK(exists(f));
    }
    CHECK(exists(out)); /* the model itself is never a leftover */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'.tmp.* '%s'.old.*", out, out);
    CHECK(system(cmd) == 0);
}

static void test_save_and_reload(void)
{
    char dir[600];
    ls_model *m = tiny_model("qmodel_d", dir, sizeof dir);
    CHECK(m != NULL);
    if (!m)
        return;
    ls_error err;
    ls_profile *p = ls_profile_from_model(m, &err);
    ls_kurtosis_model(m, 2, NULL, p, &err);
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_KURT;
    ls_analysis *a = malloc(sizeof *a);
    CHECK(ls_analyze(p, &s, NULL, a, &err) == 0);
    ls_qmodel *qm = ls_qmodel_new(24, true, &err);
    CHECK(ls_qmodel_quantize(qm, m, a->cfg, 2, NULL, &err) == 0);
    char out[700];
    snprintf(out, sizeof out, "%s.q", dir);
    CHECK(ls_qmodel_save(out, qm, m, p, a, &err) == 0);
    CHECK(ls_qmodel_save(out, qm, m, p, a, &err) == 0); /* replaces its own output */
    ls_qmodel *back;
    CHECK(ls_qmodel_load(out, m, &back, &err) == 0);
    if (back) {
        size_t n = 172 * 64;
        float *x = malloc(n * 4), *y = malloc(n * 4);
        for (int i = 0; i < 24 * LS_N_MODULES; i++) {
            CHECK(back->mods[i].stop == qm->mods[i].stop);
            CHECK_REL(back->mods[i].qerr, qm->mods[i].qerr, 1e-14); /* via JSON text */
            ls_hqq_dequantize(&qm->mods[i].q, x);
            ls_hqq_dequantize(&back->mods[i].q, y);
            CHECK(memcmp(x, y, (size_t)(qm->mods[i].q.rows * qm->mods[i].q.cols) * 4) == 0);
        }
        free(x);
        free(y);
        ls_qmodel_free(back);
    }
    char f[800];
    static const char *const files[] = {"qmodel.safetensors", "quant.json", "allocation.json",
                                        "config.json"};
    for (int k = 0; k < 4; k++) {
        snprintf(f, sizeof f, "%s/%s", out, files[k]);
        FILE *fp = fopen(f, "rb");
        CHECK(fp != NULL);
        if (fp)
            fclose(fp);
    }
    /* a directory that is not ours is never replaced */
    CHECK(ls_qmodel_save(dir, qm, m, p, a, &err) == -1);
    CHECK(strstr(err.msg, "not a layerscope quantized model") != NULL);
    /* a damaged quant.json is one clear line */
    snprintf(f, sizeof f, "%s/quant.json", out);
    FILE *fp = fopen(f, "w");
    fputs("{\"format\": \"layerscope-quantized\", \"version\": 1, \"n_layers\": 3, "
          "\"modules\": {}}", fp);
    fclose(fp);
    CHECK(ls_qmodel_load(out, m, &back, &err) == -1);
    CHECK(strstr(err.msg, "n_layers") != NULL);
    /* a module dropped from quant.json, and the tensor file missing */
    CHECK(ls_qmodel_save(out, qm, m, p, a, &err) == 0);
    snprintf(f, sizeof f, "%s/quant.json", out);
    char *text = ls_read_text_file(f, 1 << 24, NULL, &err);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(doc != NULL);
    if (doc) {
        cJSON_DeleteItemFromObject(cJSON_GetObjectItem(doc, "modules"), "5.mlp.up_proj");
        char *s2 = cJSON_Print(doc);
        write_file(f, s2);
        free(s2);
        cJSON_Delete(doc);
        CHECK(ls_qmodel_load(out, m, &back, &err) == -1);
        CHECK(strstr(err.msg, "modules.5.mlp.up_proj: missing") != NULL);
    }
    CHECK(ls_qmodel_save(out, qm, m, p, a, &err) == 0);
    snprintf(f, sizeof f, "%s/qmodel.safetensors", out);
    unlink(f);
    CHECK(ls_qmodel_load(out, m, &back, &err) == -1);
    CHECK(strstr(err.msg, "qmodel.safetensors: not found") != NULL);
    CHECK(ls_qmodel_save(out, qm, m, p, a, &err) == 0);
    test_quant_json_fields(out, m);
    test_swap_modes_and_leftovers(out, qm, m, p, a);
    free(a);
    ls_qmodel_free(qm);
    ls_profile_free(p);
    ls_model_free(m);
}

int main(void)
{
    RUN(test_save_and_reload);
    RUN(test_quantize_reuse_and_totals);
    RUN(test_no_quant_meta_and_cancel);
    RUN(test_batch_quantize_json);
    return t_summary();
}
