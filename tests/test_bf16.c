/* --compute bf16 (core/nn/matmul_bf16.h): the oneDNN product against a double-precision
 * reference on the same bf16-rounded inputs, the primitive cache, the f32 path unchanged
 * (bit for bit) when asked through the options or when bf16 falls back, and the accuracy
 * of bf16 evaluation against f32 on stories260K, the bundled demo and a model with
 * TinyLlama-1.1B shapes: perplexity within 0.5 %, sensitivity rank correlation >= 0.99; the
 * KL divergence of bf16 from f32 and the largest |delta log-prob| are printed. Tests that
 * need bf16 hardware skip, saying why, on CPUs without AVX512-BF16 or AMX. */
#include <stdint.h>

#include "test.h"

#include "base/half.h"
#include "eval/perplexity.h"
#include "eval/sensitivity.h"
#include "formats/model.h"
#include "io/samples.h"
#include "model_writer.h"
#include "nn/blas_check.h"
#include "nn/forward.h"
#include "nn/matmul_bf16.h"
#include "tokenizer/tokenizer.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

#define NEED_BF16()                                                                     \
    char why_[160];                                                                     \
    if (!ls_bf16_supported(why_, sizeof why_))                                          \
        SKIP("no bf16 compute here: %s", why_)

static void test_parse_names(void)
{
    CHECK(ls_compute_parse("f32") == LS_COMPUTE_F32);
    CHECK(ls_compute_parse("bf16") == LS_COMPUTE_BF16);
    CHECK(ls_compute_parse("fp16") == -1);
    CHECK(ls_compute_parse("") == -1);
    CHECK_STR(ls_compute_name(LS_COMPUTE_BF16), "bf16");
    CHECK_STR(ls_compute_name(LS_COMPUTE_F32), "f32");
    char d[320];
    ls_onednn_describe(d, sizeof d);
    CHECK(strncmp(d, "oneDNN ", 7) == 0);
}

/* One product (strided x and y) against double sums over the bf16-rounded inputs. */
static double check_product(ls_mm_bf16 *mm, int threads, int64_t rows, int64_t out,
                            int64_t in, int64_t ldx, int64_t ldy, float *first_y)
{
    float *x = malloc((size_t)(rows * ldx) * sizeof *x);
    uint16_t *W = malloc((size_t)(out * in) * sizeof *W);
    float *y = malloc((size_t)(rows * ldy) * sizeof *y);
    for (int64_t i = 0; i < rows * ldx; i++)
        x[i] = frand();
    for (int64_t i = 0; i < out * in; i++)
        W[i] = ls_f32_to_bf16(frand() * 0.5f);
    for (int64_t i = 0; i < rows * ldy; i++)
        y[i] = -7.0f; /* columns beyond out must stay untouched */
    ls_mm_bf16_xwt(mm, threads, x, ldx, rows, W, out, in, y, ldy);
    ls_error e;
    CHECK(!ls_mm_bf16_failed(mm, &e));
    double worst = 0;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < out; c++) {
            double s = 0, mag = 0;
            for (int64_t k = 0; k < in; k++) {
                double t = (double)ls_bf16_to_f32(ls_f32_to_bf16(x[r * ldx + k])) *
                           ls_bf16_to_f32(W[c * in + k]);
                s += t;
                mag += fabs(t);
            }
            double err = fabs(y[r * ldy + c] - s) / (mag + 1e-30);
            worst = err > worst ? err : worst;
        }
        for (int64_t c = out; c < ldy; c++)
            CHECK(y[r * ldy + c] == -7.0f);
    }
    if (first_y)
        memcpy(first_y, y, (size_t)(rows * ldy) * sizeof *y);
    free(x), free(W), free(y);
    return worst;
}

