/* Perplexity: the windows and scoring of both protocols (docs/method.md §9), analytic checks
 * (all-equal logits give PPL = vocabulary size), agreement with the naive reference
 * forward, batching independence, cancel and bad input; with the tokenizer and ../shared,
 * the reference values of docs/method.md §9.3 on stories260K. */
#include <stdint.h>

#include "test.h"

#include "nn/forward.h"
#include "formats/model.h"
#include "model_writer.h"
#include "eval/perplexity.h"
#include "eval/ppl_text.h"
#include "method/profile.h"
#include "base/progress.h"
#include "quant/qmodel.h"

/* ---------------------------------------------------------------- helpers */

static ls_model *synth_model(const char *name, int layers, int context)
{
    ls_synth_spec s;
    ls_error e;
    ls_synth_preset("tiny", &s, &e);
    s.cfg.n_layers = layers;
    s.cfg.context = context;
    const char *d = t_tmpdir(name);
    char p[600];
    snprintf(p, sizeof p, "%s/m.gguf", d);
    if (ls_write_gguf(p, &s, &e) != 0)
        return NULL;
    ls_model *m = NULL;
    if (ls_model_open(p, NULL, &m, &e) != 0)
        return NULL;
    return m;
}

static int32_t *random_tokens(int64_t n, int vocab, uint32_t seed)
{
    int32_t *t = malloc((size_t)n * sizeof *t);
    t[0] = 1;
    for (int64_t i = 1; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        t[i] = (int32_t)((seed >> 8) % (uint32_t)vocab);
    }
    return t;
}

/* ---------------------------------------------------------------- pure parts */

static void test_paper_windows_score_each_token_once(void)
{
    int64_t Ns[] = {2, 255, 256, 257, 1300, 2048};
    for (size_t k = 0; k < sizeof Ns / sizeof Ns[0]; k++) {
        int64_t N = Ns[k];
        ls_ppl_params p = ls_ppl_params_default(LS_PPL_PAPER);
        p.ctx = 512, p.stride = 256;
        ls_ppl_window *w;
        int64_t nw;
        ls_error e;
        CHECK(ls_ppl_windows(&p, N, &w, &nw, &e) == 0);
        CHECK(nw == (N + 255) / 256);
        int *seen = calloc((size_t)N, sizeof *seen);
        int64_t trg_sum = 0;
        for (int64_t i = 0; i < nw; i++) {
            CHECK(w[i].len <= 512);
            for (int t = w[i].score_from; t < w[i].len; t++)
                seen[w[i].begin + t]++;
            trg_sum += w[i].trg;
            if (i > 0)
                CHECK(w[i].score_from == w[i].len - w[i].trg); /* context before targets */
        }
        CHECK(w[0].score_from == 1);
        CHECK(trg_sum == N);            /* weights add up to the denominator N */
        CHECK(seen[0] == 0);
        int bad = 0;
        for (int64_t t = 1; t < N; t++)
            bad += seen[t] != 1;
        CHECK(bad == 0);
        free(seen);
        free(w);
    }
}

static void test_llamacpp_windows(void)
{
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
    p.ctx = 512, p.stride = 512;
    ls_ppl_window *w;
    int64_t nw;
    ls_error e;
    CHECK(ls_ppl_windows(&p, 809290, &w, &nw, &e) == 0);
    CHECK(nw == 1580);
    CHECK(w[3].begin == 3 * 512 && w[3].len == 512 && w[3].score_from == 257);
    CHECK(w[3].len - w[3].score_from == 255);
    free(w);
    p.max_chunks = 20;
    CHECK(ls_ppl_windows(&p, 809290, &w, &nw, &e) == 0);
    CHECK(nw == 20);
    free(w);
}

