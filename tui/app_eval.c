/* P (perplexity: fp, base and current allocation, the paper's central comparison) and S
 * (activation sensitivity) as background jobs. P borrows the app's qmodel as its cache of
 * quantized modules and hands it back like Q does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "method/explain.h"
#include "eval/ppl_text.h"
#include "eval/quality_run.h"
#include "io/result_json.h"
#include "io/session_results.h"
#include "eval/sensitivity.h"
#include "nn/matmul_bf16.h"

typedef struct eval_arg {
    const ls_model *model;
    const char *tokenizer_path; /* the option's string: lives as long as the app */
    char text[1024];
    int threads;
    ls_compute compute; /* the products' mode (the job inputs: I, C) */
    uint64_t gen;
    ls_qmodel *qm; /* P: owned until moved into the result */
    unsigned char base[APP_N_FLAGS], cur[APP_N_FLAGS];
    double mem_pct; /* P: the current allocation's extra memory, shown beside the delta */
    ls_quality_params qp; /* P: protocol, cache and sequential stop */
    uint64_t alloc_hash;  /* P: of base and cur (app_alloc_hash) */
} eval_arg;

typedef struct ppl_result {
    ls_qmodel *qm;
    uint64_t gen;
    bool ok;
    ls_quality_result q;
    double mem_pct;
    char text[1024];
    int compute;         /* as used: bf16 falls back to f32 without CPU support */
    uint64_t text_hash, alloc_hash; /* the session key of the result */
    char warn[2][320];   /* cache lines (ignored entries, unwritable directory) */
    int n_warn;
} ppl_result;

typedef struct sensi_result {
    uint64_t gen;
    ls_sensi_result r;
    char text[1024];
} sensi_result;

static void free_eval_arg(void *p)
{
    eval_arg *ea = p;
    ls_qmodel_free(ea->qm);
    free(ea);
}

static void free_ppl_result(void *p)
{
    ppl_result *r = p;
    if (r) {
        ls_qmodel_free(r->qm);
        if (r->ok)
            ls_quality_result_free(&r->q);
    }
    free(r);
}

static void free_sensi_result(void *p)
{
    sensi_result *r = p;
    if (r)
        ls_sensi_result_free(&r->r);
    free(r);
}

static void on_ppl_warn(void *ctx, const char *line)
{
    ppl_result *r = ctx;
    if (r->n_warn < 2)
        snprintf(r->warn[r->n_warn++], sizeof r->warn[0], "%s", line);
}

static int ppl_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    eval_arg *ea = varg;
    ppl_result *r = calloc(1, sizeof *r);
    if (!r)
        return ls_fail(err, "out of memory");
    r->gen = ea->gen;
    r->mem_pct = ea->mem_pct;
    snprintf(r->text, sizeof r->text, "%s", ea->text);
    char why[160];
    r->compute = ea->compute == LS_COMPUTE_BF16 && !ls_bf16_supported(why, sizeof why)
                     ? LS_COMPUTE_F32
                     : ea->compute;
    r->alloc_hash = ea->alloc_hash;
    ls_tokenizer *tok = NULL;
    int rc = ls_file_hash(ea->text, &r->text_hash, err);
    if (rc == 0)
        rc = ls_tokenizer_for_model(ea->model, ea->tokenizer_path, &tok, err);
    if (rc == 0) {
        /* fp reference and base results from the cache when there; a cancel after the first
           window keeps the estimates so far (stopped by "cancelled") */
        rc = ls_quality_run(ea->model, tok, ea->text, &ea->qp, ea->base, ea->cur,
                            ea->qm ? ea->qm->quant_meta : true, ea->qm, ea->mem_pct, pr, NULL,
                            NULL, on_ppl_warn, r, &r->q, err);
        r->ok = rc == 0;
    }
    ls_tokenizer_free(tok);
    r->qm = ea->qm; /* handed back whatever happened */
    ea->qm = NULL;
    *result = r;
    return rc;
}

static int sensi_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    eval_arg *ea = varg;
    ls_tokenizer *tok = NULL;
    if (ls_tokenizer_for_model(ea->model, ea->tokenizer_path, &tok, err) < 0)
        return -1;
    sensi_result *r = calloc(1, sizeof *r);
    if (!r) {
        ls_tokenizer_free(tok);
        return ls_fail(err, "out of memory");
    }
    ls_sensi_params sp = ls_sensi_params_default();
    sp.threads = ea->threads;
    sp.compute = ea->compute;
    int rc = ls_sensitivity_run(ea->model, tok, ea->text, &sp, pr, &r->r, err);
    ls_tokenizer_free(tok);
    if (rc < 0) {
        free(r);
        return -1;
    }
    r->gen = ea->gen;
    snprintf(r->text, sizeof r->text, "%s", ea->text);
    *result = r;
    return 0;
}

