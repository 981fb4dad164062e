#include "eval/perplexity.h"
#include "base/bigalloc.h"
#include "base/clock.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eval/sumexp.h"
#include "nn/forward.h"
#include "base/parallel.h"

#define DEFAULT_BATCH_TOKENS 8192
#define LOGIT_BLOCK_FLOATS (64 << 20) /* at most 256 MiB of logits at once */

const char *ls_ppl_protocol_name(ls_ppl_protocol p)
{
    return p == LS_PPL_PAPER ? "paper" : "llama.cpp";
}

int ls_ppl_protocol_parse(const char *s)
{
    if (strcmp(s, "paper") == 0 || strcmp(s, "hf") == 0)
        return LS_PPL_PAPER;
    if (strcmp(s, "llama.cpp") == 0 || strcmp(s, "llamacpp") == 0)
        return LS_PPL_LLAMACPP;
    return -1;
}

ls_ppl_params ls_ppl_params_default(ls_ppl_protocol protocol)
{
    ls_ppl_params p;
    memset(&p, 0, sizeof p);
    p.protocol = protocol;
    return p;
}

void ls_ppl_result_free(ls_ppl_result *r)
{
    free(r->running);
    r->running = NULL;
}

static void add_note(char *note, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_note(char *note, size_t cap, const char *fmt, ...)
{
    if (!note || !cap)
        return;
    size_t used = strlen(note);
    if (used + 2 >= cap)
        return;
    if (used) {
        snprintf(note + used, cap - used, "; ");
        used += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + used, cap - used, fmt, ap);
    va_end(ap);
}

int ls_ppl_resolve(const ls_model *m, ls_ppl_params *p, int64_t n, char *note, size_t note_cap,
                   ls_error *err)
{
    if (note && note_cap)
        note[0] = '\0';
    int context = m->cfg.context > 0 ? m->cfg.context : 0;
    const char *name = m->path ? m->path : "model";
    if (p->ctx < 0 || p->stride < 0 || p->max_chunks < 0)
        return ls_fail(err, "%s: perplexity: ctx, stride and chunks must not be negative",
                       name);
    if (p->protocol == LS_PPL_PAPER) {
        if (p->ctx == 0) {
            p->ctx = 1024;
            if (context && context < p->ctx) {
                p->ctx = context;
                if (p->stride == 0)
                    p->stride = context / 2;
                add_note(note, note_cap, "window %d and stride %d (the model's context is "
                         "shorter than the paper's 1024/512)", p->ctx, p->stride);
            }
        }
        if (p->stride == 0)
            p->stride = p->ctx >= 1024 ? 512 : p->ctx / 2 > 0 ? p->ctx / 2 : 1;
        if (p->stride < 1 || p->stride > p->ctx)
            return ls_fail(err, "%s: perplexity: stride %d must be in 1 .. window %d", name,
                           p->stride, p->ctx);
    } else {
        if (p->ctx == 0) {
            p->ctx = 512;
            if (context && context < p->ctx) {
                p->ctx = context;
                add_note(note, note_cap, "n_ctx %d (the model's context)", p->ctx);
            }
        }
        p->stride = p->ctx;
        if (p->ctx < 4)
            return ls_fail(err, "%s: perplexity: n_ctx %d is too small (at least 4)", name,
                           p->ctx);
    }
    if (p->ctx < 2)
        return ls_fail(err, "%s: perplexity: window %d is too small (at least 2)", name,
                       p->ctx);
    if (context && p->ctx > context) {
        if (!p->allow_long_ctx)
            return ls_fail(err, "%s: perplexity: context %d is longer than the model's "
                           "context length %d", name, p->ctx, context);
        add_note(note, note_cap, "window %d goes beyond the trained context %d", p->ctx,
                 context);
    }
    if (n >= 0) {
        if (p->protocol == LS_PPL_PAPER && n < 2)
            return ls_fail(err, "%s: perplexity: the text has %lld tokens; at least 2 are "
                           "needed", name, (long long)n);
        if (p->protocol == LS_PPL_LLAMACPP && n < 2 * (int64_t)p->ctx)
            return ls_fail(err, "%s: perplexity: the text has %lld tokens; the llama.cpp "
                           "protocol needs at least 2 * n_ctx = %lld", name, (long long)n,
                           2 * (long long)p->ctx);
    }
    return 0;
}

int ls_ppl_windows(const ls_ppl_params *p, int64_t n, ls_ppl_window **out, int64_t *n_out,
                   ls_error *err)
{
    *out = NULL;
    *n_out = 0;
    int64_t count;
    if (p->protocol == LS_PPL_PAPER)
        count = (n + p->stride - 1) / p->stride;
    else
        count = n / p->ctx;
    if (p->max_chunks > 0 && count > p->max_chunks)
        count = p->max_chunks;
    if (count < 1)
        return ls_fail(err, "perplexity: %lld tokens make no window of %d", (long long)n,
                       p->ctx);
    ls_ppl_window *w = malloc((size_t)count * sizeof *w);
    if (!w)
        return ls_fail(err, "perplexity: out of memory");
    for (int64_t i = 0; i < count; i++) {
        if (p->protocol == LS_PPL_PAPER) {
            int64_t at = i * p->stride;
            int64_t begin = at + p->stride - p->ctx > 0 ? at + p->stride - p->ctx : 0;
            int64_t end = at + p->stride < n ? at + p->stride : n;
            int64_t trg = end - at, len = end - begin;
            w[i].begin = begin;
            w[i].len = (int)len;
            w[i].trg = (int)trg;
            w[i].score_from = (int)(len - trg > 1 ? len - trg : 1);
        } else {
            w[i].begin = i * p->ctx;
            w[i].len = p->ctx;
            w[i].score_from = p->ctx / 2 + 1;
            w[i].trg = p->ctx - w[i].score_from;
        }
    }
    *out = w;
    *n_out = count;
    return 0;
}

void ls_ppl_acc_init(ls_ppl_acc *a, ls_ppl_protocol protocol)
{
    memset(a, 0, sizeof *a);
    a->protocol = protocol;
}

double ls_ppl_acc_add(ls_ppl_acc *a, const ls_ppl_window *w, const double *nll, int n_nll)
{
    double s = 0.0;
    for (int k = 0; k < n_nll; k++) {
        s += nll[k];
        a->sum2 += nll[k] * nll[k];
    }
    a->sum += s;
    a->count += n_nll;
    a->n_windows++;
    if (a->protocol == LS_PPL_PAPER) {
        a->total += (n_nll ? s / n_nll : 0.0) * w->trg;
        a->end_last = w->begin + w->len;
        return exp(a->total / (double)a->end_last);
    }
    return exp(a->sum / (double)a->count);
}

void ls_ppl_acc_finish(const ls_ppl_acc *a, ls_ppl_result *r)
{
    r->n_windows = a->n_windows;
    r->n_scored = a->count;
    r->ppl_err = 0.0;
    r->err_undefined = false;
    if (a->protocol == LS_PPL_PAPER) {
        r->mean_nll = a->end_last > 0 ? a->total / (double)a->end_last : 0.0;
        r->ppl = exp(r->mean_nll);
        return;
    }
    double mean = a->count ? a->sum / (double)a->count : 0.0;
    double var = a->count ? a->sum2 / (double)a->count - mean * mean : 0.0;
    r->mean_nll = mean;
    r->ppl = exp(mean);
    /* Identical NLLs leave only rounding noise in E[x^2] - E[x]^2: treat it as 0. */
    if (var > 1e-12 * mean * mean && a->count > 1)
        r->ppl_err = sqrt(var / (double)(a->count - 1)) * r->ppl;
    else
        r->err_undefined = true;
}

double ls_ppl_nll(const float *logits, int vocab, int target)
{
    float mx = ls_max_float(logits, vocab);
    double s = ls_sum_exp(logits, vocab, (double)mx);
    return (double)mx + log(s) - (double)logits[target];
}

/* ---- evaluation ---- */

typedef struct eval_state {
    const ls_ppl_params *p;
    ls_progress *progress;
    int n_layers;
    int64_t n_windows, windows_done, batch_windows;
    int64_t tokens_total, tokens_done, batch_tokens;
    double t0, running;
    bool have_running;
} eval_state;

/* Publishes "label: window i/N, PPL so far v, r tok/s"; true on cancel. frac: share of the
 * current batch's forward already done. (The ETA is the jobs panel's, over all steps.) */
static bool publish(eval_state *s, double frac)
{
    if (!s->progress)
        return false;
    double done_tok = (double)s->tokens_done + frac * (double)s->batch_tokens;
    double el = ls_seconds_now() - s->t0, rate = el > 0 ? done_tok / el : 0;
    char what[96];
    const char *lab = s->p->label ? s->p->label : "";
    if (s->have_running)
        snprintf(what, sizeof what, "%.16s%swindow %lld/%lld, PPL so far %.4f, %.0f tok/s", lab,
                 *lab ? ": " : "", (long long)s->windows_done, (long long)s->n_windows,
                 s->running, rate);
    else
        snprintf(what, sizeof what, "%.16s%sperplexity, %.0f tok/s", lab, *lab ? ": " : "",
                 rate);
    int64_t units = s->n_windows * (s->n_layers + 1);
    int64_t done = s->windows_done * (s->n_layers + 1) +
                   (int64_t)(frac * (double)(s->batch_windows * (s->n_layers + 1)));
    return ls_progress_tick(s->progress, done < units ? done : units, units, what);
}

static int on_layer_end(void *ctx, int layer, ls_error *err)
{
    eval_state *s = ctx;
    if (publish(s, (double)(layer + 1) / (s->n_layers + 1)))
        return ls_fail(err, "perplexity: cancelled");
    return 0;
}

/* Scoring a finished batch: the scored rows of all its windows are gathered into blocks
 * of up to `block` rows, so the classifier is one large sgemm per block, and the
 * log-softmax of each row runs on all CPUs. */
typedef struct scorer {
    const ls_fwd *f;
    int64_t block;
    float *rows;       /* [block][dim] gathered hidden states */
    int32_t *target;   /* [block] the token each row predicts */
    float *logits;     /* [block][vocab] */
    double *nll;       /* [block] */
} scorer;

static void nll_task(void *ctx, int64_t k)
{
    scorer *s = ctx;
    int V = s->f->c.vocab_size;
    s->nll[k] = ls_ppl_nll(s->logits + k * V, V, s->target[k]);
}

static void score_block(scorer *s, int64_t n, double *out)
{
    ls_fwd_logits(s->f, s->rows, n, s->logits);
    /* Failing to start threads only means this thread scores every row. */
    (void)ls_parallel_for(n, s->f->threads, nll_task, s);
    memcpy(out, s->nll, (size_t)n * sizeof *out);
}

/* Number of NLL values score_batch writes for nb windows. */
static int64_t scored_rows(const ls_ppl_window *w, int nb)
{
    int64_t n = 0;
    for (int k = 0; k < nb; k++)
        n += w[k].len - w[k].score_from;
    return n;
}

/* nll_out gets, window after window, the NLL of each scored token of the batch (rows
 * score_from-1 .. len-2 of each window predict the next token). */
static void score_batch(scorer *s, const float *hidden, const int32_t *btok,
                        const int64_t *off, const ls_ppl_window *win, int nb, double *nll_out)
{
    int dim = s->f->c.dim;
    int64_t filled = 0, done = 0;
    for (int k = 0; k < nb; k++) {
        for (int64_t r = off[k] + win[k].score_from - 1; r < off[k] + win[k].len - 1; r++) {
            memcpy(s->rows + filled * dim, hidden + r * dim, (size_t)dim * sizeof(float));
            s->target[filled++] = btok[r + 1];
            if (filled == s->block) {
                score_block(s, filled, nll_out + done);
                done += filled;
                filled = 0;
            }
        }
    }
    if (filled > 0)
        score_block(s, filled, nll_out + done);
}

int ls_ppl_eval(const ls_model *m, const ls_qmodel *qm, const int32_t *tokens, int64_t n,
                int bos, const ls_ppl_params *params, ls_progress *progress,
                ls_ppl_window_fn on_window, void *cb_ctx, ls_ppl_result *out, ls_error *err)
{
    memset(out, 0, sizeof *out);
    ls_ppl_params p = *params;
    if (p.label)
        snprintf(out->label, sizeof out->label, "%s", p.label);
    char note[256];
    if (ls_ppl_resolve(m, &p, n, note, sizeof note, err) < 0)
        return -1;
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            return ls_fail(err, "%s: perplexity: token %lld has id %d, outside the model's "
                           "vocabulary of %d (tokenizer and model do not match)", m->path,
                           (long long)i, tokens[i], m->cfg.vocab_size);
    ls_ppl_window *win = NULL;
    int64_t n_win = 0;
    if (ls_ppl_windows(&p, n, &win, &n_win, err) < 0)
        return -1;
    int64_t batch_cap = p.batch_tokens > 0 ? p.batch_tokens : DEFAULT_BATCH_TOKENS;
    int64_t all_tokens = 0;
    for (int64_t i = 0; i < n_win; i++)
        all_tokens += win[i].len;
    if (batch_cap > all_tokens)
        batch_cap = all_tokens;
    if (batch_cap < p.ctx)
        batch_cap = p.ctx;
    int V = m->cfg.vocab_size, dim = m->cfg.dim;
    int64_t block = LOGIT_BLOCK_FLOATS / V;
    block = block < 1 ? 1 : block > batch_cap ? batch_cap : block;

    ls_fwd *f = NULL;
    int32_t *btok = malloc((size_t)batch_cap * sizeof *btok);
    int64_t *off = malloc((size_t)(batch_cap + 1) * sizeof *off);
    float *hidden = ls_alloc_big((size_t)batch_cap * dim * sizeof *hidden);
    scorer sc = {NULL, block, ls_alloc_big((size_t)block * dim * sizeof(float)),
                 malloc((size_t)block * sizeof(int32_t)),
                 ls_alloc_big((size_t)block * V * sizeof(float)),
                 malloc((size_t)block * sizeof(double))};
    double *nll = malloc((size_t)batch_cap * sizeof *nll);
    double *running = malloc((size_t)n_win * sizeof *running);
    int rc = -1;
    if (!btok || !off || !hidden || !sc.rows || !sc.target || !sc.logits || !sc.nll || !nll ||
        !running) {
        ls_fail(err, "%s: perplexity: out of memory for a batch of %lld tokens", m->path,
                (long long)batch_cap);
        goto done;
    }
    ls_fwd_opts fo = {p.ctx, 0, p.compute, false};
    if (ls_fwd_new_opts(m, qm, &fo, &f, err) < 0 || ls_fwd_head_load(f, err) < 0)
        goto done;
    sc.f = f;
    out->compute = f->compute;
    if (f->compute_note[0])
        add_note(note, sizeof note, "%s", f->compute_note);

    eval_state st = {&p, progress, m->cfg.n_layers, n_win, 0, 0, 0, 0, 0, ls_seconds_now(), 0, false};
    for (int64_t i = 0; i < n_win; i++)
        st.tokens_total += win[i].len;
    ls_fwd_observer obs = {&st, NULL, NULL, on_layer_end};
    ls_ppl_acc acc;
    ls_ppl_acc_init(&acc, p.protocol);
    if (publish(&st, 0)) {
        ls_fail(err, "perplexity: cancelled");
        goto done;
    }
    int64_t wi = 0;
    while (wi < n_win) {
        /* Whole windows up to batch_cap tokens (at least one). */
        int nb = 0;
        int64_t rows = 0;
        off[0] = 0;
        while (wi + nb < n_win && (nb == 0 || rows + win[wi + nb].len <= batch_cap)) {
            const ls_ppl_window *w = &win[wi + nb];
            memcpy(btok + rows, tokens + w->begin, (size_t)w->len * sizeof *btok);
            if (p.protocol == LS_PPL_LLAMACPP && bos >= 0)
                btok[rows] = bos; /* llama.cpp: BOS replaces the chunk's first token */
            rows += w->len;
            off[++nb] = rows;
        }
        st.batch_windows = nb;
        st.batch_tokens = rows;
        ls_fwd_seqs seqs = {nb, btok, off};
        if (ls_fwd_run(f, &seqs, hidden, &obs, err) < 0)
            goto done;
        score_batch(&sc, hidden, btok, off, win + wi, nb, nll);
        if (ls_mm_bf16_failed(f->mm, err))
            goto done;
        for (int64_t k = 0, n_sc = scored_rows(win + wi, nb); k < n_sc; k++) {
            if (!isfinite(nll[k])) {
                /* a NaN PPL printed as "+nan %" would look like a result: refuse instead */
                ls_fail(err, "%s: perplexity (%s): window %lld: the loss is %s because the "
                        "logits are not finite (a NaN or Inf in the weights, a quantized "
                        "scale or the activations)", m->path, p.label[0] ? p.label : "model",
                        (long long)(wi + 1), isnan(nll[k]) ? "NaN" : "infinite");
                goto done;
            }
        }
        int64_t at = 0;
        for (int k = 0; k < nb; k++) {
            const ls_ppl_window *w = &win[wi + k];
            int cnt = w->len - w->score_from;
            running[wi + k] = ls_ppl_acc_add(&acc, w, nll + at, cnt);
            at += cnt;
            st.running = running[wi + k];
            st.have_running = true;
            if (on_window) {
                ls_ppl_result part = *out;
                ls_ppl_acc_finish(&acc, &part);
                on_window(cb_ctx, wi + k + 1, running[wi + k], &part);
            }
        }
        wi += nb;
        st.windows_done = wi;
        st.tokens_done += rows;
        st.batch_tokens = 0;
        st.batch_windows = 0;
        if (publish(&st, 0)) {
            ls_fail(err, "perplexity: cancelled");
            goto done;
        }
    }
    out->protocol = p.protocol;
    out->ctx = p.ctx;
    out->stride = p.stride;
    out->n_tokens = n;
    ls_ppl_acc_finish(&acc, out);
    if (!isfinite(out->ppl)) {
        ls_fail(err, "%s: perplexity (%s): mean loss %g overflows exp(): the perplexity is "
                "not finite", m->path, p.label[0] ? p.label : "model", out->mean_nll);
        goto done;
    }
    out->running = running;
    running = NULL;
    out->seconds = ls_seconds_now() - st.t0;
    out->tokens_per_second = out->seconds > 0 ? (double)st.tokens_total / out->seconds : 0;
    snprintf(out->note, sizeof out->note, "%s", note);
    rc = 0;
done:
    ls_fwd_free(f);
    free(win), free(btok), free(off), free(nll), free(running);
    ls_free_big(hidden), ls_free_big(sc.rows), ls_free_big(sc.logits);
    free(sc.target), free(sc.nll);
    return rc;
}
