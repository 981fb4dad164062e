/* Q (quantize) and w (write the quantized model) as background jobs. The app's qmodel moves
 * into the job and comes back in the result, also from a cancelled or failed run, so the
 * modules already quantized are reused by the next run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "method/profile_copy.h"
#include "io/qmodel_io.h"

typedef struct quant_arg {
    const ls_model *model;
    ls_qmodel *qm; /* owned until moved into the result */
    unsigned char cfg[APP_N_FLAGS];
    int threads;
    uint64_t gen;
    /* save only */
    char dir[1024];
    ls_profile *profile; /* a copy */
    ls_analysis *an;     /* a copy */
} quant_arg;

typedef struct quant_result {
    ls_qmodel *qm;
    uint64_t gen;
    bool saved;
    char dir[1024];
} quant_result;

static void free_quant_arg(void *p)
{
    quant_arg *qa = p;
    ls_qmodel_free(qa->qm);
    ls_profile_free(qa->profile);
    free(qa->an);
    free(qa);
}

static void free_quant_result(void *p)
{
    quant_result *r = p;
    if (r)
        ls_qmodel_free(r->qm);
    free(r);
}

/* Moves the qmodel into a result; returns -1 (and keeps it in the arg) when out of memory. */
static int hand_back(quant_arg *qa, void **result)
{
    quant_result *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->qm = qa->qm;
    r->gen = qa->gen;
    snprintf(r->dir, sizeof r->dir, "%s", qa->dir);
    qa->qm = NULL;
    *result = r;
    return 0;
}

static int quantize_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    quant_arg *qa = varg;
    int rc = ls_qmodel_quantize(qa->qm, qa->model, qa->cfg, qa->threads, pr, err);
    if (hand_back(qa, result) < 0)
        return ls_fail(err, "out of memory");
    return rc;
}

static int save_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    quant_arg *qa = varg;
    ls_progress_tick(pr, 0, 1, qa->dir);
    int rc = ls_qmodel_save(qa->dir, qa->qm, qa->model, qa->profile, qa->an, err);
    if (hand_back(qa, result) < 0)
        return ls_fail(err, "out of memory");
    ((quant_result *)*result)->saved = rc == 0;
    ls_progress_tick(pr, 1, 1, "saved");
    return rc;
}

void app_q_reset(app *a)
{
    ls_qmodel_free(a->qm);
    a->qm = NULL;
    a->qm_busy = false;
    a->q_known = false;
    a->q_job_id = 0;
    memset(a->q_stop, -1, sizeof a->q_stop);
    memset(&a->q_tot, 0, sizeof a->q_tot);
}

bool app_q_stale(const app *a, int i)
{
    return a->q_known && a->q_stop[i] >= 0 && a->an_ok && a->q_stop[i] != a->an->cfg[i];
}

static quant_arg *new_quant_arg(app *a, ls_error *err)
{
    if (!a->model) {
        ls_fail(err, "quantization needs weights: a profile CSV has none (press o)");
        return NULL;
    }
    if (!a->an_ok) {
        ls_fail(err, "no allocation to quantize with");
        return NULL;
    }
    if (a->qm_busy) {
        ls_fail(err, "the quantized model is in use by a running job (c cancels it)");
        return NULL;
    }
    quant_arg *qa = calloc(1, sizeof *qa);
    if (!qa) {
        ls_fail(err, "out of memory");
        return NULL;
    }
    qa->model = a->model;
    qa->threads = a->threads;
    qa->gen = a->model_gen;
    memcpy(qa->cfg, a->an->cfg, sizeof qa->cfg);
    return qa;
}

void app_start_quantize(app *a)
{
    if (app_job_already(a, JOB_QUANT, "Q quantization"))
        return;
    ls_error err;
    quant_arg *qa = new_quant_arg(a, &err);
    if (!qa) {
        app_msg(a, true, "Q: %s", err.msg);
        return;
    }
    qa->qm = a->qm ? a->qm : ls_qmodel_new(app_n_layers(a), !a->opts->no_quant_meta, &err);
    if (!qa->qm) {
        free(qa);
        app_msg(a, true, "Q: %s", err.msg);
        return;
    }
    a->qm = NULL;
    a->qm_busy = true; /* from here the job owns it, even if the submit fails */
    if (ls_jobs_submit(a->jobs, JOB_QUANT, "quantize", quantize_job, qa, free_quant_arg,
                       free_quant_result) < 0) {
        a->qm_busy = false; /* the queue freed the argument and the qmodel with it */
        app_msg(a, true, "Q: cannot start the job");
        return;
    }
    app_msg(a, false, "quantizing with the current allocation (c cancels)");
}

