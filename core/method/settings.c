#include "method/settings.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/budget.h"

static const char *const method_names[LS_N_METHODS] = {"sensi", "kurt", "both", "manual",
                                                       "mxq", "sensi-milp", "kurt-milp"};

bool ls_method_is_budget(ls_method m)
{
    return m == LS_METHOD_MXQ || m == LS_METHOD_SENSI_MILP || m == LS_METHOD_KURT_MILP;
}

static const char *const target_names[] = {"none", "bpp", "mib", "extra_pct"};

const char *ls_target_kind_name(ls_target_kind k)
{
    return (k >= LS_TARGET_NONE && k <= LS_TARGET_EXTRA) ? target_names[k] : "?";
}

const char *ls_method_name(ls_method m)
{
    return (m >= 0 && m < LS_N_METHODS) ? method_names[m] : "?";
}

int ls_method_parse(const char *s)
{
    for (int i = 0; i < LS_N_METHODS; i++)
        if (strcmp(s, method_names[i]) == 0)
            return i;
    return -1;
}

ls_settings ls_settings_default(void)
{
    ls_settings s = {0};
    s.method = LS_METHOD_SENSI;
    s.mode = -1;
    s.top_m = 0;
    s.boost_stop = 3;
    s.base = ls_stop_find(3, 128);
    s.ablation = false;
    s.seed = 42;
    s.detect = LS_DETECT_PAPER;
    s.target_kind = LS_TARGET_NONE;
    s.target = 0;
    s.factor = 2.0;
    return s;
}

bool ls_settings_paper_detect(const ls_settings *s)
{
    return s->detect.threshold == 3.0 && s->detect.trim_frac == 0.05;
}

const char *ls_settings_mode_label(const ls_settings *s)
{
    if (s->mode >= 0)
        return ls_diff_mode_name((ls_diff_mode)s->mode);
    switch (s->method) {
    case LS_METHOD_SENSI:
        return "divide";
    case LS_METHOD_KURT:
        return "subtract";
    case LS_METHOD_BOTH:
        return "paired";
    case LS_METHOD_SENSI_MILP: /* the detection behind its outliers */
        return "divide";
    case LS_METHOD_KURT_MILP:
        return "subtract";
    default:
        return NULL;
    }
}

/* ---- the rules ---- */

#define THRESHOLD_MAX 1e9
#define TRIM_MAX 0.49 /* below one half: trimming both sides must leave a core */

static const struct {
    const char *key, *option, *rule;
} fields[LS_N_SETTINGS] = {
    [LS_SET_METHOD] = {"method", "method",
                       "is not sensi, kurt, both, manual, mxq, sensi-milp or kurt-milp"},
    [LS_SET_MODE] = {"mode_override", "mode", "is not subtract or divide"},
    [LS_SET_TOP_M] = {"top_m", "top-m", "is not a whole number from 0 (all outliers) to 256"},
    [LS_SET_BOOST_STOP] = {"boost_stop", "boost-stop",
                           "is not a whole number from 0 to 11 (0 is read as 1, as the "
                           "reference does)"},
    [LS_SET_BASE] = {"base", "base",
                     "is not one of the 12 configs (b2g128 ... b8g32, or 2.13 ... 8.51)"},
    [LS_SET_ABLATION] = {"ablation", "ablation", "is not true or false"},
    [LS_SET_SEED] = {"seed", "seed", "is not a whole number from 0 to 18446744073709551615"},
    [LS_SET_THRESHOLD] = {"threshold", "threshold", "is not a number from 0 to 1e+09"},
    [LS_SET_TRIM] = {"trim", "trim", "is not a number from 0 to 0.49"},
    [LS_SET_TARGET] = {"budget_target", "target-bpp",
                       "is not a budget target (bpp or MiB above 0, extra_pct above -100)"},
    [LS_SET_FACTOR] = {"factor", "factor", "is not a number above 0 and up to 1e+09"},
};
#define ABLATION_RULE "applies to the sensi, kurt, sensi-milp or kurt-milp method only"

