/* Sessions in the explorer: s saves the exploration (model path and fingerprint, settings,
 * manual set, measured metrics, and the results with the key each depends on: HQQ errors,
 * the perplexity comparison, the selection and the job inputs) as one JSON file; O loads
 * one, with the same rules as --session in batch mode (core/io/session.h), and shows the
 * results whose key still holds (core/io/session_results.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "io/result_json.h"
#include "io/session_results.h"

uint64_t app_alloc_hash(const app *a)
{
    int n = app_n_layers(a) * LS_N_MODULES;
    unsigned char base[APP_N_FLAGS];
    memset(base, a->settings.base, sizeof base);
    return ls_alloc_hash(base, a->an->cfg, n);
}

/* The explorer's state as session results (arrays point into a: not to be freed). */
static void results_of(const app *a, ls_session_results *r)
{
    memset(r, 0, sizeof *r);
    r->has_selection = true;
    r->layer = a->sel_layer;
    r->module = a->module;
    r->has_inputs = true;
    const app_inputs *in = &a->inputs;
    snprintf(r->inputs.eval, sizeof r->inputs.eval, "%s", in->eval);
    snprintf(r->inputs.calib, sizeof r->inputs.calib, "%s", in->calib);
    r->inputs.protocol = in->protocol;
    r->inputs.ctx = in->ctx;
    r->inputs.compute = in->compute;
    if (a->q_known && a->model) {
        r->has_hqq = true;
        r->hqq.model = a->fingerprint;
        r->hqq.quant_meta = !a->opts->no_quant_meta;
        r->hqq.err = (double *)a->q_err;
        r->hqq.stop = (signed char *)a->q_stop;
    }
    if (a->ppl_known && a->kld_known) {
        ls_session_quality *q = &r->quality;
        r->has_quality = true;
        q->model = a->fingerprint;
        q->text = a->ppl_text_hash;
        q->alloc = a->ppl_alloc_hash;
        snprintf(q->text_path, sizeof q->text_path, "%s", a->ppl_text);
        q->protocol = a->ppl_protocol;
        q->ctx = a->ppl_ctx;
        q->compute = a->ppl_compute;
        q->fp_ppl = a->ppl_fp;
        q->mem_pct = a->ppl_mem_pct;
        q->base = a->kld_base;
        q->current = a->kld_cur;
        snprintf(q->verdict, sizeof q->verdict, "%s", a->kld_verdict);
        snprintf(q->info, sizeof q->info, "%s", a->kld_info);
        q->n_layer_err = a->layer_err_known ? a->layer_err_n : 0;
        q->rel_l2 = (double *)a->layer_rel;
        q->cosine = (double *)a->layer_cos;
    }
}

/* The results block: batch's quantization totals (when the qmodel is at hand), then the
 * keyed results. */
static cJSON *results_json(app *a)
{
    cJSON *res = cJSON_CreateObject();
    if (!res)
        return NULL;
    if (a->qm && !a->qm_busy && a->q_known && a->an_ok) {
        cJSON *doc = ls_result_json(a->profile, a->an);
        if (doc) {
            ls_result_json_add_quantization(doc, a->qm);
            cJSON *q = cJSON_GetObjectItemCaseSensitive(doc, "quantization");
            if (q)
                cJSON_AddItemToObject(res, "quantization", cJSON_Duplicate(q, 1));
            cJSON_Delete(doc);
        }
    }
    ls_session_results r;
    results_of(a, &r);
    ls_session_results_to_json(&r, app_n_layers(a), res);
    return res;
}

void app_save_session(app *a, const char *path)
{
    if (!a->profile) {
        app_msg(a, true, "nothing open to save");
        return;
    }
    cJSON *res = results_json(a);
    ls_error err;
    const unsigned char *manual = a->has_manual ? a->manual : NULL;
    if (ls_session_save(path, a->profile, a->model, &a->settings, manual, res, &err) < 0)
        app_msg(a, true, "session not saved: %s", err.msg);
    else
        app_msg(a, false, "session saved to %s (O loads it; --session %s resumes it)", path,
                path);
    cJSON_Delete(res);
}

/* A restored result in the jobs panel, as the job that made it would have left it. */
static void history_entry(app *a, int kind, const char *name, const char *full, const char *brief)
{
    ls_job_info info;
    memset(&info, 0, sizeof info);
    info.kind = kind;
    info.state = LS_JOB_DONE;
    snprintf(info.name, sizeof info.name, "%s", name);
    app_job_result(a, full, brief);
    app_history_add(a, &info);
}