static void test_product_against_reference(void)
{
    NEED_BF16();
    ls_mm_bf16 *mm;
    ls_error e;
    CHECK(ls_mm_bf16_new(&mm, &e) == 0);
    /* rows, out, in, ldx, ldy: tiny, odd, strided, and large enough to be split */
    static const int64_t shapes[][5] = {{1, 1, 1, 1, 1},       {3, 17, 5, 5, 17},
                                        {37, 100, 64, 70, 130}, {130, 257, 300, 300, 257},
                                        {256, 1024, 96, 96, 1030}, {64, 2048, 256, 256, 2048}};
    double worst = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int th = 1; th <= 2; th++) {
            const int64_t *s = shapes[i];
            double w = check_product(mm, th, s[0], s[1], s[2], s[3], s[4], NULL);
            worst = w > worst ? w : worst;
        }
    /* f32 accumulation of exact bf16 products: relative to the sum of magnitudes, the
     * error is a few f32 roundings */
    CHECK(worst < 1e-5);
    printf("  worst error relative to sum |terms|: %.2e\n", worst);
    ls_mm_bf16_free(mm);
}

/* More shapes than the cache holds, then the first again: the evicted primitive is made
 * anew and gives the same bits. */
static void test_cache_eviction(void)
{
    NEED_BF16();
    ls_mm_bf16 *mm;
    ls_error e;
    CHECK(ls_mm_bf16_new(&mm, &e) == 0);
    float *a = malloc(9 * 33 * sizeof *a), *b = malloc(9 * 33 * sizeof *b);
    uint64_t seed = rng;
    check_product(mm, 1, 9, 33, 40, 40, 33, a);
    for (int k = 1; k <= 40; k++)
        check_product(mm, 1, 2, k, 8, 8, k, NULL);
    rng = seed;
    double w = check_product(mm, 1, 9, 33, 40, 40, 33, b);
    CHECK(memcmp(a, b, 9 * 33 * sizeof *a) == 0);
    CHECK(w < 1e-5);
    free(a), free(b);
    ls_mm_bf16_free(mm);
}

/* Largest error of y (row stride ldy) against double sums over x (dense) and W. */
static double ref_error(const float *x, const uint16_t *W, const float *y, int64_t rows,
                        int64_t out, int64_t in, int64_t ldy)
{
    double worst = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < out; c++) {
            double s = 0, mag = 0;
            for (int64_t k = 0; k < in; k++) {
                double t = (double)ls_bf16_to_f32(ls_f32_to_bf16(x[r * in + k])) *
                           ls_bf16_to_f32(W[c * in + k]);
                s += t;
                mag += fabs(t);
            }
            double err = fabs(y[r * ldy + c] - s) / (mag + 1e-30);
            worst = err > worst ? err : worst;
        }
    return worst;
}

/* Fixed weights (ls_mm_bf16_weights_fixed) are packed once into oneDNN's layout: products
 * stay correct for split and unsplit, strided and short products; the packed copy is
 * really what they read (W overwritten behind the promise's back leaves the result as it
 * was); after ls_mm_bf16_weights_changed new contents are used. */