_Static_assert(LS_MAX_LAYERS == 256, "the top-m rule's text names the layer limit");
_Static_assert(LS_N_STOPS == 12, "the boost stop and base rules' texts name 11 and 12");

const char *ls_setting_key(ls_setting f)
{
    return f >= 0 && f < LS_N_SETTINGS ? fields[f].key : "?";
}

const char *ls_setting_option(ls_setting f)
{
    return f >= 0 && f < LS_N_SETTINGS ? fields[f].option : "?";
}

static void where_of(char *buf, size_t cap, const char *where, ls_setting f, const char *key)
{
    if (where == LS_WHERE_OPTION)
        snprintf(buf, cap, "option --%s", fields[f].option);
    else
        snprintf(buf, cap, "%s%s", where, key ? key : fields[f].key);
}

static int fail_rule(ls_setting f, const char *where, const char *key, const char *value,
                     ls_error *err)
{
    char loc[512];
    where_of(loc, sizeof loc, where, f, key);
    return ls_fail(err, "%s: \"%s\" %s", loc, value, fields[f].rule);
}

static bool rule_holds(const ls_settings *s, ls_setting f)
{
    switch (f) {
    case LS_SET_METHOD:
        return s->method >= 0 && s->method < LS_N_METHODS;
    case LS_SET_MODE:
        return s->mode == -1 || s->mode == LS_DIFF_SUBTRACT || s->mode == LS_DIFF_DIVIDE;
    case LS_SET_TOP_M:
        return s->top_m >= 0 && s->top_m <= LS_MAX_LAYERS;
    case LS_SET_BOOST_STOP: /* 0 is the reference's falsy default: ls_boost_target reads 1 */
        return s->boost_stop >= 0 && s->boost_stop <= LS_N_STOPS - 1;
    case LS_SET_BASE:
        return s->base >= 0 && s->base < LS_N_STOPS;
    case LS_SET_THRESHOLD:
        return s->detect.threshold >= 0 && s->detect.threshold <= THRESHOLD_MAX;
    case LS_SET_TRIM:
        return s->detect.trim_frac >= 0 && s->detect.trim_frac <= TRIM_MAX;
    case LS_SET_TARGET:
        if (s->target_kind == LS_TARGET_NONE)
            return true;
        if (!isfinite(s->target) || s->target > 1e12)
            return false;
        if (s->target_kind == LS_TARGET_EXTRA)
            return s->target > -100;
        return (s->target_kind == LS_TARGET_BPP || s->target_kind == LS_TARGET_MIB) &&
               s->target > 0;
    case LS_SET_FACTOR:
        return s->factor > 0 && s->factor <= 1e9;
    default:
        return true;
    }
}

/* The shortest text that reads back as v. */
static void double_text(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
}

static void value_text(const ls_settings *s, ls_setting f, char *buf, size_t cap)
{
    switch (f) {
    case LS_SET_METHOD: snprintf(buf, cap, "%d", (int)s->method); break;
    case LS_SET_MODE: snprintf(buf, cap, "%d", s->mode); break;
    case LS_SET_TOP_M: snprintf(buf, cap, "%d", s->top_m); break;
    case LS_SET_BOOST_STOP: snprintf(buf, cap, "%d", s->boost_stop); break;
    case LS_SET_BASE: snprintf(buf, cap, "%d", s->base); break;
    case LS_SET_ABLATION: snprintf(buf, cap, "%s", s->ablation ? "true" : "false"); break;
    case LS_SET_SEED: snprintf(buf, cap, "%llu", (unsigned long long)s->seed); break;
    case LS_SET_THRESHOLD: double_text(buf, cap, s->detect.threshold); break;
    case LS_SET_TRIM: double_text(buf, cap, s->detect.trim_frac); break;
    case LS_SET_TARGET: {
        char v[40];
        double_text(v, sizeof v, s->target);
        if (s->target_kind == LS_TARGET_NONE)
            snprintf(buf, cap, "none");
        else
            snprintf(buf, cap, "%s:%s", ls_target_kind_name((ls_target_kind)s->target_kind), v);
        break;
    }
    case LS_SET_FACTOR: double_text(buf, cap, s->factor); break;
    default: snprintf(buf, cap, "?"); break;
    }
}

