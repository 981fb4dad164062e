#include "eval/quality_run.h"
#include "base/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/parallel.h"
#include "eval/qcache.h"
#include "nn/forward.h"

#define LOGIT_BLOCK_FLOATS (16 << 20) /* at most 64 MiB of logits at once */
#define HIDDEN_CAP_BYTES ((int64_t)64 << 20)
#define MAX_WARNINGS 8
/* The sequential stop looks only from this many scored tokens on (and two windows): over a
 * few hundred tokens the heavy-tailed per-token KLD makes the standard error unreliable
 * (on the demo, 3 windows gave +11.5 % +/- 8.0 % where the whole text gives +0.2 % +/- 1.6 %). */
#define PRECISION_MIN_TOKENS 1024

struct ls_qsession {
    const ls_model *m;
    ls_quality_params p;
    ls_ppl_params pp;              /* resolved */
    char note[256];
    int32_t *ids;
    int64_t n;
    int bos;
    ls_ppl_window *win;
    int64_t n_win, n_win_text;     /* after --chunks; of the whole text */
    int64_t *tok_off, *row_off;    /* [n_win + 1] scored tokens / positions before window i */
    ls_qref ref;                   /* room for every scored token of the n_win windows */
    int64_t ref_windows;           /* windows filled */
    int64_t ref_windows_loaded;
    bool ref_cached;
    int n_layers, dim;
    int64_t hid_windows;           /* windows whose fp hidden states are kept */
    float *hid;                    /* [row_off[hid_windows]][n_layers][dim] */
    bool use_cache;
    char dir[4096];
    uint64_t model_key, text_key;
    char *warn[MAX_WARNINGS];
    int n_warn;
    char running[64];              /* the latest running estimate, shown with progress */
    /* evaluation scratch */
    ls_fwd *f;
    int64_t batch_cap, block;
    int32_t *btok;
    int64_t *off;
    float *hidden, *rows, *logits;
    int32_t *target;
    int64_t *tok_at;               /* [block] scored-token index of each gathered row */
};

ls_quality_params ls_quality_params_default(ls_ppl_protocol protocol)
{
    ls_quality_params p;
    memset(&p, 0, sizeof p);
    p.ppl = ls_ppl_params_default(protocol);
    p.text_mode = LS_TEXT_AUTO;
    p.per_layer = true;
    return p;
}

static void add_warning(ls_qsession *s, const char *line)
{
    if (!line || !*line || s->n_warn >= MAX_WARNINGS)
        return;
    s->warn[s->n_warn] = strdup(line);
    if (s->warn[s->n_warn])
        s->n_warn++;
}

int ls_qsession_warnings(const ls_qsession *s, const char *const **lines)
{
    *lines = (const char *const *)s->warn;
    return s->n_warn;
}

int64_t ls_qsession_windows(const ls_qsession *s) { return s->n_win; }
int64_t ls_qsession_tokens(const ls_qsession *s, int64_t n_windows)
{
    return s->tok_off[n_windows < s->n_win ? n_windows : s->n_win];
}
const ls_qref *ls_qsession_ref(const ls_qsession *s) { return &s->ref; }
bool ls_qsession_ref_cached(const ls_qsession *s) { return s->ref_cached; }

uint64_t ls_qsession_key(const ls_qsession *s)
{
    uint64_t k = ls_qcache_hash(LS_QCACHE_HASH_INIT, &s->model_key, sizeof s->model_key);
    k = ls_qcache_hash(k, &s->text_key, sizeof s->text_key);
    int v[3] = {(int)s->pp.protocol, s->pp.ctx, s->pp.stride};
    return ls_qcache_hash(k, v, sizeof v);
}

void ls_qsession_free(ls_qsession *s)
{
    if (!s)
        return;
    ls_fwd_free(s->f);
    free(s->ids), free(s->win), free(s->tok_off), free(s->row_off), free(s->hid);
    free(s->btok), free(s->off), free(s->hidden), free(s->rows), free(s->logits);
    free(s->target), free(s->tok_at);
    ls_qref_free(&s->ref);
    for (int i = 0; i < s->n_warn; i++)
        free(s->warn[i]);
    free(s);
}

static void hdr_key(const ls_qsession *s, int kind, uint64_t alloc, ls_qcache_hdr *h)
{
    memset(h, 0, sizeof *h);
    h->kind = (uint32_t)kind;
    h->model = s->model_key;
    h->text = s->text_key;
    h->alloc = alloc;
    h->protocol = (int32_t)s->pp.protocol;
    h->ctx = s->pp.ctx;
    h->stride = s->pp.stride;
}

static size_t ref_width(const ls_qref *r) { return r->k ? (size_t)r->k : (size_t)r->vocab; }

