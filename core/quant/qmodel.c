#include "quant/qmodel.h"
#include "base/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "method/budget.h"
#include "method/profile.h"

ls_qmodel *ls_qmodel_new(int n_layers, bool quant_meta, ls_error *err)
{
    ls_qmodel *qm = calloc(1, sizeof *qm);
    if (qm)
        qm->mods = calloc((size_t)n_layers * LS_N_MODULES, sizeof *qm->mods);
    if (!qm || !qm->mods) {
        free(qm);
        ls_fail(err, "quantization: out of memory");
        return NULL;
    }
    qm->n_layers = n_layers;
    qm->quant_meta = quant_meta;
    for (int i = 0; i < n_layers * LS_N_MODULES; i++)
        qm->mods[i].stop = -1;
    return qm;
}

void ls_qmodel_free(ls_qmodel *qm)
{
    if (!qm)
        return;
    for (int i = 0; i < qm->n_layers * LS_N_MODULES; i++)
        ls_hqq_free(&qm->mods[i].q);
    free(qm->mods);
    free(qm);
}

void ls_qmodel_hqq_cfg(int stop, bool quant_meta, ls_hqq_cfg *cfg)
{
    const ls_stop *s = ls_stop_get(stop);
    ls_hqq_cfg_default(cfg, s->nbits, s->group_size);
    if (!quant_meta)
        cfg->quant_scale = cfg->quant_zero = false;
}

int ls_qmodel_quantize(ls_qmodel *qm, const ls_model *m, const unsigned char *cfg,
                       int threads, ls_progress *progress, ls_error *err)
{
    if (!m->has_weights)
        return ls_fail(err, "%s: no weights to quantize", m->path);
    if (m->cfg.n_layers != qm->n_layers)
        return ls_fail(err, "%s: quantized model has %d layers, the model %d", m->path,
                       qm->n_layers, m->cfg.n_layers);
    int total = qm->n_layers * LS_N_MODULES, todo = 0, done = 0;
    int64_t largest = 0;
    for (int i = 0; i < total; i++) {
        const ls_tensor *t = ls_model_linear(m, i / LS_N_MODULES, i % LS_N_MODULES);
        if (t && qm->mods[i].stop != cfg[i]) {
            todo++;
            largest = t->n_elems > largest ? t->n_elems : largest;
        }
    }
    qm->n_last_quantized = 0;
    double t0 = ls_seconds_now();
    /* One f32 working copy of the largest module: the only transient beyond the result. */
    float *w = todo ? malloc((size_t)largest * sizeof *w) : NULL;
    if (todo && !w)
        return ls_fail(err, "quantization: out of memory for a %lld-weight working copy",
                       (long long)largest);
    int rc = 0;
    for (int i = 0; i < total && rc == 0; i++) {
        int l = i / LS_N_MODULES, mod = i % LS_N_MODULES;
        const ls_tensor *t = ls_model_linear(m, l, mod);
        ls_qmodule *qmod = &qm->mods[i];
        if (!t || qmod->stop == cfg[i])
            continue;
        char name[80];
        snprintf(name, sizeof name, "%d.%s", l, ls_module_name(mod));
        char what[96];
        snprintf(what, sizeof what, "quantize %s %s", name, ls_stop_get(cfg[i])->name);
        if (ls_progress_tick(progress, done, todo, what)) {
            rc = ls_fail(err, "quantization: cancelled after %d of %d modules", done, todo);
            break;
        }
        ls_tensor_range_f32(t, 0, t->n_elems, w);
        ls_hqq_cfg hc;
        ls_qmodel_hqq_cfg(cfg[i], qm->quant_meta, &hc);
        ls_hqq_result r;
        if (ls_hqq_quantize(name, w, t->shape[0], t->n_elems / t->shape[0], &hc, threads, &r,
                            err) < 0) {
            rc = -1;
            break;
        }
        ls_hqq_free(&qmod->q);
        qmod->q = r;
        qmod->stop = cfg[i];
        ls_hqq_error(w, &qmod->q, &qmod->qerr, &qmod->qerr_mean_abs);
        done++;
        qm->n_last_quantized++;
    }
    free(w);
    qm->last_seconds = ls_seconds_now() - t0;
    if (rc == 0)
        ls_progress_tick(progress, todo, todo, "quantization done");
    return rc;
}

void ls_qmodel_totals(const ls_qmodel *qm, ls_qtotals *out)
{
    memset(out, 0, sizeof *out);
    double nominal_bits = 0, stored_bytes = 0, sq = 0;
    for (int i = 0; i < qm->n_layers * LS_N_MODULES; i++) {
        const ls_qmodule *q = &qm->mods[i];
        if (q->stop < 0)
            continue;
        int64_t n = q->q.rows * q->q.cols;
        out->n_modules++;
        out->params += n;
        nominal_bits += ls_stop_bpp(q->stop) * (double)n;
        stored_bytes += (double)q->q.stored_bytes;
        sq += q->qerr * q->qerr;
        out->nonfinite += q->q.n_nonfinite;
        out->scale_meta_skipped += q->q.scale_meta_skipped;
    }
    out->nominal_mib = nominal_bits / 8 / 1048576;
    out->stored_mib = stored_bytes / 1048576;
    out->nominal_bpp = out->params ? nominal_bits / (double)out->params : 0;
    out->stored_bpp = out->params ? 8 * stored_bytes / (double)out->params : 0;
    out->fro_total = sqrt(sq);
}

int64_t ls_qmodel_pending_elems(const ls_qmodel *qm, const ls_model *m,
                                const unsigned char *cfg, int64_t *all)
{
    int64_t e = 0, a = 0;
    int n = m->cfg.n_layers * LS_N_MODULES;
    for (int i = 0; i < n; i++) {
        const ls_tensor *t = ls_model_linear(m, i / LS_N_MODULES, i % LS_N_MODULES);
        if (!t)
            continue;
        a += t->n_elems;
        if (!qm || qm->mods[i].stop != cfg[i])
            e += t->n_elems;
    }
    if (all)
        *all = a;
    return e;
}
