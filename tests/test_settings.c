/* The settings have one owner (method/settings.c): the command line, sessions, the explorer
 * config and ls_analyze apply the same rule to each field and word a value out of range the
 * same way; the seed survives every file exactly; older config files still load. */
#include "test.h"

#include "base/mapfile.h"
#include "cli/options.h"
#include "io/result_json.h"
#include "io/session.h"
#include "io/uiconfig.h"
#include "method/analysis.h"

static char dir[600];

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A session whose settings object holds fields, then the required ones (cJSON finds the
 * first of two equal keys, so fields win); 0 when it loads (settings in *out). */
static int load_session_with(const char *fields, ls_settings *out, ls_error *err)
{
    char path[700], text[2048];
    snprintf(path, sizeof path, "%s/s.json", dir);
    snprintf(text, sizeof text,
             "{\"format\": \"layerscope-session\", \"model\": {\"path\": \"x\", \"n_layers\": 2, "
             "\"fingerprint\": \"0\"}, \"settings\": {%s%s\"method\": \"kurt\", \"top_m\": 0, "
             "\"boost_stop\": 3, \"base\": \"b3g128\"}}",
             fields, fields[0] ? ", " : "");
    write_text(path, text);
    ls_session s;
    int rc = ls_session_load(path, &s, err);
    if (rc == 0) {
        *out = s.settings;
        ls_session_free(&s);
    }
    return rc;
}

/* An explorer config holding {fields}; 0 when it loads. */
static int load_config_with(const char *fields, ls_uiconfig *out, ls_error *err)
{
    char path[700], text[2048];
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(text, sizeof text, "{\"version\": 1%s%s}", fields[0] ? ", " : "", fields);
    write_text(path, text);
    char note[256];
    return ls_uiconfig_load(path, out, note, sizeof note, err);
}

/* The command line "layerscope --batch OPT VALUE x.csv"; 0 when it parses. */
static int parse_option(const char *opt, const char *value, ls_options *o, ls_error *err)
{
    char a0[] = "layerscope", a1[] = "--batch", a2[64], a3[64], a4[] = "x.csv";
    snprintf(a2, sizeof a2, "%s", opt);
    snprintf(a3, sizeof a3, "%s", value);
    char *argv[] = {a0, a1, a2, a3, a4, NULL};
    return ls_options_parse(5, argv, o, err);
}

/* The message from the quoted value on: what must read the same wherever the value came
 * from ("option --top-m: " and "s.json: settings.top_m: " only say where). */
static const char *from_value(const char *msg, const char *value)
{
    char q[64];
    snprintf(q, sizeof q, "\"%s\" ", value);
    const char *p = strstr(msg, q);
    return p ? p : "(value not quoted in the message)";
}

static ls_profile *toy_profile(void)
{
    /* kurtosis steps up at layer 12 of 24: KurtBoost flags it in every module */
    ls_profile *p = ls_profile_new(24, "toy", "toy.csv", "kurtosis-csv", NULL);
    for (int i = 0; i < 24 * LS_N_MODULES; i++) {
        p->params[i] = 4096;
        p->kurtosis[i] = 3 + 0.01 * ((i * 7) % 5) + (i / LS_N_MODULES >= 12 ? 10 : 0);
    }
    return p;
}

/* One rule and one message per numeric field: the same out-of-range value is refused by
 * the command line, a session, the explorer config and ls_analyze, with the same words. */
static void test_out_of_range_reads_the_same_everywhere(void)
{
    static const struct {
        const char *option, *key, *bad, *good;
        ls_setting field;
    } cases[] = {
        {"--top-m", "top_m", "257", "256", LS_SET_TOP_M},
        {"--boost-stop", "boost_stop", "12", "0", LS_SET_BOOST_STOP},
        {"--threshold", "threshold", "-1", "2.5", LS_SET_THRESHOLD},
        {"--trim", "trim", "0.5", "0.49", LS_SET_TRIM},
    };
    ls_profile *p = toy_profile();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ls_options o;
        ls_error cli, sess, cfg, an;
        ls_settings s;
        ls_uiconfig c;
        char field[128];
        /* refused everywhere */
        CHECK(parse_option(cases[i].option, cases[i].bad, &o, &cli) < 0);
        snprintf(field, sizeof field, "\"%s\": %s", cases[i].key, cases[i].bad);
        CHECK(load_session_with(field, &s, &sess) < 0);
        int cfg_rc = 0;
        if (cases[i].field == LS_SET_TOP_M || cases[i].field == LS_SET_BOOST_STOP) {
            cfg_rc = load_config_with(field, &c, &cfg);
            CHECK(cfg_rc < 0);
        }
        ls_settings direct = ls_settings_default();
        CHECK(ls_setting_parse(&direct, cases[i].field, cases[i].bad, "x: ", &an) < 0);
        /* the same words after the location */
        const char *want = from_value(cli.msg, cases[i].bad);
        CHECK(strstr(cli.msg, cases[i].option) == cli.msg + strlen("option "));
        CHECK_STR(from_value(sess.msg, cases[i].bad), want);
        CHECK(strstr(sess.msg, "/s.json: settings.") != NULL);
        if (cfg_rc < 0)
            CHECK_STR(from_value(cfg.msg, cases[i].bad), want);
        CHECK_STR(from_value(an.msg, cases[i].bad), want);
        /* and the edge value is accepted everywhere */
        CHECK(parse_option(cases[i].option, cases[i].good, &o, &cli) == 0);
        snprintf(field, sizeof field, "\"%s\": %s", cases[i].key, cases[i].good);
        CHECK(load_session_with(field, &s, &sess) == 0);
        if (cases[i].field == LS_SET_TOP_M || cases[i].field == LS_SET_BOOST_STOP)
            CHECK(load_config_with(field, &c, &cfg) == 0);
    }
    /* ls_analyze applies the rule to a value set in code */
    ls_settings s = ls_settings_default();
    s.top_m = 257;
    ls_analysis *a = malloc(sizeof *a);
    ls_error err;
    CHECK(a && ls_analyze(p, &s, NULL, a, &err) < 0);
    CHECK(strstr(err.msg, "settings.top_m: \"257\" is not a whole number") == err.msg);
    s.top_m = 256;
    CHECK(a && ls_analyze(p, &s, NULL, a, &err) == 0);
    free(a);
    ls_profile_free(p);
}