static void test_fixed_weights(void)
{
    NEED_BF16();
    ls_mm_bf16 *mm;
    ls_error e;
    CHECK(ls_mm_bf16_new(&mm, &e) == 0);
    const int64_t rows = 64, out = 1000, in = 256, ldy = 1010; /* split over 2 threads */
    float *x = malloc((size_t)(rows * in) * sizeof *x);
    uint16_t *W = malloc((size_t)(out * in) * sizeof *W);
    uint16_t *W2 = malloc((size_t)(out * in) * sizeof *W2);
    float *y = malloc((size_t)(rows * ldy) * sizeof *y);
    float *y_plain = malloc((size_t)(rows * ldy) * sizeof *y);
    for (int64_t i = 0; i < rows * in; i++)
        x[i] = frand();
    for (int64_t i = 0; i < out * in; i++) {
        W[i] = ls_f32_to_bf16(frand() * 0.5f);
        W2[i] = ls_f32_to_bf16(frand() * 0.5f);
    }
    ls_mm_bf16_xwt(mm, 2, x, in, rows, W, out, in, y_plain, ldy);
    ls_mm_bf16_weights_fixed(mm, W, out, in);
    double worst = 0;
    for (int th = 2; th >= 1; th--)
        for (int64_t r = rows; r >= 1; r -= 63) { /* 64 rows split; 1 row not */
            for (int64_t i = 0; i < rows * ldy; i++)
                y[i] = -7.0f;
            ls_mm_bf16_xwt(mm, th, x, in, r, W, out, in, y, ldy);
            CHECK(!ls_mm_bf16_failed(mm, &e));
            double w = ref_error(x, W, y, r, out, in, ldy);
            worst = w > worst ? w : worst;
            for (int64_t i = 0; i < r; i++)
                for (int64_t c = out; c < ldy; c++)
                    CHECK(y[i * ldy + c] == -7.0f);
        }
    CHECK(worst < 1e-5);
    /* The split product again after overwriting W: the packed copy answers. */
    ls_mm_bf16_xwt(mm, 2, x, in, rows, W, out, in, y, ldy);
    uint16_t *saved = malloc((size_t)(out * in) * sizeof *saved);
    memcpy(saved, W, (size_t)(out * in) * sizeof *W);
    memcpy(W, W2, (size_t)(out * in) * sizeof *W);
    ls_mm_bf16_xwt(mm, 2, x, in, rows, W, out, in, y, ldy);
    CHECK(ref_error(x, saved, y, rows, out, in, ldy) < 1e-5);
    CHECK(ref_error(x, W2, y, rows, out, in, ldy) > 1e-2);
    /* packed and plain weights give the same products here */
    int same = 1;
    for (int64_t i = 0; i < rows; i++)
        same &= memcmp(y + i * ldy, y_plain + i * ldy, (size_t)out * sizeof *y) == 0;
    printf("  fixed weights: worst error %.2e; packed %s plain bit for bit\n", worst,
           same ? "equals" : "differs from");
    /* The promise ended: the new contents count. */
    ls_mm_bf16_weights_changed(mm, W);
    ls_mm_bf16_xwt(mm, 2, x, in, rows, W, out, in, y, ldy);
    CHECK(ref_error(x, W2, y, rows, out, in, ldy) < 1e-5);
    ls_mm_bf16_weights_fixed(mm, W, out, in);
    ls_mm_bf16_xwt(mm, 2, x, in, rows, W, out, in, y, ldy);
    CHECK(ref_error(x, W2, y, rows, out, in, ldy) < 1e-5);
    CHECK(!ls_mm_bf16_failed(mm, &e));
    free(x), free(W), free(W2), free(y), free(y_plain), free(saved);
    ls_mm_bf16_free(mm);
}

/* Fixed weights are packed by our word copy when oneDNN chose its pair-blocked layout:
 * the products must equal, bit for bit, those from weights packed by oneDNN's own reorder
 * (LAYERSCOPE_BF16_PACK=onednn), for whole and partial blocks of both dimensions, split
 * and unsplit; an odd `in` (no whole pairs) takes the reorder. */
static void test_direct_packing(void)
{
    NEED_BF16();
    const int64_t shapes[][3] = {{64, 1000, 256}, {40, 130, 50}, {33, 64, 2}, {16, 70, 37}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t rows = shapes[s][0], out = shapes[s][1], in = shapes[s][2];
        float *x = malloc((size_t)(rows * in) * sizeof *x);
        uint16_t *W = malloc((size_t)(out * in) * sizeof *W);
        float *y[2];
        for (int k = 0; k < 2; k++)
            y[k] = malloc((size_t)(rows * out) * sizeof(float));
        for (int64_t i = 0; i < rows * in; i++)
            x[i] = frand();
        for (int64_t i = 0; i < out * in; i++)
            W[i] = ls_f32_to_bf16(frand() * 0.5f);
        int64_t direct[2];
        for (int k = 0; k < 2; k++) { /* k 0: our packing; 1: oneDNN's reorder */
            if (k == 1)
                setenv("LAYERSCOPE_BF16_PACK", "onednn", 1);
            ls_mm_bf16 *mm;
            ls_error e;
            CHECK(ls_mm_bf16_new(&mm, &e) == 0);
            ls_mm_bf16_weights_fixed(mm, W, out, in);
            ls_mm_bf16_xwt(mm, 2, x, in, rows, W, out, in, y[k], out);
            CHECK(!ls_mm_bf16_failed(mm, &e));
            direct[k] = ls_mm_bf16_direct_packs(mm);
            ls_mm_bf16_free(mm);
            unsetenv("LAYERSCOPE_BF16_PACK");
        }
        CHECK(direct[1] == 0);
        CHECK(direct[0] == (in % 2 == 0 ? 1 : 0));
        CHECK(memcmp(y[0], y[1], (size_t)(rows * out) * sizeof(float)) == 0);
        CHECK(ref_error(x, W, y[0], rows, out, in, out) < 1e-5);
        free(x), free(W), free(y[0]), free(y[1]);
    }
}

