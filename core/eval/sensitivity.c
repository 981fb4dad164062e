#include "eval/sensitivity.h"
#include "base/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/atomic_write.h"
#include "formats/imatrix.h"
#include "nn/forward.h"
#include "base/half.h"
#include "quant/hqq.h"
#include "eval/ppl_text.h"
#include "base/rng.h"

const char *ls_sensi_part_name(int part)
{
    static const char *const n[LS_N_PARTS] = {"attn_in", "attn_out", "mlp_gate", "mlp_down"};
    return part >= 0 && part < LS_N_PARTS ? n[part] : "?";
}

ls_sensi_params ls_sensi_params_default(void)
{
    ls_sensi_params p;
    memset(&p, 0, sizeof p);
    p.n_samples = 128;
    p.seqlen = 512;
    p.shuffle = true;
    p.seed = 42;
    p.nbits = 4;
    p.group_size = 64;
    return p;
}

void ls_sensi_result_free(ls_sensi_result *r)
{
    free(r->part);
    free(r->module);
    r->part = r->module = NULL;
}

/* ---- calibration ---- */

typedef struct doc {
    const char *s;
    size_t n;
} doc;

static bool ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Non-empty lines, stripped of ASCII whitespace at both ends. */
static doc *split_docs(const char *text, size_t len, size_t *n_docs)
{
    size_t cap = 1024, n = 0;
    doc *d = malloc(cap * sizeof *d);
    size_t i = 0;
    while (d && i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t a = i, b = nl ? (size_t)(nl - text) : len;
        i = b + 1;
        while (a < b && ascii_space(text[a]))
            a++;
        while (b > a && ascii_space(text[b - 1]))
            b--;
        if (a == b)
            continue;
        if (n == cap) {
            doc *nd = realloc(d, (cap *= 2) * sizeof *d);
            if (!nd) {
                free(d);
                return NULL;
            }
            d = nd;
        }
        d[n].s = text + a;
        d[n].n = b - a;
        n++;
    }
    *n_docs = n;
    return d;
}

static int clamp_seqlen(const ls_model *m, const ls_sensi_params *p)
{
    int L = p->seqlen > 0 ? p->seqlen : 512;
    if (m->cfg.context > 0 && L > m->cfg.context)
        L = m->cfg.context;
    return L;
}

