#include "app.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/kurtosis.h"
#include "method/manual.h"
#include "base/parallel.h"
#include "io/source.h"

void app_msg(app *a, bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    a->msg_error = error;
}

int app_n_layers(const app *a)
{
    return a->profile ? a->profile->n_layers : 0;
}

static void load_config(app *a)
{
    ls_uiconfig_default(&a->config);
    const char *path = a->args->config;
    if (path)
        snprintf(a->config_path, sizeof a->config_path, "%s", path);
    else if (ls_uiconfig_path(a->config_path, sizeof a->config_path) < 0)
        return;
    ls_error err;
    char note[256];
    int rc = ls_uiconfig_load(a->config_path, &a->config, note, sizeof note, &err);
    if (rc < 0)
        app_msg(a, true, "config ignored: %s", err.msg);
    else if (rc == 0 && note[0])
        app_msg(a, false, "config: %s", note);
}

int app_init(app *a, const ls_options *o, const ui_args *args, ls_error *err)
{
    memset(a, 0, sizeof *a);
    a->opts = o;
    a->precision = o->precision; /* P's sequential stop; p cycles it */
    a->args = args;
    a->threads = o->threads > 0 ? o->threads : ls_cpu_count();
    app_inputs_init(a);
    a->an = calloc(1, sizeof *a->an);
    a->hist = calloc(1, sizeof *a->hist);
    if (!a->an || !a->hist)
        return ls_fail(err, "out of memory");
    a->jobs = ls_jobs_new(err);
    if (!a->jobs)
        return -1;
    app_q_reset(a);
    load_config(a);
    int t = wg_theme_parse(a->config.theme[0] ? a->config.theme : "default");
    a->theme = t < 0 ? WG_THEME_DEFAULT : (wg_theme)t;
    a->log_scale = a->config.log_scale;
    a->settings = o->settings_given ? o->settings
                  : a->config.has_settings ? a->config.settings
                                           : ls_settings_default();
    if (!o->settings_given && a->config.has_settings && a->settings.method == LS_METHOD_MANUAL)
        a->settings.method = LS_METHOD_SENSI; /* the manual set itself is not saved */
    a->settings_restored = !o->settings_given && a->config.has_settings;
    if (a->settings_restored && ls_method_is_budget(a->settings.method) &&
        a->settings.target_kind == LS_TARGET_NONE)
        a->settings.method = LS_METHOD_SENSI; /* a config from before targets were kept */
    if (a->settings_restored && !a->msg[0]) {
        char target[64] = "";
        if (a->settings.target_kind != LS_TARGET_NONE)
            snprintf(target, sizeof target, ", budget target %g %s", a->settings.target,
                     a->settings.target_kind == LS_TARGET_BPP   ? "bpp"
                     : a->settings.target_kind == LS_TARGET_MIB ? "MiB"
                                                                : "% over the base");
        /* what matters first: the path may run past the screen's edge */
        app_msg(a, false, "settings restored%s (R resets to the paper's defaults) from %s",
                target, a->config_path);
    }
    return 0;
}

void app_free(app *a)
{
    ls_jobs_free(a->jobs); /* joins the worker before the model it reads goes away */
    app_q_reset(a);
    app_eval_reset(a);
    app_frontier_free(a);
    ls_found_list_free(&a->found);
    ls_profile_free(a->profile);
    ls_model_free(a->model);
    free(a->an);
    free(a->hist);
}

void app_analyze(app *a)
{
    if (!a->profile) {
        a->an_ok = false;
        return;
    }
    ls_error err;
    if (ls_method_is_budget(a->settings.method)) {
        /* A budget solve that fails (target outside the range, no fnorm, time limit)
         * leaves the previous allocation on screen. */
        ls_analysis *t = malloc(sizeof *t);
        if (!t) {
            app_msg(a, true, "out of memory");
            return;
        }
        if (ls_analyze_ex(a->profile, &a->settings, NULL, APP_BUDGET_TIME_LIMIT, NULL, t,
                          &err) < 0) {
            app_msg(a, true, "%s%s", err.msg, a->an_ok ? " (previous allocation kept)" : "");
            if (a->an_ok) /* the settings on screen stay those of the allocation shown */
                a->settings = a->an->settings;
            free(t);
            return;
        }
        *a->an = *t;
        free(t);
        a->an_ok = true;
        return;
    }
    a->an_ok = false;
    if (ls_analyze(a->profile, &a->settings, a->has_manual ? a->manual : NULL, a->an, &err) <
        0) {
        app_msg(a, true, "%s", err.msg);
        return;
    }
    a->an_ok = true;
}