/* Copies the first `win` windows of a reference payload into s->ref (and hidden states). */
static const char *take_ref(ls_qsession *s, const ls_qcache_hdr *h, const unsigned char *pl)
{
    if (h->vocab != s->ref.vocab || h->k != s->ref.k)
        return "from other settings (another top-k or vocabulary)";
    if (h->n_layers != s->n_layers || h->dim != s->dim)
        return "from another model (shape)";
    if (h->n_windows < 1 || h->n_windows > s->n_win_text || h->hidden_windows < 0 ||
        h->hidden_windows > h->n_windows)
        return "inconsistent window counts";
    /* token counts of the whole text's windows: recompute for h->n_windows */
    ls_ppl_params all = s->pp;
    all.max_chunks = 0;
    ls_ppl_window *w = NULL;
    int64_t nw = 0;
    ls_error e;
    if (ls_ppl_windows(&all, s->n, &w, &nw, &e) < 0)
        return "windows";
    int64_t tok = 0, rows = 0;
    for (int64_t i = 0; i < h->n_windows; i++)
        tok += w[i].len - w[i].score_from;
    for (int64_t i = 0; i < h->hidden_windows; i++)
        rows += w[i].len;
    free(w);
    size_t wd = ref_width(&s->ref);
    size_t per = 8 + 8 + 4 + wd * 4 + (s->ref.k ? wd * 4 + 8 : 0);
    size_t hid_per = (size_t)s->n_layers * (size_t)s->dim * 4;
    if (h->n_tokens != tok || h->hidden_rows != rows ||
        h->payload_bytes != per * (uint64_t)tok + hid_per * (uint64_t)rows)
        return "sizes do not match its windows";
    int64_t use_w = h->n_windows < s->n_win ? h->n_windows : s->n_win;
    int64_t n = s->tok_off[use_w], N = h->n_tokens;
    const unsigned char *p = pl;
    memcpy(s->ref.lse, p, (size_t)n * 8), p += (size_t)N * 8;
    memcpy(s->ref.nll, p, (size_t)n * 8), p += (size_t)N * 8;
    memcpy(s->ref.top, p, (size_t)n * 4), p += (size_t)N * 4;
    memcpy(s->ref.logits, p, (size_t)n * wd * 4), p += (size_t)N * wd * 4;
    if (s->ref.k) {
        memcpy(s->ref.ids, p, (size_t)n * wd * 4), p += (size_t)N * wd * 4;
        memcpy(s->ref.rest, p, (size_t)n * 8), p += (size_t)N * 8;
    }
    int64_t hw = h->hidden_windows < s->hid_windows ? h->hidden_windows : s->hid_windows;
    if (hw > use_w)
        hw = use_w;
    if (s->hid && hw > 0)
        memcpy(s->hid, p, (size_t)s->row_off[hw] * hid_per);
    /* windows beyond the stored hidden states would need the fp pass again for per-layer
       errors: count only those with both */
    s->ref_windows = use_w;
    if (s->hid && hw < s->hid_windows && hw < use_w)
        s->hid_windows = hw; /* per-layer covers what the entry had */
    return NULL;
}