int ls_calib_blocks(const char *path, const ls_tokenizer *tok, const ls_model *m,
                    const ls_sensi_params *p, int32_t **blocks, ls_sensi_result *info,
                    ls_error *err)
{
    *blocks = NULL;
    memset(info, 0, sizeof *info);
    if (p->n_samples < 1)
        return ls_fail(err, "%s: calibration: sample count %d < 1", path, p->n_samples);
    int tv = ls_tokenizer_vocab_size(tok);
    if (tv > m->cfg.vocab_size)
        return ls_fail(err, "%s: tokenizer: vocabulary of %d tokens does not match the "
                       "model's %d", m->path, tv, m->cfg.vocab_size);
    int L = clamp_seqlen(m, p);
    char *text;
    size_t len, n_docs;
    if (ls_text_read(path, &text, &len, err) < 0)
        return -1;
    doc *docs = split_docs(text, len, &n_docs);
    int32_t *all = NULL;
    int rc = -1;
    if (!docs) {
        ls_fail(err, "%s: out of memory", path);
        goto done;
    }
    if (p->shuffle) { /* docs/method.md §7.2: j from the last position down to 1 */
        ls_rng rng;
        ls_rng_seed(&rng, p->seed);
        for (size_t j = n_docs; j-- > 1;) {
            size_t r = (size_t)(ls_rng_next(&rng) % (uint64_t)(j + 1));
            doc t = docs[j];
            docs[j] = docs[r];
            docs[r] = t;
        }
    }
    size_t cap = (size_t)p->n_samples * (size_t)L;
    all = malloc(cap * sizeof *all);
    if (!all) {
        ls_fail(err, "%s: out of memory", path);
        goto done;
    }
    bool add_bos = ls_tokenizer_adds_bos(tok);
    int64_t total = 0;
    for (size_t d = 0; d < n_docs && info->n_docs < p->n_samples; d++) {
        int32_t *ids = NULL;
        size_t n = 0;
        if (ls_tokenizer_encode(tok, docs[d].s, docs[d].n, add_bos, &ids, &n, err) < 0) {
            ls_error_prefix(err, path);
            goto done;
        }
        if (n == 0 || n > (size_t)L) { /* over-long documents are skipped, not cut */
            info->n_skipped_long += n > 0;
            free(ids);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size) {
                ls_fail(err, "%s: tokenizer: id %d is outside the model's vocabulary of %d "
                        "(tokenizer and model do not match)", path, ids[i], m->cfg.vocab_size);
                free(ids);
                goto done;
            }
        if (info->n_docs == 0)
            snprintf(info->first_doc, sizeof info->first_doc, "%.*s",
                     (int)(docs[d].n < 95 ? docs[d].n : 95), docs[d].s);
        memcpy(all + total, ids, n * sizeof *ids);
        total += (int64_t)n;
        info->n_docs++;
        free(ids);
    }
    info->n_tokens = total;
    info->block_len = L;
    info->n_blocks = (int)(total / L);
    if (info->n_blocks < 1) {
        ls_fail(err, "%s: calibration text too short: %lld tokens from %d documents, one "
                "block needs %d", path, (long long)total, info->n_docs, L);
        goto done;
    }
    info->n_first = 0;
    for (int i = 0; i < 16 && i < L; i++)
        info->first_tokens[info->n_first++] = all[i];
    info->nbits = p->nbits;
    info->group_size = p->group_size;
    if (p->dataset) {
        snprintf(info->dataset, sizeof info->dataset, "%s", p->dataset);
    } else {
        const char *b = strrchr(path, '/');
        b = b ? b + 1 : path;
        snprintf(info->dataset, sizeof info->dataset, "%s", b);
        char *dot = strrchr(info->dataset, '.');
        if (dot && dot != info->dataset)
            *dot = '\0';
    }
    *blocks = all;
    all = NULL;
    rc = 0;
done:
    free(all);
    free(docs);
    free(text);
    return rc;
}

/* ---- measurement ---- */

typedef struct sensi_state {
    const ls_model *m;
    const ls_sensi_params *p;
    ls_fwd *f;
    ls_progress *progress;
    ls_fwd_scratch s2;          /* scratch for the recomputations */
    float *wq[LS_N_MODULES];    /* dequantized weights of the current layer */
    uint16_t *wqb[LS_N_MODULES];/* the same in bf16 (--compute bf16), else NULL */
    float *wbuf;                /* f32 copy for the quantizer */
    float *y;                   /* [chunk rows][dim] recomputed output */
    ls_layer_f32 attn_in_w, mlp_gate_w; /* mixed views: quantized parts, full rest */
    double sse[LS_N_PARTS];
    int64_t rows_seen;
    ls_sensi_result *r;
    int n_layers;
} sensi_state;

static bool tick(sensi_state *s, int layer, int step, const char *what)
{
    char buf[96];
    snprintf(buf, sizeof buf, "sensitivity layer %d/%d: %s", layer + 1, s->n_layers, what);
    return ls_progress_tick(s->progress, (int64_t)layer * (LS_N_PARTS + 1) + step,
                            (int64_t)s->n_layers * (LS_N_PARTS + 1), buf);
}

static int quantize_module(sensi_state *s, const ls_layer_f32 *w, int layer, int mod,
                           ls_error *err)
{
    ls_hqq_cfg hc;
    ls_hqq_cfg_default(&hc, s->p->nbits, s->p->group_size);
    if (!s->p->quant_meta)
        hc.quant_scale = hc.quant_zero = hc.round_zero = false; /* docs/method.md §3.4 */
    char name[96];
    snprintf(name, sizeof name, "%d.%s", layer, ls_module_name(mod));
    ls_hqq_result res;
    int64_t rows = w->rows[mod], cols = w->cols[mod];
    if (ls_hqq_quantize(name, w->w[mod], rows, cols, &hc, s->p->threads, &res, err) < 0)
        return -1;
    ls_hqq_dequantize(&res, s->wq[mod]);
    ls_hqq_free(&res);
    if (s->p->fp16_weights)
        for (int64_t i = 0; i < rows * cols; i++)
            s->wq[mod][i] = ls_f16_to_f32(ls_f32_to_f16(s->wq[mod][i]));
    if (s->wqb[mod])
        ls_f32_to_bf16_array(s->f->threads, s->wq[mod], rows * cols, s->wqb[mod]);
    return 0;
}