void app_start_save_quant(app *a, const char *dir)
{
    if (app_job_already(a, JOB_QSAVE, "w (writing the quantized model)"))
        return;
    ls_error err;
    quant_arg *qa = new_quant_arg(a, &err);
    if (!qa) {
        app_msg(a, true, "save: %s", err.msg);
        return;
    }
    /* the saved model must be the allocation it is saved with: every module with weights
     * quantized at its current config (the model is read-only, so the UI may look) */
    int n = app_n_layers(a) * LS_N_MODULES, todo = 0;
    for (int i = 0; i < n; i++)
        if (ls_model_linear(a->model, i / LS_N_MODULES, i % LS_N_MODULES))
            todo += !a->q_known || a->q_stop[i] < 0 || app_q_stale(a, i);
    if (!a->qm || todo) {
        free(qa);
        if (!a->qm) /* errors restored from a session: the weights are not in it */
            app_msg(a, true, "save: the quantized weights are not kept in a session: press Q");
        else
            app_msg(a, true, "save: %d modules not quantized at their current config: press "
                             "Q first", todo);
        return;
    }
    snprintf(qa->dir, sizeof qa->dir, "%s", dir);
    qa->profile = ls_profile_copy(a->profile, &err);
    qa->an = malloc(sizeof *qa->an);
    if (!qa->profile || !qa->an) {
        free_quant_arg(qa);
        app_msg(a, true, "save: out of memory");
        return;
    }
    *qa->an = *a->an;
    qa->qm = a->qm;
    a->qm = NULL;
    a->qm_busy = true;
    if (ls_jobs_submit(a->jobs, JOB_QSAVE, "save quant", save_job, qa, free_quant_arg,
                       free_quant_result) < 0) {
        a->qm_busy = false;
        app_msg(a, true, "save: cannot start the job");
        return;
    }
    app_msg(a, false, "writing the quantized model to %s", dir);
}

void app_q_return(app *a, ls_qmodel *qm)
{
    ls_qmodel_free(a->qm); /* NULL while a job held it; kept for safety */
    a->qm = qm;
    if (!qm)
        return;
    /* copies of what the view shows, so drawing never needs the qmodel */
    int n = qm->n_layers * LS_N_MODULES;
    bool any = false;
    for (int i = 0; i < n; i++) {
        a->q_stop[i] = (signed char)qm->mods[i].stop;
        a->q_err[i] = qm->mods[i].stop >= 0 ? qm->mods[i].qerr : NAN;
        any |= qm->mods[i].stop >= 0;
    }
    a->q_known = any;
}

bool app_take_quant(app *a, const ls_job_info *info, void *res)
{
    if (info->kind != JOB_QUANT && info->kind != JOB_QSAVE)
        return false;
    quant_result *r = res;
    a->qm_busy = false; /* whatever happened, the job no longer holds it */
    if (!r || r->gen != a->model_gen) { /* lost (out of memory) or from another model */
        free_quant_result(r);
        if (info->state == LS_JOB_FAILED)
            app_msg(a, true, "%s: %s", info->name, info->error);
        return true;
    }
    app_q_return(a, r->qm);
    r->qm = NULL;
    if (info->kind == JOB_QUANT) {
        ls_qmodel_totals(a->qm, &a->q_tot); /* this run's totals, for its jobs line */
        a->q_job_id = info->id;
        a->q_new = a->qm->n_last_quantized;
        a->q_seconds = a->qm->last_seconds;
        a->q_quant_meta = a->qm->quant_meta;
        char full[256], brief[128];
        snprintf(full, sizeof full,
                 "%d quantized, %d reused  nominal %.3f MiB  stored %.3f MiB  err %.6g",
                 a->q_new, a->q_tot.n_modules - a->q_new, a->q_tot.nominal_mib,
                 a->q_tot.stored_mib, a->q_tot.fro_total);
        snprintf(brief, sizeof brief, "%d new %d reused %.3f/%.3f MiB err %.6g", a->q_new,
                 a->q_tot.n_modules - a->q_new, a->q_tot.nominal_mib, a->q_tot.stored_mib,
                 a->q_tot.fro_total);
        app_job_result(a, full, brief);
        if (info->state == LS_JOB_DONE)
            app_msg(a, false, "quantized %d modules (%d reused) in %.2f s: nominal %.3f MiB, "
                              "stored %.3f MiB, error %.6g",
                    a->q_new, a->q_tot.n_modules - a->q_new, a->q_seconds,
                    a->q_tot.nominal_mib, a->q_tot.stored_mib, a->q_tot.fro_total);
        else if (info->state == LS_JOB_CANCELLED)
            app_msg(a, false, "quantization cancelled: %d modules kept for the next Q",
                    a->q_tot.n_modules);
        else
            app_msg(a, true, "quantize: %s", info->error);
    } else if (r->saved) {
        app_msg(a, false, "saved the quantized model to %s", r->dir);
        char full[256];
        snprintf(full, sizeof full, "saved to %.200s", r->dir);
        app_job_result(a, full, NULL);
    } else {
        app_msg(a, true, "save failed: %s", info->error);
    }
    free_quant_result(r);
    return true;
}
