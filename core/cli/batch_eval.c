#include "cli/batch_eval.h"
#include "method/explain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/frontier_eval.h"
#include "io/frontier_out.h"
#include "io/qmodel_io.h"
#include "io/samples.h"
#include "eval/sensitivity.h"
#include "eval/measure.h"
#include "eval/qcache.h"
#include "io/session.h"
#include <sys/stat.h>
#include "formats/imatrix.h"
#include "tokenizer/tokenizer.h"
#include "eval/quality_run.h"

/* The text a step uses: the option's, else the sample's with the demo, else an error. */
static int text_path(const char *given, bool is_demo, const char *sample, const char *option,
                     char *buf, size_t cap, ls_error *err)
{
    if (given) {
        snprintf(buf, cap, "%s", given);
        return 0;
    }
    if (is_demo && ls_sample_exists(sample)) {
        ls_sample_path(sample, buf, cap);
        return 0;
    }
    return ls_fail(err, "%s: needs a text file (%s FILE)", option, option);
}

int ls_batch_sensitivity(const ls_options *o, const ls_model *m, bool is_demo, ls_profile *p,
                         int threads, FILE *errf, ls_error *err)
{
    char calib[4096];
    if (text_path(o->calib_path, is_demo, "calib.txt", "--calib", calib, sizeof calib, err) < 0)
        return -1;
    ls_tokenizer *tok;
    if (ls_tokenizer_for_model(m, NULL, &tok, err) < 0)
        return -1;
    ls_sensi_params sp = ls_sensi_params_default();
    if (o->calib_samples)
        sp.n_samples = o->calib_samples;
    if (o->calib_seqlen)
        sp.seqlen = o->calib_seqlen;
    sp.shuffle = !o->calib_no_shuffle;
    sp.threads = threads;
    sp.compute = (ls_compute)o->compute;
    if (o->imatrix_out && !(sp.capture = ls_imatrix_for_model(m, err))) {
        ls_tokenizer_free(tok);
        return -1;
    }
    ls_sensi_result r;
    memset(&r, 0, sizeof r);
    int rc = ls_sensitivity_run(m, tok, calib, &sp, NULL, &r, err);
    if (rc == 0 && sp.capture) {
        rc = ls_imatrix_write_gguf(o->imatrix_out, sp.capture, err);
        if (rc == 0)
            fprintf(errf, "layerscope: imatrix of %d matrices (%d chunks of %d tokens) "
                          "written to %s\n", sp.capture->n_entries, r.n_blocks, r.block_len,
                    o->imatrix_out);
    }
    ls_imatrix_free(sp.capture);
    if (rc == 0)
        rc = ls_sensitivity_to_profile(&r, p, err);
    if (rc == 0) {
        if (r.compute_note[0])
            fprintf(errf, "layerscope: note: %s\n", r.compute_note);
        fprintf(errf, "layerscope: sensitivity measured on %s: %d samples (%d too long, "
                      "skipped), %d blocks of %d tokens, b%dg%d, %s products, %.2f s\n",
                calib, r.n_docs, r.n_skipped_long, r.n_blocks, r.block_len, r.nbits,
                r.group_size, ls_compute_name(r.compute), r.seconds);
        if (o->sensitivity_out)
            rc = ls_sensitivity_write_csv(o->sensitivity_out, &r, m->name, err);
    }
    ls_sensi_result_free(&r);
    ls_tokenizer_free(tok);
    return rc;
}

/* What the window callback prints: llama.cpp's running "[i]value," lines on stdout for its
 * protocol, and a progress line on stderr for both. */
typedef struct ppl_printer {
    FILE *out, *errf;
    bool llamacpp;
    char label[16];
} ppl_printer;

static void on_window(void *ctx, int64_t index, double running, const ls_ppl_result *partial)
{
    ppl_printer *pp = ctx;
    if (strcmp(pp->label, partial->label) != 0) {
        if (pp->label[0] && pp->llamacpp)
            fputc('\n', pp->out);
        snprintf(pp->label, sizeof pp->label, "%s", partial->label);
        if (pp->llamacpp)
            fprintf(pp->out, "%s: ", partial->label);
    }
    if (pp->llamacpp) {
        fprintf(pp->out, "[%lld]%.4f,", (long long)index, running);
        fflush(pp->out);
    }
    fprintf(pp->errf, "\r%s: window %lld, running PPL %.4f ", partial->label, (long long)index,
            running);
    fflush(pp->errf);
}