int ls_qsession_open(const ls_model *m, const ls_tokenizer *tok, const char *eval_path,
                     const ls_quality_params *p, ls_qsession **out, ls_error *err)
{
    *out = NULL;
    ls_qsession *s = calloc(1, sizeof *s);
    if (!s)
        return ls_fail(err, "quality: out of memory");
    s->m = m;
    s->p = *p;
    s->n_layers = m->cfg.n_layers;
    s->dim = m->cfg.dim;
    char tnote[160];
    if (ls_ppl_text_tokens(eval_path, p->text_mode, p->ppl.protocol, tok, m, &s->ids, &s->n,
                           &s->bos, tnote, sizeof tnote, err) < 0)
        goto fail;
    s->pp = p->ppl;
    char rnote[256];
    if (ls_ppl_resolve(m, &s->pp, s->n, rnote, sizeof rnote, err) < 0) {
        ls_error_prefix(err, eval_path);
        goto fail;
    }
    snprintf(s->note, sizeof s->note, "%.120s%s%.120s", tnote, *tnote && *rnote ? "; " : "",
             rnote);
    {
        ls_ppl_params all = s->pp;
        all.max_chunks = 0;
        ls_ppl_window *w = NULL;
        if (ls_ppl_windows(&all, s->n, &w, &s->n_win_text, err) < 0)
            goto fail;
        int64_t tok_all = 0;
        for (int64_t i = 0; i < s->n_win_text; i++)
            tok_all += w[i].len - w[i].score_from;
        free(w);
        int64_t limit = p->cache_limit > 0 ? p->cache_limit : LS_QCACHE_LIMIT_DEFAULT;
        s->p.cache_limit = limit;
        int k = p->top_k > 0 ? p->top_k : LS_QUALITY_TOPK_DEFAULT;
        /* full logits when the whole text's reference fits the limit, else top-k: decided
           on the whole text so the choice does not depend on --chunks */
        if (ls_qref_bytes(m->cfg.vocab_size, 0, tok_all) <= limit)
            k = 0;
        if (ls_ppl_windows(&s->pp, s->n, &s->win, &s->n_win, err) < 0)
            goto fail;
        s->tok_off = malloc((size_t)(s->n_win + 1) * sizeof *s->tok_off);
        s->row_off = malloc((size_t)(s->n_win + 1) * sizeof *s->row_off);
        if (!s->tok_off || !s->row_off) {
            ls_fail(err, "quality: out of memory");
            goto fail;
        }
        s->tok_off[0] = s->row_off[0] = 0;
        for (int64_t i = 0; i < s->n_win; i++) {
            s->tok_off[i + 1] = s->tok_off[i] + s->win[i].len - s->win[i].score_from;
            s->row_off[i + 1] = s->row_off[i] + s->win[i].len;
        }
        if (ls_qref_init(&s->ref, m->cfg.vocab_size, k, s->tok_off[s->n_win], err) < 0)
            goto fail;
        if (p->per_layer) {
            /* a sample of the text: min(limit / 16, 64 MiB), but at least the first window
               when it takes at most a quarter of the limit */
            int64_t cap = limit / 16 < HIDDEN_CAP_BYTES ? limit / 16 : HIDDEN_CAP_BYTES;
            int64_t per_row = (int64_t)s->n_layers * s->dim * 4;
            while (s->hid_windows < s->n_win &&
                   s->row_off[s->hid_windows + 1] * per_row <= cap)
                s->hid_windows++;
            if (s->hid_windows == 0 && s->n_win > 0 && s->row_off[1] * per_row <= limit / 4)
                s->hid_windows = 1;
            if (s->hid_windows > 0) {
                s->hid = malloc((size_t)(s->row_off[s->hid_windows] * per_row));
                if (!s->hid)
                    s->hid_windows = 0;
            }
        }
    }
    s->model_key = ls_qcache_model_key(m);
    s->text_key = ls_qcache_hash(LS_QCACHE_HASH_INIT, s->ids, (size_t)s->n * sizeof *s->ids);
    s->text_key = ls_qcache_hash(s->text_key, &s->bos, sizeof s->bos);
    if (p->ppl.compute != LS_COMPUTE_F32) { /* cached references are keyed by the compute
                                                mode (f32 keys unchanged) */
        int cm = (int)p->ppl.compute;
        s->text_key = ls_qcache_hash(s->text_key, &cm, sizeof cm);
    }
    s->use_cache = !p->no_cache &&
                   (p->cache_dir ? snprintf(s->dir, sizeof s->dir, "%s", p->cache_dir) > 0
                                 : ls_qcache_dir(s->dir, sizeof s->dir) == 0);
    if (s->use_cache) {
        ls_qcache_hdr want, got;
        hdr_key(s, LS_QCACHE_REF, 0, &want);
        void *pl = NULL;
        char why[600];
        int rc = ls_qcache_load(s->dir, &want, &got, &pl, why, sizeof why);
        if (rc < 0) {
            add_warning(s, why);
        } else if (rc == 1) {
            const char *bad = take_ref(s, &got, pl);
            if (bad) {
                char path[4096], line[600];
                ls_qcache_path(s->dir, &want, path, sizeof path);
                snprintf(line, sizeof line, "cache entry %.500s ignored: %s; recomputing",
                         path, bad);
                add_warning(s, line);
                s->ref_windows = 0;
            } else {
                s->ref_cached = true;
            }
        }
        free(pl);
    }
    s->ref_windows_loaded = s->ref_windows;
    *out = s;
    return 0;
fail:
    ls_qsession_free(s);
    return -1;
}

void ls_qsession_save(ls_qsession *s)
{
    if (!s->use_cache || s->ref_windows <= s->ref_windows_loaded || s->ref_windows == 0)
        return;
    ls_qcache_hdr h;
    hdr_key(s, LS_QCACHE_REF, 0, &h);
    int64_t n = s->tok_off[s->ref_windows];
    int64_t hw = s->hid_windows < s->ref_windows ? s->hid_windows : s->ref_windows;
    if (!s->hid)
        hw = 0;
    h.vocab = s->ref.vocab;
    h.k = s->ref.k;
    h.n_layers = s->n_layers;
    h.dim = s->dim;
    h.n_windows = s->ref_windows;
    h.n_tokens = n;
    h.hidden_windows = hw;
    h.hidden_rows = s->row_off[hw];
    size_t wd = ref_width(&s->ref);
    const void *parts[7] = {s->ref.lse, s->ref.nll, s->ref.top, s->ref.logits, s->ref.ids,
                            s->ref.rest, s->hid};
    size_t sizes[7] = {(size_t)n * 8, (size_t)n * 8, (size_t)n * 4, (size_t)n * wd * 4,
                       s->ref.k ? (size_t)n * wd * 4 : 0, s->ref.k ? (size_t)n * 8 : 0,
                       (size_t)h.hidden_rows * (size_t)s->n_layers * (size_t)s->dim * 4};
    char why[600];
    if (ls_qcache_store(s->dir, &h, parts, sizes, 7, s->p.cache_limit, why, sizeof why) < 0)
        add_warning(s, why);
    else
        s->ref_windows_loaded = s->ref_windows;
}