/* All-equal logits: PPL = vocabulary size exactly; llama.cpp's +/- is 0 and flagged. */
static void test_acc_uniform(void)
{
    double nll[300];
    for (int i = 0; i < 300; i++)
        nll[i] = log(512.0);
    ls_ppl_acc a;
    ls_ppl_window w = {0, 512, 257, 255};
    ls_ppl_acc_init(&a, LS_PPL_LLAMACPP);
    for (int c = 0; c < 3; c++) {
        w.begin = c * 512;
        ls_ppl_acc_add(&a, &w, nll, 255);
    }
    ls_ppl_result r;
    memset(&r, 0, sizeof r);
    ls_ppl_acc_finish(&a, &r);
    CHECK_REL(r.ppl, 512.0, 1e-12);
    CHECK(r.ppl_err == 0 && r.err_undefined);
    CHECK(r.n_scored == 3 * 255);
    float lg[512];
    for (int i = 0; i < 512; i++)
        lg[i] = 3.25f;
    CHECK_NEAR(ls_ppl_nll(lg, 512, 17), log(512.0), 1e-12);
}

/* The ± of llama.cpp: sqrt(var/(count-1)) * PPL with var = E[x^2] - E[x]^2. */
static void test_acc_error_formula(void)
{
    double nll[4] = {1, 2, 3, 4};
    ls_ppl_window w = {0, 10, 6, 4};
    ls_ppl_acc a;
    ls_ppl_acc_init(&a, LS_PPL_LLAMACPP);
    double run = ls_ppl_acc_add(&a, &w, nll, 4);
    ls_ppl_result r;
    memset(&r, 0, sizeof r);
    ls_ppl_acc_finish(&a, &r);
    CHECK_REL(run, exp(2.5), 1e-12);
    CHECK_REL(r.ppl_err, sqrt(1.25 / 3) * exp(2.5), 1e-12);
    /* paper: first window weighted by trg although it scores trg - 1 tokens */
    ls_ppl_acc_init(&a, LS_PPL_PAPER);
    ls_ppl_window w0 = {0, 4, 1, 4};
    double n3[3] = {1, 2, 3};
    run = ls_ppl_acc_add(&a, &w0, n3, 3);
    CHECK_REL(run, exp(2.0 * 4 / 4), 1e-12);
}

/* ---------------------------------------------------------------- with a model */

/* A model whose classifier is all zeros: every logit is 0. */
static void test_model_uniform_logits(void)
{
    ls_model *m = synth_model("ppl_uniform", 2, 512);
    CHECK(m != NULL);
    if (!m)
        return;
    static ls_tensor zero_head;
    zero_head = *m->lm_head;
    float *z = calloc((size_t)zero_head.n_elems, sizeof *z);
    zero_head.dtype = LS_DT_F32;
    zero_head.data = z;
    m->lm_head = &zero_head;
    int64_t N = 1300;
    int32_t *t = random_tokens(N, 512, 9);
    ls_error e;
    ls_ppl_result r;
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
    p.ctx = 128;
    CHECK(ls_ppl_eval(m, NULL, t, N, 1, &p, NULL, NULL, NULL, &r, &e) == 0);
    CHECK_REL(r.ppl, 512.0, 1e-9);
    CHECK(r.err_undefined && r.ppl_err == 0);
    CHECK(r.n_windows == N / 128 && r.n_scored == (N / 128) * (128 - 64 - 1));
    ls_ppl_result_free(&r);
    p = ls_ppl_params_default(LS_PPL_PAPER);
    CHECK(ls_ppl_eval(m, NULL, t, N, 1, &p, NULL, NULL, NULL, &r, &e) == 0);
    CHECK_REL(r.ppl, 512.0, 1e-9);
    CHECK(r.ctx == 512 && r.stride == 256 && r.n_scored == N - 1);
    CHECK(strstr(r.note, "shorter") != NULL);
    ls_ppl_result_free(&r);
    free(t);
    free(z);
    ls_model_free(m);
}

/* Both protocols against NLLs from the naive reference forward, computed window by
 * window here. */