/* The perplexity parameters the options ask for (0 keeps a default). */
static ls_ppl_params ppl_params_from(const ls_options *o)
{
    ls_ppl_params params = ls_ppl_params_default((ls_ppl_protocol)o->ppl_protocol);
    if (o->ctx)
        params.ctx = o->ctx;
    if (o->stride)
        params.stride = o->stride;
    params.max_chunks = o->chunks;
    params.allow_long_ctx = o->allow_long_ctx;
    params.compute = (ls_compute)o->compute;
    return params;
}

/* The quality-run parameters the options ask for (--kld and the frontier). */
static ls_quality_params quality_params_from(const ls_options *o, int threads)
{
    ls_quality_params qp = ls_quality_params_default((ls_ppl_protocol)o->ppl_protocol);
    qp.ppl = ppl_params_from(o);
    qp.top_k = o->kld_top_k;
    qp.cache_dir = o->cache_dir;
    qp.cache_limit = o->cache_limit;
    qp.no_cache = o->no_cache;
    qp.threads = threads;
    return qp;
}

/* --quantized DIR: the saved model is the current allocation, its modules' configs say
 * which. Without the option *cur stays a->cfg. -1 only when loading fails; an allocation
 * failure leaves *loaded_cfg NULL for the caller to report. */
static int load_current(const ls_options *o, const ls_model *m, const ls_analysis *a,
                        ls_qmodel **loaded, unsigned char **loaded_cfg,
                        const unsigned char **cur, ls_error *err)
{
    if (!o->load_quantized)
        return 0;
    if (ls_qmodel_load(o->load_quantized, m, loaded, err) < 0)
        return -1;
    int n = (*loaded)->n_layers * LS_N_MODULES;
    unsigned char *cfg = malloc((size_t)n);
    for (int i = 0; cfg && i < n; i++)
        cfg[i] = (unsigned char)((*loaded)->mods[i].stop >= 0 ? (*loaded)->mods[i].stop
                                                              : a->cfg[i]);
    *loaded_cfg = cfg;
    *cur = cfg;
    return 0;
}

/* Every module at the base config; NULL when out of memory. */
static unsigned char *base_allocation(const ls_analysis *a)
{
    unsigned char *base = malloc((size_t)a->n_layers * LS_N_MODULES);
    if (base)
        memset(base, a->settings.base, (size_t)a->n_layers * LS_N_MODULES);
    return base;
}

static void print_one(FILE *out, const char *name, const ls_ppl_result *r, bool llamacpp)
{
    if (llamacpp)
        fprintf(out, "%-8s Final estimate: PPL = %.4f +/- %.5f%s\n", name, r->ppl,
                r->err_undefined ? 0.0 : r->ppl_err,
                r->err_undefined ? "  (warning: variance not positive)" : "");
    else
        fprintf(out, "%-8s %.4f\n", name, r->ppl);
}

