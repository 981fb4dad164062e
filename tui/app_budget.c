/* Budget targets (T, <, >, and m reaching the budget methods) and the memory-quality
 * frontier (F) of the explorer. The budget solve runs on the UI thread inside app_analyze
 * (tens of milliseconds for 32 layers, under a second for 80; limited to
 * APP_BUDGET_TIME_LIMIT). The frontier's points are measured one job per point, so each
 * appears when done; results are cached by allocation fingerprint for the open model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "eval/frontier_eval.h"
#include "method/frontier.h"
#include "method/mxq.h"

typedef struct app_frontier {
    ls_frontier f;
    bool built;
    ls_frontier_cache cache;
    ls_frontier_eval *ev;   /* NULL before the first job, or while a job holds it */
    bool busy;              /* a point job is queued or running */
    uint64_t gen;           /* model the cache and ev belong to */
    uint64_t inputs_gen;    /* the job inputs they were measured on (app.inputs_gen) */
    double fp_ppl;
    char text[1024];
} app_frontier;

static app_frontier *frontier_of(app *a)
{
    if (!a->frontier) {
        app_frontier *fr = calloc(1, sizeof *fr);
        if (!fr)
            return NULL;
        fr->fp_ppl = NAN;
        a->frontier = fr;
    }
    return a->frontier;
}

/* ---- targets ---- */

static bool can_run(const app *a, ls_method m)
{
    if (!a->profile || !ls_profile_params_known(a->profile))
        return false;
    if (m == LS_METHOD_MXQ)
        return a->profile->fnorm != NULL;
    if (m == LS_METHOD_SENSI_MILP)
        return ls_profile_has_sensitivity(a->profile);
    if (m == LS_METHOD_KURT_MILP)
        return ls_profile_has_kurtosis(a->profile);
    return true;
}

/* Without a target, a budget method starts at the memory on screen (bpp, 2 decimals). */
static void default_target(app *a)
{
    if (a->settings.target_kind != LS_TARGET_NONE)
        return;
    double bpp = a->an_ok && a->an->memory_known ? a->an->mem.bpp : ls_stop_bpp(a->settings.base);
    a->settings.target_kind = LS_TARGET_BPP;
    a->settings.target = floor(bpp * 100.0 + 1e-9) / 100.0;
    if (a->settings.target < ls_stop_bpp(0))
        a->settings.target = ceil(ls_stop_bpp(0) * 100.0) / 100.0;
}

void app_next_method(app *a)
{
    ls_method m = a->settings.method;
    for (int k = 0; k < LS_N_METHODS; k++) {
        m = (ls_method)((m + 1) % LS_N_METHODS);
        if (!ls_method_is_budget(m) || can_run(a, m))
            break;
    }
    a->settings.method = m;
    if (ls_method_is_budget(m))
        default_target(a);
}

static void budget_method_on(app *a)
{
    if (ls_method_is_budget(a->settings.method))
        return;
    ls_method m = can_run(a, LS_METHOD_MXQ)          ? LS_METHOD_MXQ
                  : can_run(a, LS_METHOD_SENSI_MILP) ? LS_METHOD_SENSI_MILP
                                                     : LS_METHOD_KURT_MILP;
    a->settings.method = m;
    a->settings.ablation = false;
}

void app_set_target(app *a, const char *text)
{
    char *end;
    const char *s = text;
    while (*s == ' ')
        s++;
    bool plus = *s == '+';
    double v = strtod(s, &end);
    while (*end == ' ')
        end++;
    int kind;
    if (end == s) {
        app_msg(a, true, "target \"%s\": not a number (3.3 = bpp, 2500M = MiB, +5%% = extra)",
                text);
        return;
    }
    if (*end == '%')
        kind = LS_TARGET_EXTRA;
    else if (*end == 'M' || *end == 'm')
        kind = LS_TARGET_MIB;
    else if (*end == '\0' || strcmp(end, "bpp") == 0)
        kind = plus ? LS_TARGET_EXTRA : LS_TARGET_BPP;
    else {
        app_msg(a, true, "target \"%s\": unknown unit \"%s\" (bpp, M, %%)", text, end);
        return;
    }
    app_push_undo(a);
    a->settings.target_kind = kind;
    a->settings.target = v;
    budget_method_on(a);
    app_analyze(a);
}

