/* Sessions: save and resume settings, manual set and metrics; a model that changed on disk
 * is detected and its stale metrics are not mixed in; bad files give one clear line. */
#include "test.h"

#include "method/import.h"
#include "model_writer.h"
#include "io/session.h"
#include "io/session_results.h"

static ls_profile *toy_profile(void)
{
    ls_profile *p = ls_profile_new(24, "toy", "toy.csv", "kurtosis-csv", NULL);
    for (int i = 0; i < 24 * LS_N_MODULES; i++) {
        p->params[i] = 4096;
        p->kurtosis[i] = 3 + 0.01 * (i % 7);
        p->sensitivity[i] = 1e-5 * (1 + i % 3);
    }
    snprintf(p->sensitivity_source, sizeof p->sensitivity_source, "measured");
    return p;
}

static void test_round_trip(void)
{
    ls_profile *p = toy_profile();
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_MANUAL;
    s.mode = LS_DIFF_DIVIDE;
    s.top_m = 2;
    s.boost_stop = 2;
    s.base = ls_stop_parse("b4g64");
    s.seed = 18446744073709551557ull; /* survives as text, not as a double */
    unsigned char manual[24 * LS_N_MODULES] = {0};
    manual[LS_IDX(3, LS_MOD_DOWN)] = manual[LS_IDX(17, LS_MOD_Q)] = 1;
    const char *dir = t_tmpdir("session_rt");
    char path[600];
    snprintf(path, sizeof path, "%s/s.json", dir);
    ls_error err;
    cJSON *results = cJSON_CreateObject();
    cJSON_AddNumberToObject(results, "answer", 42);
    CHECK(ls_session_save(path, p, NULL, &s, manual, results, &err) == 0);
    cJSON_Delete(results);
    ls_session sess;
    CHECK(ls_session_load(path, &sess, &err) == 0);
    CHECK_STR(sess.model_path, "toy.csv");
    CHECK(sess.n_layers == 24);
    CHECK(sess.settings.method == LS_METHOD_MANUAL && sess.settings.mode == LS_DIFF_DIVIDE);
    CHECK(sess.settings.top_m == 2 && sess.settings.boost_stop == 2);
    CHECK(sess.settings.base == ls_stop_parse("b4g64"));
    CHECK(sess.settings.seed == 18446744073709551557ull);
    CHECK(sess.manual && memcmp(sess.manual, manual, sizeof manual) == 0);
    CHECK(sess.results && cJSON_GetObjectItem(sess.results, "answer")->valueint == 42);
    /* metrics come back into a profile without them, only when the fingerprint matches */
    ls_profile *q = toy_profile();
    for (int i = 0; i < 24 * LS_N_MODULES; i++)
        q->sensitivity[i] = NAN;
    bool changed;
    ls_session_apply_metrics(&sess, q, ls_profile_fingerprint(p), &changed);
    CHECK(!changed);
    CHECK(q->sensitivity[5] == p->sensitivity[5]);
    CHECK_STR(q->sensitivity_source, "measured");
    for (int i = 0; i < 24 * LS_N_MODULES; i++)
        q->sensitivity[i] = NAN;
    ls_session_apply_metrics(&sess, q, ls_profile_fingerprint(p) ^ 1, &changed);
    CHECK(changed && isnan(q->sensitivity[5]));
    ls_profile_free(q);
    ls_session_free(&sess);
    ls_profile_free(p);
}

static void test_model_changed_on_disk(void)
{
    const char *dir = t_tmpdir("session_model");
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/m", dir);
    ls_synth_spec spec;
    ls_error err;
    CHECK(ls_synth_preset("tiny", &spec, &err) == 0);
    spec.cfg.n_layers = 4;
    CHECK(ls_write_hf_dir(mpath, &spec, 1, &err) == 0);
    ls_model *m;
    CHECK(ls_model_open(mpath, NULL, &m, &err) == 0);
    if (!m)
        return;
    uint64_t before = ls_model_fingerprint(m);
    ls_model_free(m);
    CHECK(ls_model_open(mpath, NULL, &m, &err) == 0); /* a second open: the same print */
    if (m)
        CHECK(ls_model_fingerprint(m) == before);
    ls_model_free(m);
    spec.seed = 2; /* same shapes, other weights: the header region differs */
    CHECK(ls_write_hf_dir(mpath, &spec, 1, &err) == 0);
    CHECK(ls_model_open(mpath, NULL, &m, &err) == 0);
    if (m) {
        CHECK(ls_model_fingerprint(m) != before);
        ls_model_free(m);
    }
    spec.cfg.n_layers = 5; /* other shapes */
    CHECK(ls_write_hf_dir(mpath, &spec, 1, &err) == 0);
    CHECK(ls_model_open(mpath, NULL, &m, &err) == 0);
    if (m) {
        CHECK(ls_model_fingerprint(m) != before);
        ls_model_free(m);
    }
}