int ls_batch_perplexity(const ls_options *o, const ls_model *m, bool is_demo,
                        const ls_analysis *a, ls_qmodel *qm, int threads, FILE *out,
                        FILE *errf, ls_ppl_compare *cmp, ls_error *err)
{
    char eval[4096];
    if (text_path(o->eval_path, is_demo, "eval.txt", "--eval", eval, sizeof eval, err) < 0)
        return -1;
    ls_tokenizer *tok;
    if (ls_tokenizer_for_model(m, NULL, &tok, err) < 0)
        return -1;
    ls_ppl_params params = ppl_params_from(o);
    ls_qmodel *loaded = NULL;
    const unsigned char *cur = a->cfg;
    unsigned char *loaded_cfg = NULL;
    if (load_current(o, m, a, &loaded, &loaded_cfg, &cur, err) < 0) {
        ls_tokenizer_free(tok);
        return -1;
    }
    unsigned char *base = base_allocation(a);
    ppl_printer pp = {out, errf, o->ppl_protocol == LS_PPL_LLAMACPP, ""};
    int rc = (!base || (o->load_quantized && !loaded_cfg))
                 ? ls_fail(err, "perplexity: out of memory")
                 : ls_ppl_compare_run(m, tok, eval, &params, LS_TEXT_AUTO, base, cur,
                                      loaded ? loaded : qm, threads, NULL, on_window, &pp,
                                      cmp, err);
    fprintf(errf, "\n");
    if (rc == 0) {
        if (pp.llamacpp)
            fputc('\n', out);
        fprintf(out, "\nperplexity on %s (%s protocol, %s %d, stride %d, %lld tokens, %s "
                     "products)%s%s\n",
                eval, ls_ppl_protocol_name(cmp->protocol),
                cmp->protocol == LS_PPL_LLAMACPP ? "n_ctx" : "window", cmp->ctx, cmp->stride,
                (long long)cmp->n_tokens, ls_compute_name(cmp->fp.compute),
                cmp->note[0] ? ": " : "", cmp->note);
        print_one(out, "fp", &cmp->fp, pp.llamacpp);
        print_one(out, "base", &cmp->base, pp.llamacpp);
        print_one(out, "current", &cmp->current, pp.llamacpp);
        fprintf(out, "current vs base %+.2f %%, vs fp %+.2f %%, for %+.4f %% memory\n",
                ls_no_neg_zero(cmp->delta_pct, 2), ls_no_neg_zero(cmp->delta_fp_pct, 2),
                a->memory_known ? ls_no_neg_zero(a->mem.extra_pct, 4) : NAN);
    }
    free(base);
    free(loaded_cfg);
    ls_qmodel_free(loaded);
    ls_tokenizer_free(tok);
    return rc;
}

/* ---- --kld: the quality measures against fp (issue 10) ---- */

typedef struct kld_printer {
    FILE *errf;
} kld_printer;

static void on_quality_chunk(void *ctx, const ls_quality_result *r)
{
    kld_printer *kp = ctx;
    fprintf(kp->errf, "\rwindow %lld/%lld, %lld tokens:", (long long)r->n_windows,
            (long long)r->windows_available, (long long)r->tokens);
    if (r->have_base)
        fprintf(kp->errf, " base KLD %.5f +/- %.5f", r->base.kld_mean,
                LS_Z95 * r->base.kld_se);
    if (r->have_current)
        fprintf(kp->errf, ", current KLD %.5f +/- %.5f", r->current.kld_mean,
                LS_Z95 * r->current.kld_se);
    if (r->have_base && r->have_current && isfinite(r->current_vs_base.kld_rel))
        fprintf(kp->errf, ", difference %+.1f %% +/- %.1f %% (95 %%) ",
                100.0 * r->current_vs_base.kld_rel,
                100.0 * LS_Z95 * r->current_vs_base.kld_rel_se);
    fflush(kp->errf);
}

static void on_quality_warn(void *ctx, const char *line)
{
    kld_printer *kp = ctx;
    fprintf(kp->errf, "layerscope: warning: %s\n", line);
}

static void print_running(FILE *out, const char *name, const ls_ppl_result *r)
{
    fprintf(out, "%s: ", name);
    for (int64_t i = 0; r->running && i < r->n_windows; i++)
        fprintf(out, "[%lld]%.4f,", (long long)i + 1, r->running[i]);
    fputc('\n', out);
}

static void print_quality_row(FILE *out, const char *name, const ls_quality_stats *s)
{
    fprintf(out, "%-8s %9.4f  %.5f +/- %.5f  %8.5f %8.5f  %6.2f +/- %4.2f %%  %+.5f "
            "+/- %.5f\n", name, s->ppl, s->kld_mean, s->kld_se, s->kld_p99, s->kld_max,
            s->same_top_pct, s->same_top_se, s->ln_ppl_ratio, s->ln_ppl_ratio_se);
}