static eval_arg *new_eval_arg(app *a, const char *what, const char *text)
{
    if (!a->model) {
        app_msg(a, true, "%s needs weights: a profile CSV has none (press o)", what);
        return NULL;
    }
    eval_arg *ea = calloc(1, sizeof *ea);
    if (!ea) {
        app_msg(a, true, "%s: out of memory", what);
        return NULL;
    }
    ea->model = a->model;
    ea->tokenizer_path = a->opts->tokenizer_path;
    ea->threads = a->threads;
    ea->compute = (ls_compute)a->inputs.compute;
    ea->gen = a->model_gen;
    snprintf(ea->text, sizeof ea->text, "%s", text);
    return ea;
}

void app_start_ppl(app *a, const char *text)
{
    if (app_job_already(a, JOB_PPL, "P perplexity"))
        return;
    if (!a->an_ok) {
        app_msg(a, true, "P: no allocation to evaluate");
        return;
    }
    if (a->qm_busy) {
        app_msg(a, true, "P: the quantized model is in use by a running job (c cancels it)");
        return;
    }
    eval_arg *ea = new_eval_arg(a, "P perplexity", text);
    if (!ea)
        return;
    memset(ea->base, a->settings.base, sizeof ea->base);
    memcpy(ea->cur, a->an->cfg, sizeof ea->cur);
    ea->alloc_hash = app_alloc_hash(a);
    ls_memory_view v;
    ls_memory_view_of(a->profile, a->an, &v);
    ea->mem_pct = v.known ? v.extra_pct : NAN;
    ea->qp = app_inputs_quality(a);
    ea->qp.precision = a->precision;
    ea->qm = a->qm; /* may be NULL: the comparison makes its own cache */
    a->qm = NULL;
    a->qm_busy = true;
    if (ls_jobs_submit(a->jobs, JOB_PPL, "perplexity", ppl_job, ea, free_eval_arg,
                       free_ppl_result) < 0) {
        a->qm_busy = false;
        app_msg(a, true, "P: cannot start the job");
        return;
    }
    if (a->precision > 0)
        app_msg(a, false, "perplexity and KLD on %s: fp, base, current, until +/- %.0f %% "
                          "(c cancels)", text, 100.0 * a->precision);
    else
        app_msg(a, false, "perplexity and KLD on %s: fp, base, current (c cancels)", text);
}

void app_start_sensi(app *a, const char *text)
{
    if (app_job_already(a, JOB_SENSI, "S sensitivity"))
        return;
    eval_arg *ea = new_eval_arg(a, "S sensitivity", text);
    if (!ea)
        return;
    if (ls_jobs_submit(a->jobs, JOB_SENSI, "sensitivity", sensi_job, ea, free_eval_arg,
                       free_sensi_result) < 0) {
        app_msg(a, true, "S: cannot start the job");
        return;
    }
    app_msg(a, false, "measuring sensitivity on %s (c cancels)", text);
}

void app_save_sensi_csv(app *a, const char *path)
{
    const sensi_result *r = a->sensi;
    if (!r) {
        app_msg(a, true, "no measured sensitivity: press S first");
        return;
    }
    ls_error err;
    if (ls_sensitivity_write_csv(path, &r->r, a->profile->name, &err) < 0)
        app_msg(a, true, "sensitivity CSV: %s", err.msg);
    else
        app_msg(a, false, "sensitivity written to %s (toolkit CSV, dataset %s)", path,
                r->r.dataset);
}

void app_eval_reset(app *a)
{
    free_sensi_result(a->sensi);
    a->sensi = NULL;
    a->ppl_known = false;
    a->ppl_job_id = 0;
    a->kld_known = false;
    a->layer_err_known = false;
}

void app_ppl_lines(const app *a, char *full, size_t full_cap, char *brief, size_t brief_cap)
{
    /* against fp: KLD and same-top rate of base and current with 95 % intervals, the
     * verdict beside the memory (the quality run's numbers), and what it ran on */
    const ls_quality_stats *b = &a->kld_base, *c = &a->kld_cur;
    char tag[1200];
    app_inputs_tag(a->ppl_text, a->ppl_protocol, a->ppl_ctx, a->ppl_compute, tag, sizeof tag);
    snprintf(full, full_cap,
             "PPL fp %.4f  base %.4f KLD %.4g+-%.2g top %.1f+-%.1f%%  "
             "cur %.4f KLD %.4g+-%.2g top %.1f+-%.1f%% (+- 95 %%)  %.255s  %.300s",
             a->ppl_fp, b->ppl, b->kld_mean, LS_Z95 * b->kld_se, b->same_top_pct,
             LS_Z95 * b->same_top_se, c->ppl, c->kld_mean, LS_Z95 * c->kld_se,
             c->same_top_pct, LS_Z95 * c->same_top_se, a->kld_verdict, tag);
    snprintf(brief, brief_cap, "fp %.4f base %.4f cur %.4f KLD %.3g/%.3g mem %+.3f%%",
             a->ppl_fp, b->ppl, c->ppl, b->kld_mean, c->kld_mean,
             ls_no_neg_zero(a->ppl_mem_pct, 3));
}