static void test_bad_files(void)
{
    const char *dir = t_tmpdir("session_bad");
    char path[600];
    snprintf(path, sizeof path, "%s/s.json", dir);
    static const char *const cases[][2] = {
        {"not json", "not valid JSON"},
        {"{\"format\": \"other\"}", "format"},
        {"{\"format\": \"layerscope-session\", \"model\": {\"path\": \"x\"}}", "n_layers"},
        {"{\"format\": \"layerscope-session\", \"model\": {\"path\": \"x\", \"n_layers\": 2, "
         "\"fingerprint\": \"0\"}, \"settings\": {\"method\": \"magic\"}}", "settings.method"},
        {"{\"format\": \"layerscope-session\", \"model\": {\"path\": \"x\", \"n_layers\": 2, "
         "\"fingerprint\": \"0\"}, \"settings\": {\"method\": \"kurt\", \"top_m\": 0, "
         "\"boost_stop\": 3, \"base\": \"b3g128\"}, \"manual\": [\"9.q\"]}", "manual[0]"},
        {"{\"format\": \"layerscope-session\", \"model\": {\"path\": \"x\", \"n_layers\": 1, "
         "\"fingerprint\": \"0\"}, \"settings\": {\"method\": \"kurt\", \"top_m\": 0, "
         "\"boost_stop\": 3, \"base\": \"b3g128\"}, \"metrics\": {\"kurtosis\": [1, 2]}}",
         "metrics.kurtosis"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(cases[i][0], f);
        fclose(f);
        ls_session s;
        ls_error err;
        CHECK(ls_session_load(path, &s, &err) == -1);
        CHECK(strstr(err.msg, cases[i][1]) != NULL && strstr(err.msg, "s.json") != NULL);
    }
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Results with their keys: saved, loaded back equal; shown only while the key holds. */
static void test_results_round_trip(void)
{
    enum { L = 24, N = L * LS_N_MODULES };
    const char *dir = t_tmpdir("session_results");
    char path[600], text[600];
    snprintf(path, sizeof path, "%s/s.json", dir);
    snprintf(text, sizeof text, "%s/eval.txt", dir);
    write_text(text, "Once upon a time there was a test.\n");
    ls_profile *p = toy_profile();
    p->measured_dkl = malloc(N * sizeof(double));
    p->act_energy = malloc(N * sizeof(double));
    double err_v[N], rel[L], cosv[L];
    signed char stop[N];
    for (int i = 0; i < N; i++) {
        p->measured_dkl[i] = 1e-3 * (i % 5);
        p->act_energy[i] = 10.0 + i;
        stop[i] = (signed char)(i % 3 == 0 ? -1 : i % 12);
        err_v[i] = stop[i] >= 0 ? 0.125 * i : NAN;
    }
    for (int l = 0; l < L; l++)
        rel[l] = 0.01 * l, cosv[l] = 1 - 0.001 * l;
    ls_session_results r;
    memset(&r, 0, sizeof r);
    r.has_selection = true;
    r.layer = 7;
    r.module = LS_MOD_DOWN;
    r.has_inputs = true;
    snprintf(r.inputs.eval, sizeof r.inputs.eval, "%s", text);
    snprintf(r.inputs.calib, sizeof r.inputs.calib, "calib.txt");
    r.inputs.protocol = 1; /* llama.cpp */
    r.inputs.ctx = 256;
    r.inputs.compute = 1;  /* bf16 */
    r.has_hqq = true;
    r.hqq.model = 0x1234abcdull;
    r.hqq.quant_meta = true;
    r.hqq.err = err_v;
    r.hqq.stop = stop;
    r.has_quality = true;
    ls_session_quality *q = &r.quality;
    q->model = 0x1234abcdull;
    ls_error err;
    CHECK(ls_file_hash(text, &q->text, &err) == 0);
    unsigned char base[N], cur[N];
    memset(base, 2, sizeof base);
    memset(cur, 2, sizeof cur);
    cur[LS_IDX(7, LS_MOD_DOWN)] = 5;
    q->alloc = ls_alloc_hash(base, cur, N);
    snprintf(q->text_path, sizeof q->text_path, "%s", text);
    q->protocol = 0;
    q->ctx = 64;
    q->compute = 0;
    q->fp_ppl = 7.7456123456789;
    q->mem_pct = NAN;
    q->base = (ls_quality_stats){1311, 2.657, 0.06, 1, 2, 3, 4, 5, 6, 20.3, 1.1, 0.5, 0.01, 77.9181};
    q->current = q->base;
    q->current.kld_mean = 0.5;
    snprintf(q->verdict, sizeof q->verdict, "+0.00 %% memory: identical to base");
    snprintf(q->info, sizeof q->info, "1311 tokens, stopped by end of text");
    q->n_layer_err = L;
    q->rel_l2 = rel;
    q->cosine = cosv;
    cJSON *res = cJSON_CreateObject();
    ls_session_results_to_json(&r, L, res);
    ls_settings s = ls_settings_default();
    CHECK(ls_session_save(path, p, NULL, &s, NULL, res, &err) == 0);
    cJSON_Delete(res);

    ls_session sess;
    CHECK(ls_session_load(path, &sess, &err) == 0);
    ls_session_results b;
    CHECK(ls_session_results_from_json(sess.results, sess.n_layers, path, &b, &err) == 0);
    CHECK(b.has_selection && b.layer == 7 && b.module == LS_MOD_DOWN);
    CHECK(b.has_inputs && strcmp(b.inputs.eval, text) == 0 && b.inputs.protocol == 1 &&
          b.inputs.ctx == 256 && b.inputs.compute == 1);
    CHECK(b.has_hqq && b.hqq.model == 0x1234abcdull && b.hqq.quant_meta);
    bool same = b.has_hqq;
    for (int i = 0; same && i < N; i++)
        same = b.hqq.stop[i] == stop[i] && (stop[i] < 0 ? isnan(b.hqq.err[i]) : b.hqq.err[i] == err_v[i]);
    CHECK(same);
    CHECK(b.has_quality && b.quality.text == q->text && b.quality.alloc == q->alloc);
    CHECK(b.quality.fp_ppl == q->fp_ppl && isnan(b.quality.mem_pct) && b.quality.ctx == 64);
    CHECK(memcmp(&b.quality.base, &q->base, sizeof q->base) == 0);
    CHECK(b.quality.current.kld_mean == 0.5 && b.quality.n_layer_err == L);
    CHECK(b.quality.n_layer_err == L && b.quality.rel_l2[5] == rel[5] && b.quality.cosine[5] == cosv[5]);
    CHECK_STR(b.quality.verdict, q->verdict);

    /* the same model, text and allocation: everything holds */
    char stale[256];
    CHECK(ls_session_results_check(&b, 0x1234abcdull, q->alloc, stale, sizeof stale) == 0);
    CHECK(b.has_hqq && b.has_quality && stale[0] == '\0');
    /* another allocation on screen: the comparison goes, the HQQ errors stay */
    CHECK(ls_session_results_check(&b, 0x1234abcdull, q->alloc ^ 1, stale, sizeof stale) == 1);
    CHECK(b.has_hqq && !b.has_quality && strstr(stale, "perplexity: the allocation is another"));
    ls_session_results_free(&b);
    /* the text edited: the comparison goes */
    write_text(text, "Once upon a time there was another test.\n");
    CHECK(ls_session_results_from_json(sess.results, sess.n_layers, path, &b, &err) == 0);
    CHECK(ls_session_results_check(&b, 0x1234abcdull, q->alloc, stale, sizeof stale) == 1);
    CHECK(b.has_hqq && !b.has_quality && strstr(stale, "evaluation text changed"));
    ls_session_results_free(&b);
    /* another model: both go */
    CHECK(ls_session_results_from_json(sess.results, sess.n_layers, path, &b, &err) == 0);
    CHECK(ls_session_results_check(&b, 0x99, q->alloc, stale, sizeof stale) == 2);
    CHECK(!b.has_hqq && !b.has_quality && strstr(stale, "HQQ errors: the model changed"));
    ls_session_results_free(&b);

    /* the extra metric columns come back into a profile without them */
    ls_profile *p2 = toy_profile();
    bool changed;
    ls_session_apply_metrics(&sess, p2, ls_profile_fingerprint(p), &changed);
    CHECK(!changed && p2->measured_dkl && p2->act_energy && !p2->imatrix_error);
    if (p2->measured_dkl && p2->act_energy)
        CHECK(p2->measured_dkl[9] == p->measured_dkl[9] && p2->act_energy[9] == p->act_energy[9]);
    ls_profile_free(p2);
    ls_session_free(&sess);
    ls_profile_free(p);
}

/* A broken results block names the file and the field. */
static void test_results_bad(void)
{
    cJSON *o = cJSON_Parse("{\"hqq\": {\"model_fingerprint\": \"12\", \"quant_meta\": true, "
                           "\"config\": [\"b9g1\"], \"qerr\": [1]}}");
    ls_session_results r;
    ls_error err;
    CHECK(ls_session_results_from_json(o, 1, "x.json", &r, &err) == -1);
    CHECK(strstr(err.msg, "x.json: results.hqq.config") != NULL);
    cJSON_Delete(o);
    o = cJSON_Parse("{\"selection\": {\"layer\": 3, \"module\": \"mlp.down_proj\"}}");
    CHECK(ls_session_results_from_json(o, 2, "x.json", &r, &err) == -1);
    CHECK(strstr(err.msg, "results.selection.layer") != NULL);
    cJSON_Delete(o);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_model_changed_on_disk);
    RUN(test_bad_files);
    RUN(test_results_round_trip);
    RUN(test_results_bad);
    return t_summary();
}