int app_open(app *a, const char *path, ls_error *err)
{
    return app_open_session(a, path, NULL, false, err);
}

/* The state a session brings, decided before anything of the open model changes. */
typedef struct session_view {
    bool settings, manual, metrics_changed, kurtosis;
} session_view;

static void apply_session(const app *a, const ls_session *s, bool from_cmdline, ls_profile *p,
                          uint64_t fingerprint, unsigned char *manual, session_view *sv)
{
    const ls_options *o = a->opts;
    bool had_kurtosis = ls_profile_has_kurtosis(p);
    ls_session_apply_metrics(s, p, fingerprint, &sv->metrics_changed);
    sv->kurtosis = !had_kurtosis && ls_profile_has_kurtosis(p);
    sv->settings = !from_cmdline || !o->settings_given;
    sv->manual = s->manual && s->n_layers == p->n_layers && !(from_cmdline && o->manual_path);
    if (sv->manual)
        memcpy(manual, s->manual, (size_t)p->n_layers * LS_N_MODULES);
}

int app_open_session(app *a, const char *path, const ls_session *sess, bool from_cmdline,
                     ls_error *err)
{
    const ls_options *o = a->opts;
    ls_source_options so = {o->tokenizer_path, o->sensitivity_csv, o->kurtosis_csv,
                            o->sensi_select};
    ls_model *model = NULL;
    ls_profile *p = NULL;
    if (ls_source_open(path, &so, &model, &p, err) < 0)
        return -1;
    /* as batch mode does: the fingerprint of what was opened, before any metrics are added */
    uint64_t fingerprint = model ? ls_model_fingerprint(model) : ls_profile_fingerprint(p);
    if (ls_source_add_metrics(p, &so, err) < 0) {
        ls_profile_free(p);
        ls_model_free(model);
        return -1;
    }
    if (p->n_layers > LS_MAX_LAYERS) { /* importers refuse this already; keep arrays safe */
        ls_profile_free(p);
        ls_model_free(model);
        return ls_fail(err, "%s: more than %d layers", path, LS_MAX_LAYERS);
    }
    unsigned char manual[APP_N_FLAGS];
    memset(manual, 0, sizeof manual);
    bool has_manual = false;
    if (o->manual_path && !a->profile) { /* --manual applies to the model named with it */
        if (ls_manual_read(o->manual_path, p->n_layers, manual, err) < 0) {
            ls_profile_free(p);
            ls_model_free(model);
            return -1;
        }
        has_manual = true;
    }
    session_view sv = {0};
    if (sess) {
        apply_session(a, sess, from_cmdline, p, fingerprint, manual, &sv);
        has_manual |= sv.manual;
    }
    /* Jobs read the old model: stop them before it goes away. Cancelling is quick
     * (the kernels check at every block). Their results are taken (a qmodel comes back)
     * and then dropped with the old model's state. */
    app_frontier_reset(a); /* first, so a point finishing now starts no next one */
    ls_jobs_cancel_all(a->jobs);
    ls_jobs_wait_idle(a->jobs);
    app_poll_jobs(a);
    app_q_reset(a);
    app_eval_reset(a);
    app_frontier_reset(a);
    ls_profile_free(a->profile);
    ls_model_free(a->model);
    a->model = model;
    a->profile = p;
    a->model_gen++;
    a->kurt_pending = false;
    a->load_error[0] = '\0';
    snprintf(a->path, sizeof a->path, "%s", path);
    a->has_manual = has_manual;
    memcpy(a->manual, manual, sizeof manual);
    if (sv.settings)
        a->settings = sess->settings;
    a->n_undo = a->n_redo = 0;
    a->sel_layer = a->scroll = 0;
    a->screen = SCREEN_MAIN;
    a->hist_pending = false;
    a->hist_layer = -1;
    /* SensiBoost with no sensitivity flags nothing; unless asked for, start with KurtBoost */
    if (!o->settings_given && !a->config.has_settings && !sv.settings &&
        !ls_profile_has_sensitivity(p) && a->settings.method == LS_METHOD_SENSI) {
        a->settings.method = LS_METHOD_KURT;
        if (!a->msg[0]) /* a config error said first stays visible */
            app_msg(a, false, "no sensitivity measured: showing KurtBoost (m switches method)");
    }
    if (model && !o->kurtosis_csv && !sv.kurtosis)
        app_start_kurtosis(a);
    a->fingerprint = fingerprint;
    if (sv.metrics_changed)
        app_msg(a, true, "session: the model changed since it was saved (other shapes or "
                         "header): its stored metrics are not used");
    app_analyze(a);
    if (sess)
        app_restore_results(a, sess);
    return 0;
}