void ls_batch_print_quality(FILE *out, const ls_quality_result *q)
{
    fprintf(out, "\nagainst fp (%s protocol, %lld of %lld windows, %lld scored tokens, stopped "
            "by %s; fp reference %s; %s):\n", ls_ppl_protocol_name(q->protocol),
            (long long)q->n_windows, (long long)q->windows_available, (long long)q->tokens,
            q->stopped_by, q->reference_cached ? "from the cache" : "computed",
            q->coarsened ? "KLD of the top-k coarsened distributions, a lower bound"
                         : "KLD over the full vocabulary");
    fprintf(out, "               PPL  KLD mean +/- SE         p99      max  same top "
            "+/- SE   ln(PPL/PPL_fp) +/- SE\n");
    fprintf(out, "%-8s %9.4f\n", "fp", q->fp_ppl);
    if (q->have_base)
        print_quality_row(out, "base", &q->base);
    if (q->have_current)
        print_quality_row(out, "current", &q->current);
    if (q->have_base && q->have_current) {
        const ls_quality_diff *d = &q->current_vs_base;
        fprintf(out, "current vs base (paired, +/- SE): KLD %+.5f +/- %.5f (%+.1f %% +/- %.1f %%), "
                "same top %+.2f +/- %.2f points, ln(PPL ratio) %+.5f +/- %.5f\n",
                d->kld, d->kld_se, 100.0 * d->kld_rel, 100.0 * d->kld_rel_se, d->same_top_pct,
                d->same_top_se, d->ln_ppl_ratio, d->ln_ppl_ratio_se);
        fprintf(out, "verdict: %s\n", q->verdict);
    }
    if (q->per_layer) {
        fprintf(out, "where the error enters (current; hidden state after each layer against "
                "fp, mean over %lld positions):\n  layer  rel L2     cosine\n",
                (long long)q->per_layer_tokens);
        for (int l = 0; l < q->n_layers; l++)
            fprintf(out, "  %5d  %.6f  %.8f\n", l, q->per_layer[l].rel_l2,
                    q->per_layer[l].cosine);
    }
}

/* The ls_ppl_result of a quality run as the perplexity comparison holds it (the running
 * values stay with the quality result). */
static ls_ppl_result ppl_copy(const ls_ppl_result *r, const char *label)
{
    ls_ppl_result c = *r;
    c.running = NULL;
    snprintf(c.label, sizeof c.label, "%s", label);
    return c;
}

