/* The forward pass: the sgemm engine against the naive reference on synthetic models
 * (layouts, GQA, biases, RoPE scalings, dtypes, quantized weights, batching), and against
 * the float64 golden values of stories260K (reference_outputs.json) in all file kinds. */
#include <cjson/cJSON.h>
#include <stdint.h>

#include "test.h"

#include "nn/attention.h"
#include "nn/blas_check.h"
#include "nn/forward.h"
#include "formats/model.h"
#include "model_writer.h"
#include "quant/qmodel.h"
#include "nn/weights_f32.h"

/* ---------------------------------------------------------------- helpers */

static ls_model *open_model(const char *path)
{
    ls_model *m = NULL;
    ls_error e;
    if (ls_model_open(path, NULL, &m, &e) != 0) {
        fprintf(stderr, "  open %s: %s\n", path, e.msg);
        return NULL;
    }
    return m;
}

/* Logits of one sequence with the fast engine ([n][vocab]); chunk_rows as given. */
static float *fast_logits(const ls_model *m, const ls_qmodel *q, const int32_t *tok, int n,
                          int64_t chunk_rows)
{
    ls_error e;
    ls_fwd *f = NULL;
    if (ls_fwd_new(m, q, n, chunk_rows, &f, &e) != 0) {
        fprintf(stderr, "  fwd_new: %s\n", e.msg);
        return NULL;
    }
    int64_t off[2] = {0, n};
    ls_fwd_seqs s = {1, tok, off};
    float *h = malloc((size_t)n * m->cfg.dim * sizeof *h);
    float *lg = malloc((size_t)n * m->cfg.vocab_size * sizeof *lg);
    if (ls_fwd_run(f, &s, h, NULL, &e) != 0 || ls_fwd_head_load(f, &e) != 0) {
        fprintf(stderr, "  fwd_run: %s\n", e.msg);
        free(lg);
        lg = NULL;
    } else {
        ls_fwd_logits(f, h, n, lg);
    }
    free(h);
    ls_fwd_free(f);
    return lg;
}

static double max_abs_diff(const float *a, const double *b, int64_t n, double *max_b)
{
    double d = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        mb = fmax(mb, fabs(b[i]));
    }
    if (max_b)
        *max_b = mb;
    return d;
}

static void make_tokens(int32_t *t, int n, int vocab, uint32_t seed)
{
    t[0] = 1;
    for (int i = 1; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        t[i] = (int32_t)((seed >> 8) % (uint32_t)vocab);
    }
}

static void small_spec(ls_synth_spec *s)
{
    ls_error e;
    ls_synth_preset("tiny", s, &e);
    s->cfg.n_layers = 3;
}

/* Writes spec in a format, compares fast vs reference logits on an n-token sequence. */
static void compare_with_ref_n(const ls_synth_spec *spec, ls_model_format fmt,
                               const char *name, double tol, int n);

static void compare_with_ref(const ls_synth_spec *spec, ls_model_format fmt, const char *name,
                             double tol)
{
    compare_with_ref_n(spec, fmt, name, tol, 40);
}

static void compare_with_ref_n(const ls_synth_spec *spec, ls_model_format fmt,
                               const char *name, double tol, int n)
{
    const char *dir = t_tmpdir(name);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir,
             fmt == LS_FORMAT_GGUF ? "m.gguf" : fmt == LS_FORMAT_LLAMA2C ? "m.bin" : "hf");
    ls_error e;
    if (ls_write_model(path, fmt, spec, &e) != 0) {
        fprintf(stderr, "  write: %s\n", e.msg);
        CHECK(0);
        return;
    }
    ls_model *m = open_model(path);
    CHECK(m != NULL);
    if (!m)
        return;
    int V = m->cfg.vocab_size;
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    make_tokens(tok, n, V, 7);
    double *ref = malloc((size_t)n * V * sizeof *ref);
    CHECK(ls_forward_ref(m, NULL, tok, n, ref, &e) == 0);
    float *fast = fast_logits(m, NULL, tok, n, 0);
    CHECK(fast != NULL);
    if (fast) {
        double mb, d = max_abs_diff(fast, ref, (int64_t)n * V, &mb);
        if (!(d <= tol * fmax(1.0, mb)))
            fprintf(stderr, "  %s: max diff %.3g (max |logit| %.3g)\n", name, d, mb);
        CHECK(d <= tol * fmax(1.0, mb));
    }
    free(fast);
    free(ref);
    free(tok);
    ls_model_free(m);
}