/* ---- whole-model helpers ---- */

static float *logits_of(const ls_model *m, const int32_t *tok, int n, ls_compute mode,
                        bool *used_bf16, char *note, size_t note_cap)
{
    ls_error e;
    ls_fwd *f;
    ls_fwd_opts o = {n, 0, mode, false};
    if (ls_fwd_new_opts(m, NULL, &o, &f, &e) != 0) {
        fprintf(stderr, "  %s\n", e.msg);
        return NULL;
    }
    int64_t off[2] = {0, n};
    ls_fwd_seqs s = {1, tok, off};
    float *h = malloc((size_t)n * m->cfg.dim * sizeof *h);
    float *lg = malloc((size_t)n * m->cfg.vocab_size * sizeof *lg);
    if (ls_fwd_run(f, &s, h, NULL, &e) != 0 || ls_fwd_head_load(f, &e) != 0) {
        fprintf(stderr, "  %s\n", e.msg);
        free(lg);
        lg = NULL;
    } else {
        ls_fwd_logits(f, h, n, lg);
    }
    if (used_bf16)
        *used_bf16 = f->compute == LS_COMPUTE_BF16;
    if (note)
        snprintf(note, note_cap, "%s", f->compute_note);
    free(h);
    ls_fwd_free(f);
    return lg;
}

static void log_softmax(const float *x, int V, double *out)
{
    double mx = x[0];
    for (int i = 1; i < V; i++)
        mx = x[i] > mx ? x[i] : mx;
    double s = 0;
    for (int i = 0; i < V; i++)
        s += exp(x[i] - mx);
    double lse = mx + log(s);
    for (int i = 0; i < V; i++)
        out[i] = x[i] - lse;
}

/* Mean KL(p_f32 || p_bf16) per position and max |delta log-prob| over every position and
 * vocabulary entry. */
static void compare_logits(const float *a, const float *b, int n, int V, double *kld,
                           double *maxd)
{
    double *la = malloc((size_t)V * sizeof *la), *lb = malloc((size_t)V * sizeof *lb);
    double sum = 0;
    *maxd = 0;
    for (int t = 0; t < n; t++) {
        log_softmax(a + (int64_t)t * V, V, la);
        log_softmax(b + (int64_t)t * V, V, lb);
        double k = 0;
        for (int i = 0; i < V; i++) {
            k += exp(la[i]) * (la[i] - lb[i]);
            double d = fabs(la[i] - lb[i]);
            *maxd = d > *maxd ? d : *maxd;
        }
        sum += k;
    }
    *kld = sum / n;
    free(la), free(lb);
}

/* Spearman's rank correlation (average ranks for ties). */
static void ranks(const double *v, int n, double *r)
{
    for (int i = 0; i < n; i++) {
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            less += v[j] < v[i];
            equal += v[j] == v[i];
        }
        r[i] = less + (equal + 1) / 2.0;
    }
}

static double spearman(const double *a, const double *b, int n)
{
    double *ra = malloc((size_t)n * sizeof *ra), *rb = malloc((size_t)n * sizeof *rb);
    ranks(a, n, ra);
    ranks(b, n, rb);
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++)
        ma += ra[i] / n, mb += rb[i] / n;
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    free(ra), free(rb);
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 1.0;
}