int ls_batch_quality(const ls_options *o, const ls_model *m, bool is_demo,
                     const ls_analysis *a, ls_qmodel *qm, int threads, FILE *out, FILE *errf,
                     ls_ppl_compare *cmp, ls_quality_result *q, ls_error *err)
{
    memset(cmp, 0, sizeof *cmp);
    memset(q, 0, sizeof *q);
    char eval[4096];
    if (text_path(o->eval_path, is_demo, "eval.txt", "--eval", eval, sizeof eval, err) < 0)
        return -1;
    ls_tokenizer *tok;
    if (ls_tokenizer_for_model(m, NULL, &tok, err) < 0)
        return -1;
    ls_quality_params qp = quality_params_from(o, threads);
    qp.precision = o->precision;
    ls_qmodel *loaded = NULL;
    const unsigned char *cur = a->cfg;
    unsigned char *loaded_cfg = NULL;
    if (load_current(o, m, a, &loaded, &loaded_cfg, &cur, err) < 0) {
        ls_tokenizer_free(tok);
        return -1;
    }
    unsigned char *base = base_allocation(a);
    kld_printer kp = {errf};
    double mem = a->memory_known ? a->mem.extra_pct : NAN;
    int rc = (!base || (o->load_quantized && !loaded_cfg))
                 ? ls_fail(err, "perplexity: out of memory")
                 : ls_quality_run(m, tok, eval, &qp, base, cur, !o->no_quant_meta,
                                  loaded ? loaded : qm, mem, NULL, on_quality_chunk, &kp,
                                  on_quality_warn, &kp, q, err);
    fprintf(errf, "\n");
    if (rc == 0) {
        cmp->protocol = q->protocol;
        cmp->ctx = q->ctx;
        cmp->stride = q->stride;
        cmp->n_tokens = q->fp_ppl_r.n_tokens;
        cmp->have_fp = cmp->have_base = cmp->have_current = true;
        cmp->fp = ppl_copy(&q->fp_ppl_r, "fp");
        cmp->base = ppl_copy(&q->base_ppl_r, "base");
        cmp->current = ppl_copy(&q->cur_ppl_r, "current");
        cmp->delta_pct = 100.0 * (cmp->current.ppl - cmp->base.ppl) / cmp->base.ppl;
        cmp->delta_fp_pct = 100.0 * (cmp->current.ppl - cmp->fp.ppl) / cmp->fp.ppl;
        snprintf(cmp->note, sizeof cmp->note, "%s", q->note);
        bool llamacpp = q->protocol == LS_PPL_LLAMACPP;
        if (llamacpp) {
            print_running(out, "fp", &q->fp_ppl_r);
            print_running(out, "base", &q->base_ppl_r);
            print_running(out, "current", &q->cur_ppl_r);
        }
        fprintf(out, "\nperplexity on %s (%s protocol, %s %d, stride %d, %lld tokens)%s%s\n",
                eval, ls_ppl_protocol_name(cmp->protocol), llamacpp ? "n_ctx" : "window",
                cmp->ctx, cmp->stride, (long long)cmp->n_tokens, cmp->note[0] ? ": " : "",
                cmp->note);
        print_one(out, "fp", &cmp->fp, llamacpp);
        print_one(out, "base", &cmp->base, llamacpp);
        print_one(out, "current", &cmp->current, llamacpp);
        fprintf(out, "current vs base %+.2f %%, vs fp %+.2f %%, for %+.4f %% memory\n",
                cmp->delta_pct, cmp->delta_fp_pct, mem);
        ls_batch_print_quality(out, q);
    }
    free(base);
    free(loaded_cfg);
    ls_qmodel_free(loaded);
    ls_tokenizer_free(tok);
    return rc;
}

/* ---- the frontier ---- */

typedef struct frontier_printer {
    FILE *errf;
    const ls_frontier *f;
} frontier_printer;

static void on_frontier_point(void *ctx, int i)
{
    frontier_printer *fp = ctx;
    fprintf(fp->errf, "\rfrontier: %d of %d measured (%s)            ", i + 1, fp->f->n,
            fp->f->pts[i].label);
    fflush(fp->errf);
}

int ls_batch_frontier(const ls_options *o, const ls_model *m, bool is_demo,
                      const ls_profile *p, const ls_analysis *a, int threads, FILE *out,
                      FILE *errf, cJSON **json, ls_error *err)
{
    *json = NULL;
    char eval[4096];
    if (text_path(o->eval_path, is_demo, "eval.txt", "--eval", eval, sizeof eval, err) < 0)
        return -1;
    ls_quality_params qp = quality_params_from(o, threads);
    ls_frontier f;
    if (ls_frontier_build(p, &a->settings, a->cfg, &f, err) < 0)
        return -1;
    ls_frontier_eval *ev = NULL;
    ls_frontier_cache cache = {0};
    double fp_ppl = NAN;
    frontier_printer pr = {errf, &f};
    int rc = ls_frontier_eval_open(m, o->tokenizer_path, eval, &qp, threads, &ev, err);
    if (rc == 0)
        rc = ls_frontier_eval_fp(ev, NULL, &fp_ppl, err);
    if (rc == 0)
        rc = ls_frontier_eval_all(ev, &f, &cache, NULL, on_frontier_point, &pr, err);
    fprintf(errf, "\n");
    if (rc == 0) {
        fprintf(out, "\nfrontier on %s (%s protocol; KL divergence to the unquantized model, "
                     "+/- one standard error; unquantized PPL %.4f)\n",
                eval, ls_ppl_protocol_name(qp.ppl.protocol), fp_ppl);
        fprintf(out, "%-28s %-9s %8s %9s %12s %11s %10s\n", "point", "kind", "bpp", "extra %",
                "KLD", "+/-", "PPL");
        for (int i = 0; i < f.n; i++) {
            const ls_frontier_point *pt = &f.pts[i];
            fprintf(out, "%-28s %-9s %8.4f %+9.3f %12.6f %11.6f %10.4f\n", pt->label,
                    ls_frontier_kind_name(pt->kind), pt->bpp, pt->extra_pct, pt->kld_mean,
                    pt->kld_se, pt->ppl);
        }
        double bpp, pm, psd, km, ksd;
        int ns;
        if (ls_frontier_ablation_summary(&f, &bpp, &pm, &psd, &km, &ksd, &ns))
            fprintf(out, "ablation over %d seeds: %.4f bpp, KLD %.6f (sd %.6f), PPL %.4f (sd "
                         "%.4f)\n", ns, bpp, km, ksd, pm, psd);
        if (f.note[0])
            fprintf(out, "left out: %s\n", f.note);
        *json = ls_frontier_json(&f, "kld", fp_ppl);
        if (o->frontier_csv)
            rc = ls_frontier_write_csv(o->frontier_csv, &f, err);
        if (rc == 0 && o->frontier_svg) {
            char title[256];
            snprintf(title, sizeof title, "%s: KL divergence to the unquantized model against "
                                          "memory (base %s)", p->name,
                     ls_stop_get(a->settings.base)->name);
            rc = ls_frontier_write_svg(o->frontier_svg, &f, title, true, false, fp_ppl, err);
        }
    }
    ls_frontier_eval_free(ev);
    ls_frontier_cache_free(&cache);
    ls_frontier_free(&f);
    return rc;
}