static void check_against_ref(ls_model *m, ls_ppl_protocol proto, int ctx, int stride,
                              int64_t N)
{
    int32_t *t = random_tokens(N, m->cfg.vocab_size, 21);
    ls_ppl_params p = ls_ppl_params_default(proto);
    p.ctx = ctx, p.stride = stride;
    p.batch_tokens = 3 * ctx; /* several batches */
    ls_error e;
    ls_ppl_result r;
    CHECK(ls_ppl_eval(m, NULL, t, N, 1, &p, NULL, NULL, NULL, &r, &e) == 0);
    ls_ppl_window *w;
    int64_t nw;
    ls_ppl_params rp = p;
    CHECK(ls_ppl_resolve(m, &rp, N, NULL, 0, &e) == 0);
    CHECK(ls_ppl_windows(&rp, N, &w, &nw, &e) == 0);
    int V = m->cfg.vocab_size;
    double *lg = malloc((size_t)ctx * V * sizeof *lg), nll[512];
    int32_t in[512];
    float row[512];
    ls_ppl_acc a;
    ls_ppl_acc_init(&a, proto);
    double worst_run = 0;
    for (int64_t i = 0; i < nw; i++) {
        memcpy(in, t + w[i].begin, (size_t)w[i].len * sizeof *in);
        if (proto == LS_PPL_LLAMACPP)
            in[0] = 1;
        CHECK(ls_forward_ref(m, NULL, in, w[i].len, lg, &e) == 0);
        int k = 0;
        for (int tt = w[i].score_from; tt < w[i].len; tt++, k++) {
            for (int v = 0; v < V; v++)
                row[v] = (float)lg[(int64_t)(tt - 1) * V + v];
            nll[k] = ls_ppl_nll(row, V, in[tt]);
        }
        double run = ls_ppl_acc_add(&a, &w[i], nll, k);
        worst_run = fmax(worst_run, fabs(run - r.running[i]) / run);
    }
    ls_ppl_result rr;
    memset(&rr, 0, sizeof rr);
    ls_ppl_acc_finish(&a, &rr);
    CHECK_REL(r.ppl, rr.ppl, 1e-5);
    CHECK(worst_run < 1e-5);
    CHECK(r.n_scored == rr.n_scored && r.n_windows == nw);
    if (proto == LS_PPL_LLAMACPP)
        CHECK_REL(r.ppl_err, rr.ppl_err, 1e-4);
    free(lg);
    free(w);
    free(t);
    ls_ppl_result_free(&r);
}

static void test_protocols_match_reference_forward(void)
{
    ls_model *m = synth_model("ppl_ref", 2, 512);
    CHECK(m != NULL);
    if (!m)
        return;
    check_against_ref(m, LS_PPL_LLAMACPP, 64, 0, 64 * 5 + 17);
    check_against_ref(m, LS_PPL_PAPER, 64, 16, 300);
    check_against_ref(m, LS_PPL_PAPER, 48, 48, 200);
    ls_model_free(m);
}

/* Batch size changes the grouping, not the numbers. Running values and callbacks. */
typedef struct cb_log {
    int64_t n;
    double last;
} cb_log;

static void on_win(void *ctx, int64_t i, double run, const ls_ppl_result *part)
{
    cb_log *c = ctx;
    c->n++;
    CHECK(i == c->n && part->n_windows == i);
    c->last = run;
}

static void test_batching_and_callbacks(void)
{
    ls_model *m = synth_model("ppl_batch", 2, 512);
    CHECK(m != NULL);
    if (!m)
        return;
    int64_t N = 2000;
    int32_t *t = random_tokens(N, 512, 5);
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
    p.ctx = 100;
    ls_error e;
    ls_ppl_result a, b;
    cb_log c = {0, 0};
    p.batch_tokens = 100;
    CHECK(ls_ppl_eval(m, NULL, t, N, 1, &p, NULL, on_win, &c, &a, &e) == 0);
    p.batch_tokens = 100000;
    CHECK(ls_ppl_eval(m, NULL, t, N, 1, &p, NULL, NULL, NULL, &b, &e) == 0);
    CHECK(c.n == 20 && c.last == a.ppl);
    CHECK_REL(a.ppl, b.ppl, 1e-6);
    CHECK_REL(a.ppl_err, b.ppl_err, 1e-5);
    CHECK(a.tokens_per_second > 0);
    ls_ppl_result_free(&a);
    ls_ppl_result_free(&b);
    free(t);
    ls_model_free(m);
}