static double ppl_of(const ls_model *m, const int32_t *tok, int64_t n, int bos, int ctx,
                     ls_compute mode)
{
    ls_ppl_params p = ls_ppl_params_default(LS_PPL_LLAMACPP);
    p.ctx = ctx;
    p.compute = mode;
    ls_ppl_result r;
    ls_error e;
    if (ls_ppl_eval(m, NULL, tok, n, bos, &p, NULL, NULL, NULL, &r, &e) != 0) {
        fprintf(stderr, "  %s\n", e.msg);
        return NAN;
    }
    CHECK(r.compute == mode);
    double v = r.ppl;
    ls_ppl_result_free(&r);
    return v;
}

/* Sensitivity per (layer, part) in both modes on the same blocks; returns Spearman. */
static double sensi_corr(const ls_model *m, const int32_t *blocks, int n_blocks, int len,
                         double *worst_rel)
{
    ls_sensi_result r[2];
    ls_error e;
    for (int k = 0; k < 2; k++) {
        memset(&r[k], 0, sizeof r[k]);
        r[k].n_blocks = n_blocks;
        r[k].block_len = len;
        ls_sensi_params p = ls_sensi_params_default();
        p.compute = k ? LS_COMPUTE_BF16 : LS_COMPUTE_F32;
        p.threads = 2;
        if (ls_sensitivity_blocks(m, blocks, &p, NULL, &r[k], &e) != 0) {
            fprintf(stderr, "  %s\n", e.msg);
            CHECK(0);
            if (k)
                ls_sensi_result_free(&r[0]);
            return NAN;
        }
    }
    CHECK(r[1].compute == LS_COMPUTE_BF16);
    int L = m->cfg.n_layers, n = 0;
    double *a = calloc((size_t)L * LS_N_PARTS, sizeof *a);
    double *b = calloc((size_t)L * LS_N_PARTS, sizeof *b);
    *worst_rel = 0;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < LS_N_PARTS; k++) {
            if (k == LS_PART_ATTN_OUT && r[0].attn_out_skipped)
                continue;
            a[n] = r[0].part[l * LS_N_PARTS + k];
            b[n] = r[1].part[l * LS_N_PARTS + k];
            double rel = fabs(a[n] - b[n]) / a[n];
            *worst_rel = rel > *worst_rel ? rel : *worst_rel;
            n++;
        }
    double rho = spearman(a, b, n);
    free(a), free(b);
    ls_sensi_result_free(&r[0]);
    ls_sensi_result_free(&r[1]);
    return rho;
}

/* The accuracy checks on one model and token stream (at least 2*ctx tokens). */
static void accuracy(const char *name, const ls_model *m, const int32_t *tok, int64_t n,
                     int bos, int ctx, int sensi_blocks)
{
    double pf = ppl_of(m, tok, n, bos, ctx, LS_COMPUTE_F32);
    double pb = ppl_of(m, tok, n, bos, ctx, LS_COMPUTE_BF16);
    CHECK(isfinite(pf) && isfinite(pb));
    CHECK_REL(pb, pf, 0.005);
    bool used = false;
    float *lf = logits_of(m, tok, ctx, LS_COMPUTE_F32, NULL, NULL, 0);
    float *lb = logits_of(m, tok, ctx, LS_COMPUTE_BF16, &used, NULL, 0);
    CHECK(lf && lb && used);
    double kld = NAN, maxd = NAN;
    if (lf && lb)
        compare_logits(lf, lb, ctx, m->cfg.vocab_size, &kld, &maxd);
    CHECK(kld >= 0 && kld < 0.01);
    free(lf), free(lb);
    double worst_rel = NAN;
    double rho = sensi_corr(m, tok, sensi_blocks, ctx, &worst_rel);
    CHECK(rho >= 0.99);
    printf("  %s: PPL f32 %.6f bf16 %.6f (%+.4f %%); KLD(f32||bf16) %.3e nats/token, max "
           "|dlogprob| %.4f over %d positions; sensitivity Spearman %.4f (worst relative "
           "change %.2e)\n", name, pf, pb, 100 * (pb - pf) / pf, kld, maxd, ctx, rho,
           worst_rel);
}