/* ---- one batch of windows through one model ---- */

typedef struct layer_acc {
    double *rel, *cos;   /* [n_layers] sums */
    int64_t count;       /* positions per layer */
} layer_acc;

typedef struct pass {
    ls_qsession *s;
    int64_t w0, w1;          /* windows of the batch */
    bool fp;                 /* filling the reference */
    ls_tokq *out;            /* quantized: results by scored-token index */
    layer_acc *acc;          /* quantized: per-layer errors (may be NULL) */
    ls_progress *progress;
    const char *label;
    int64_t done_units, total_units;
} pass;

static int on_layer_end(void *ctx, int layer, ls_error *err)
{
    pass *ps = ctx;
    ls_qsession *s = ps->s;
    int L = s->n_layers, D = s->dim;
    int64_t hw = s->hid ? s->hid_windows : 0;
    for (int64_t w = ps->w0; w < ps->w1 && w < hw; w++) {
        int64_t local = s->row_off[w] - s->row_off[ps->w0];
        for (int64_t r = 0; r < s->win[w].len; r++) {
            const float *h = s->hidden + (local + r) * D;
            float *keep = s->hid + ((s->row_off[w] + r) * L + layer) * D;
            if (ps->fp) {
                memcpy(keep, h, (size_t)D * sizeof *h);
            } else if (ps->acc) {
                double dd = 0, ff = 0, qq = 0, fq = 0;
                for (int d = 0; d < D; d++) {
                    double a = keep[d], b = h[d];
                    dd += (b - a) * (b - a), ff += a * a, qq += b * b, fq += a * b;
                }
                ps->acc->rel[layer] += ff > 0 ? sqrt(dd / ff) : 0.0;
                ps->acc->cos[layer] += ff > 0 && qq > 0 ? fq / sqrt(ff * qq) : 1.0;
                if (layer == L - 1)
                    ps->acc->count++;
            }
        }
    }
    if (ps->progress) {
        char what[96];
        snprintf(what, sizeof what, "%.8s %lld/%lld L%d%s%.60s", ps->label, (long long)ps->w1,
                 (long long)s->n_win, layer + 1, s->running[0] ? ": " : "", s->running);
        int64_t units = ps->done_units + (ps->w1 - ps->w0) * (layer + 1) / (L + 1);
        if (ls_progress_tick(ps->progress, units, ps->total_units, what))
            return ls_fail(err, "cancelled");
    }
    return 0;
}

typedef struct score_ctx {
    ls_qsession *s;
    pass *ps;
    int64_t n;
} score_ctx;

static void score_row(void *vctx, int64_t k)
{
    score_ctx *c = vctx;
    ls_qsession *s = c->s;
    const float *l = s->logits + k * s->ref.vocab;
    int64_t i = s->tok_at[k];
    if (c->ps->fp)
        ls_qref_set(&s->ref, i, l, s->target[k]);
    else
        ls_quality_token(&s->ref, i, l, s->target[k], c->ps->out, i);
}

static void flush_block(ls_qsession *s, pass *ps, int64_t filled)
{
    ls_fwd_logits(s->f, s->rows, filled, s->logits);
    score_ctx c = {s, ps, filled};
    (void)ls_parallel_for(filled, s->f->threads, score_row, &c);
}

static int ensure_scratch(ls_qsession *s, ls_error *err)
{
    if (s->f)
        return 0;
    int64_t cap = s->pp.ctx; /* one window per pass (batch_end) */
    int V = s->m->cfg.vocab_size, D = s->dim;
    int64_t block = LOGIT_BLOCK_FLOATS / V;
    block = block < 1 ? 1 : block > cap ? cap : block;
    s->batch_cap = cap;
    s->block = block;
    s->btok = malloc((size_t)cap * sizeof *s->btok);
    s->off = malloc((size_t)(cap + 1) * sizeof *s->off);
    s->hidden = malloc((size_t)cap * D * sizeof *s->hidden);
    s->rows = malloc((size_t)block * D * sizeof *s->rows);
    s->logits = malloc((size_t)block * V * sizeof *s->logits);
    s->target = malloc((size_t)block * sizeof *s->target);
    s->tok_at = malloc((size_t)block * sizeof *s->tok_at);
    if (!s->btok || !s->off || !s->hidden || !s->rows || !s->logits || !s->target ||
        !s->tok_at)
        return ls_fail(err, "%s: quality: out of memory for a batch of %lld tokens",
                       s->m->path, (long long)cap);
    /* --compute: the same forward options as perplexity; f32 weights are kept in bf16 too,
     * because quantized copies are swapped in later (f->q) and dequantize into them */
    ls_fwd_opts fo = {s->pp.ctx, 0, s->pp.compute, true};
    if (ls_fwd_new_opts(s->m, NULL, &fo, &s->f, err) < 0 || ls_fwd_head_load(s->f, err) < 0)
        return -1;
    return 0;
}

