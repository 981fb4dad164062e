/* M: the measured ΔKL of every matrix (core/eval/measure.h) as a job, on the evaluation
 * text; resumable through a state file in the cache directory, so a cancelled or crashed
 * measurement goes on where it stopped when M is pressed again. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"
#include "eval/measure.h"
#include "eval/qcache.h"
#include "io/session.h"
#include "tokenizer/tokenizer.h"

typedef struct measure_arg {
    const ls_model *model;
    const char *tokenizer_path;
    char text[4096], state[4096];
    ls_measure_params mp;
    uint64_t gen;
} measure_arg;

typedef struct measure_result {
    ls_measure_result r;
    uint64_t gen;
} measure_result;

static void free_result(void *v)
{
    measure_result *mr = v;
    if (mr)
        ls_measure_result_free(&mr->r);
    free(mr);
}

static int measure_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    measure_arg *ma = varg;
    ls_tokenizer *tok;
    if (ls_tokenizer_for_model(ma->model, ma->tokenizer_path, &tok, err) < 0)
        return -1;
    measure_result *mr = calloc(1, sizeof *mr);
    if (!mr) {
        ls_tokenizer_free(tok);
        return ls_fail(err, "out of memory");
    }
    int rc = ls_measure_run(ma->model, tok, ma->text, &ma->mp, pr, &mr->r, err);
    ls_tokenizer_free(tok);
    if (rc < 0) {
        free(mr);
        return -1;
    }
    mr->gen = ma->gen;
    *result = mr;
    return 0;
}

/* <cache dir>/measure-<fingerprint>.txt, the directory created when missing; "" if none. */
static void state_path(const ls_model *m, char *buf, size_t cap)
{
    char dir[4096];
    buf[0] = '\0';
    if (ls_qcache_dir(dir, sizeof dir) < 0)
        return;
    for (char *q = dir + 1; *q; q++)
        if (*q == '/') {
            *q = '\0';
            mkdir(dir, 0777);
            *q = '/';
        }
    mkdir(dir, 0777);
    snprintf(buf, cap, "%.3000s/measure-%016llx.txt", dir,
             (unsigned long long)ls_model_fingerprint(m));
}

void app_start_measure(app *a, const char *text)
{
    if (!a->model) {
        app_msg(a, true, "M needs weights: a profile has none (press o)");
        return;
    }
    measure_arg *ma = calloc(1, sizeof *ma);
    if (!ma) {
        app_msg(a, true, "M: out of memory");
        return;
    }
    ma->model = a->model;
    ma->tokenizer_path = a->opts->tokenizer_path;
    ma->gen = a->model_gen;
    snprintf(ma->text, sizeof ma->text, "%s", text);
    ma->mp = ls_measure_params_default();
    if (a->opts->measure_tokens > 0)
        ma->mp.tokens = a->opts->measure_tokens;
    if (a->inputs.ctx > 0) /* the job inputs' window (I) */
        ma->mp.ctx = a->inputs.ctx;
    ma->mp.stop = a->settings.base;
    ma->mp.quant_meta = !a->opts->no_quant_meta;
    ma->mp.threads = a->threads;
    ma->mp.compute = (ls_compute)a->inputs.compute; /* the job inputs' compute (C, I) */
    if (a->opts->measure_state)
        snprintf(ma->state, sizeof ma->state, "%s", a->opts->measure_state);
    else
        state_path(a->model, ma->state, sizeof ma->state);
    ma->mp.state_path = ma->state[0] ? ma->state : NULL;
    if (ls_jobs_submit(a->jobs, JOB_MEASURE, "measure dKL", measure_job, ma, free,
                       free_result) < 0) {
        app_msg(a, true, "M: cannot start the job");
        return;
    }
    a->measure_pending = true;
    app_msg(a, false, "measuring dKL of every matrix on %s (c cancels; M resumes)", text);
}

bool app_take_measure(app *a, const ls_job_info *info, void *res)
{
    if (info->kind != JOB_MEASURE)
        return false;
    measure_result *mr = res;
    a->measure_pending = false;
    if (mr && mr->gen == a->model_gen && a->profile) {
        ls_error err;
        if (ls_measure_to_profile(&mr->r, a->profile, &err) == 0) {
            app_analyze(a);
            app_msg(a, false, "measured dKL: %d matrices (%d resumed) on %lld tokens in %.1f s "
                              "(A: agreement)", mr->r.measured + mr->r.resumed, mr->r.resumed,
                    (long long)mr->r.tokens, info->elapsed);
        } else {
            app_msg(a, true, "measure: %s", err.msg);
        }
    } else if (!mr && info->state == LS_JOB_FAILED) {
        app_msg(a, true, "measure: %s", info->error);
    } else if (!mr && info->state == LS_JOB_CANCELLED) {
        app_msg(a, false, "measure cancelled: progress is saved, M goes on from there");
    }
    free_result(mr);
    return true;
}