static int32_t *encode_file(const ls_tokenizer *tok, const char *path, int64_t max_bytes,
                            int64_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = malloc((size_t)max_bytes + 1);
    size_t got = fread(buf, 1, (size_t)max_bytes, fp);
    fclose(fp);
    /* cut at the last newline so no UTF-8 sequence is split */
    while (got > 0 && buf[got - 1] != '\n')
        got--;
    buf[got] = '\0';
    int32_t *ids = NULL;
    size_t nid = 0;
    ls_error e;
    if (ls_tokenizer_encode(tok, buf, got, true, &ids, &nid, &e) != 0)
        ids = NULL;
    free(buf);
    *n = (int64_t)nid;
    return ids;
}

static void test_accuracy_stories260k(void)
{
    NEED_BF16();
    NEED_SHARED(mpath, "models/stories260K/stories260K.bin");
    NEED_SHARED(tpath, "models/stories260K/tok512.bin");
    NEED_SHARED(text, "text/tinystories/tinystories_valid_head.txt");
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    if (ls_model_open(mpath, NULL, &m, &e) != 0 || ls_tokenizer_open(tpath, 512, &tok, &e) != 0) {
        fprintf(stderr, "  %s\n", e.msg);
        CHECK(0);
        ls_model_free(m);
        return;
    }
    int64_t n = 0;
    int32_t *ids = encode_file(tok, text, 60000, &n);
    CHECK(ids && n >= 8 * 256);
    if (ids && n >= 8 * 256)
        accuracy("stories260K", m, ids, n, ls_tokenizer_bos(tok), 256, 8);
    free(ids);
    ls_tokenizer_free(tok);
    ls_model_free(m);
}

static void test_accuracy_demo(void)
{
    NEED_BF16();
    char mpath[1024], epath[1024];
    ls_sample_path("demo", mpath, sizeof mpath);
    ls_sample_path("eval.txt", epath, sizeof epath);
    if (!ls_sample_exists("demo") || !ls_sample_exists("eval.txt"))
        SKIP("the bundled demo is missing (%.400s)", mpath);
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    if (ls_model_open(mpath, NULL, &m, &e) != 0 ||
        ls_tokenizer_for_model(m, NULL, &tok, &e) != 0) {
        fprintf(stderr, "  %s\n", e.msg);
        CHECK(0);
        ls_model_free(m);
        return;
    }
    int64_t n = 0;
    int32_t *ids = encode_file(tok, epath, 40000, &n);
    CHECK(ids && n >= 8 * 256);
    if (ids && n >= 8 * 256)
        accuracy("demo", m, ids, n, ls_tokenizer_bos(tok), 256, 8);
    free(ids);
    ls_tokenizer_free(tok);
    ls_model_free(m);
}

/* TinyLlama-1.1B shapes (dim 2048, hidden 5632, 32/4 heads, vocab 32000, BF16), 2 layers,
 * with heavy-tailed columns in one matrix so the sensitivities differ; random tokens. */
static void test_accuracy_bench_shape(void)
{
    NEED_BF16();
    const char *dir = t_tmpdir("test_bf16");
    CHECK(dir != NULL);
    if (!dir)
        return;
    ls_synth_spec spec;
    ls_error e;
    CHECK(ls_synth_preset("1b", &spec, &e) == 0);
    spec.cfg.n_layers = 2;
    spec.n_outliers = 1;
    spec.outliers[0] = (ls_outlier){1, LS_MOD_DOWN, LS_OUTLIER_COLS, 30.0};
    char mdir[600];
    snprintf(mdir, sizeof mdir, "%s/hf", dir);
    ls_model *m = NULL;
    if (ls_write_hf_dir(mdir, &spec, 1, &e) != 0 || ls_model_open(mdir, NULL, &m, &e) != 0) {
        fprintf(stderr, "  %s\n", e.msg);
        CHECK(0);
        return;
    }
    int ctx = 256;
    int64_t n = 4 * ctx;
    int32_t *tok = malloc((size_t)n * sizeof *tok);
    uint32_t x = 777;
    for (int64_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        tok[i] = (int32_t)((x >> 8) % (uint32_t)m->cfg.vocab_size);
    }
    accuracy("TinyLlama shapes, 2 layers", m, tok, n, 1, ctx, 2);
    free(tok);
    ls_model_free(m);
}