/* ---------------------------------------------------------------- synthetic models */

static void test_fast_matches_ref_llama(void)
{
    ls_synth_spec s;
    small_spec(&s);
    compare_with_ref(&s, LS_FORMAT_GGUF, "fwd_llama_gguf", 1e-4);
    compare_with_ref(&s, LS_FORMAT_HF, "fwd_llama_hf", 1e-4);
}

static void test_fast_matches_ref_qwen2_bias_tied(void)
{
    ls_synth_spec s;
    small_spec(&s);
    s.cfg.arch = LS_ARCH_QWEN2;
    s.cfg.qkv_bias = true;
    s.cfg.tied = true;
    s.cfg.rope_layout = LS_ROPE_HALVES;
    s.cfg.rope_theta = 1e6;
    s.cfg.norm_eps = 1e-6;
    compare_with_ref(&s, LS_FORMAT_HF, "fwd_qwen2_hf", 1e-4);
    compare_with_ref(&s, LS_FORMAT_GGUF, "fwd_qwen2_gguf", 1e-4);
}

static void test_fast_matches_ref_scalings_dtypes(void)
{
    ls_synth_spec s;
    small_spec(&s);
    s.cfg.rope_scaling = LS_ROPE_SCALING_LLAMA3;
    s.cfg.rope_factor = 8, s.cfg.rope_low_freq_factor = 1, s.cfg.rope_high_freq_factor = 4;
    s.cfg.rope_original_context = 64;
    s.cfg.rope_theta = 500000;
    s.dtype = LS_DT_BF16;
    compare_with_ref(&s, LS_FORMAT_HF, "fwd_llama3_bf16", 1e-4);
    small_spec(&s);
    s.cfg.rope_scaling = LS_ROPE_SCALING_LINEAR;
    s.cfg.rope_factor = 4;
    s.dtype = LS_DT_F16;
    s.cfg.n_kv_heads = 8; /* no GQA */
    compare_with_ref(&s, LS_FORMAT_GGUF, "fwd_linear_f16", 1e-4);
    small_spec(&s);
    s.cfg.arch = LS_ARCH_MISTRAL;
    s.cfg.sliding_window = 7;
    compare_with_ref(&s, LS_FORMAT_HF, "fwd_mistral_window", 1e-4);
}

/* The same weights as GGUF (pairs) and HF (halves) give the same logits, and both the
 * same as llama2.c. */
static void test_layouts_agree(void)
{
    ls_synth_spec s;
    small_spec(&s);
    const char *d = t_tmpdir("fwd_layouts");
    char p1[600], p2[600], p3[600];
    snprintf(p1, sizeof p1, "%s/m.gguf", d);
    snprintf(p2, sizeof p2, "%s/hf", d);
    snprintf(p3, sizeof p3, "%s/m.bin", d);
    ls_error e;
    CHECK(ls_write_gguf(p1, &s, &e) == 0);
    CHECK(ls_write_hf_dir(p2, &s, 1, &e) == 0);
    CHECK(ls_write_llama2c(p3, &s, &e) == 0);
    ls_model *a = open_model(p1), *b = open_model(p2), *c = open_model(p3);
    CHECK(a && b && c);
    if (a && b && c) {
        CHECK(a->cfg.rope_layout == LS_ROPE_PAIRS && b->cfg.rope_layout == LS_ROPE_HALVES);
        int n = 64;
        int32_t tok[64];
        make_tokens(tok, n, s.cfg.vocab_size, 3);
        float *la = fast_logits(a, NULL, tok, n, 0), *lb = fast_logits(b, NULL, tok, n, 0);
        float *lc = fast_logits(c, NULL, tok, n, 0);
        CHECK(la && lb && lc);
        if (la && lb && lc) {
            double d1 = 0, d2 = 0;
            for (int64_t i = 0; i < (int64_t)n * s.cfg.vocab_size; i++) {
                d1 = fmax(d1, fabs(la[i] - lb[i]));
                d2 = fmax(d2, fabs(la[i] - lc[i]));
            }
            CHECK(d1 < 1e-4);
            CHECK(d2 == 0);
        }
        free(la), free(lb), free(lc);
    }
    ls_model_free(a), ls_model_free(b), ls_model_free(c);
}

