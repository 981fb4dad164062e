#include "cli/batch_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/qmodel_io.h"
#include "io/samples.h"
#include "eval/sensitivity.h"
#include "tokenizer/tokenizer.h"

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
    ls_sensi_result r;
    memset(&r, 0, sizeof r);
    int rc = ls_sensitivity_run(m, tok, calib, &sp, NULL, &r, err);
    if (rc == 0)
        rc = ls_sensitivity_to_profile(&r, p, err);
    if (rc == 0) {
        fprintf(errf, "layerscope: sensitivity measured on %s: %d samples (%d too long, "
                      "skipped), %d blocks of %d tokens, b%dg%d, %.2f s\n",
                calib, r.n_docs, r.n_skipped_long, r.n_blocks, r.block_len, r.nbits,
                r.group_size, r.seconds);
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
    ls_ppl_params params = ls_ppl_params_default((ls_ppl_protocol)o->ppl_protocol);
    if (o->ctx)
        params.ctx = o->ctx;
    if (o->stride)
        params.stride = o->stride;
    params.max_chunks = o->chunks;
    params.allow_long_ctx = o->allow_long_ctx;
    ls_qmodel *loaded = NULL;
    const unsigned char *cur = a->cfg;
    unsigned char *loaded_cfg = NULL;
    if (o->load_quantized) {
        /* the saved model is the current allocation: its modules' configs say which */
        if (ls_qmodel_load(o->load_quantized, m, &loaded, err) < 0) {
            ls_tokenizer_free(tok);
            return -1;
        }
        int n = loaded->n_layers * LS_N_MODULES;
        loaded_cfg = malloc((size_t)n);
        for (int i = 0; loaded_cfg && i < n; i++)
            loaded_cfg[i] = (unsigned char)(loaded->mods[i].stop >= 0 ? loaded->mods[i].stop
                                                                      : a->cfg[i]);
        cur = loaded_cfg;
    }
    unsigned char *base = malloc((size_t)a->n_layers * LS_N_MODULES);
    if (base)
        memset(base, a->settings.base, (size_t)a->n_layers * LS_N_MODULES);
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
        fprintf(out, "\nperplexity on %s (%s protocol, %s %d, stride %d, %lld tokens)%s%s\n",
                eval, ls_ppl_protocol_name(cmp->protocol),
                cmp->protocol == LS_PPL_LLAMACPP ? "n_ctx" : "window", cmp->ctx, cmp->stride,
                (long long)cmp->n_tokens, cmp->note[0] ? ": " : "", cmp->note);
        print_one(out, "fp", &cmp->fp, pp.llamacpp);
        print_one(out, "base", &cmp->base, pp.llamacpp);
        print_one(out, "current", &cmp->current, pp.llamacpp);
        fprintf(out, "current vs base %+.2f %%, vs fp %+.2f %%, for %+.4f %% memory\n",
                cmp->delta_pct, cmp->delta_fp_pct, a->memory_known ? a->mem.extra_pct : NAN);
    }
    free(base);
    free(loaded_cfg);
    ls_qmodel_free(loaded);
    ls_tokenizer_free(tok);
    return rc;
}
