#include "eval/measure.h"
#include "base/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/atomic_write.h"
#include "base/fnv.h"
#include "eval/ppl_text.h"
#include "eval/quality.h"
#include "eval/qcache.h"
#include "method/budget.h"
#include "nn/forward.h"
#include "quant/hqq.h"
#include "quant/qmodel.h"

#define MEASURE_MAX_CACHE ((int64_t)8 << 30)  /* the cached fp residual streams */
#define MEASURE_FULL_LOGITS ((int64_t)1 << 30) /* beyond: a top-k reference */
#define LOGIT_ROWS 256

ls_measure_params ls_measure_params_default(void)
{
    ls_measure_params p;
    memset(&p, 0, sizeof p);
    p.tokens = 16384;
    p.ctx = 512;
    p.stop = ls_stop_parse("b3g128");
    p.quant_meta = true;
    return p;
}

void ls_measure_result_free(ls_measure_result *r)
{
    free(r->dkl);
    free(r->dkl_se);
    r->dkl = r->dkl_se = NULL;
}


/* ---- the state file: "layerscope-measure 1 KEY" then "layer,module,dkl,se" lines ---- */

static void state_load(const char *path, uint64_t key, ls_measure_result *r)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    unsigned long long k = 0;
    int version = 0;
    if (fscanf(f, "layerscope-measure %d %llx", &version, &k) != 2 || version != 1 ||
        k != key) {
        snprintf(r->note, sizeof r->note, "%s: a measurement of something else (other model, "
                 "text or settings): started afresh", path);
        fclose(f);
        return;
    }
    int l, mod;
    double v, se;
    while (fscanf(f, "%d,%d,%lf,%lf", &l, &mod, &v, &se) == 4)
        if (l >= 0 && l < r->n_layers && mod >= 0 && mod < LS_N_MODULES && isfinite(v) &&
            v >= 0 && isnan(r->dkl[LS_IDX(l, mod)])) {
            r->dkl[LS_IDX(l, mod)] = v;
            r->dkl_se[LS_IDX(l, mod)] = se;
            r->resumed++;
        }
    fclose(f);
}

static int state_save(const char *path, uint64_t key, const ls_measure_result *r, ls_error *err)
{
    if (!path)
        return 0;
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    fprintf(af.f, "layerscope-measure 1 %016llx\n", (unsigned long long)key);
    for (int i = 0; i < r->n_layers * LS_N_MODULES; i++)
        if (!isnan(r->dkl[i]))
            fprintf(af.f, "%d,%d,%.17g,%.17g\n", i / LS_N_MODULES, i % LS_N_MODULES, r->dkl[i],
                    r->dkl_se[i]);
    return ls_atomic_commit(&af, err);
}

/* ---- the pass ---- */

typedef struct measure_ctx {
    const ls_model *m;
    ls_fwd *f;
    ls_fwd_seqs seqs;
    int64_t rows, n_scored;
    int ctx;
    float *hidden, *logits;
    int32_t *targets; /* [n_scored] */
} measure_ctx;

/* Scored row j -> position in the batch: every window scores positions 0 .. ctx-2. */
static int64_t row_of(const measure_ctx *c, int64_t j)
{
    return (j / (c->ctx - 1)) * c->ctx + j % (c->ctx - 1);
}

/* Final norm and logits of the scored rows; fp fills the reference, else the per-token KL. */
static void score(measure_ctx *c, ls_qref *ref, ls_tokq *out)
{
    const ls_config *cfg = &c->m->cfg;
    ls_fwd_rmsnorm(c->f->threads, c->hidden, c->f->final_norm, c->rows, cfg->dim,
                   cfg->norm_eps, c->hidden);
    for (int64_t w = 0; w < c->rows; w += LOGIT_ROWS) {
        int64_t n = c->rows - w < LOGIT_ROWS ? c->rows - w : LOGIT_ROWS;
        ls_fwd_logits(c->f, c->hidden + w * cfg->dim, n, c->logits);
        for (int64_t r = 0; r < n; r++) {
            int64_t pos = w + r;
            if (pos % c->ctx == c->ctx - 1)
                continue; /* the window's last position has no target in the window */
            int64_t j = (pos / c->ctx) * (c->ctx - 1) + pos % c->ctx;
            const float *row = c->logits + r * cfg->vocab_size;
            if (out)
                ls_quality_token(ref, j, row, c->targets[j], out, j);
            else
                ls_qref_set(ref, j, row, c->targets[j]);
        }
    }
}

