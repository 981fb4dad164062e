#include "eval/frontier_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/ppl_text.h"
#include "io/session.h"

struct ls_frontier_eval {
    const ls_model *m;
    ls_tokenizer *tok;
    int32_t *ids;
    int64_t n;
    int bos;
    ls_ppl_params params;
    ls_qmodel *qm;
    int threads;
    uint64_t context;
    bool have_fp;
    double fp_ppl;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

int ls_frontier_eval_open(const ls_model *m, const char *eval_path, const ls_ppl_params *params,
                          int threads, ls_frontier_eval **out, ls_error *err)
{
    ls_frontier_eval *ev = calloc(1, sizeof *ev);
    if (!ev)
        return ls_fail(err, "out of memory");
    ev->m = m;
    ev->threads = threads;
    ev->params = *params;
    char tnote[160], rnote[256];
    if (ls_tokenizer_for_model(m, NULL, &ev->tok, err) < 0)
        goto fail;
    if (ls_ppl_text_tokens(eval_path, LS_TEXT_AUTO, params->protocol, ev->tok, m, &ev->ids,
                           &ev->n, &ev->bos, tnote, sizeof tnote, err) < 0)
        goto fail;
    if (ls_ppl_resolve(m, &ev->params, ev->n, rnote, sizeof rnote, err) < 0) {
        ls_error_prefix(err, eval_path);
        goto fail;
    }
    ev->qm = ls_qmodel_new(m->cfg.n_layers, true, err);
    if (!ev->qm)
        goto fail;
    uint64_t h = ls_model_fingerprint(m);
    for (int64_t i = 0; i < ev->n; i++)
        h = mix(h, (uint64_t)(uint32_t)ev->ids[i]);
    h = mix(h, (uint64_t)ev->params.protocol);
    h = mix(h, (uint64_t)ev->params.ctx);
    h = mix(h, (uint64_t)ev->params.stride);
    h = mix(h, (uint64_t)ev->params.max_chunks);
    ev->context = h;
    *out = ev;
    return 0;
fail:
    ls_frontier_eval_free(ev);
    return -1;
}

void ls_frontier_eval_free(ls_frontier_eval *ev)
{
    if (!ev)
        return;
    ls_qmodel_free(ev->qm);
    ls_tokenizer_free(ev->tok);
    free(ev->ids);
    free(ev);
}

uint64_t ls_frontier_eval_context(const ls_frontier_eval *ev)
{
    return ev->context;
}

int ls_frontier_eval_fp(ls_frontier_eval *ev, ls_progress *progress, double *ppl, ls_error *err)
{
    if (!ev->have_fp) {
        ls_ppl_params p = ev->params;
        p.label = "fp";
        ls_ppl_result r;
        if (ls_ppl_eval(ev->m, NULL, ev->ids, ev->n, ev->bos, &p, progress, NULL, NULL, &r,
                        err) < 0)
            return -1;
        ev->fp_ppl = r.ppl;
        ev->have_fp = true;
        ls_ppl_result_free(&r);
    }
    *ppl = ev->fp_ppl;
    return 0;
}

int ls_frontier_eval_point(ls_frontier_eval *ev, const ls_frontier_point *pt,
                           ls_progress *progress, ls_frontier_result *r, ls_error *err)
{
    if (ls_qmodel_quantize(ev->qm, ev->m, pt->cfg, ev->threads, progress, err) < 0)
        return -1;
    ls_ppl_params p = ev->params;
    p.label = "point";
    ls_ppl_result pr;
    if (ls_ppl_eval(ev->m, ev->qm, ev->ids, ev->n, ev->bos, &p, progress, NULL, NULL, &pr,
                    err) < 0)
        return -1;
    memset(r, 0, sizeof *r);
    r->context = ev->context;
    r->fingerprint = pt->fingerprint;
    r->kld_mean = r->kld_se = NAN;
    r->ppl = pr.ppl;
    r->ppl_err = (pr.protocol == LS_PPL_LLAMACPP && !pr.err_undefined) ? pr.ppl_err : NAN;
    ls_ppl_result_free(&pr);
    return 0;
}

int ls_frontier_eval_all(ls_frontier_eval *ev, ls_frontier *f, ls_frontier_cache *cache,
                         ls_progress *progress, void (*on_point)(void *, int), void *ctx,
                         ls_error *err)
{
    for (int i = 0; i < f->n; i++) {
        ls_frontier_point *pt = &f->pts[i];
        if (pt->done)
            continue;
        const ls_frontier_result *hit = ls_frontier_cache_find(cache, ev->context,
                                                               pt->fingerprint);
        ls_frontier_result r;
        if (hit) {
            r = *hit;
        } else {
            if (ls_frontier_eval_point(ev, pt, progress, &r, err) < 0)
                return -1;
            if (ls_frontier_cache_put(cache, &r) < 0)
                return ls_fail(err, "out of memory");
        }
        pt->kld_mean = r.kld_mean;
        pt->kld_se = r.kld_se;
        pt->ppl = r.ppl;
        pt->ppl_err = r.ppl_err;
        pt->done = true;
        if (on_point)
            on_point(ctx, i);
    }
    return 0;
}
