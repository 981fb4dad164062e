/* --imatrix FILE in the explorer: the importance matrix's act_energy and statistics go into
 * the profile at once (reading is quick); the imatrix-weighted HQQ error, one HQQ run per
 * matrix, runs as a job and fills its column when done. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "formats/imatrix.h"
#include "io/source.h"
#include "quant/imatrix_error.h"

typedef struct imatrix_arg {
    const ls_model *model;
    ls_imatrix *im; /* owned */
    ls_profile *p;  /* owned: a shape-only profile the job fills */
    int base, threads;
    bool quant_meta;
    uint64_t gen;
} imatrix_arg;

typedef struct imatrix_result {
    ls_profile *p; /* first member, as the other results */
    uint64_t gen;
    int base;
} imatrix_result;

static void free_arg(void *v)
{
    imatrix_arg *ia = v;
    if (!ia)
        return;
    ls_imatrix_free(ia->im);
    ls_profile_free(ia->p);
    free(ia);
}

static void free_result(void *v)
{
    if (v)
        ls_profile_free(((imatrix_result *)v)->p);
    free(v);
}

static int imatrix_job(void *varg, ls_progress *pr, void **result, ls_error *err)
{
    imatrix_arg *ia = varg;
    if (ls_imatrix_error_model(ia->model, ia->im, ia->base, ia->quant_meta, ia->threads, pr,
                               ia->p, err) < 0)
        return -1;
    imatrix_result *r = malloc(sizeof *r);
    if (!r)
        return ls_fail(err, "out of memory");
    r->p = ia->p;
    ia->p = NULL;
    r->gen = ia->gen;
    r->base = ia->base;
    *result = r;
    return 0;
}

int app_open_imatrix(app *a, ls_error *err)
{
    const char *path = a->opts->imatrix_path;
    if (!path || !a->profile)
        return 0;
    ls_imatrix *im = NULL;
    if (ls_source_add_imatrix(a->profile, a->model, path, &im, err) < 0)
        return -1;
    if (!a->model) {
        ls_imatrix_free(im);
        app_analyze(a);
        return 0;
    }
    imatrix_arg *ia = calloc(1, sizeof *ia);
    if (!ia) {
        ls_imatrix_free(im);
        return ls_fail(err, "out of memory");
    }
    ia->model = a->model;
    ia->im = im;
    ia->p = ls_profile_from_model(a->model, err);
    ia->base = a->settings.base;
    ia->threads = a->threads;
    ia->quant_meta = !a->opts->no_quant_meta;
    ia->gen = a->model_gen;
    if (!ia->p) {
        free_arg(ia);
        return -1;
    }
    if (ls_jobs_submit(a->jobs, JOB_IMATRIX, "imatrix error", imatrix_job, ia, free_arg,
                       free_result) < 0)
        return ls_fail(err, "imatrix error: cannot start the job");
    return 0;
}

bool app_take_imatrix(app *a, const ls_job_info *info, void *res)
{
    if (info->kind != JOB_IMATRIX)
        return false;
    imatrix_result *r = res;
    if (r && r->gen == a->model_gen && a->profile) {
        ls_profile *p = a->profile;
        size_t n = (size_t)p->n_layers * LS_N_MODULES;
        free(p->imatrix_error);
        p->imatrix_error = r->p->imatrix_error;
        r->p->imatrix_error = NULL;
        if (!ls_profile_has_sensitivity(p)) { /* the estimate stands in, as in batch mode */
            memcpy(p->sensitivity, p->imatrix_error, n * sizeof *p->sensitivity);
            memcpy(p->sensitivity_label, r->p->sensitivity_label, sizeof p->sensitivity_label);
            memcpy(p->sensitivity_source, r->p->sensitivity_source,
                   sizeof p->sensitivity_source);
        }
        app_analyze(a);
        if (!a->msg[0])
            app_msg(a, false, "imatrix error computed in %.2f s (A: agreement)", info->elapsed);
    } else if (!r && info->state == LS_JOB_FAILED) {
        app_msg(a, true, "imatrix error: %s", info->error);
    }
    free_result(r);
    return true;
}