void app_step_target(app *a, int dir)
{
    if (!ls_method_is_budget(a->settings.method) || a->settings.target_kind == LS_TARGET_NONE) {
        app_msg(a, true, "no budget target: T sets one (or m to a budget method)");
        return;
    }
    double step;
    switch (a->settings.target_kind) {
    case LS_TARGET_BPP: step = 0.05; break;
    case LS_TARGET_EXTRA: step = 0.5; break;
    default: /* 1 % of the base memory */
        step = a->an_ok && a->an->memory_known ? 0.01 * a->an->mem.base_mib : 1.0;
        break;
    }
    app_push_undo(a);
    a->settings.target += dir * step;
    if (a->settings.target_kind == LS_TARGET_BPP) /* keep it on the 0.05 grid as typed */
        a->settings.target = round(a->settings.target * 1000.0) / 1000.0;
    app_analyze(a);
}

/* ---- the frontier ---- */

typedef struct fpoint_arg {
    const ls_model *model;
    ls_frontier_eval *ev;          /* moved in (NULL: the job opens one) */
    char text[1024];
    const char *tokenizer_path;    /* the option's string: lives as long as the app */
    ls_quality_params qp;
    int threads;
    uint64_t gen, inputs_gen;
    ls_frontier_point pt;          /* cfg owned */
} fpoint_arg;

typedef struct fpoint_result {
    ls_frontier_eval *ev;          /* handed back whatever happened */
    bool ok;
    uint64_t gen, inputs_gen;
    ls_frontier_result r;
    double fp_ppl;
} fpoint_result;

static void free_fpoint_arg(void *p)
{
    fpoint_arg *fa = p;
    if (!fa)
        return;
    ls_frontier_eval_free(fa->ev);
    free(fa->pt.cfg);
    free(fa);
}

static void free_fpoint_result(void *p)
{
    fpoint_result *r = p;
    if (r)
        ls_frontier_eval_free(r->ev);
    free(r);
}

static int fpoint_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    fpoint_arg *fa = varg;
    fpoint_result *r = calloc(1, sizeof *r);
    if (!r)
        return ls_fail(err, "out of memory");
    r->gen = fa->gen;
    r->inputs_gen = fa->inputs_gen;
    r->fp_ppl = NAN;
    int rc = 0;
    if (!fa->ev)
        rc = ls_frontier_eval_open(fa->model, fa->tokenizer_path, fa->text, &fa->qp,
                                   fa->threads, &fa->ev, err);
    if (rc == 0)
        rc = ls_frontier_eval_fp(fa->ev, pr, &r->fp_ppl, err);
    if (rc == 0)
        rc = ls_frontier_eval_point(fa->ev, &fa->pt, pr, &r->r, err);
    r->ok = rc == 0;
    r->ev = fa->ev;
    fa->ev = NULL;
    *result = r;
    return rc;
}

static const ls_frontier_point *next_point(app_frontier *fr)
{
    for (int i = 0; i < fr->f.n; i++)
        if (!fr->f.pts[i].done)
            return &fr->f.pts[i];
    return NULL;
}

/* Starts the job of the next point not measured; false when all are done. */
static bool start_next(app *a, app_frontier *fr)
{
    const ls_frontier_point *pt = next_point(fr);
    if (!pt || fr->busy || !a->model)
        return false;
    fpoint_arg *fa = calloc(1, sizeof *fa);
    int n = fr->f.n_layers * LS_N_MODULES;
    if (fa)
        fa->pt = *pt;
    if (fa)
        fa->pt.cfg = malloc((size_t)n);
    if (!fa || !fa->pt.cfg) {
        free_fpoint_arg(fa);
        app_msg(a, true, "frontier: out of memory");
        return false;
    }
    memcpy(fa->pt.cfg, pt->cfg, (size_t)n);
    fa->model = a->model;
    fa->ev = fr->ev;
    fr->ev = NULL;
    snprintf(fa->text, sizeof fa->text, "%s", fr->text);
    fa->qp = app_inputs_quality(a);
    fa->tokenizer_path = a->opts->tokenizer_path;
    fa->threads = a->threads;
    fa->gen = a->model_gen;
    fa->inputs_gen = fr->inputs_gen;
    char name[48];
    snprintf(name, sizeof name, "frontier: %.30s", pt->label);
    if (ls_jobs_submit(a->jobs, JOB_FRONTIER, name, fpoint_job, fa, free_fpoint_arg,
                       free_fpoint_result) < 0) {
        fr->ev = fa->ev;
        fa->ev = NULL;
        free_fpoint_arg(fa);
        app_msg(a, true, "frontier: cannot start the job");
        return false;
    }
    fr->busy = true;
    return true;
}

