/* The analysis settings (method, pairing, top-m, boost stop, base, ablation and its seed,
 * detection threshold and trim) and their one owner: the rules every entry point checks
 * (command line, session file, explorer config, ls_analyze), and the JSON forms sessions,
 * the config and the result document write and read. One rule per field, one message per
 * rule: a session value out of range reads like the same value on the command line.
 *
 * Messages are "<where>: \"<value>\" <rule>", where <where> is "option --top-m" for the
 * command line or the caller's prefix plus the JSON key ("f.json: settings.top_m"). */
#ifndef LS_SETTINGS_H
#define LS_SETTINGS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "method/detect.h"

typedef enum ls_method {
    LS_METHOD_SENSI,  /* SensiBoost: sensitivity, divide */
    LS_METHOD_KURT,   /* KurtBoost: kurtosis, subtract */
    LS_METHOD_BOTH,   /* union of the two sets */
    LS_METHOD_MANUAL, /* a user-chosen set */
    /* Budget methods (docs/method.md §8): one config per matrix from the exact solver. */
    LS_METHOD_MXQ,        /* plain MXQ: minimise the sum of FNorm under the target */
    LS_METHOD_SENSI_MILP, /* SensiMiLP: the size costs, sensitivity outliers weighted */
    LS_METHOD_KURT_MILP,  /* KurtMiLP: the same with kurtosis outliers */
    LS_N_METHODS
} ls_method;

const char *ls_method_name(ls_method m); /* "sensi" "kurt" "both" "manual" "mxq"
                                            "sensi-milp" "kurt-milp" */
int ls_method_parse(const char *s);      /* -1 when unknown */
/* True for mxq, sensi-milp and kurt-milp (they need a target and run the solver). */
bool ls_method_is_budget(ls_method m);

/* Kinds of budget target (the budget methods). */
typedef enum ls_target_kind {
    LS_TARGET_NONE,
    LS_TARGET_BPP,   /* nominal bits per parameter of the 7 linear types */
    LS_TARGET_MIB,   /* nominal MiB of the 7 linear types */
    LS_TARGET_EXTRA, /* percent over the base config's memory (as the memory panel counts) */
} ls_target_kind;

const char *ls_target_kind_name(ls_target_kind k); /* "none" "bpp" "mib" "extra_pct" */

typedef struct ls_settings {
    ls_method method;
    int mode;          /* -1: each method's own pairing; else an ls_diff_mode override */
    int top_m;         /* 0 = all outliers; 0 .. LS_MAX_LAYERS */
    int boost_stop;    /* 1 .. 11; 0 is read as 1, as the reference does (docs/method.md §5.2) */
    int base;          /* stop index of the base config */
    bool ablation;     /* random layers, same count (docs/method.md §7); sensi or kurt only */
    uint64_t seed;     /* ablation seed */
    ls_detect_params detect;
    /* budget methods */
    int target_kind;   /* ls_target_kind: none, bpp, mib or extra_pct */
    double target;     /* its value: bits per parameter, MiB, or % over the base */
    double factor;     /* MiLP cost weight of an outlier (default 2) */
} ls_settings;

/* The paper's headline setting: base b3g128, sensi, top-m 0, boost stop 3, seed 42. */
ls_settings ls_settings_default(void);

/* "divide", "subtract", "paired" (both, each its own) or NULL (manual). */
const char *ls_settings_mode_label(const ls_settings *s);

/* True when the detection parameters are the paper's (threshold 3, trim 0.05). */
bool ls_settings_paper_detect(const ls_settings *s);

/* The fields, in the order the stored JSON form writes them. */
typedef enum ls_setting {
    LS_SET_METHOD,
    LS_SET_MODE,       /* JSON "mode_override" (null = each method's own) */
    LS_SET_TOP_M,
    LS_SET_BOOST_STOP,
    LS_SET_BASE,
    LS_SET_ABLATION,
    LS_SET_SEED,       /* JSON: the decimal digits as a string (exact for any 64-bit seed) */
    LS_SET_THRESHOLD,
    LS_SET_TRIM,
    LS_SET_TARGET,     /* JSON "budget_target": {"kind": "bpp"|"mib"|"extra_pct", "value"} or
                          null; text form "bpp:3.3" (none: "none") */
    LS_SET_FACTOR,     /* the MiLP factor */
    LS_N_SETTINGS
} ls_setting;

#define LS_SETTING_BIT(f) (1u << (f))
/* What the explorer config keeps (not the ablation switch nor the detection parameters):
 * the budget target and the MiLP factor included. */
#define LS_SETTINGS_CONFIG                                                                 \
    (LS_SETTING_BIT(LS_SET_METHOD) | LS_SETTING_BIT(LS_SET_MODE) |                          \
     LS_SETTING_BIT(LS_SET_TOP_M) | LS_SETTING_BIT(LS_SET_BOOST_STOP) |                     \
     LS_SETTING_BIT(LS_SET_BASE) | LS_SETTING_BIT(LS_SET_SEED) |                            \
     LS_SETTING_BIT(LS_SET_TARGET) | LS_SETTING_BIT(LS_SET_FACTOR))
#define LS_SETTINGS_ALL ((1u << LS_N_SETTINGS) - 1)

const char *ls_setting_key(ls_setting f);    /* JSON key: "top_m", "mode_override", ... */
const char *ls_setting_option(ls_setting f); /* command-line option: "top-m", "mode", ... */

/* where == NULL: the command line ("option --<name>"); else where followed by the JSON key. */
#define LS_WHERE_OPTION NULL

/* Sets field f from its text form (the command line's: "kurt", "3", "b3g128", "42") and
 * checks it against the field's rule. ABLATION takes "true" or "false". */
int ls_setting_parse(ls_settings *s, ls_setting f, const char *text, const char *where,
                     ls_error *err);

/* Checks every field's rule, then the combinations (ablation with sensi or kurt only).
 * ls_analyze uses where = "settings.". */
int ls_settings_validate(const ls_settings *s, const char *where, ls_error *err);

/* Adds the fields in mask to o in the stored form (sessions, the explorer config). */
void ls_settings_to_json(const ls_settings *s, unsigned mask, cJSON *o);

/* Adds the result document's "settings" form to o: "method", "mode" (the pairing in effect:
 * ls_settings_mode_label), "top_m", "boost_stop", "base", "target", "seed" (a JSON number
 * with every digit), "ablation", "threshold", "trim", "paper_detection". */
void ls_settings_to_result_json(const ls_settings *s, int target, cJSON *o);

/* Reads the fields in mask that o holds into s (the others keep their value), each checked
 * as ls_setting_parse does, then the combinations. *found (may be NULL) gets the mask of the
 * fields read. Older forms still read: "mode" for "mode_override" (explorer configs before
 * the rename) and a seed as a JSON number (whole, at most 2^53: exact in a double). */
int ls_settings_from_json(const cJSON *o, unsigned mask, ls_settings *s, const char *where,
                          unsigned *found, ls_error *err);

/* True when from_json with this mask reads the key (for notes on unknown keys). */
bool ls_settings_json_key(unsigned mask, const char *key);

#endif