static void test_cancel_and_bad_input(void)
{
    ls_model *m = synth_model("ppl_bad", 2, 256);
    CHECK(m != NULL);
    if (!m)
        return;
    int32_t *t = random_tokens(3000, 512, 2);
    ls_error e;
    ls_ppl_result r;
    ls_progress pr;
    ls_progress_init(&pr);
    ls_progress_cancel(&pr);
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
    CHECK(ls_ppl_eval(m, NULL, t, 3000, 1, &p, &pr, NULL, NULL, &r, &e) == -1);
    CHECK(strstr(e.msg, "cancelled") != NULL && r.running == NULL);
    ls_progress_destroy(&pr);
    /* too short for llama.cpp: needs 2 * n_ctx */
    CHECK(ls_ppl_eval(m, NULL, t, 511, 1, &p, NULL, NULL, NULL, &r, &e) == -1);
    CHECK(strstr(e.msg, "511 tokens") && strstr(e.msg, "512"));
    /* paper: one token is not enough */
    ls_ppl_params pp = ls_ppl_params_default(LS_PPL_PAPER);
    CHECK(ls_ppl_eval(m, NULL, t, 1, 1, &pp, NULL, NULL, NULL, &r, &e) == -1);
    /* context longer than the model's */
    pp.ctx = 1024;
    CHECK(ls_ppl_eval(m, NULL, t, 3000, 1, &pp, NULL, NULL, NULL, &r, &e) == -1);
    CHECK(strstr(e.msg, "context length 256") != NULL);
    pp.allow_long_ctx = true;
    pp.max_chunks = 2;
    CHECK(ls_ppl_eval(m, NULL, t, 3000, 1, &pp, NULL, NULL, NULL, &r, &e) == 0);
    CHECK(r.n_windows == 2 && strstr(r.note, "beyond") != NULL);
    ls_ppl_result_free(&r);
    /* stride larger than the window */
    pp.ctx = 64, pp.stride = 65;
    CHECK(ls_ppl_eval(m, NULL, t, 3000, 1, &pp, NULL, NULL, NULL, &r, &e) == -1);
    /* ids outside the vocabulary: tokenizer and model do not match */
    t[5] = 600;
    pp.stride = 32;
    CHECK(ls_ppl_eval(m, NULL, t, 3000, 1, &pp, NULL, NULL, NULL, &r, &e) == -1);
    CHECK(strstr(e.msg, "vocabulary") != NULL);
    free(t);
    ls_model_free(m);
}

/* Quantized weights make a difference, and the fp model the smallest PPL here. */
static void test_quantized_eval(void)
{
    ls_model *m = synth_model("ppl_quant", 2, 512);
    CHECK(m != NULL);
    if (!m)
        return;
    int32_t *t = random_tokens(1100, 512, 3);
    unsigned char cfg[2 * LS_N_MODULES];
    memset(cfg, 0, sizeof cfg); /* b2g128 everywhere */
    ls_error e;
    ls_qmodel *q = ls_qmodel_new(2, true, &e);
    CHECK(q && ls_qmodel_quantize(q, m, cfg, 1, NULL, &e) == 0);
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
    ls_ppl_result a, b;
    CHECK(ls_ppl_eval(m, NULL, t, 1100, 1, &p, NULL, NULL, NULL, &a, &e) == 0);
    CHECK(ls_ppl_eval(m, q, t, 1100, 1, &p, NULL, NULL, NULL, &b, &e) == 0);
    CHECK(fabs(a.ppl - b.ppl) > 1e-3 * a.ppl);
    ls_ppl_result_free(&a);
    ls_ppl_result_free(&b);
    ls_qmodel_free(q);
    free(t);
    ls_model_free(m);
}

/* ---------------------------------------------------------------- text, stories260K */

typedef struct run_log {
    double v[8];
    int n;
} run_log;

static void log_win(void *ctx, int64_t i, double run, const ls_ppl_result *part)
{
    (void)part;
    run_log *l = ctx;
    if (i <= 5)
        l->v[l->n++] = run;
}