static void save_state(const app *a, app_undo *u)
{
    u->settings = a->settings;
    u->has_manual = a->has_manual;
    memcpy(u->manual, a->manual, sizeof u->manual);
}

static void load_state(app *a, const app_undo *u)
{
    a->settings = u->settings;
    a->has_manual = u->has_manual;
    memcpy(a->manual, u->manual, sizeof a->manual);
}

static void push(app_undo *stack, int *n, const app *a)
{
    if (*n == APP_UNDO_MAX) {
        memmove(&stack[0], &stack[1], sizeof stack[0] * (APP_UNDO_MAX - 1));
        (*n)--;
    }
    save_state(a, &stack[(*n)++]);
}

void app_push_undo(app *a)
{
    push(a->undo, &a->n_undo, a);
    a->n_redo = 0; /* a new change: what was undone can no longer be redone */
}

bool app_pop_undo(app *a)
{
    if (a->n_undo == 0)
        return false;
    push(a->redo, &a->n_redo, a);
    load_state(a, &a->undo[--a->n_undo]);
    return true;
}

bool app_redo(app *a)
{
    if (a->n_redo == 0)
        return false;
    push(a->undo, &a->n_undo, a);
    load_state(a, &a->redo[--a->n_redo]);
    return true;
}

/* ---- jobs ---- */

typedef struct job_arg {
    const ls_model *model;
    int threads, layer, module;
    uint64_t gen;
} job_arg;

typedef struct kurt_result {
    ls_profile *p; /* first member: app_open frees stale ones through it */
    uint64_t gen;
} kurt_result;

typedef struct hist_result {
    uint64_t gen;
    int layer, module;
    ls_histogram h;
} hist_result;

static void free_kurt_result(void *r)
{
    if (r)
        ls_profile_free(((kurt_result *)r)->p);
    free(r);
}

static int kurtosis_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    job_arg *ja = varg;
    ls_profile *p = ls_profile_from_model(ja->model, err);
    if (!p)
        return -1;
    if (ls_kurtosis_model(ja->model, ja->threads, pr, p, err) < 0) {
        ls_profile_free(p);
        return -1;
    }
    kurt_result *r = malloc(sizeof *r);
    if (!r) {
        ls_profile_free(p);
        return ls_fail(err, "out of memory");
    }
    r->p = p;
    r->gen = ja->gen;
    *result = r;
    return 0;
}

static int histogram_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    job_arg *ja = varg;
    const ls_tensor *t = ls_model_linear(ja->model, ja->layer, ja->module);
    if (!t)
        return ls_fail(err, "no weights for layer %d %s", ja->layer,
                       ls_module_name(ja->module));
    hist_result *r = malloc(sizeof *r);
    if (!r)
        return ls_fail(err, "out of memory");
    if (ls_histogram_tensor(t, LS_HIST_MAX_BINS, pr, &r->h, err) < 0) {
        free(r);
        return -1;
    }
    r->gen = ja->gen;
    r->layer = ja->layer;
    r->module = ja->module;
    *result = r;
    return 0;
}

static job_arg *new_arg(app *a)
{
    job_arg *ja = calloc(1, sizeof *ja);
    if (ja) {
        ja->model = a->model;
        ja->threads = a->threads;
        ja->gen = a->model_gen;
        ja->layer = a->sel_layer;
        ja->module = a->module;
    }
    return ja;
}

void app_start_kurtosis(app *a)
{
    job_arg *ja = a->model ? new_arg(a) : NULL;
    if (!ja)
        return;
    if (ls_jobs_submit(a->jobs, JOB_KURTOSIS, "kurtosis", kurtosis_job, ja, free,
                       free_kurt_result) > 0)
        a->kurt_pending = true;
}