/* Windows [w0, w1) through qm (NULL with fp = the reference). */
static int run_pass(ls_qsession *s, const ls_qmodel *qm, pass *ps, ls_error *err)
{
    if (ensure_scratch(s, err) < 0)
        return -1;
    int nb = 0;
    int64_t rows = 0;
    s->off[0] = 0;
    for (int64_t w = ps->w0; w < ps->w1; w++) {
        const ls_ppl_window *win = &s->win[w];
        memcpy(s->btok + rows, s->ids + win->begin, (size_t)win->len * sizeof *s->btok);
        if (s->pp.protocol == LS_PPL_LLAMACPP && s->bos >= 0)
            s->btok[rows] = s->bos; /* llama.cpp: BOS replaces the chunk's first token */
        rows += win->len;
        s->off[++nb] = rows;
    }
    s->f->q = qm;
    ls_fwd_observer obs = {ps, NULL, NULL, on_layer_end};
    ls_fwd_seqs seqs = {nb, s->btok, s->off};
    if (ls_fwd_run(s->f, &seqs, s->hidden, &obs, err) < 0)
        return -1;
    int64_t filled = 0;
    int D = s->dim;
    for (int k = 0; k < nb; k++) {
        const ls_ppl_window *win = &s->win[ps->w0 + k];
        int64_t ti = s->tok_off[ps->w0 + k];
        for (int64_t r = s->off[k] + win->score_from - 1; r < s->off[k] + win->len - 1; r++) {
            memcpy(s->rows + filled * D, s->hidden + r * D, (size_t)D * sizeof(float));
            s->target[filled] = s->btok[r + 1];
            s->tok_at[filled++] = ti++;
            if (filled == s->block) {
                flush_block(s, ps, filled);
                filled = 0;
            }
        }
    }
    if (filled > 0)
        flush_block(s, ps, filled);
    return 0;
}

/* One window per forward pass: a window's results then never depend on which windows
 * shared its batch (sgemm may sum in another order for other row counts), so cached and
 * fresh results are bit-identical and the sequential stop wastes nothing. The cost is
 * loading each layer's weights once per window instead of once per batch of windows. */
static int64_t batch_end(const ls_qsession *s, int64_t w0, int64_t limit)
{
    (void)s;
    (void)limit;
    return w0 + 1;
}

static int fill_ref(ls_qsession *s, int64_t w0, int64_t w1, ls_progress *pr, int64_t done,
                    int64_t total, ls_error *err)
{
    pass ps = {s, w0, w1, true, NULL, NULL, pr, "fp", done, total};
    if (run_pass(s, NULL, &ps, err) < 0)
        return -1;
    s->ref_windows = w1;
    return 0;
}

/* The protocol's PPL result from per-token NLLs of windows [0, n_windows). */
static int ppl_of(const ls_qsession *s, const double *nll, int64_t n_windows, ls_ppl_result *r)
{
    memset(r, 0, sizeof *r);
    ls_ppl_acc acc;
    ls_ppl_acc_init(&acc, s->pp.protocol);
    r->running = malloc((size_t)(n_windows > 0 ? n_windows : 1) * sizeof *r->running);
    for (int64_t w = 0; w < n_windows; w++) {
        double v = ls_ppl_acc_add(&acc, &s->win[w], nll + s->tok_off[w],
                                  (int)(s->tok_off[w + 1] - s->tok_off[w]));
        if (r->running)
            r->running[w] = v;
    }
    r->protocol = s->pp.protocol;
    r->ctx = s->pp.ctx;
    r->stride = s->pp.stride;
    r->n_tokens = s->n;
    ls_ppl_acc_finish(&acc, r);
    return r->running ? 0 : -1;
}

int ls_qsession_eval(ls_qsession *s, const ls_qmodel *qm, int64_t n_windows,
                     ls_progress *progress, ls_tokq *out, ls_quality_stats *stats,
                     ls_error *err)
{
    if (n_windows <= 0 || n_windows > s->n_win)
        n_windows = s->n_win;
    if (ls_tokq_init(out, s->tok_off[n_windows], err) < 0)
        return -1;
    if (ensure_scratch(s, err) < 0)
        goto fail;
    int64_t total = 2 * n_windows - (s->ref_windows < n_windows ? s->ref_windows : n_windows);
    int64_t done = 0;
    for (int64_t w = 0; w < n_windows;) {
        int64_t limit = w < s->ref_windows ? (s->ref_windows < n_windows ? s->ref_windows
                                                                          : n_windows)
                                           : n_windows;
        int64_t w1 = batch_end(s, w, limit);
        if (w1 > s->ref_windows) {
            if (fill_ref(s, w, w1, progress, done, total, err) < 0)
                goto fail;
            done += w1 - w;
        }
        pass ps = {s, w, w1, false, out, NULL, progress, "quantized", done, total};
        if (run_pass(s, qm, &ps, err) < 0)
            goto fail;
        done += w1 - w;
        w = w1;
    }
    if (stats) {
        ls_quality_stats_of(&s->ref, out, out->n, true, stats);
        ls_ppl_result r;
        if (ppl_of(s, out->nll, n_windows, &r) == 0)
            stats->ppl = r.ppl;
        ls_ppl_result_free(&r);
    }
    return 0;
fail:
    ls_tokq_free(out);
    return -1;
}