/* One reference case of docs/method.md §9.3 (tokenizer tok512, no whitespace collapsing). */
static void check_text_case(const char *text_rel, ls_ppl_protocol proto, int ctx, int stride,
                            int chunks, int64_t want_n, int64_t want_scored, double want_ppl,
                            double want_err, const double *want_run)
{
    NEED_SHARED(mpath, "models/stories260K/stories260K.bin");
    NEED_SHARED(tpath, "models/stories260K/tok512.bin");
    NEED_SHARED(text, text_rel);
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    CHECK(ls_model_open(mpath, NULL, &m, &e) == 0);
    if (ls_tokenizer_open(tpath, 512, &tok, &e) != 0) {
        ls_model_free(m);
        SKIP("tokenizer: %.200s", e.msg);
    }
    ls_ppl_params p = ls_ppl_params_default(proto);
    p.ctx = ctx, p.stride = stride, p.max_chunks = chunks, p.allow_long_ctx = true;
    ls_ppl_compare c;
    run_log lg = {{0}, 0};
    int rc = ls_ppl_compare_run(m, tok, text, &p, LS_TEXT_AUTO, NULL, NULL, NULL, 1, NULL,
                                log_win, &lg, &c, &e);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(c.n_tokens == want_n);
        CHECK(c.fp.n_scored == want_scored);
        CHECK_REL(c.fp.ppl, want_ppl, 1e-4);
        if (want_err > 0) /* the reference prints 5 decimals */
            CHECK(fabs(c.fp.ppl_err - want_err) <= 5e-6 + 1e-4 * want_err);
        for (int i = 0; want_run && i < 5; i++)
            CHECK_REL(lg.v[i], want_run[i], 1e-4);
        CHECK(!c.have_base && !c.have_current && isnan(c.delta_pct));
        printf("  %s %s ctx %d: PPL %.4f +/- %.5f (want %.4f), %lld windows, %.0f tok/s\n",
               text_rel, ls_ppl_protocol_name(proto), c.fp.ctx, c.fp.ppl, c.fp.ppl_err,
               want_ppl, (long long)c.fp.n_windows, c.fp.tokens_per_second);
        ls_ppl_compare_free(&c);
    } else {
        fprintf(stderr, "  %s\n", e.msg);
    }
    ls_tokenizer_free(tok);
    ls_model_free(m);
}

#define WIKI_RAW "text/wikitext-2-raw/wiki.test.raw"
#define TINY "text/tinystories/tinystories_valid_head.txt"

static void test_text_wiki_llamacpp_20(void)
{
    static const double run[5] = {129.6467, 105.4555, 109.8601, 101.3605, 107.5539};
    check_text_case(WIKI_RAW, LS_PPL_LLAMACPP, 512, 0, 20, 809290, 5100, 96.8851, 4.80102, run);
}

static void test_text_tiny_llamacpp_20(void)
{
    static const double run[5] = {3.3982, 3.7504, 3.5266, 3.5314, 3.5304};
    check_text_case(TINY, LS_PPL_LLAMACPP, 512, 0, 20, 393019, 5100, 3.7602, 0.09453, run);
}

/* The full-file references take minutes of CPU on this small-head model; they run when
 * LAYERSCOPE_SLOW_TESTS is set. */
static bool slow_tests(void)
{
    const char *s = getenv("LAYERSCOPE_SLOW_TESTS");
    return s && *s && strcmp(s, "0") != 0;
}

static void test_text_full_files(void)
{
    if (!slow_tests())
        SKIP("full-file references: set LAYERSCOPE_SLOW_TESTS=1");
    check_text_case(WIKI_RAW, LS_PPL_LLAMACPP, 512, 0, 0, 809290, 402900, 127.5557, 0.74872,
                    NULL);
    check_text_case(TINY, LS_PPL_LLAMACPP, 512, 0, 0, 393019, 195585, 4.9744, 0.02428, NULL);
    check_text_case(WIKI_RAW, LS_PPL_PAPER, 512, 256, 0, 815070, 815069, 129.8699, 0, NULL);
    check_text_case(WIKI_RAW, LS_PPL_PAPER, 1024, 512, 0, 815070, 815069, 146.4145, 0, NULL);
    check_text_case(TINY, LS_PPL_PAPER, 512, 256, 0, 393019, 393018, 4.9750, 0, NULL);
}