void app_start_histogram(app *a)
{
    job_arg *ja = new_arg(a);
    if (!ja)
        return;
    if (ls_jobs_submit(a->jobs, JOB_HISTOGRAM, "histogram", histogram_job, ja, free, free) > 0) {
        a->hist_pending = true;
        a->hist_layer = a->sel_layer;
        a->hist_module = a->module;
    }
}

static void take_result(app *a, const ls_job_info *info, void *res)
{
    if (app_take_quant(a, info, res) || app_take_eval(a, info, res) ||
        app_take_frontier(a, info, res) ||
        app_take_imatrix(a, info, res) || app_take_measure(a, info, res))
        return;
    if (info->kind == JOB_KURTOSIS) {
        kurt_result *r = res;
        if (r && r->gen == a->model_gen && a->profile) {
            int n = a->profile->n_layers * LS_N_MODULES;
            memcpy(a->profile->kurtosis, r->p->kurtosis, sizeof(double) * (size_t)n);
            memcpy(a->profile->nonfinite, r->p->nonfinite, sizeof(int64_t) * (size_t)n);
            a->kurt_pending = false;
            int best = -1;
            for (int i = 0; i < n; i++)
                if (isfinite(a->profile->kurtosis[i]) &&
                    (best < 0 || a->profile->kurtosis[i] > a->profile->kurtosis[best]))
                    best = i;
            char full[256], brief[128];
            if (best >= 0) {
                snprintf(full, sizeof full, "%d matrices, largest %.4g at layer %d %s", n,
                         a->profile->kurtosis[best], best / LS_N_MODULES,
                         ls_module_short_name(best % LS_N_MODULES));
                snprintf(brief, sizeof brief, "%d matrices, max %.4g", n,
                         a->profile->kurtosis[best]);
                app_job_result(a, full, brief);
            }
            app_analyze(a);
            if (!a->msg[0]) /* do not hide a message the user has not seen yet */
                app_msg(a, false, "kurtosis computed in %.2f s", info->elapsed);
        } else if (!r && info->state != LS_JOB_DONE) {
            a->kurt_pending = false;
            if (info->state == LS_JOB_FAILED)
                app_msg(a, true, "kurtosis: %s", info->error);
        }
        free_kurt_result(r);
    } else if (info->kind == JOB_HISTOGRAM) {
        hist_result *r = res;
        if (r && r->gen == a->model_gen && r->layer == a->hist_layer &&
            r->module == a->hist_module) {
            *a->hist = r->h;
            a->hist_pending = false;
            char full[128];
            snprintf(full, sizeof full, "layer %d %s", r->layer, ls_module_short_name(r->module));
            app_job_result(a, full, NULL);
        } else if (!r && info->state == LS_JOB_FAILED) {
            a->hist_pending = false;
            app_msg(a, true, "histogram: %s", info->error);
        }
        free(r);
    }
}

bool app_poll_jobs(app *a)
{
    bool changed = false;
    ls_job_info info;
    void *res;
    while (ls_jobs_take(a->jobs, &info, &res)) {
        a->job_full[0] = a->job_short[0] = '\0';
        take_result(a, &info, res);
        app_history_add(a, &info);
        changed = true;
    }
    uint64_t gen = ls_jobs_gen(a->jobs);
    if (gen != a->jobs_gen || changed) {
        a->jobs_gen = gen;
        a->n_jobs = ls_jobs_list(a->jobs, a->job, APP_MAX_JOBS);
        if (a->job_sel >= app_job_rows(a))
            a->job_sel = 0;
        changed = true;
    }
    return changed;
}

void app_save_config(app *a)
{
    if (!a->config_path[0])
        return;
    ls_uiconfig c = a->config;
    c.settings = a->settings;
    c.has_settings = true;
    snprintf(c.theme, sizeof c.theme, "%s", wg_theme_name(a->theme));
    c.log_scale = a->log_scale;
    if (a->profile)
        snprintf(c.last_model, sizeof c.last_model, "%s", a->path);
    ls_error err;
    if (ls_uiconfig_save(a->config_path, &c, &err) < 0)
        fprintf(stderr, "layerscope: warning: settings not saved: %s\n", err.msg);
}