/* Several sequences of different lengths in one run, split over chunks, give the logits
 * of separate runs; the observer sees every row once per layer. */
typedef struct count_obs {
    int64_t rows[64];
    int begins, ends;
} count_obs;

static int cnt_chunk(void *ctx, const ls_fwd_record *r, ls_error *err)
{
    (void)err;
    count_obs *o = ctx;
    o->rows[r->layer] += r->n_rows;
    return 0;
}
static int cnt_begin(void *ctx, int layer, const ls_layer_f32 *w, ls_error *err)
{
    (void)layer, (void)w, (void)err;
    ((count_obs *)ctx)->begins++;
    return 0;
}
static int cnt_end(void *ctx, int layer, ls_error *err)
{
    count_obs *o = ctx;
    o->ends++;
    if (layer == 1 && o->rows[0] < 0) /* never: keeps the error path compiled */
        return ls_fail(err, "x");
    return 0;
}

static void test_batch_equals_single(void)
{
    ls_synth_spec s;
    small_spec(&s);
    const char *d = t_tmpdir("fwd_batch");
    char p[600];
    snprintf(p, sizeof p, "%s/m.gguf", d);
    ls_error e;
    CHECK(ls_write_gguf(p, &s, &e) == 0);
    ls_model *m = open_model(p);
    if (!m) {
        CHECK(0);
        return;
    }
    int lens[4] = {30, 5, 50, 17}, V = m->cfg.vocab_size, dim = m->cfg.dim;
    int64_t off[5] = {0};
    for (int i = 0; i < 4; i++)
        off[i + 1] = off[i] + lens[i];
    int32_t tok[102];
    make_tokens(tok, 102, V, 11);
    ls_fwd *f = NULL;
    CHECK(ls_fwd_new(m, NULL, 50, 60, &f, &e) == 0); /* chunks of <= 60 rows */
    float *h = malloc((size_t)off[4] * dim * sizeof *h);
    float *lg = malloc((size_t)off[4] * V * sizeof *lg);
    count_obs co = {{0}, 0, 0};
    ls_fwd_observer obs = {&co, cnt_begin, cnt_chunk, cnt_end};
    ls_fwd_seqs sq = {4, tok, off};
    CHECK(ls_fwd_run(f, &sq, h, &obs, &e) == 0);
    CHECK(ls_fwd_head_load(f, &e) == 0);
    ls_fwd_logits(f, h, off[4], lg);
    CHECK(co.begins == 3 && co.ends == 3);
    for (int l = 0; l < 3; l++)
        CHECK(co.rows[l] == off[4]);
    double dmax = 0;
    for (int i = 0; i < 4; i++) {
        float *one = fast_logits(m, NULL, tok + off[i], lens[i], 0);
        CHECK(one != NULL);
        if (one)
            for (int64_t j = 0; j < (int64_t)lens[i] * V; j++)
                dmax = fmax(dmax, fabs(one[j] - lg[off[i] * V + j]));
        free(one);
    }
    CHECK(dmax < 1e-4);
    /* A too-long sequence and a bad id are errors. */
    int64_t off2[2] = {0, 51};
    int32_t tk2[51] = {0};
    ls_fwd_seqs s2 = {1, tk2, off2};
    CHECK(ls_fwd_run(f, &s2, h, NULL, &e) == -1);
    int64_t off3[2] = {0, 2};
    int32_t tk3[2] = {1, 512};
    ls_fwd_seqs s3 = {1, tk3, off3};
    CHECK(ls_fwd_run(f, &s3, h, NULL, &e) == -1 && strstr(e.msg, "outside the vocabulary"));
    free(h), free(lg);
    ls_fwd_free(f);
    ls_model_free(m);
}