/* Boost stop 0 is the reference's falsy default: accepted everywhere and read as 1. */
static void test_boost_stop_zero_is_one(void)
{
    ls_options o;
    ls_error err;
    CHECK(parse_option("--boost-stop", "0", &o, &err) == 0);
    CHECK(o.settings.boost_stop == 0);
    ls_settings s;
    CHECK(load_session_with("\"boost_stop\": 0", &s, &err) == 0);
    ls_uiconfig c;
    CHECK(load_config_with("\"boost_stop\": 0", &c, &err) == 0 && c.settings.boost_stop == 0);

    ls_profile *p = toy_profile();
    ls_analysis *a0 = malloc(sizeof *a0), *a1 = malloc(sizeof *a1);
    ls_settings s0 = ls_settings_default(), s1 = ls_settings_default();
    s0.method = s1.method = LS_METHOD_KURT;
    s0.boost_stop = 0;
    s1.boost_stop = 1;
    CHECK(a0 && a1 && ls_analyze(p, &s0, NULL, a0, &err) == 0 &&
          ls_analyze(p, &s1, NULL, a1, &err) == 0);
    if (a0 && a1) {
        CHECK(a0->target == s0.base + 1 && a0->target == a1->target);
        CHECK(a0->n_boosted > 0 && memcmp(a0->cfg, a1->cfg, sizeof a0->cfg) == 0);
        CHECK(strstr(a0->note, "boost stop 0 is read as 1") != NULL && a1->note[0] == '\0');
    }
    free(a0);
    free(a1);
    ls_profile_free(p);
}

/* A 64-bit seed survives the session, the config and the result document exactly. */
static void test_seed_is_exact_everywhere(void)
{
    const uint64_t seed = 18446744073709551557ull; /* 2^64 - 59: no double holds it */
    ls_error err;
    char path[700];
    ls_uiconfig c, back;
    ls_uiconfig_default(&c);
    c.settings.seed = seed;
    snprintf(path, sizeof path, "%s/seed-config.json", dir);
    CHECK(ls_uiconfig_save(path, &c, &err) == 0);
    char note[256];
    CHECK(ls_uiconfig_load(path, &back, note, sizeof note, &err) == 0);
    CHECK(back.settings.seed == seed);

    ls_settings s;
    CHECK(load_session_with("\"seed\": \"18446744073709551557\"", &s, &err) == 0);
    CHECK(s.seed == seed);
    /* no silent truncation or wrap: junk, a sign and 2^64 are refused */
    CHECK(load_session_with("\"seed\": \"12abc\"", &s, &err) < 0);
    CHECK(strstr(err.msg, "settings.seed: \"12abc\" is not a whole number") != NULL);
    CHECK(load_session_with("\"seed\": \"18446744073709551616\"", &s, &err) < 0);
    ls_options o;
    CHECK(parse_option("--seed", "18446744073709551616", &o, &err) < 0);
    CHECK(parse_option("--seed", "18446744073709551615", &o, &err) == 0);
    CHECK(o.settings.seed == UINT64_MAX);

    ls_profile *p = toy_profile();
    ls_analysis *a = malloc(sizeof *a);
    ls_settings r = ls_settings_default();
    r.seed = seed;
    CHECK(a && ls_analyze(p, &r, NULL, a, &err) == 0);
    cJSON *doc = a ? ls_result_json(p, a) : NULL;
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    CHECK(text && strstr(text, "\"seed\":18446744073709551557,") != NULL);
    free(text);
    cJSON_Delete(doc);
    free(a);
    ls_profile_free(p);
}

/* Sessions and the config store the shared fields under the same keys in the same form
 * (mode_override, the seed as text); configs of the older form still load. */