static int on_layer_begin(void *ctx, int layer, const ls_layer_f32 *w, ls_error *err)
{
    sensi_state *s = ctx;
    if (tick(s, layer, 0, "quantizing"))
        return ls_fail(err, "sensitivity: cancelled");
    for (int mod = 0; mod < LS_N_MODULES; mod++)
        if (quantize_module(s, w, layer, mod, err) < 0)
            return -1;
    s->attn_in_w = *w;
    s->mlp_gate_w = *w;
    for (int mod = LS_MOD_Q; mod <= LS_MOD_V; mod++) {
        s->attn_in_w.w[mod] = s->wq[mod];
        s->attn_in_w.wb[mod] = s->wqb[mod];
    }
    s->mlp_gate_w.w[LS_MOD_GATE] = s->wq[LS_MOD_GATE];
    s->mlp_gate_w.w[LS_MOD_UP] = s->wq[LS_MOD_UP];
    s->mlp_gate_w.wb[LS_MOD_GATE] = s->wqb[LS_MOD_GATE];
    s->mlp_gate_w.wb[LS_MOD_UP] = s->wqb[LS_MOD_UP];
    memset(s->sse, 0, sizeof s->sse);
    s->rows_seen = 0;
    return 0;
}

static double sq_err(const float *a, const float *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s += d * d;
    }
    return s;
}

/* The importance matrix of the calibration pass: per linear, the sums of squares of its
 * full-precision input channels (entries in LS_IDX order, see ls_imatrix_for_model). */
static void capture_chunk(ls_imatrix *im, const ls_fwd_record *rec)
{
    ls_imatrix_entry *e = &im->entries[LS_IDX(rec->layer, 0)];
    for (int mod = LS_MOD_Q; mod <= LS_MOD_V; mod++)
        ls_imatrix_accumulate(&e[mod], rec->attn_in, rec->n_rows);
    ls_imatrix_accumulate(&e[LS_MOD_O], rec->attn_ctx, rec->n_rows);
    ls_imatrix_accumulate(&e[LS_MOD_GATE], rec->mlp_in, rec->n_rows);
    ls_imatrix_accumulate(&e[LS_MOD_UP], rec->mlp_in, rec->n_rows);
    ls_imatrix_accumulate(&e[LS_MOD_DOWN], rec->mlp_act, rec->n_rows);
}

static int on_chunk(void *ctx, const ls_fwd_record *rec, ls_error *err)
{
    sensi_state *s = ctx;
    if (s->p->capture)
        capture_chunk(s->p->capture, rec);
    const ls_config *c = &s->m->cfg;
    int64_t n = rec->n_rows * c->dim, qw = (int64_t)c->n_heads * c->head_dim;
    /* attn_in: whole attention block with quantized q/k/v, full o_proj */
    ls_fwd_attention(s->f, &s->attn_in_w, &s->s2, rec->attn_in, rec->n_seq, rec->seq_len,
                     NULL, s->y);
    s->sse[LS_PART_ATTN_IN] += sq_err(s->y, rec->attn_out, n);
    if (tick(s, rec->layer, 1, "attn_in"))
        return ls_fail(err, "sensitivity: cancelled");
    /* attn_out: o_proj alone on its recorded input */
    ls_fwd_product(s->f, rec->attn_ctx, rec->n_rows, s->wq[LS_MOD_O], s->wqb[LS_MOD_O], c->dim,
                   qw, s->y);
    s->sse[LS_PART_ATTN_OUT] += sq_err(s->y, rec->attn_out, n);
    if (tick(s, rec->layer, 2, "attn_out"))
        return ls_fail(err, "sensitivity: cancelled");
    /* mlp_gate: whole MLP with quantized gate/up, full down_proj */
    ls_fwd_mlp(s->f, &s->mlp_gate_w, &s->s2, rec->mlp_in, rec->n_rows, NULL, s->y);
    s->sse[LS_PART_MLP_GATE] += sq_err(s->y, rec->mlp_out, n);
    if (tick(s, rec->layer, 3, "mlp_gate"))
        return ls_fail(err, "sensitivity: cancelled");
    /* mlp_down: down_proj alone on its recorded input */
    ls_fwd_product(s->f, rec->mlp_act, rec->n_rows, s->wq[LS_MOD_DOWN], s->wqb[LS_MOD_DOWN],
                   c->dim, c->hidden_dim, s->y);
    s->sse[LS_PART_MLP_DOWN] += sq_err(s->y, rec->mlp_out, n);
    s->rows_seen += rec->n_rows;
    if (ls_mm_bf16_failed(s->f->mm, err))
        return -1;
    return 0;
}