void app_start_frontier(app *a)
{
    app_frontier *fr = frontier_of(a);
    if (!fr || !a->profile || !a->an_ok)
        return;
    if (fr->gen != a->model_gen || fr->inputs_gen != a->inputs_gen) {
        app_frontier_reset(a); /* points measured on another model or other job inputs */
        fr->gen = a->model_gen;
        fr->inputs_gen = a->inputs_gen;
    }
    ls_frontier_free(&fr->f);
    fr->built = false;
    ls_error err;
    if (ls_frontier_build(a->profile, &a->settings, a->an->cfg, &fr->f, &err) < 0) {
        app_msg(a, true, "frontier: %s", err.msg);
        return;
    }
    fr->built = true;
    a->screen = SCREEN_FRONTIER;
    if (!a->model) {
        app_msg(a, true, "frontier: measuring needs weights (a profile CSV has none): "
                         "memory only");
        return;
    }
    if (!a->inputs.eval[0]) {
        app_msg(a, true, "frontier: no evaluation text (I sets one): memory only");
        return;
    }
    snprintf(fr->text, sizeof fr->text, "%s", a->inputs.eval);
    if (fr->ev) /* results of this model and text are in the cache */
        ls_frontier_apply_cache(&fr->f, &fr->cache, ls_frontier_eval_context(fr->ev));
    int left = 0;
    for (int i = 0; i < fr->f.n; i++)
        left += !fr->f.pts[i].done;
    if (left == 0) {
        app_msg(a, false, "frontier: all %d points from the cache", fr->f.n);
        return;
    }
    start_next(a, fr);
    app_msg(a, false, "frontier: measuring %d of %d points on %s (c cancels)", left, fr->f.n,
            fr->text);
}

bool app_take_frontier(app *a, const ls_job_info *info, void *res)
{
    if (info->kind != JOB_FRONTIER)
        return false;
    fpoint_result *r = res;
    app_frontier *fr = a->frontier;
    if (!fr) {
        free_fpoint_result(r);
        return true;
    }
    fr->busy = false;
    if (r && r->gen == a->model_gen && r->inputs_gen != a->inputs_gen) {
        free_fpoint_result(r); /* measured on the job inputs before a change */
        app_msg(a, false, "frontier: the job inputs changed: F measures again on the new ones");
        return true;
    }
    if (!r || r->gen != a->model_gen) {
        free_fpoint_result(r);
        if (info->state == LS_JOB_FAILED)
            app_msg(a, true, "frontier: %s", info->error);
        return true;
    }
    ls_frontier_eval_free(fr->ev);
    fr->ev = r->ev;
    r->ev = NULL;
    if (r->ok) {
        if (isfinite(r->fp_ppl))
            fr->fp_ppl = r->fp_ppl;
        ls_frontier_cache_put(&fr->cache, &r->r);
        if (fr->built)
            ls_frontier_apply_cache(&fr->f, &fr->cache, r->r.context);
        if (fr->built && !start_next(a, fr))
            app_msg(a, false, "frontier: all %d points measured", fr->f.n);
    } else if (info->state == LS_JOB_FAILED) {
        app_msg(a, true, "frontier: %s", info->error);
    } else {
        app_msg(a, false, "frontier: cancelled (F resumes; measured points are kept)");
    }
    free_fpoint_result(r);
    return true;
}

void app_frontier_reset(app *a)
{
    app_frontier *fr = a->frontier;
    if (!fr)
        return;
    ls_frontier_free(&fr->f);
    fr->built = false;
    ls_frontier_cache_free(&fr->cache);
    ls_frontier_eval_free(fr->ev);
    fr->ev = NULL;
    fr->fp_ppl = NAN;
    fr->text[0] = '\0';
}

void app_frontier_free(app *a)
{
    app_frontier_reset(a);
    free(a->frontier);
    a->frontier = NULL;
}

const ls_frontier *app_frontier_view(const app *a, double *fp_ppl, bool *busy)
{
    const app_frontier *fr = a->frontier;
    if (!fr || !fr->built)
        return NULL;
    *fp_ppl = fr->fp_ppl;
    *busy = fr->busy;
    return &fr->f;
}
