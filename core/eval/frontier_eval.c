#include "eval/frontier_eval.h"

#include "eval/qcache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ls_frontier_eval {
    const ls_model *m;
    ls_tokenizer *tok;
    ls_qsession *qs;
    ls_qmodel *qm;
    int threads;
    uint64_t context;
    bool have_fp;
    double fp_ppl;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    return ls_qcache_hash(h, &v, sizeof v);
}

int ls_frontier_eval_open(const ls_model *m, const char *tokenizer_path, const char *eval_path,
                          const ls_quality_params *qp, int threads, ls_frontier_eval **out,
                          ls_error *err)
{
    ls_frontier_eval *ev = calloc(1, sizeof *ev);
    if (!ev)
        return ls_fail(err, "out of memory");
    ev->m = m;
    ev->threads = threads;
    if (ls_tokenizer_for_model(m, tokenizer_path, &ev->tok, err) < 0)
        goto fail;
    ls_quality_params p = *qp;
    p.per_layer = false;
    if (ls_qsession_open(m, ev->tok, eval_path, &p, &ev->qs, err) < 0)
        goto fail;
    ev->qm = ls_qmodel_new(m->cfg.n_layers, true, err);
    if (!ev->qm)
        goto fail;
    uint64_t h = ls_qsession_key(ev->qs);
    h = mix(h, (uint64_t)ls_qsession_windows(ev->qs)); /* --chunks */
    h = mix(h, (uint64_t)qp->top_k);
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
    if (ev->qs)
        ls_qsession_save(ev->qs); /* the fp reference into the cache, when it grew */
    ls_qsession_free(ev->qs);
    ls_qmodel_free(ev->qm);
    ls_tokenizer_free(ev->tok);
    free(ev);
}

uint64_t ls_frontier_eval_context(const ls_frontier_eval *ev)
{
    return ev->context;
}

static int eval_one(ls_frontier_eval *ev, const ls_qmodel *qm, ls_progress *progress,
                    ls_quality_stats *st, ls_error *err)
{
    ls_tokq t;
    memset(&t, 0, sizeof t);
    int rc = ls_qsession_eval(ev->qs, qm, 0, progress, &t, st, err);
    ls_tokq_free(&t);
    return rc;
}

int ls_frontier_eval_fp(ls_frontier_eval *ev, ls_progress *progress, double *ppl, ls_error *err)
{
    if (!ev->have_fp) {
        ls_quality_stats st;
        if (eval_one(ev, NULL, progress, &st, err) < 0)
            return -1;
        ev->fp_ppl = st.ppl;
        ev->have_fp = true;
    }
    *ppl = ev->fp_ppl;
    return 0;
}

int ls_frontier_eval_point(ls_frontier_eval *ev, const ls_frontier_point *pt,
                           ls_progress *progress, ls_frontier_result *r, ls_error *err)
{
    if (ls_qmodel_quantize(ev->qm, ev->m, pt->cfg, ev->threads, progress, err) < 0)
        return -1;
    ls_quality_stats st;
    if (eval_one(ev, ev->qm, progress, &st, err) < 0)
        return -1;
    memset(r, 0, sizeof *r);
    r->context = ev->context;
    r->fingerprint = pt->fingerprint;
    r->kld_mean = st.kld_mean;
    r->kld_se = st.kld_se;
    r->ppl = st.ppl;
    r->ppl_err = NAN;
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