static int on_layer_end(void *ctx, int layer, ls_error *err)
{
    sensi_state *s = ctx;
    double denom = (double)s->rows_seen * s->m->cfg.dim;
    for (int k = 0; k < LS_N_PARTS; k++)
        s->r->part[layer * LS_N_PARTS + k] = s->sse[k] / denom;
    if (tick(s, layer, LS_N_PARTS + 1, "done"))
        return ls_fail(err, "sensitivity: cancelled");
    return 0;
}

static void map_modules(ls_sensi_result *r)
{
    for (int l = 0; l < r->n_layers; l++) {
        const double *pt = &r->part[l * LS_N_PARTS];
        double *s = &r->module[LS_IDX(l, 0)];
        s[LS_MOD_Q] = s[LS_MOD_K] = s[LS_MOD_V] = pt[LS_PART_ATTN_IN];
        s[LS_MOD_O] = r->attn_out_skipped ? pt[LS_PART_ATTN_IN] : pt[LS_PART_ATTN_OUT];
        s[LS_MOD_GATE] = s[LS_MOD_UP] = pt[LS_PART_MLP_GATE];
        s[LS_MOD_DOWN] = pt[LS_PART_MLP_DOWN];
    }
}

int ls_sensitivity_blocks(const ls_model *m, const int32_t *blocks, const ls_sensi_params *p,
                          ls_progress *progress, ls_sensi_result *r, ls_error *err)
{
    const ls_config *c = &m->cfg;
    double t0 = ls_seconds_now();
    if (r->n_blocks < 1 || r->block_len < 1)
        return ls_fail(err, "%s: sensitivity: no calibration blocks", m->path);
    ls_hqq_cfg hc;
    ls_hqq_cfg_default(&hc, p->nbits, p->group_size);
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        const ls_tensor *t = ls_model_linear(m, 0, mod);
        if (t && ls_hqq_check(ls_module_name(mod), t->shape[0], t->n_elems / t->shape[0], &hc,
                              err) < 0)
            return -1;
    }
    sensi_state s;
    memset(&s, 0, sizeof s);
    s.m = m, s.p = p, s.progress = progress, s.r = r, s.n_layers = c->n_layers;
    r->n_layers = c->n_layers;
    r->nbits = p->nbits, r->group_size = p->group_size;
    /* GQA rule (docs/method.md §3.2): attn_out is skipped when v_proj's shape differs from
     * o_proj's. */
    int64_t vrows = (int64_t)c->n_kv_heads * c->head_dim, orows = c->dim;
    int64_t vcols = c->dim, ocols = (int64_t)c->n_heads * c->head_dim;
    r->attn_out_skipped = !(vrows == orows && vcols == ocols);
    free(r->part), free(r->module);
    r->part = calloc((size_t)c->n_layers * LS_N_PARTS, sizeof *r->part);
    r->module = calloc((size_t)c->n_layers * LS_N_MODULES, sizeof *r->module);
    int64_t rows = (int64_t)r->n_blocks * r->block_len;
    int64_t *off = malloc((size_t)(r->n_blocks + 1) * sizeof *off);
    float *hidden = malloc((size_t)rows * c->dim * sizeof *hidden);
    int rc = -1;
    ls_fwd_observer obs = {&s, on_layer_begin, on_chunk, on_layer_end};
    if (!r->part || !r->module || !off || !hidden) {
        ls_fail(err, "%s: sensitivity: out of memory for %lld calibration tokens", m->path,
                (long long)rows);
        goto done;
    }
    for (int b = 0; b <= r->n_blocks; b++)
        off[b] = (int64_t)b * r->block_len;
    /* bf16 keeps the f32 weights too: the quantizer reads them */
    ls_fwd_opts fo = {r->block_len, 0, p->compute, true};
    if (ls_fwd_new_opts(m, NULL, &fo, &s.f, err) < 0 ||
        ls_fwd_scratch_init(&s.s2, c, s.f->chunk_rows, r->block_len, err) < 0)
        goto done;
    r->compute = s.f->compute;
    snprintf(r->compute_note, sizeof r->compute_note, "%s", s.f->compute_note);
    s.y = malloc((size_t)s.f->chunk_rows * c->dim * sizeof *s.y);
    bool ok = s.y != NULL;
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        size_t nw = (size_t)(s.f->w.rows[mod] * s.f->w.cols[mod]);
        s.wq[mod] = malloc(nw * sizeof(float));
        ok = ok && s.wq[mod];
        if (s.f->compute == LS_COMPUTE_BF16) {
            s.wqb[mod] = malloc(nw * sizeof(uint16_t));
            ok = ok && s.wqb[mod];
        }
    }
    if (!ok) {
        ls_fail(err, "%s: sensitivity: out of memory", m->path);
        goto done;
    }
    ls_fwd_seqs seqs = {r->n_blocks, blocks, off};
    if (ls_fwd_run(s.f, &seqs, hidden, &obs, err) < 0)
        goto done;
    map_modules(r);
    if (p->capture) {
        p->capture->chunks = r->n_blocks;
        p->capture->chunk_size = r->block_len;
        snprintf(p->capture->dataset, sizeof p->capture->dataset, "%s", r->dataset);
    }
    r->seconds = ls_seconds_now() - t0;
    rc = 0;