int ls_batch_measure(const ls_options *o, const ls_model *m, bool is_demo, int base,
                     ls_profile *p, int threads, FILE *errf, ls_error *err)
{
    char eval[4096], state[4096];
    if (text_path(o->eval_path, is_demo, "eval.txt", "--eval", eval, sizeof eval, err) < 0)
        return -1;
    ls_measure_params mp = ls_measure_params_default();
    if (o->measure_tokens > 0)
        mp.tokens = o->measure_tokens;
    if (o->ctx > 0)
        mp.ctx = o->ctx;
    mp.stop = base;
    mp.quant_meta = !o->no_quant_meta;
    mp.threads = threads;
    mp.compute = (ls_compute)o->compute;
    mp.state_path = o->measure_state;
    if (!mp.state_path && ls_qcache_dir(state, sizeof state) == 0) {
        /* the cache directory (created when missing); one file per model */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", state);
        for (char *q = dir + 1; *q; q++)
            if (*q == '/') {
                *q = '\0';
                mkdir(dir, 0777);
                *q = '/';
            }
        mkdir(dir, 0777);
        size_t u = strlen(state);
        snprintf(state + u, sizeof state - u, "/measure-%016llx.txt",
                 (unsigned long long)ls_model_fingerprint(m));
        mp.state_path = state;
    }
    ls_tokenizer *tok;
    if (ls_tokenizer_for_model(m, NULL, &tok, err) < 0)
        return -1;
    ls_measure_result r;
    int rc = ls_measure_run(m, tok, eval, &mp, NULL, &r, err);
    ls_tokenizer_free(tok);
    if (rc < 0)
        return -1;
    if (r.note[0])
        fprintf(errf, "layerscope: warning: %s\n", r.note);
    fprintf(errf, "layerscope: measured dKL of %d matrices (%d resumed from %s) on %lld tokens "
                  "of %s (%d windows of %d), %s, %s%s, %.2f s\n",
            r.measured + r.resumed, r.resumed, mp.state_path ? mp.state_path : "-",
            (long long)r.tokens, eval, r.n_windows, r.ctx, ls_stop_get(r.stop)->name,
            ls_compute_name(r.compute),
            r.coarsened ? ", coarsened top-64 reference" : "", r.seconds);
    rc = ls_measure_to_profile(&r, p, err);
    if (rc == 0 && o->measure_out)
        rc = ls_measure_write_csv(o->measure_out, &r, err);
    ls_measure_result_free(&r);
    return rc;
}