static void take_ppl(app *a, const ls_job_info *info, ppl_result *r)
{
    a->qm_busy = false;
    if (!r || r->gen != a->model_gen) {
        free_ppl_result(r);
        if (info->state == LS_JOB_FAILED)
            app_msg(a, true, "perplexity: %s", info->error);
        return;
    }
    app_q_return(a, r->qm);
    r->qm = NULL;
    if (!r->ok) {
        if (info->state == LS_JOB_FAILED)
            app_msg(a, true, "perplexity: %s", info->error);
        free_ppl_result(r);
        return;
    }
    const ls_quality_result *q = &r->q;
    a->ppl_known = true;
    a->ppl_job_id = info->id;
    a->ppl_fp = q->fp_ppl;
    a->ppl_base = q->base.ppl;
    a->ppl_cur = q->current.ppl;
    a->ppl_delta_pct = 100.0 * (a->ppl_cur - a->ppl_base) / a->ppl_base;
    a->ppl_mem_pct = r->mem_pct;
    a->ppl_tok_s = q->seconds > 0 ? (double)q->tokens / q->seconds : 0;
    snprintf(a->ppl_text, sizeof a->ppl_text, "%s", r->text);
    a->ppl_compute = r->compute;
    a->ppl_protocol = q->protocol;
    a->ppl_ctx = q->ctx;
    a->ppl_text_hash = r->text_hash;
    a->ppl_alloc_hash = r->alloc_hash;
    a->kld_known = true;
    a->kld_base = q->base;
    a->kld_cur = q->current;
    snprintf(a->kld_verdict, sizeof a->kld_verdict, "%s", q->verdict);
    snprintf(a->kld_info, sizeof a->kld_info, "%lld tokens, stopped by %s%s%s",
             (long long)q->tokens, q->stopped_by,
             q->reference_cached ? ", fp cached" : "",
             q->coarsened ? ", KLD coarsened (lower bound)" : "");
    char full[768], brief[160];
    app_ppl_lines(a, full, sizeof full, brief, sizeof brief);
    app_job_result(a, full, brief);
    a->layer_err_known = q->per_layer != NULL && q->n_layers <= LS_MAX_LAYERS;
    a->layer_err_n = a->layer_err_known ? q->n_layers : 0;
    for (int l = 0; l < a->layer_err_n; l++) {
        a->layer_rel[l] = q->per_layer[l].rel_l2;
        a->layer_cos[l] = q->per_layer[l].cosine;
    }
    if (r->n_warn > 0)
        app_msg(a, true, "%s", r->warn[0]);
    else
        app_msg(a, false, "P (%s): %s", a->kld_info, q->verdict);
    free_ppl_result(r);
}

static void take_sensi(app *a, const ls_job_info *info, sensi_result *r)
{
    if (!r || r->gen != a->model_gen || !a->profile) {
        free_sensi_result(r);
        if (info->state == LS_JOB_FAILED)
            app_msg(a, true, "sensitivity: %s", info->error);
        return;
    }
    ls_error err;
    if (ls_sensitivity_to_profile(&r->r, a->profile, &err) < 0) {
        app_msg(a, true, "sensitivity: %s", err.msg);
        free_sensi_result(r);
        return;
    }
    free_sensi_result(a->sensi);
    a->sensi = r;
    char full[256], brief[128];
    snprintf(full, sizeof full, "%d documents of %.120s, dataset %.40s", r->r.n_docs, r->text,
             r->r.dataset);
    snprintf(brief, sizeof brief, "%d documents, dataset %.40s", r->r.n_docs, r->r.dataset);
    app_job_result(a, full, brief);
    app_analyze(a);
    app_msg(a, false, "sensitivity measured on %s in %.1f s (%d documents, %s): E saves the "
                      "CSV", r->text, r->r.seconds, r->r.n_docs, ls_compute_name(r->r.compute));
}

bool app_take_eval(app *a, const ls_job_info *info, void *res)
{
    if (info->kind == JOB_PPL)
        take_ppl(a, info, res);
    else if (info->kind == JOB_SENSI)
        take_sensi(a, info, res);
    else
        return false;
    return true;
}