/* Quantized weights: the fast path and the reference use the same dequantized layer, so
 * they agree; and quantization changes the logits a little. */
static void test_quantized_weights(void)
{
    ls_synth_spec s;
    small_spec(&s);
    const char *d = t_tmpdir("fwd_quant");
    char p[600];
    snprintf(p, sizeof p, "%s/m.gguf", d);
    ls_error e;
    CHECK(ls_write_gguf(p, &s, &e) == 0);
    ls_model *m = open_model(p);
    if (!m) {
        CHECK(0);
        return;
    }
    unsigned char cfg[3 * LS_N_MODULES];
    for (int i = 0; i < 3 * LS_N_MODULES; i++)
        cfg[i] = (unsigned char)(i % 12);
    ls_qmodel *q = ls_qmodel_new(3, true, &e);
    CHECK(q && ls_qmodel_quantize(q, m, cfg, 1, NULL, &e) == 0);
    if (q) {
        int n = 24, V = m->cfg.vocab_size;
        int32_t tok[24];
        make_tokens(tok, n, V, 5);
        double *ref = malloc((size_t)n * V * sizeof *ref);
        CHECK(ls_forward_ref(m, q, tok, n, ref, &e) == 0);
        float *fq = fast_logits(m, q, tok, n, 0), *ff = fast_logits(m, NULL, tok, n, 0);
        CHECK(fq && ff);
        if (fq && ff) {
            double mb, dq = max_abs_diff(fq, ref, (int64_t)n * V, &mb), dfq = 0;
            CHECK(dq <= 1e-4 * fmax(1, mb));
            for (int64_t i = 0; i < (int64_t)n * V; i++)
                dfq = fmax(dfq, fabs(fq[i] - ff[i]));
            CHECK(dfq > 1e-3); /* 2-bit modules change things */
        }
        free(fq), free(ff), free(ref);
    }
    ls_qmodel_free(q);
    ls_model_free(m);
}

/* ---------------------------------------------------------------- stories260K */