static void restore_hqq(app *a, const ls_session_hqq *q)
{
    int n = app_n_layers(a) * LS_N_MODULES, count = 0;
    double total = 0;
    for (int i = 0; i < n; i++) {
        a->q_stop[i] = q->stop[i];
        a->q_err[i] = q->stop[i] >= 0 ? q->err[i] : NAN;
        if (q->stop[i] >= 0) {
            count++;
            total += isfinite(q->err[i]) ? q->err[i] : 0;
        }
    }
    a->q_known = count > 0;
    char full[160], brief[96];
    snprintf(full, sizeof full, "from the session: HQQ errors of %d matrices, err %.6g (Q "
                                "quantizes again to write the model)", count, total);
    snprintf(brief, sizeof brief, "session: %d matrices err %.6g", count, total);
    history_entry(a, JOB_QUANT, "quantize", full, brief);
}

static void restore_quality(app *a, const ls_session_quality *q)
{
    a->ppl_known = a->kld_known = true;
    a->ppl_job_id = 0;
    a->ppl_fp = q->fp_ppl;
    a->ppl_base = q->base.ppl;
    a->ppl_cur = q->current.ppl;
    a->ppl_delta_pct = 100.0 * (a->ppl_cur - a->ppl_base) / a->ppl_base;
    a->ppl_mem_pct = q->mem_pct;
    snprintf(a->ppl_text, sizeof a->ppl_text, "%s", q->text_path);
    a->ppl_protocol = q->protocol;
    a->ppl_ctx = q->ctx;
    a->ppl_compute = q->compute;
    a->ppl_text_hash = q->text;
    a->ppl_alloc_hash = q->alloc;
    a->kld_base = q->base;
    a->kld_cur = q->current;
    snprintf(a->kld_verdict, sizeof a->kld_verdict, "%s", q->verdict);
    snprintf(a->kld_info, sizeof a->kld_info, "%s", q->info);
    a->layer_err_known = q->n_layer_err > 0 && q->n_layer_err <= app_n_layers(a);
    a->layer_err_n = a->layer_err_known ? q->n_layer_err : 0;
    for (int l = 0; l < a->layer_err_n; l++) {
        a->layer_rel[l] = q->rel_l2[l];
        a->layer_cos[l] = q->cosine[l];
    }
    char full[768], brief[160];
    app_ppl_lines(a, full, sizeof full, brief, sizeof brief);
    history_entry(a, JOB_PPL, "perplexity", full, brief);
}

void app_restore_results(app *a, const ls_session *s)
{
    if (!s->results || !a->profile)
        return;
    ls_session_results r;
    ls_error err;
    if (ls_session_results_from_json(s->results, s->n_layers, "session", &r, &err) < 0) {
        app_msg(a, true, "session results not restored: %s", err.msg);
        return;
    }
    if (r.has_inputs) {
        app_inputs *in = &a->inputs;
        snprintf(in->eval, sizeof in->eval, "%s", r.inputs.eval);
        snprintf(in->calib, sizeof in->calib, "%s", r.inputs.calib);
        in->protocol = r.inputs.protocol;
        in->ctx = r.inputs.ctx;
        in->compute = r.inputs.compute;
        a->inputs_gen++;
    }
    if (r.has_selection && r.layer < app_n_layers(a)) {
        a->sel_layer = r.layer;
        a->module = r.module;
    }
    char stale[256] = "";
    /* a layer count that differs is another model whatever its fingerprint says */
    uint64_t model = s->n_layers == app_n_layers(a) ? a->fingerprint : ~a->fingerprint;
    ls_session_results_check(&r, model, a->an_ok ? app_alloc_hash(a) : 0, stale, sizeof stale);
    if (r.has_hqq)
        restore_hqq(a, &r.hqq);
    if (r.has_quality)
        restore_quality(a, &r.quality);
    if (stale[0] && a->msg_error && a->msg[0]) { /* after the changed-model warning */
        char prev[sizeof a->msg];
        snprintf(prev, sizeof prev, "%s", a->msg);
        app_msg(a, true, "%.200s; results not shown: %s", prev, stale);
    } else if (stale[0]) {
        app_msg(a, true, "session results not shown (their key changed): %s", stale);
    }
    ls_session_results_free(&r);
}

void app_load_session(app *a, const char *path)
{
    ls_session s;
    memset(&s, 0, sizeof s);
    ls_error err;
    if (ls_session_load(path, &s, &err) < 0) {
        app_msg(a, true, "session not loaded: %s", err.msg);
        return;
    }
    a->msg[0] = '\0'; /* so an error after the open is the open's own (the warning) */
    a->msg_error = false;
    if (app_open_session(a, s.model_path, &s, false, &err) < 0) {
        app_msg(a, true, "session %s: cannot open its model: %s", path, err.msg);
    } else if (!a->msg_error) { /* the changed-model and stale-results warnings stay visible */
        app_msg(a, false, "session %s loaded: %s, %s%s%s%s", path, s.model_path,
                ls_method_name(a->settings.method), a->has_manual ? ", manual set" : "",
                a->q_known ? ", HQQ errors" : "", a->ppl_known ? ", perplexity" : "");
    }
    ls_session_free(&s);
}