static void test_one_stored_form(void)
{
    ls_settings s = ls_settings_default();
    s.method = LS_METHOD_KURT;
    s.mode = LS_DIFF_DIVIDE;
    s.top_m = 2;
    s.boost_stop = 4;
    s.seed = 9;
    ls_error err;
    char spath[700], cpath[700];
    snprintf(spath, sizeof spath, "%s/stored-session.json", dir);
    snprintf(cpath, sizeof cpath, "%s/stored-config.json", dir);
    ls_profile *p = toy_profile();
    CHECK(ls_session_save(spath, p, NULL, &s, NULL, NULL, &err) == 0);
    ls_profile_free(p);
    ls_uiconfig c;
    ls_uiconfig_default(&c);
    c.settings = s;
    CHECK(ls_uiconfig_save(cpath, &c, &err) == 0);
    char *stext = ls_read_text_file(spath, 1 << 20, NULL, &err);
    char *ctext = ls_read_text_file(cpath, 1 << 20, NULL, &err);
    cJSON *sdoc = stext ? cJSON_Parse(stext) : NULL, *cdoc = ctext ? cJSON_Parse(ctext) : NULL;
    const cJSON *sset = cJSON_GetObjectItemCaseSensitive(sdoc, "settings");
    CHECK(sset && cdoc);
    CHECK(cJSON_GetObjectItemCaseSensitive(cdoc, "mode") == NULL);
    for (int f = 0; f < LS_N_SETTINGS && sset && cdoc; f++) {
        if (!(LS_SETTINGS_CONFIG & LS_SETTING_BIT(f)))
            continue;
        const char *k = ls_setting_key((ls_setting)f);
        char *a = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(sset, k));
        char *b = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(cdoc, k));
        CHECK(a && b && strcmp(a, b) == 0);
        if (a && b && strcmp(a, b) != 0)
            fprintf(stderr, "  %s: session %s, config %s\n", k, a, b);
        free(a);
        free(b);
    }
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cdoc, "mode_override")),
              "divide");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cdoc, "seed")), "9");
    cJSON_Delete(sdoc);
    cJSON_Delete(cdoc);
    free(stext);
    free(ctext);

    /* the older config form: "mode" and a numeric seed */
    ls_uiconfig old;
    CHECK(load_config_with("\"mode\": \"divide\", \"seed\": 7", &old, &err) == 0);
    CHECK(old.has_settings && old.settings.mode == LS_DIFF_DIVIDE && old.settings.seed == 7);
    CHECK(load_config_with("\"mode\": null", &old, &err) == 0 && old.settings.mode == -1);
    /* a numeric seed beyond 2^53 cannot have been stored exactly: refused, not rounded */
    CHECK(load_config_with("\"seed\": 18446744073709551557", &old, &err) < 0);
    CHECK(strstr(err.msg, "seed:") != NULL);
}

/* A session's values are checked, not dropped: before, a bad threshold or trim was
 * silently replaced by the default and ablation with both loaded and failed later. */
static void test_session_values_are_checked(void)
{
    ls_settings s;
    ls_error err, cli;
    CHECK(load_session_with("\"threshold\": -1", &s, &err) < 0);
    CHECK(strstr(err.msg, "settings.threshold: \"-1\"") != NULL);
    CHECK(load_session_with("\"trim\": 0.7", &s, &err) < 0);
    CHECK(load_session_with("\"ablation\": \"yes\"", &s, &err) < 0);
    CHECK(strstr(err.msg, "settings.ablation: \"yes\" is not true or false") != NULL);
    CHECK(load_session_with("\"top_m\": 1.5", &s, &err) < 0);
    CHECK(load_session_with("\"mode_override\": \"paired\"", &s, &err) < 0);
    CHECK(load_session_with("\"threshold\": 2.5, \"trim\": 0.1, \"ablation\": true", &s,
                            &err) == 0);
    CHECK(s.detect.threshold == 2.5 && s.detect.trim_frac == 0.1 && s.ablation);

    /* ablation with both: the command line's words */
    char a0[] = "layerscope", a1[] = "--batch", a2[] = "--method", a3[] = "both",
         a4[] = "--ablation", a5[] = "x.csv";
    char *argv[] = {a0, a1, a2, a3, a4, a5, NULL};
    ls_options o;
    CHECK(ls_options_parse(6, argv, &o, &cli) < 0);
    CHECK(strstr(cli.msg, "option --ablation: ") == cli.msg);
    CHECK(load_session_with("\"method\": \"both\", \"ablation\": true", &s, &err) < 0);
    const char *rule = strstr(cli.msg, ": ");
    CHECK(rule && strstr(err.msg, "settings.ablation: ") && strstr(err.msg, rule + 2));
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", t_tmpdir("settings"));
    RUN(test_out_of_range_reads_the_same_everywhere);
    RUN(test_boost_stop_zero_is_one);
    RUN(test_seed_is_exact_everywhere);
    RUN(test_one_stored_form);
    RUN(test_session_values_are_checked);
    return t_summary();
}