static int check_combinations(const ls_settings *s, const char *where, ls_error *err)
{
    if (s->ablation && s->method != LS_METHOD_SENSI && s->method != LS_METHOD_KURT &&
        s->method != LS_METHOD_SENSI_MILP && s->method != LS_METHOD_KURT_MILP) {
        char loc[512];
        where_of(loc, sizeof loc, where, LS_SET_ABLATION, NULL);
        return ls_fail(err, "%s: %s", loc, ABLATION_RULE);
    }
    return 0;
}

int ls_settings_validate(const ls_settings *s, const char *where, ls_error *err)
{
    for (int f = 0; f < LS_N_SETTINGS; f++)
        if (!rule_holds(s, (ls_setting)f)) {
            char value[64];
            value_text(s, (ls_setting)f, value, sizeof value);
            return fail_rule((ls_setting)f, where, NULL, value, err);
        }
    return check_combinations(s, where, err);
}

/* A whole number in decimal digits (no sign), at most 2^64 - 1. */
static bool parse_whole(const char *text, uint64_t *out)
{
    if (text[0] < '0' || text[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno == ERANGE || *end != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_real(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Sets the field from text; false when the text is not of the field's kind. */
static bool set_from_text(ls_settings *s, ls_setting f, const char *text)
{
    uint64_t u;
    int i;
    switch (f) {
    case LS_SET_METHOD:
        i = ls_method_parse(text);
        s->method = (ls_method)i;
        return i >= 0;
    case LS_SET_MODE:
        s->mode = ls_diff_mode_parse(text);
        return s->mode >= 0;
    case LS_SET_TOP_M:
    case LS_SET_BOOST_STOP:
        if (!parse_whole(text, &u) || u > 1000000)
            return false;
        *(f == LS_SET_TOP_M ? &s->top_m : &s->boost_stop) = (int)u;
        return true;
    case LS_SET_BASE:
        s->base = ls_stop_parse(text);
        return s->base >= 0;
    case LS_SET_ABLATION:
        s->ablation = strcmp(text, "true") == 0;
        return s->ablation || strcmp(text, "false") == 0;
    case LS_SET_SEED:
        if (!parse_whole(text, &u))
            return false;
        s->seed = u;
        return true;
    case LS_SET_THRESHOLD:
        return parse_real(text, &s->detect.threshold);
    case LS_SET_TRIM:
        return parse_real(text, &s->detect.trim_frac);
    case LS_SET_TARGET: { /* "none" or "<kind>:<value>" */
        if (strcmp(text, "none") == 0) {
            s->target_kind = LS_TARGET_NONE;
            s->target = 0;
            return true;
        }
        const char *colon = strchr(text, ':');
        if (!colon)
            return false;
        for (int k = LS_TARGET_BPP; k <= LS_TARGET_EXTRA; k++)
            if ((size_t)(colon - text) == strlen(target_names[k]) &&
                strncmp(text, target_names[k], (size_t)(colon - text)) == 0) {
                s->target_kind = k;
                return parse_real(colon + 1, &s->target);
            }
        return false;
    }
    case LS_SET_FACTOR:
        return parse_real(text, &s->factor);
    default:
        return false;
    }
}

static int parse_at(ls_settings *s, ls_setting f, const char *text, const char *where,
                    const char *key, ls_error *err)
{
    if (f < 0 || f >= LS_N_SETTINGS)
        return ls_fail(err, "settings: no such field");
    ls_settings t = *s;
    if (!set_from_text(&t, f, text) || !rule_holds(&t, f))
        return fail_rule(f, where, key, text, err);
    *s = t;
    return 0;
}

int ls_setting_parse(ls_settings *s, ls_setting f, const char *text, const char *where,
                     ls_error *err)
{
    return parse_at(s, f, text, where, NULL, err);
}

/* ---- JSON ---- */

void ls_settings_to_json(const ls_settings *s, unsigned mask, cJSON *o)
{
    for (int f = 0; f < LS_N_SETTINGS; f++) {
        if (!(mask & LS_SETTING_BIT(f)))
            continue;
        const char *k = fields[f].key;
        char text[32];
        switch ((ls_setting)f) {
        case LS_SET_METHOD: cJSON_AddStringToObject(o, k, ls_method_name(s->method)); break;
        case LS_SET_MODE:
            if (s->mode >= 0)
                cJSON_AddStringToObject(o, k, ls_diff_mode_name((ls_diff_mode)s->mode));
            else
                cJSON_AddNullToObject(o, k);
            break;
        case LS_SET_TOP_M: cJSON_AddNumberToObject(o, k, s->top_m); break;
        case LS_SET_BOOST_STOP: cJSON_AddNumberToObject(o, k, s->boost_stop); break;
        case LS_SET_BASE: cJSON_AddStringToObject(o, k, ls_stop_get(s->base)->name); break;
        case LS_SET_ABLATION: cJSON_AddBoolToObject(o, k, s->ablation); break;
        case LS_SET_SEED: /* text: a double holds 53 bits, and cJSON reads numbers as doubles */
            snprintf(text, sizeof text, "%llu", (unsigned long long)s->seed);
            cJSON_AddStringToObject(o, k, text);
            break;
        case LS_SET_THRESHOLD: cJSON_AddNumberToObject(o, k, s->detect.threshold); break;
        case LS_SET_TRIM: cJSON_AddNumberToObject(o, k, s->detect.trim_frac); break;
        case LS_SET_TARGET:
            if (s->target_kind == LS_TARGET_NONE) {
                cJSON_AddNullToObject(o, k);
            } else {
                cJSON *t = cJSON_AddObjectToObject(o, k);
                cJSON_AddStringToObject(t, "kind",
                                        ls_target_kind_name((ls_target_kind)s->target_kind));
                cJSON_AddNumberToObject(t, "value", s->target);
            }
            break;
        case LS_SET_FACTOR: cJSON_AddNumberToObject(o, k, s->factor); break;
        default: break;
        }
    }
}

void ls_settings_to_result_json(const ls_settings *s, int target, cJSON *o)
{
    cJSON_AddStringToObject(o, "method", ls_method_name(s->method));
    const char *mode = ls_settings_mode_label(s);
    if (mode)
        cJSON_AddStringToObject(o, "mode", mode);
    else
        cJSON_AddNullToObject(o, "mode");
    cJSON_AddNumberToObject(o, "top_m", s->top_m);
    cJSON_AddNumberToObject(o, "boost_stop", s->boost_stop);
    cJSON_AddStringToObject(o, "base", ls_stop_get(s->base)->name);
    cJSON_AddStringToObject(o, "target", ls_stop_get(target)->name);
    /* a number, as the schema says, with every digit (cJSON would round it to a double) */
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->seed);
    cJSON_AddRawToObject(o, "seed", seed);
    cJSON_AddBoolToObject(o, "ablation", s->ablation);
    cJSON_AddNumberToObject(o, "threshold", s->detect.threshold);
    cJSON_AddNumberToObject(o, "trim", s->detect.trim_frac);
    cJSON_AddBoolToObject(o, "paper_detection", ls_settings_paper_detect(s));
    /* budget methods: the target as given, and the MiLP factor */
    if (s->target_kind != LS_TARGET_NONE) {
        cJSON *t = cJSON_AddObjectToObject(o, "budget_target");
        cJSON_AddStringToObject(t, "kind", ls_target_kind_name((ls_target_kind)s->target_kind));
        cJSON_AddNumberToObject(t, "value", s->target);
    } else {
        cJSON_AddNullToObject(o, "budget_target");
    }
    if (s->method == LS_METHOD_SENSI_MILP || s->method == LS_METHOD_KURT_MILP)
        cJSON_AddNumberToObject(o, "factor", s->factor);
}

/* The JSON value as text for the field's parser (and for messages): strings as they are,
 * numbers in their shortest exact form, anything else by its JSON spelling. ok is false
 * when the field does not take values of this JSON type. */
static void json_text(const cJSON *v, ls_setting f, char *buf, size_t cap, bool *ok)
{
    bool want_string = f == LS_SET_METHOD || f == LS_SET_MODE || f == LS_SET_BASE;
    bool want_number = f == LS_SET_TOP_M || f == LS_SET_BOOST_STOP || f == LS_SET_THRESHOLD ||
                       f == LS_SET_TRIM || f == LS_SET_FACTOR;
    *ok = true;
    if (f == LS_SET_TARGET) { /* {"kind", "value"} -> "kind:value" */
        const cJSON *k = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "kind") : NULL;
        const cJSON *x = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "value") : NULL;
        char num[40] = "?";
        if (cJSON_IsNumber(x))
            double_text(num, sizeof num, x->valuedouble);
        snprintf(buf, cap, "%.40s:%s", cJSON_IsString(k) ? k->valuestring : "?", num);
        *ok = cJSON_IsString(k) && cJSON_IsNumber(x);
        return;
    }
    if (cJSON_IsString(v)) {
        snprintf(buf, cap, "%s", v->valuestring);
        *ok = want_string || f == LS_SET_SEED;
    } else if (cJSON_IsNumber(v)) {
        double_text(buf, cap, v->valuedouble);
        /* a seed as a number: the explorer config's older form, exact up to 2^53 */
        *ok = want_number || (f == LS_SET_SEED && v->valuedouble <= 9007199254740992.0);
    } else if (cJSON_IsBool(v)) {
        snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
        *ok = f == LS_SET_ABLATION;
    } else {
        snprintf(buf, cap, "%s", cJSON_IsNull(v) ? "null" : cJSON_IsArray(v) ? "[...]" : "{...}");
        *ok = false;
    }
}

static const cJSON *field_item(const cJSON *o, ls_setting f)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, fields[f].key);
    if (!v && f == LS_SET_MODE) /* the explorer config's older name */
        v = cJSON_GetObjectItemCaseSensitive(o, "mode");
    return v;
}