/* The paper protocol's defaults on a 512-context model, and the HF-rows rebuild (checked
 * on its first windows against the numbers above: N and the first running value). */
static void test_text_paper_defaults_and_rows(void)
{
    NEED_SHARED(mpath, "models/stories260K/stories260K.bin");
    NEED_SHARED(tpath, "models/stories260K/tok512.bin");
    NEED_SHARED(text, WIKI_RAW);
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    CHECK(ls_model_open(mpath, NULL, &m, &e) == 0);
    if (ls_tokenizer_open(tpath, 512, &tok, &e) != 0) {
        ls_model_free(m);
        SKIP("tokenizer: %.200s", e.msg);
    }
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_PAPER);
    p.max_chunks = 4;
    ls_ppl_compare c;
    CHECK(ls_ppl_compare_run(m, tok, text, &p, LS_TEXT_AUTO, NULL, NULL, NULL, 1, NULL, NULL,
                             NULL, &c, &e) == 0);
    CHECK(c.n_tokens == 815070 && c.ctx == 512 && c.stride == 256);
    CHECK(strstr(c.note, "4358 HF rows") != NULL && strstr(c.note, "1296370 bytes"));
    CHECK(c.fp.n_windows == 4);
    ls_ppl_compare_free(&c);
    ls_tokenizer_free(tok);
    ls_model_free(m);
}

/* fp, base and current on one text: base and current quantize, current with a higher
 * stop everywhere beats base; delta % is consistent. */
static void test_text_compare_base_current(void)
{
    NEED_SHARED(mpath, "models/stories260K/stories260K.bin");
    NEED_SHARED(tpath, "models/stories260K/tok512.bin");
    NEED_SHARED(text, TINY);
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    CHECK(ls_model_open(mpath, NULL, &m, &e) == 0);
    if (ls_tokenizer_open(tpath, 512, &tok, &e) != 0) {
        ls_model_free(m);
        SKIP("tokenizer: %.200s", e.msg);
    }
    unsigned char base[5 * LS_N_MODULES], cur[5 * LS_N_MODULES];
    memset(base, 0, sizeof base);        /* b2g128 */
    memset(cur, 0, sizeof cur);
    for (int l = 0; l < 5; l++)
        cur[LS_IDX(l, LS_MOD_DOWN)] = 6; /* boost down_proj */
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
    p.max_chunks = 4;
    ls_ppl_compare c;
    ls_qmodel *qm = ls_qmodel_new(5, true, &e);
    CHECK(ls_ppl_compare_run(m, tok, text, &p, LS_TEXT_AUTO, base, cur, qm, 1, NULL, NULL,
                             NULL, &c, &e) == 0);
    CHECK(c.have_fp && c.have_base && c.have_current);
    CHECK(c.base.ppl > c.fp.ppl);
    CHECK(c.current.ppl != c.base.ppl);
    CHECK_NEAR(c.delta_pct, 100 * (c.current.ppl - c.base.ppl) / c.base.ppl, 1e-12);
    CHECK(strcmp(c.base.label, "base") == 0 && strcmp(c.current.label, "current") == 0);
    CHECK(qm->n_last_quantized == 5); /* only the boosted modules were quantized again */
    ls_ppl_compare_free(&c);
    ls_qmodel_free(qm);
    ls_tokenizer_free(tok);
    ls_model_free(m);
}

/* Bad text: missing, empty, not UTF-8, too short for one window; a tokenizer with another
 * vocabulary size. Nothing is returned. */