/* f32 through the options, and bf16 falling back (LAYERSCOPE_NO_BF16), give exactly the
 * logits of ls_fwd_new: the f32 path is untouched. Runs on every CPU. */
static void test_f32_unchanged_and_fallback(void)
{
    const char *dir = t_tmpdir("test_bf16_tiny");
    CHECK(dir != NULL);
    if (!dir)
        return;
    ls_synth_spec spec;
    ls_error e;
    CHECK(ls_synth_preset("tiny", &spec, &e) == 0);
    spec.cfg.n_layers = 3;
    char mdir[600];
    snprintf(mdir, sizeof mdir, "%s/hf", dir);
    ls_model *m = NULL;
    if (ls_write_hf_dir(mdir, &spec, 1, &e) != 0 || ls_model_open(mdir, NULL, &m, &e) != 0) {
        fprintf(stderr, "  %s\n", e.msg);
        CHECK(0);
        return;
    }
    int n = 40;
    int32_t tok[40];
    for (int i = 0; i < n; i++)
        tok[i] = (i * 37 + 5) % m->cfg.vocab_size;
    /* the reference: ls_fwd_new as before this option existed */
    ls_fwd *f;
    CHECK(ls_fwd_new(m, NULL, n, 0, &f, &e) == 0);
    int64_t off[2] = {0, n};
    ls_fwd_seqs s = {1, tok, off};
    size_t nl = (size_t)n * m->cfg.vocab_size;
    float *h = malloc((size_t)n * m->cfg.dim * sizeof *h), *ref = malloc(nl * sizeof *ref);
    CHECK(ls_fwd_run(f, &s, h, NULL, &e) == 0 && ls_fwd_head_load(f, &e) == 0);
    ls_fwd_logits(f, h, n, ref);
    CHECK(f->compute == LS_COMPUTE_F32 && f->compute_note[0] == '\0');
    ls_fwd_free(f);
    free(h);
    bool used = true;
    char note[200];
    float *a = logits_of(m, tok, n, LS_COMPUTE_F32, &used, note, sizeof note);
    CHECK(a && !used && note[0] == '\0');
    if (a)
        CHECK(memcmp(a, ref, nl * sizeof *a) == 0);
    const char *was = getenv("LAYERSCOPE_NO_BF16");
    char saved[64];
    snprintf(saved, sizeof saved, "%s", was ? was : "");
    setenv("LAYERSCOPE_NO_BF16", "1", 1);
    float *b = logits_of(m, tok, n, LS_COMPUTE_BF16, &used, note, sizeof note);
    if (was)
        setenv("LAYERSCOPE_NO_BF16", saved, 1);
    else
        unsetenv("LAYERSCOPE_NO_BF16");
    CHECK(b && !used);
    CHECK(strstr(note, "LAYERSCOPE_NO_BF16") != NULL && strstr(note, "f32") != NULL);
    if (b)
        CHECK(memcmp(b, ref, nl * sizeof *b) == 0);
    /* and with bf16 where it runs: close to f32, not equal */
    char why[160];
    if (ls_bf16_supported(why, sizeof why)) {
        float *c = logits_of(m, tok, n, LS_COMPUTE_BF16, &used, note, sizeof note);
        CHECK(c && used && note[0] == '\0');
        if (c) {
            CHECK(memcmp(c, ref, nl * sizeof *c) != 0);
            double worst = 0;
            for (size_t i = 0; i < nl; i++)
                worst = fmax(worst, fabs(c[i] - ref[i]));
            CHECK(worst < 0.1);
        }
        free(c);
    }
    free(a), free(b), free(ref);
    ls_model_free(m);
}

int main(void)
{
    ls_blas_use_caller_thread_only(); /* as the program runs */
    RUN(test_parse_names);
    RUN(test_f32_unchanged_and_fallback);
    RUN(test_product_against_reference);
    RUN(test_cache_eviction);
    RUN(test_fixed_weights);
    RUN(test_direct_packing);
    RUN(test_accuracy_stories260k);
    RUN(test_accuracy_demo);
    RUN(test_accuracy_bench_shape);
    return t_summary();
}