static cJSON *load_reference(void)
{
    const char *p = t_shared("models/stories260K/reference_outputs.json");
    if (!p)
        return NULL;
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

static void check_stories(const char *rel)
{
    const char *path = t_shared(rel);
    cJSON *ref = load_reference();
    if (!path || !ref) {
        cJSON_Delete(ref);
        SKIP("../shared/%s or reference_outputs.json not found", rel);
    }
    ls_model *m = open_model(path);
    CHECK(m != NULL);
    if (!m) {
        cJSON_Delete(ref);
        return;
    }
    int V = m->cfg.vocab_size;
    /* logits at position 0 after BOS */
    int32_t bos = 1;
    float *lg = fast_logits(m, NULL, &bos, 1, 0);
    cJSON *l8 = cJSON_GetObjectItem(ref, "logits_at_pos0_first8");
    double worst = 0;
    /* a failed forward pass or a short reference is a failure, not an empty comparison */
    CHECK(lg != NULL);
    CHECK(cJSON_GetArraySize(l8) == 8);
    for (int i = 0; i < 8 && lg && i < cJSON_GetArraySize(l8); i++) {
        double r = cJSON_GetArrayItem(l8, i)->valuedouble;
        CHECK_NEAR(lg[i], r, 1e-4);
        worst = fmax(worst, fabs(lg[i] - r));
    }
    printf("  %s: logits at pos 0: max |diff| %.2e\n", rel, worst);
    free(lg);
    /* NLL per position of the first line */
    cJSON *ft = cJSON_GetObjectItem(ref, "first_line_tokens");
    cJSON *nl = cJSON_GetObjectItem(ref, "first_line_nll_per_position");
    int n = cJSON_GetArraySize(ft);
    CHECK(n >= 2 && n <= 64 && cJSON_GetArraySize(nl) >= n - 1);
    if (n > 64)
        n = 64;
    int32_t tok[64];
    for (int i = 0; i < n; i++)
        tok[i] = cJSON_GetArrayItem(ft, i)->valueint;
    lg = n >= 2 ? fast_logits(m, NULL, tok, n, 0) : NULL;
    CHECK(lg != NULL);
    double wn = 0;
    for (int t = 0; lg && t + 1 < n && t < cJSON_GetArraySize(nl); t++) {
        const float *row = lg + (int64_t)t * V;
        double mx = row[0], s = 0;
        for (int v = 1; v < V; v++)
            mx = fmax(mx, row[v]);
        for (int v = 0; v < V; v++)
            s += exp(row[v] - mx);
        double nll = mx + log(s) - row[tok[t + 1]];
        double r = cJSON_GetArrayItem(nl, t)->valuedouble;
        CHECK_NEAR(nll, r, 1e-5);
        wn = fmax(wn, fabs(nll - r));
    }
    printf("  %s: first-line NLL: max |diff| %.2e\n", rel, wn);
    free(lg);
    cJSON_Delete(ref);
    ls_model_free(m);
}

static void test_stories_bin(void) { check_stories("models/stories260K/stories260K.bin"); }
static void test_stories_gguf(void) { check_stories("models/stories260K/stories260K.gguf"); }
static void test_stories_hf(void) { check_stories("models/stories260K-hf"); }
static void test_stories_hf_sharded(void) { check_stories("models/stories260K-hf-sharded"); }

/* Greedy decoding from BOS reproduces the 256 reference ids (argmax, stop at BOS). */
static void test_stories_greedy(void)
{
    NEED_SHARED(path, "models/stories260K/stories260K.bin");
    cJSON *ref = load_reference();
    if (!ref)
        SKIP("reference_outputs.json not readable");
    ls_model *m = open_model(path);
    CHECK(m != NULL);
    cJSON *ids = cJSON_GetObjectItem(cJSON_GetObjectItem(ref, "greedy_from_bos"), "ids");
    int n_ref = cJSON_GetArraySize(ids), V = m ? m->cfg.vocab_size : 0;
    int32_t seq[300] = {1};
    int n = 1, mism = 0;
    ls_fwd *f = NULL;
    ls_error e;
    if (m && ls_fwd_new(m, NULL, 300, 0, &f, &e) == 0 && ls_fwd_head_load(f, &e) == 0) {
        float *h = malloc(300 * (size_t)m->cfg.dim * sizeof *h), *lg = malloc((size_t)V * 4);
        for (int step = 0; step < 256; step++) {
            int64_t off[2] = {0, n};
            ls_fwd_seqs s = {1, seq, off};
            if (ls_fwd_run(f, &s, h, NULL, &e) != 0)
                break;
            ls_fwd_logits(f, h + (int64_t)(n - 1) * m->cfg.dim, 1, lg);
            int best = 0;
            for (int v = 1; v < V; v++)
                if (lg[v] > lg[best])
                    best = v;
            if (best == 1)
                break;
            seq[n++] = best;
        }
        for (int i = 0; i < n_ref; i++)
            if (i + 1 >= n || seq[i + 1] != cJSON_GetArrayItem(ids, i)->valueint)
                mism++;
        free(h), free(lg);
    }
    CHECK(n - 1 == n_ref);
    CHECK(mism == 0);
    ls_fwd_free(f);
    ls_model_free(m);
    cJSON_Delete(ref);
}

/* The fused attention (core/nn/attention.c, head_dim a multiple of 16, AVX-512) and the sgemm
 * fallback both against the reference: several head sizes, GQA, a sliding window, and
 * sequences that end inside a query tile and a key block. */
static void fused_spec(ls_synth_spec *s, int dim, int heads, int kv_heads)
{
    small_spec(s);
    s->cfg.dim = dim, s->cfg.n_heads = heads, s->cfg.n_kv_heads = kv_heads;
    s->cfg.head_dim = dim / heads;
    s->cfg.hidden_dim = 2 * dim;
    s->cfg.n_layers = 2;
}

static void test_fused_attention(void)
{
    printf("  fused attention usable for head_dim 64: %s\n",
           ls_attn_fused_usable(64) ? "yes" : "no (sgemm fallback only)");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            setenv("LAYERSCOPE_ATTENTION", "sgemm", 1);
        ls_synth_spec s;
        char name[64];
        fused_spec(&s, 64, 4, 2); /* head_dim 16, GQA */
        snprintf(name, sizeof name, "fwd_fused16_%d", pass);
        compare_with_ref_n(&s, LS_FORMAT_HF, name, 1e-4, 301);
        fused_spec(&s, 128, 4, 1); /* head_dim 32, 4 heads per KV head */
        snprintf(name, sizeof name, "fwd_fused32_%d", pass);
        compare_with_ref_n(&s, LS_FORMAT_GGUF, name, 1e-4, 77);
        fused_spec(&s, 128, 2, 2); /* head_dim 64, no GQA */
        snprintf(name, sizeof name, "fwd_fused64_%d", pass);
        compare_with_ref_n(&s, LS_FORMAT_HF, name, 1e-4, 150);
        fused_spec(&s, 64, 4, 2);
        s.cfg.arch = LS_ARCH_MISTRAL;
        s.cfg.sliding_window = 37; /* inside a key block, not a multiple of the tile */
        snprintf(name, sizeof name, "fwd_fused_window_%d", pass);
        compare_with_ref_n(&s, LS_FORMAT_HF, name, 1e-4, 200);
    }
    unsetenv("LAYERSCOPE_ATTENTION");
}