/* ---- the comparison ---- */

void ls_quality_result_free(ls_quality_result *r)
{
    free(r->per_layer);
    ls_tokq_free(&r->base_tok);
    ls_tokq_free(&r->cur_tok);
    ls_ppl_result_free(&r->fp_ppl_r);
    ls_ppl_result_free(&r->base_ppl_r);
    ls_ppl_result_free(&r->cur_ppl_r);
    memset(r, 0, sizeof *r);
}

static uint64_t alloc_key(const unsigned char *cfg, int n, bool quant_meta, int k)
{
    uint64_t h = ls_qcache_hash(LS_QCACHE_HASH_INIT, cfg, (size_t)n);
    unsigned char qm = quant_meta;
    h = ls_qcache_hash(h, &qm, 1);
    return ls_qcache_hash(h, &k, sizeof k); /* results are against a full or top-k reference */
}

/* Per-token results of an allocation from the cache: windows loaded, 0 when none. */
static int64_t load_alloc(ls_qsession *s, uint64_t key, ls_tokq *t)
{
    if (!s->use_cache)
        return 0;
    ls_qcache_hdr want, got;
    hdr_key(s, LS_QCACHE_ALLOC, key, &want);
    void *pl = NULL;
    char why[600];
    int rc = ls_qcache_load(s->dir, &want, &got, &pl, why, sizeof why);
    if (rc < 0)
        add_warning(s, why);
    if (rc != 1)
        return 0;
    int64_t w = got.n_windows < s->n_win ? got.n_windows : s->n_win;
    const char *bad = NULL;
    if (got.n_windows < 1 || got.n_windows > s->n_win_text || got.vocab != s->ref.vocab ||
        got.k != s->ref.k)
        bad = "inconsistent shape";
    else if (got.n_windows <= s->n_win && got.n_tokens != s->tok_off[got.n_windows])
        bad = "token count does not match its windows";
    else if (got.payload_bytes != (uint64_t)got.n_tokens * 20)
        bad = "size does not match its header";
    else if (got.n_tokens < s->tok_off[w])
        bad = "token count does not match its windows";
    if (bad) {
        char path[4096];
        ls_qcache_path(s->dir, &want, path, sizeof path);
        snprintf(why, sizeof why, "cache entry %.500s ignored: %s; recomputing", path, bad);
        add_warning(s, why);
        free(pl);
        return 0;
    }
    int64_t n = s->tok_off[w], N = got.n_tokens;
    const unsigned char *p = pl;
    memcpy(t->kld, p, (size_t)n * 8), p += (size_t)N * 8;
    memcpy(t->nll, p, (size_t)n * 8), p += (size_t)N * 8;
    memcpy(t->top, p, (size_t)n * 4);
    free(pl);
    return w;
}

static void store_alloc(ls_qsession *s, uint64_t key, const ls_tokq *t, int64_t windows)
{
    if (!s->use_cache || windows < 1)
        return;
    ls_qcache_hdr h;
    hdr_key(s, LS_QCACHE_ALLOC, key, &h);
    int64_t n = s->tok_off[windows];
    h.vocab = s->ref.vocab;
    h.k = s->ref.k;
    h.n_layers = s->n_layers;
    h.dim = s->dim;
    h.n_windows = windows;
    h.n_tokens = n;
    const void *parts[3] = {t->kld, t->nll, t->top};
    size_t sizes[3] = {(size_t)n * 8, (size_t)n * 8, (size_t)n * 4};
    char why[600];
    if (ls_qcache_store(s->dir, &h, parts, sizes, 3, s->p.cache_limit, why, sizeof why) < 0)
        add_warning(s, why);
}

/* Stats of the first n_windows windows into r (running: no percentiles). */
static void summarise(ls_qsession *s, ls_quality_result *r, int64_t n_windows, bool final)
{
    int64_t n = s->tok_off[n_windows];
    r->n_windows = n_windows;
    r->tokens = n;
    ls_ppl_result pr;
    if (ppl_of(s, s->ref.nll, n_windows, &pr) == 0)
        r->fp_ppl = pr.ppl;
    if (final) {
        ls_ppl_result_free(&r->fp_ppl_r);
        r->fp_ppl_r = pr;
    } else {
        ls_ppl_result_free(&pr);
    }
    const ls_tokq *tk[2] = {&r->base_tok, &r->cur_tok};
    ls_quality_stats *st[2] = {&r->base, &r->current};
    ls_ppl_result *prs[2] = {&r->base_ppl_r, &r->cur_ppl_r};
    bool have[2] = {r->have_base, r->have_current};
    for (int k = 0; k < 2; k++) {
        if (!have[k])
            continue;
        ls_quality_stats_of(&s->ref, tk[k], n, final, st[k]);
        if (ppl_of(s, tk[k]->nll, n_windows, &pr) == 0)
            st[k]->ppl = pr.ppl;
        if (final) {
            ls_ppl_result_free(prs[k]);
            *prs[k] = pr;
        } else {
            ls_ppl_result_free(&pr);
        }
    }
    r->verdict[0] = '\0';
    if (r->have_base && r->have_current) {
        ls_quality_compare(&s->ref, &r->base_tok, &r->cur_tok, n, &r->current_vs_base);
        ls_quality_verdict(&r->current_vs_base, r->mem_pct, r->verdict, sizeof r->verdict);
    }
}