done:
    if (rc < 0)
        ls_sensi_result_free(r);
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        free(s.wq[mod]);
        free(s.wqb[mod]);
    }
    free(s.y);
    free(s.wbuf);
    if (s.f)
        ls_fwd_scratch_free(&s.s2);
    ls_fwd_free(s.f);
    free(hidden);
    free(off);
    return rc;
}

int ls_sensitivity_run(const ls_model *m, const ls_tokenizer *tok, const char *calib_path,
                       const ls_sensi_params *p, ls_progress *progress, ls_sensi_result *r,
                       ls_error *err)
{
    int32_t *blocks = NULL;
    if (ls_calib_blocks(calib_path, tok, m, p, &blocks, r, err) < 0)
        return -1;
    int rc = ls_sensitivity_blocks(m, blocks, p, progress, r, err);
    free(blocks);
    return rc;
}

int ls_sensitivity_to_profile(const ls_sensi_result *r, ls_profile *p, ls_error *err)
{
    if (!r->module || r->n_layers != p->n_layers)
        return ls_fail(err, "sensitivity: %d layers measured, the profile has %d",
                       r->n_layers, p->n_layers);
    for (int i = 0; i < r->n_layers * LS_N_MODULES; i++)
        p->sensitivity[i] = r->module[i];
    snprintf(p->sensitivity_source, sizeof p->sensitivity_source,
             "measured on %.100s (%d blocks of %d, b%dg%d%s)", r->dataset, r->n_blocks,
             r->block_len, r->nbits, r->group_size,
             r->compute == LS_COMPUTE_BF16 ? ", bf16 products" : "");
    return 0;
}

int ls_sensitivity_write_csv(const char *path, const ls_sensi_result *r,
                             const char *model_name, ls_error *err)
{
    if (!r->part)
        return ls_fail(err, "%s: no sensitivity to write", path);
    ls_atomic_file af;
    if (ls_atomic_open(path, &af, err) < 0)
        return -1;
    fprintf(af.f, "dataset,part,model,nbits,group_size,layer,sensitivity\n");
    for (int l = 0; l < r->n_layers; l++)
        for (int k = 0; k < LS_N_PARTS; k++) {
            if (k == LS_PART_ATTN_OUT && r->attn_out_skipped)
                continue;
            fprintf(af.f, "%s,%s,%s,%d,%d,%d,%.17g\n", r->dataset, ls_sensi_part_name(k),
                    model_name ? model_name : "", r->nbits, r->group_size, l,
                    r->part[l * LS_N_PARTS + k]);
        }
    return ls_atomic_commit(&af, err);
}