/* With OpenBLAS on the caller's thread (as the program runs it), large products are split
 * over our threads: the same logits as OpenBLAS's own threading. Last: it changes
 * OpenBLAS's process-wide thread count. */
static void test_caller_thread_split(void)
{
    ls_synth_spec s;
    fused_spec(&s, 256, 4, 2);
    const char *dir = t_tmpdir("fwd_split");
    char path[600];
    snprintf(path, sizeof path, "%s/hf", dir);
    ls_error e;
    CHECK(ls_write_model(path, LS_FORMAT_HF, &s, &e) == 0);
    ls_model *m = open_model(path);
    CHECK(m != NULL);
    if (!m)
        return;
    int n = 300, V = m->cfg.vocab_size;
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    make_tokens(tok, n, V, 11);
    float *a = fast_logits(m, NULL, tok, n, 0);
    ls_blas_use_caller_thread_only();
    CHECK(ls_blas_threads() == 1);
    float *b = fast_logits(m, NULL, tok, n, 0);
    CHECK(a && b);
    if (a && b) {
        double d = 0;
        for (int64_t i = 0; i < (int64_t)n * V; i++)
            d = fmax(d, fabs((double)a[i] - b[i]));
        printf("  split over our threads vs OpenBLAS's: max |difference| %.3g\n", d);
        CHECK(d <= 1e-5);
    }
    free(a), free(b), free(tok);
    ls_model_free(m);
}

/* The OpenBLAS start-up check: a warning only with a remedy in it. */
static void test_blas_check(void)
{
    char msg[256], desc[256];
    bool warn = ls_blas_check(msg, sizeof msg);
    CHECK(strlen(ls_blas_corename()) > 0 && ls_blas_threads() >= 1);
    if (warn)
        CHECK(strstr(msg, "OPENBLAS_CORETYPE=") && strstr(msg, ls_blas_corename()));
    else
        CHECK(msg[0] == '\0');
    ls_blas_describe(desc, sizeof desc);
    CHECK(strstr(desc, ls_blas_corename()) != NULL);
    printf("  %s%s%s\n", desc, warn ? "; " : "", warn ? msg : "");
}

int main(void)
{
    RUN(test_blas_check);
    RUN(test_fast_matches_ref_llama);
    RUN(test_fast_matches_ref_qwen2_bias_tied);
    RUN(test_fast_matches_ref_scalings_dtypes);
    RUN(test_layouts_agree);
    RUN(test_batch_equals_single);
    RUN(test_quantized_weights);
    RUN(test_stories_bin);
    RUN(test_stories_gguf);
    RUN(test_stories_hf);
    RUN(test_stories_hf_sharded);
    RUN(test_stories_greedy);
    RUN(test_fused_attention);
    RUN(test_caller_thread_split);
    return t_summary();
}