int ls_quality_run(const ls_model *m, const ls_tokenizer *tok, const char *eval_path,
                   const ls_quality_params *p, const unsigned char *base_cfg,
                   const unsigned char *cur_cfg, bool quant_meta, ls_qmodel *qm,
                   double mem_pct, ls_progress *progress, ls_quality_chunk_fn on_chunk,
                   void *cb_ctx, void (*warn)(void *warn_ctx, const char *line),
                   void *warn_ctx, ls_quality_result *out, ls_error *err)
{
    memset(out, 0, sizeof *out);
    double t0 = ls_seconds_now();
    ls_quality_result r;
    memset(&r, 0, sizeof r);
    r.mem_pct = mem_pct;
    ls_qsession *s = NULL;
    ls_qmodel *own_cur = NULL, *qm_base = NULL;
    int rc = -1;
    int n_mod = m->cfg.n_layers * LS_N_MODULES;
    if (qm)
        quant_meta = qm->quant_meta;
    if (ls_qsession_open(m, tok, eval_path, p, &s, err) < 0)
        return -1;
    int64_t W = s->n_win;
    r.protocol = s->pp.protocol;
    r.ctx = s->pp.ctx;
    r.stride = s->pp.stride;
    r.windows_available = W;
    r.reference_cached = s->ref_cached;
    r.coarsened = s->ref.k > 0;
    r.top_k = s->ref.k;
    r.n_layers = s->n_layers;
    r.have_base = base_cfg != NULL;
    r.have_current = cur_cfg != NULL;
    snprintf(r.note, sizeof r.note, "%s", s->note);
    int64_t ntok = s->tok_off[W];
    if ((r.have_base && ls_tokq_init(&r.base_tok, ntok, err) < 0) ||
        (r.have_current && ls_tokq_init(&r.cur_tok, ntok, err) < 0))
        goto done;
    layer_acc acc = {NULL, NULL, 0};
    if (r.have_current && s->hid) {
        acc.rel = calloc((size_t)s->n_layers, sizeof *acc.rel);
        acc.cos = calloc((size_t)s->n_layers, sizeof *acc.cos);
        if (!acc.rel || !acc.cos) {
            ls_fail(err, "quality: out of memory");
            goto done_acc;
        }
    }
    uint64_t bkey = base_cfg ? alloc_key(base_cfg, n_mod, quant_meta, s->ref.k) : 0;
    int64_t base_cached = 0;
    if (r.have_base) {
        base_cached = load_alloc(s, bkey, &r.base_tok);
        /* cached base results are only usable with the reference they were made against */
        if (base_cached > s->ref_windows)
            base_cached = s->ref_windows;
        r.base_cached = base_cached > 0;
    }
    if (r.have_current && !qm) {
        if (!(qm = own_cur = ls_qmodel_new(m->cfg.n_layers, quant_meta, err)))
            goto done_acc;
    }
    int threads = p->threads > 0 ? p->threads : ls_cpu_count();
    /* one progress over the steps (quantize current, quantize base, evaluate): quantizing
     * weighs 1000 x its share of the linear weights, the evaluation 1000, so the ETA does
     * not restart per step (a rough cost model, but monotone) */
    int64_t all = 0, q_cur = 0, q_base = 0;
    if (r.have_current)
        q_cur = ls_qmodel_pending_elems(qm, m, cur_cfg, &all);
    if (r.have_base && base_cached < W)
        q_base = ls_qmodel_pending_elems(NULL, m, base_cfg, &all);
    int64_t w_cur = all > 0 ? 1000 * q_cur / all : 0, w_base = all > 0 ? 1000 * q_base / all : 0;
    ls_progress_phases(progress, w_cur + w_base + 1000, 3);
    ls_progress_phase(progress, 1, 0, w_cur);
    if (r.have_current && ls_qmodel_quantize(qm, m, cur_cfg, threads, progress, err) < 0)
        goto done_acc;
    ls_progress_phase(progress, 2, w_cur, w_base);
    if (r.have_base && base_cached < W) {
        if (!(qm_base = ls_qmodel_new(m->cfg.n_layers, quant_meta, err)) ||
            ls_qmodel_quantize(qm_base, m, base_cfg, threads, progress, err) < 0)
            goto done_acc;
    }
    ls_progress_phase(progress, 3, w_cur + w_base, 1000);
    if (ensure_scratch(s, err) < 0)
        goto done_acc;
    int64_t used = 0, total_units = 0, done_units = 0;
    for (int64_t w = 0; w < W; w++)
        total_units += (w >= s->ref_windows) + (r.have_base && w >= base_cached) +
                       r.have_current;
    const char *stopped = W < s->n_win_text ? "chunks" : "end of text";
    bool cancelled = false, stop = false;
    for (int64_t w = 0; w < W && !stop;) {
        int64_t limit = W;
        if (w < s->ref_windows && s->ref_windows < limit)
            limit = s->ref_windows;
        if (r.have_base && w < base_cached && base_cached < limit)
            limit = base_cached;
        int64_t w1 = batch_end(s, w, limit);
        int prc = 0;
        if (w1 > s->ref_windows) {
            prc = fill_ref(s, w, w1, progress, done_units, total_units, err);
            done_units += w1 - w;
        }
        if (prc == 0 && r.have_base && w1 > base_cached) {
            pass ps = {s, w, w1, false, &r.base_tok, NULL, progress, "base", done_units,
                       total_units};
            prc = run_pass(s, qm_base, &ps, err);
            done_units += w1 - w;
        }
        if (prc == 0 && r.have_current) {
            pass ps = {s, w, w1, false, &r.cur_tok, acc.rel ? &acc : NULL, progress,
                       "current", done_units, total_units};
            prc = run_pass(s, qm, &ps, err);
            done_units += w1 - w;
        }
        if (prc < 0) {
            if (progress && ls_progress_cancelled(progress) && used > 0) {
                cancelled = true;
                break;
            }
            goto done_acc;
        }
        /* window by window: running estimates and the stop rule, independent of batching */
        for (int64_t k = w; k < w1; k++) {
            used = k + 1;
            summarise(s, &r, used, false);
            if (r.have_base && r.have_current && isfinite(r.current_vs_base.kld_rel))
                snprintf(s->running, sizeof s->running, "KLD %.2g/%.2g, %+.1f%%+-%.1f%%",
                         r.base.kld_mean, r.current.kld_mean, 100.0 * r.current_vs_base.kld_rel,
                         100.0 * LS_Z95 * r.current_vs_base.kld_rel_se);
            else if (r.have_current)
                snprintf(s->running, sizeof s->running, "KLD %.3g+-%.2g",
                         r.current.kld_mean, LS_Z95 * r.current.kld_se);
            if (on_chunk)
                on_chunk(cb_ctx, &r);
            if (p->precision > 0 && r.have_base && r.have_current && used >= 2 &&
                (r.tokens >= PRECISION_MIN_TOKENS || used == W)) {
                const ls_quality_diff *d = &r.current_vs_base;
                double half = d->identical ? 0.0 : LS_Z95 * d->kld_rel_se;
                if (isfinite(half) && half < p->precision) {
                    stopped = "precision";
                    stop = true;
                    break;
                }
            }
        }
        w = w1;
    }
    if (cancelled)
        stopped = "cancelled";
    r.stopped_by = stopped;
    summarise(s, &r, used, true);
    r.base_tok.n = r.have_base ? r.tokens : 0;
    r.cur_tok.n = r.have_current ? r.tokens : 0;
    if (acc.rel && acc.count > 0) {
        r.per_layer = malloc((size_t)s->n_layers * sizeof *r.per_layer);
        for (int l = 0; r.per_layer && l < s->n_layers; l++) {
            r.per_layer[l].rel_l2 = acc.rel[l] / (double)acc.count;
            r.per_layer[l].cosine = acc.cos[l] / (double)acc.count;
        }
        /* every position of the windows with fp hidden states whose batches ran (a batch
           may run past a sequential stop) */
        r.per_layer_tokens = acc.count;
    }
    /* caches: the reference and the base results, as far as they were computed */
    ls_qsession_save(s);
    if (r.have_base && !cancelled) {
        int64_t bw = s->ref_windows;
        /* base results exist for every window whose batch ran (>= used) */
        int64_t have_b = used > base_cached ? used : base_cached;
        if (have_b > bw)
            have_b = bw;
        if (have_b > base_cached)
            store_alloc(s, bkey, &r.base_tok, have_b);
    }
    r.seconds = ls_seconds_now() - t0;
    *out = r;
    memset(&r, 0, sizeof r);
    rc = 0;
done_acc:
    free(acc.rel);
    free(acc.cos);
    ls_progress_phases(progress, 0, 0);
done:;
    const char *const *lines;
    int nw = ls_qsession_warnings(s, &lines);
    for (int i = 0; warn && i < nw; i++)
        warn(warn_ctx, lines[i]);
    ls_quality_result_free(&r);
    ls_qmodel_free(own_cur);
    ls_qmodel_free(qm_base);
    ls_qsession_free(s);
    return rc;
}