static bool tick(ls_progress *pr, int64_t done, int64_t total, const char *fmt, int l, int mod)
{
    char what[96];
    snprintf(what, sizeof what, fmt, l, ls_module_short_name(mod));
    return ls_progress_tick(pr, done, total, what);
}

int ls_measure_tokens(const ls_model *m, const int32_t *ids, int64_t n_ids,
                      const ls_measure_params *p, ls_progress *progress,
                      ls_measure_result *r, ls_error *err)
{
    double t0 = ls_seconds_now();
    const ls_config *cfg = &m->cfg;
    int L = cfg->n_layers;
    memset(r, 0, sizeof *r);
    if (!m->has_weights)
        return ls_fail(err, "%s: no weights: measuring needs a model with tensors", m->path);
    int ctx = p->ctx > 1 ? p->ctx : 512;
    if (cfg->context > 1 && ctx > cfg->context)
        ctx = cfg->context;
    int64_t want = p->tokens > 0 ? p->tokens : 16384;
    int64_t n_windows = n_ids / ctx, cap = (want + ctx - 2) / (ctx - 1);
    if (n_windows > cap)
        n_windows = cap;
    if (n_windows < 1)
        return ls_fail(err, "%s: measure: the evaluation text has %lld tokens, one window "
                            "needs %d", m->path, (long long)n_ids, ctx);
    measure_ctx c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.ctx = ctx;
    c.rows = n_windows * ctx;
    c.n_scored = n_windows * (ctx - 1);
    int64_t cache_bytes = (int64_t)L * c.rows * cfg->dim * (int64_t)sizeof(float);
    if (cache_bytes > MEASURE_MAX_CACHE)
        return ls_fail(err, "%s: measure: the cached fp states of %lld tokens need %.1f GiB "
                            "(at most 8): ask for fewer tokens", m->path, (long long)c.rows,
                       (double)cache_bytes / (1 << 30));
    int k = (int64_t)cfg->vocab_size * c.n_scored * 4 > MEASURE_FULL_LOGITS ? 64 : 0;
    r->n_layers = L;
    r->ctx = ctx;
    r->n_windows = (int)n_windows;
    r->tokens = c.n_scored;
    r->stop = p->stop;
    r->coarsened = k > 0;
    r->top_k = k;
    size_t n = (size_t)L * LS_N_MODULES;
    r->dkl = malloc(n * sizeof *r->dkl);
    r->dkl_se = malloc(n * sizeof *r->dkl_se);
    int64_t *off = malloc((size_t)(n_windows + 1) * sizeof *off);
    float *cache = malloc((size_t)cache_bytes);
    c.hidden = malloc((size_t)c.rows * cfg->dim * sizeof *c.hidden);
    c.logits = malloc((size_t)LOGIT_ROWS * cfg->vocab_size * sizeof *c.logits);
    c.targets = malloc((size_t)c.n_scored * sizeof *c.targets);
    float *deq = NULL;
    ls_qref ref;
    memset(&ref, 0, sizeof ref);
    ls_tokq tq;
    memset(&tq, 0, sizeof tq);
    int rc = -1;
    if (!r->dkl || !r->dkl_se || !off || !cache || !c.hidden || !c.logits || !c.targets) {
        ls_fail(err, "%s: measure: out of memory for %lld tokens", m->path, (long long)c.rows);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        r->dkl[i] = r->dkl_se[i] = NAN;
    for (int64_t w = 0; w <= n_windows; w++)
        off[w] = w * ctx;
    for (int64_t j = 0; j < c.n_scored; j++)
        c.targets[j] = ids[row_of(&c, j) + 1];
    c.seqs = (ls_fwd_seqs){(int)n_windows, ids, off};
    if (ls_qref_init(&ref, cfg->vocab_size, k, c.n_scored, err) < 0 ||
        ls_tokq_init(&tq, c.n_scored, err) < 0)
        goto done;
    /* bf16 keeps the f32 weights too: HQQ quantizes those, as in f32 */
    ls_fwd_opts fo = {ctx, 0, p->compute, true};
    if (ls_fwd_new_opts(m, NULL, &fo, &c.f, err) < 0 || ls_fwd_head_load(c.f, err) < 0)
        goto done;
    r->compute = c.f->compute;
    if (c.f->compute_note[0])
        snprintf(r->note, sizeof r->note, "%.250s", c.f->compute_note);

    /* The key of what is measured, for the state file. */
    uint64_t key = LS_FNV_OFFSET, fp = ls_qcache_model_key(m);
    key = ls_fnv(key, &fp, sizeof fp);
    key = ls_fnv(key, ids, (size_t)c.rows * sizeof *ids);
    int64_t parts[6] = {n_windows, ctx, p->stop, p->quant_meta, k, r->compute};
    key = ls_fnv(key, parts, sizeof parts);
    state_load(p->state_path, key, r);

    int64_t total = (int64_t)n + 1, done_units = r->resumed;
    /* The fp pass: the residual stream at every layer's input is kept. */
    if (r->resumed < (int)n) {
        if (ls_progress_tick(progress, done_units, total, "measure: fp pass")) {
            ls_fail(err, "measure: cancelled");
            goto done;
        }
        if (ls_fwd_embed(c.f, &c.seqs, c.hidden, err) < 0)
            goto done;
        for (int l = 0; l < L; l++) {
            memcpy(cache + (size_t)l * c.rows * cfg->dim, c.hidden,
                   (size_t)c.rows * cfg->dim * sizeof *c.hidden);
            if (ls_fwd_run_layers(c.f, &c.seqs, l, l + 1, false, c.hidden, err) < 0)
                goto done;
        }
        score(&c, &ref, NULL);
    }
    ls_hqq_cfg hc;
    ls_qmodel_hqq_cfg(p->stop, p->quant_meta, &hc);
    for (int l = 0; l < L; l++)
        for (int mod = 0; mod < LS_N_MODULES; mod++) {
            int i = LS_IDX(l, mod);
            if (!isnan(r->dkl[i]))
                continue;
            if (p->max_matrices > 0 && r->measured >= p->max_matrices) {
                rc = 0; /* a partial run, as asked */
                goto finish;
            }
            if (tick(progress, ++done_units, total, "measure: layer %d %s", l, mod)) {
                ls_fail(err, "measure: cancelled (%d matrices saved)", r->measured + r->resumed);
                goto done;
            }
            /* layer l in f32, the one matrix replaced by its HQQ round trip */
            if (ls_layer_f32_load(&c.f->w, m, NULL, l, err) < 0)
                goto done;
            int64_t rows = c.f->w.rows[mod], cols = c.f->w.cols[mod];
            char name[64];
            snprintf(name, sizeof name, "%d.%s", l, ls_module_name(mod));
            ls_error qerr;
            if (ls_hqq_check(name, rows, cols, &hc, &qerr) < 0) {
                snprintf(r->note, sizeof r->note, "%.250s", qerr.msg);
                continue; /* stays NaN: the config does not apply to this shape */
            }
            free(deq);
            deq = malloc((size_t)(rows * cols) * sizeof *deq);
            ls_hqq_result res;
            if (!deq) {
                ls_fail(err, "measure: out of memory");
                goto done;
            }
            if (ls_hqq_quantize(name, c.f->w.w[mod], rows, cols, &hc, p->threads, &res, err) < 0)
                goto done;
            ls_hqq_dequantize(&res, deq);
            ls_hqq_free(&res);
            memcpy(c.f->w.w[mod], deq, (size_t)(rows * cols) * sizeof *deq);
            if (c.f->w.wb[mod]) /* bf16: the products read these */
                ls_f32_to_bf16_array(p->threads > 0 ? p->threads : 1, deq, rows * cols,
                                     c.f->w.wb[mod]);
            /* from the cached fp state at layer l's input */
            memcpy(c.hidden, cache + (size_t)l * c.rows * cfg->dim,
                   (size_t)c.rows * cfg->dim * sizeof *c.hidden);
            if (ls_fwd_run_layers(c.f, &c.seqs, l, L, true, c.hidden, err) < 0)
                goto done;
            score(&c, &ref, &tq);
            double s = 0, s2 = 0;
            for (int64_t j = 0; j < c.n_scored; j++) {
                s += tq.kld[j];
                s2 += tq.kld[j] * tq.kld[j];
            }
            double mean = s / (double)c.n_scored;
            double var = s2 / (double)c.n_scored - mean * mean;
            r->dkl[i] = mean;
            r->dkl_se[i] = c.n_scored > 1 ? sqrt((var > 0 ? var : 0) / (double)(c.n_scored - 1))
                                          : NAN;
            r->measured++;
            if (state_save(p->state_path, key, r, err) < 0)
                goto done;
        }
    rc = 0;
finish:
    r->complete = true;
    for (size_t i = 0; i < n; i++)
        if (isnan(r->dkl[i]))
            r->complete = false;
    r->seconds = ls_seconds_now() - t0;
    ls_progress_tick(progress, total, total, "measure: done");
done:
    free(deq);
    ls_tokq_free(&tq);
    ls_qref_free(&ref);
    ls_fwd_free(c.f);
    free(off);
    free(cache);
    free(c.hidden);
    free(c.logits);
    free(c.targets);
    if (rc < 0)
        ls_measure_result_free(r);
    return rc;
}

int ls_measure_run(const ls_model *m, const ls_tokenizer *tok, const char *eval_path,
                   const ls_measure_params *p, ls_progress *progress, ls_measure_result *r,
                   ls_error *err)
{
    int32_t *ids = NULL;
    int64_t n = 0;
    int bos = -1;
    char note[128];
    if (ls_ppl_text_tokens(eval_path, LS_TEXT_AS_IS, LS_PPL_LLAMACPP, tok, m, &ids, &n, &bos,
                           note, sizeof note, err) < 0)
        return -1;
    int rc = ls_measure_tokens(m, ids, n, p, progress, r, err);
    free(ids);
    return rc;
}

int ls_measure_write_csv(const char *path, const ls_measure_result *r, ls_error *err)
{
    if (!r->dkl)
        return ls_fail(err, "%s: no measurement to write", path);
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    fprintf(af.f, "layer,module,measured_dkl,se,tokens,config%s\n",
            r->coarsened ? ",coarsened_top_k" : "");
    for (int i = 0; i < r->n_layers * LS_N_MODULES; i++) {
        fprintf(af.f, "%d,%s,", i / LS_N_MODULES, ls_module_name(i % LS_N_MODULES));
        if (isnan(r->dkl[i]))
            fprintf(af.f, "NA,NA,");
        else
            fprintf(af.f, "%.17g,%.17g,", r->dkl[i], r->dkl_se[i]);
        fprintf(af.f, "%lld,%s", (long long)r->tokens, ls_stop_get(r->stop)->name);
        if (r->coarsened)
            fprintf(af.f, ",%d", r->top_k);
        fprintf(af.f, "\n");
    }
    return ls_atomic_commit(&af, err);
}

int ls_measure_to_profile(const ls_measure_result *r, ls_profile *p, ls_error *err)
{
    if (!r->dkl || r->n_layers != p->n_layers)
        return ls_fail(err, "measure: %d layers measured, the profile has %d", r->n_layers,
                       p->n_layers);
    size_t n = (size_t)p->n_layers * LS_N_MODULES;
    if (!p->measured_dkl && !(p->measured_dkl = malloc(n * sizeof *p->measured_dkl)))
        return ls_fail(err, "out of memory");
    memcpy(p->measured_dkl, r->dkl, n * sizeof *p->measured_dkl);
    return 0;
}