static void test_text_bad_input(void)
{
    NEED_SHARED(mpath, "models/stories260K/stories260K.bin");
    NEED_SHARED(tpath, "models/stories260K/tok512.bin");
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    CHECK(ls_model_open(mpath, NULL, &m, &e) == 0);
    if (ls_tokenizer_open(tpath, 512, &tok, &e) != 0) {
        ls_model_free(m);
        SKIP("tokenizer: %.200s", e.msg);
    }
    const char *d = t_tmpdir("ppl_text_bad");
    char empty[600], latin1[600], shortf[600];
    snprintf(empty, sizeof empty, "%s/empty.txt", d);
    snprintf(latin1, sizeof latin1, "%s/latin1.txt", d);
    snprintf(shortf, sizeof shortf, "%s/short.txt", d);
    FILE *f = fopen(empty, "w");
    fclose(f);
    f = fopen(latin1, "w");
    fputs("caf\xe9 au lait\n", f);
    fclose(f);
    f = fopen(shortf, "w");
    fputs("Once upon a time there was a cat.\n", f);
    fclose(f);
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
    ls_ppl_compare c;
    CHECK(ls_ppl_compare_run(m, tok, empty, &p, LS_TEXT_AUTO, NULL, NULL, NULL, 1, NULL, NULL,
                             NULL, &c, &e) == -1 && strstr(e.msg, "empty"));
    CHECK(ls_ppl_compare_run(m, tok, latin1, &p, LS_TEXT_AUTO, NULL, NULL, NULL, 1, NULL, NULL,
                             NULL, &c, &e) == -1 && strstr(e.msg, "byte 3: not UTF-8"));
    CHECK(ls_ppl_compare_run(m, tok, shortf, &p, LS_TEXT_AUTO, NULL, NULL, NULL, 1, NULL, NULL,
                             NULL, &c, &e) == -1 && strstr(e.msg, "needs at least 2 * n_ctx"));
    CHECK(ls_ppl_compare_run(m, tok, "/nonexistent/x.txt", &p, LS_TEXT_AUTO, NULL, NULL, NULL,
                             1, NULL, NULL, NULL, &c, &e) == -1);
    ls_tokenizer_free(tok);
    /* A 32000-token vocabulary against the 512-token model. */
    const char *vocab = t_shared("models/ggml-vocab-llama-spm/ggml-vocab-llama-spm.gguf");
    if (vocab && ls_tokenizer_open(vocab, 0, &tok, &e) == 0) {
        CHECK(ls_ppl_compare_run(m, tok, shortf, &p, LS_TEXT_AUTO, NULL, NULL, NULL, 1, NULL,
                                 NULL, NULL, &c, &e) == -1 && strstr(e.msg, "does not match"));
        ls_tokenizer_free(tok);
    }
    ls_model_free(m);
}

static void test_wikitext_rows(void)
{
    const char raw[] = " \n = Title = \n \n Text here .\n";
    size_t n, rows;
    char *s = ls_wikitext_hf_rows(raw, strlen(raw), &n, &rows);
    CHECK(rows == 4);
    CHECK_STR(s, "\n\n = Title = \n\n\n\n\n Text here .\n");
    free(s);
    CHECK(ls_utf8_invalid_at("a\xc3\xa9" "b", 4) == -1);
    CHECK(ls_utf8_invalid_at("a\xc3", 2) == 1);
    CHECK(ls_utf8_invalid_at("\xed\xa0\x80", 3) == 0); /* surrogate */
    CHECK(ls_utf8_invalid_at("\xe2\x82\xac", 3) == -1);
}

int main(void)
{
    RUN(test_paper_windows_score_each_token_once);
    RUN(test_llamacpp_windows);
    RUN(test_acc_uniform);
    RUN(test_acc_error_formula);
    RUN(test_model_uniform_logits);
    RUN(test_protocols_match_reference_forward);
    RUN(test_batching_and_callbacks);
    RUN(test_cancel_and_bad_input);
    RUN(test_quantized_eval);
    RUN(test_wikitext_rows);
    RUN(test_text_wiki_llamacpp_20);
    RUN(test_text_tiny_llamacpp_20);
    RUN(test_text_paper_defaults_and_rows);
    RUN(test_text_compare_base_current);
    RUN(test_text_bad_input);
    RUN(test_text_full_files);
    return t_summary();
}