int ls_settings_from_json(const cJSON *o, unsigned mask, ls_settings *s, const char *where,
                          unsigned *found, ls_error *err)
{
    if (found)
        *found = 0;
    if (!where)
        where = "";
    ls_settings t = *s;
    for (int i = 0; i < LS_N_SETTINGS; i++) {
        ls_setting f = (ls_setting)i;
        const cJSON *v = (mask & LS_SETTING_BIT(f)) ? field_item(o, f) : NULL;
        if (!v)
            continue;
        if (found)
            *found |= LS_SETTING_BIT(f);
        if (f == LS_SET_MODE && cJSON_IsNull(v)) {
            t.mode = -1;
            continue;
        }
        if (f == LS_SET_TARGET && cJSON_IsNull(v)) {
            t.target_kind = LS_TARGET_NONE;
            continue;
        }
        char text[512];
        bool ok;
        json_text(v, f, text, sizeof text, &ok);
        if (!ok)
            return fail_rule(f, where, v->string, text, err);
        if (parse_at(&t, f, text, where, v->string, err) < 0)
            return -1;
    }
    if (check_combinations(&t, where, err) < 0)
        return -1;
    *s = t;
    return 0;
}

bool ls_settings_json_key(unsigned mask, const char *key)
{
    for (int f = 0; f < LS_N_SETTINGS; f++)
        if ((mask & LS_SETTING_BIT(f)) &&
            (strcmp(key, fields[f].key) == 0 || (f == LS_SET_MODE && strcmp(key, "mode") == 0)))
            return true;
    return false;
}
