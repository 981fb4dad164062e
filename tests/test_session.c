/* Sessions: save and resume settings, manual set and metrics; a model that changed on disk
 * is detected and its stale metrics are not mixed in; bad files give one clear line. */
#include "test.h"

#include "method/import.h"
#include "model_writer.h"
#include "io/session.h"

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

int main(void)
{
    RUN(test_round_trip);
    RUN(test_model_changed_on_disk);
    RUN(test_bad_files);
    return t_summary();
}
