/* Activation sensitivity (docs/method.md §3): calibration sampling (shuffle, skipping, blocks),
 * the four parts against a direct computation on a synthetic model, the GQA rule, the CSV
 * round trip through the importer, bad input and cancel; with ../shared and the tokenizer,
 * the reference tables of docs/method.md §3.7 on stories260K (both orders). */
#include <stdint.h>

#include "test.h"

#include "nn/forward.h"
#include "quant/hqq.h"
#include "method/import.h"
#include "formats/model.h"
#include "model_writer.h"
#include "method/profile.h"
#include "base/progress.h"
#include "eval/sensitivity.h"
#include "tokenizer/tokenizer.h"

/* ---------------------------------------------------------------- stories260K */

typedef struct ref_row {
    double attn_in, mlp_gate, mlp_down, attn_out;
} ref_row;

static const ref_row REF_NOSHUF[5] = {
    {4.060240e-03, 1.168415e-03, 9.640300e-04, 2.131045e-04},
    {5.658217e-03, 2.660860e-03, 1.064141e-03, 1.683951e-04},
    {4.544629e-03, 4.067118e-03, 1.794764e-03, 2.166852e-04},
    {1.285834e-02, 9.430062e-03, 3.760799e-03, 4.261099e-04},
    {9.430132e-03, 1.808082e-02, 8.592428e-03, 9.635895e-04},
};
static const ref_row REF_SHUF[5] = {
    {4.230726e-03, 1.176900e-03, 9.721405e-04, 2.151088e-04},
    {5.896757e-03, 2.679499e-03, 1.083654e-03, 1.708034e-04},
    {4.508803e-03, 4.128983e-03, 1.771944e-03, 2.008868e-04},
    {1.265050e-02, 9.478611e-03, 3.800723e-03, 4.226277e-04},
    {8.610942e-03, 1.738102e-02, 8.418792e-03, 8.453892e-04},
};

static void check_stories(const char *model_rel, bool shuffle)
{
    NEED_SHARED(mpath, model_rel);
    NEED_SHARED(tpath, "models/stories260K/tok512.bin");
    NEED_SHARED(cpath, "text/tinystories/tinystories_valid_head.txt");
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    CHECK(ls_model_open(mpath, NULL, &m, &e) == 0);
    if (ls_tokenizer_open(tpath, 512, &tok, &e) != 0) {
        ls_model_free(m);
        SKIP("tokenizer: %.200s", e.msg);
    }
    ls_sensi_params p = ls_sensi_params_default();
    p.shuffle = shuffle;
    ls_sensi_result r;
    int rc = ls_sensitivity_run(m, tok, cpath, &p, NULL, &r, &e);
    CHECK(rc == 0);
    if (rc != 0) {
        fprintf(stderr, "  %s\n", e.msg);
    } else {
        static const int32_t first_ns[12] = {1, 301, 427, 309, 426, 301, 427, 309, 394, 265,
                                             262, 415};
        static const int32_t first_sh[12] = {1, 368, 414, 430, 286, 261, 270, 425, 423, 303,
                                             426, 346};
        const int32_t *first = shuffle ? first_sh : first_ns;
        CHECK(r.n_docs == 128);
        CHECK(r.n_tokens == (shuffle ? 11517 : 12330));
        CHECK(r.n_blocks == (shuffle ? 22 : 24));
        CHECK(r.block_len == 512);
        for (int i = 0; i < 12; i++)
            CHECK(r.first_tokens[i] == first[i]);
        if (shuffle)
            CHECK(strncmp(r.first_doc, "Bob was a human. He had one unusual thing he liked to do.",
                          56) == 0);
        CHECK(r.attn_out_skipped);
        const ref_row *ref = shuffle ? REF_SHUF : REF_NOSHUF;
        double worst = 0;
        for (int l = 0; l < 5; l++) {
            const double *pt = &r.part[l * LS_N_PARTS];
            double want[4] = {ref[l].attn_in, ref[l].attn_out, ref[l].mlp_gate, ref[l].mlp_down};
            for (int k = 0; k < 4; k++) {
                CHECK_REL(pt[k], want[k], 1e-3);
                worst = fmax(worst, fabs(pt[k] - want[k]) / want[k]);
            }
            CHECK(r.module[LS_IDX(l, LS_MOD_O)] == pt[LS_PART_ATTN_IN]);
            CHECK(r.module[LS_IDX(l, LS_MOD_UP)] == pt[LS_PART_MLP_GATE]);
        }
        printf("  %s %s: %d blocks, worst relative error %.2e, %.2f s\n", model_rel,
               shuffle ? "shuffle" : "no shuffle", r.n_blocks, worst, r.seconds);
        ls_sensi_result_free(&r);
    }
    ls_tokenizer_free(tok);
    ls_model_free(m);
}

static void test_stories_no_shuffle(void)
{
    check_stories("models/stories260K/stories260K.bin", false);
}
static void test_stories_shuffle(void)
{
    check_stories("models/stories260K/stories260K.bin", true);
}
static void test_stories_hf_no_shuffle(void)
{
    check_stories("models/stories260K-hf", false);
}

/* ---------------------------------------------------------------- synthetic */

static ls_model *synth(const char *name, int kv_heads)
{
    ls_synth_spec s;
    ls_error e;
    ls_synth_preset("tiny", &s, &e);
    s.cfg.n_layers = 2;
    s.cfg.n_kv_heads = kv_heads;
    const char *d = t_tmpdir(name);
    char p[600];
    snprintf(p, sizeof p, "%s/m.gguf", d);
    ls_model *m = NULL;
    if (ls_write_gguf(p, &s, &e) != 0 || ls_model_open(p, NULL, &m, &e) != 0)
        return NULL;
    return m;
}

static void fill_blocks(int32_t *b, int n)
{
    uint32_t x = 17;
    for (int i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        b[i] = (int32_t)((x >> 8) % 512u);
    }
}

/* Direct computation of mlp_down of layer 0 and attn_out of layer 1 (no GQA) with the
 * building blocks and the naive quantize-dequantize, against the observer's values. */
static void test_parts_direct(void)
{
    ls_model *m = synth("sens_direct", 8);
    CHECK(m != NULL);
    if (!m)
        return;
    int nb = 3, T = 40;
    int32_t blocks[120];
    fill_blocks(blocks, nb * T);
    ls_sensi_params p = ls_sensi_params_default();
    ls_sensi_result r;
    memset(&r, 0, sizeof r);
    r.n_blocks = nb, r.block_len = T;
    ls_error e;
    CHECK(ls_sensitivity_blocks(m, blocks, &p, NULL, &r, &e) == 0);
    CHECK(!r.attn_out_skipped); /* 8 KV heads: v and o have the same shape */
    /* Layer 0 by hand: embeddings, attention block, MLP input, quantized down_proj. */
    ls_fwd *f = NULL;
    CHECK(ls_fwd_new(m, NULL, T, 0, &f, &e) == 0);
    ls_layer_f32 w;
    CHECK(ls_layer_f32_init(&w, m, &e) == 0);
    CHECK(ls_layer_f32_load(&w, m, NULL, 0, &e) == 0);
    int dim = m->cfg.dim, hid = m->cfg.hidden_dim;
    int64_t rows = nb * T;
    float *x = malloc((size_t)rows * dim * 4), *xn = malloc((size_t)rows * dim * 4);
    float *o = malloc((size_t)rows * dim * 4), *act = malloc((size_t)rows * hid * 4);
    float *y = malloc((size_t)rows * dim * 4), *yq = malloc((size_t)rows * dim * 4);
    float *wq = malloc((size_t)dim * hid * 4);
    for (int64_t t = 0; t < rows; t++)
        for (int i = 0; i < dim; i++)
            x[t * dim + i] = ls_tensor_get(m->tok_emb, (int64_t)blocks[t] * dim + i);
    int lens[3] = {T, T, T};
    ls_fwd_rmsnorm(f->threads, x, w.attn_norm, rows, dim, m->cfg.norm_eps, xn);
    ls_fwd_attention(f, &w, &f->s, xn, nb, lens, NULL, o);
    for (int64_t i = 0; i < rows * dim; i++)
        x[i] += o[i];
    ls_fwd_rmsnorm(f->threads, x, w.ffn_norm, rows, dim, m->cfg.norm_eps, xn);
    ls_fwd_mlp(f, &w, &f->s, xn, rows, act, y);
    ls_hqq_cfg hc;
    ls_hqq_cfg_default(&hc, 4, 64);
    hc.quant_scale = hc.quant_zero = hc.round_zero = false;
    ls_hqq_result hr;
    CHECK(ls_hqq_quantize("down", w.w[LS_MOD_DOWN], dim, hid, &hc, 1, &hr, &e) == 0);
    ls_hqq_dequantize(&hr, wq);
    ls_hqq_free(&hr);
    ls_fwd_linear(f->threads, act, rows, wq, dim, hid, yq);
    double sse = 0;
    for (int64_t i = 0; i < rows * dim; i++)
        sse += ((double)y[i] - yq[i]) * ((double)y[i] - yq[i]);
    CHECK_REL(r.part[LS_PART_MLP_DOWN], sse / (double)(rows * dim), 1e-9);
    CHECK(r.module[LS_IDX(1, LS_MOD_O)] == r.part[LS_N_PARTS + LS_PART_ATTN_OUT]);
    CHECK(r.part[LS_PART_ATTN_IN] > 0 && r.part[LS_PART_MLP_GATE] > 0);
    free(x), free(xn), free(o), free(act), free(y), free(yq), free(wq);
    ls_layer_f32_free(&w);
    ls_fwd_free(f);
    /* CSV round trip: all four parts without GQA. */
    snprintf(r.dataset, sizeof r.dataset, "synthcal");
    const char *d = t_tmpdir("sens_csv");
    char csv[600];
    snprintf(csv, sizeof csv, "%s/sensitivity-synth.csv", d);
    CHECK(ls_sensitivity_write_csv(csv, &r, "synth", &e) == 0);
    ls_profile *pr = NULL;
    ls_sensi_select sel = {"synthcal", 4, 64};
    CHECK(ls_import_sensitivity(csv, &sel, &pr, &e) == 0);
    if (pr) {
        CHECK(pr->n_layers == 2);
        for (int i = 0; i < 2 * LS_N_MODULES; i++)
            CHECK(pr->sensitivity[i] == r.module[i]);
        ls_profile_free(pr);
    }
    /* into a model profile */
    ls_profile *mp = ls_profile_from_model(m, &e);
    CHECK(mp && ls_sensitivity_to_profile(&r, mp, &e) == 0);
    if (mp) {
        CHECK(mp->sensitivity[LS_IDX(1, LS_MOD_GATE)] == r.part[LS_N_PARTS + LS_PART_MLP_GATE]);
        CHECK(strstr(mp->sensitivity_source, "synthcal") != NULL);
        ls_profile_free(mp);
    }
    ls_sensi_result_free(&r);
    ls_model_free(m);
}

/* GQA: attn_out is left out of the CSV and o_proj takes attn_in on import too. */
static void test_gqa_csv(void)
{
    ls_model *m = synth("sens_gqa", 4);
    CHECK(m != NULL);
    if (!m)
        return;
    int32_t blocks[64];
    fill_blocks(blocks, 64);
    ls_sensi_params p = ls_sensi_params_default();
    p.nbits = 3, p.group_size = 128;
    ls_sensi_result r;
    memset(&r, 0, sizeof r);
    r.n_blocks = 2, r.block_len = 32;
    snprintf(r.dataset, sizeof r.dataset, "x");
    ls_error e;
    CHECK(ls_sensitivity_blocks(m, blocks, &p, NULL, &r, &e) == 0);
    CHECK(r.attn_out_skipped && r.nbits == 3 && r.group_size == 128);
    CHECK(r.module[LS_IDX(0, LS_MOD_O)] == r.part[LS_PART_ATTN_IN]);
    const char *d = t_tmpdir("sens_gqa_csv");
    char csv[600];
    snprintf(csv, sizeof csv, "%s/s.csv", d);
    CHECK(ls_sensitivity_write_csv(csv, &r, "g", &e) == 0);
    ls_profile *pr = NULL;
    ls_sensi_select sel = {"x", 3, 128};
    CHECK(ls_import_sensitivity(csv, &sel, &pr, &e) == 0);
    if (pr) {
        for (int i = 0; i < 2 * LS_N_MODULES; i++)
            CHECK(pr->sensitivity[i] == r.module[i]);
        ls_profile_free(pr);
    }
    FILE *f = fopen(csv, "r");
    char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
    CHECK(strstr(buf, "attn_out") == NULL);
    CHECK(strncmp(buf, "dataset,part,model,nbits,group_size,layer,sensitivity\n", 54) == 0);
    ls_sensi_result_free(&r);
    ls_model_free(m);
}

static void test_cancel(void)
{
    ls_model *m = synth("sens_cancel", 4);
    CHECK(m != NULL);
    if (!m)
        return;
    int32_t blocks[64];
    fill_blocks(blocks, 64);
    ls_sensi_params p = ls_sensi_params_default();
    ls_sensi_result r;
    memset(&r, 0, sizeof r);
    r.n_blocks = 2, r.block_len = 32;
    ls_progress pr;
    ls_progress_init(&pr);
    ls_progress_cancel(&pr);
    ls_error e;
    CHECK(ls_sensitivity_blocks(m, blocks, &p, &pr, &r, &e) == -1);
    CHECK(strstr(e.msg, "cancelled") != NULL && r.part == NULL && r.module == NULL);
    ls_progress_destroy(&pr);
    ls_model_free(m);
}

/* Calibration text: too short, empty, not UTF-8, mismatched tokenizer; options. */
static void test_calibration_input(void)
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
    const char *d = t_tmpdir("sens_calib");
    char shortf[600], empty[600], bad[600], lines[600];
    snprintf(shortf, sizeof shortf, "%s/short.txt", d);
    snprintf(empty, sizeof empty, "%s/empty.txt", d);
    snprintf(bad, sizeof bad, "%s/bad.txt", d);
    snprintf(lines, sizeof lines, "%s/lines.txt", d);
    FILE *f = fopen(shortf, "w");
    fputs("Once upon a time.\n\n   \nThe end.\n", f);
    fclose(f);
    f = fopen(empty, "w");
    fclose(f);
    f = fopen(bad, "w");
    fputs("ok\n\xff\n", f);
    fclose(f);
    /* 40 short lines and one very long line that must be skipped */
    f = fopen(lines, "w");
    for (int i = 0; i < 40; i++) {
        for (int k = 0; k < 1 + i % 4; k++)
            fputs("the cat sat on the mat ", f);
        fputs("\n", f);
        if (i == 3) {
            for (int k = 0; k < 400; k++)
                fputs("a very long line ", f);
            fputs("\n", f);
        }
    }
    fclose(f);
    ls_sensi_params p = ls_sensi_params_default();
    ls_sensi_result r;
    int32_t *blocks = NULL;
    CHECK(ls_calib_blocks(shortf, tok, m, &p, &blocks, &r, &e) == -1);
    CHECK(strstr(e.msg, "calibration text too short") && strstr(e.msg, "2 documents"));
    CHECK(ls_calib_blocks(empty, tok, m, &p, &blocks, &r, &e) == -1 && strstr(e.msg, "empty"));
    CHECK(ls_calib_blocks(bad, tok, m, &p, &blocks, &r, &e) == -1 && strstr(e.msg, "UTF-8"));
    p.shuffle = false;
    p.seqlen = 100;
    p.n_samples = 10;
    CHECK(ls_calib_blocks(lines, tok, m, &p, &blocks, &r, &e) == 0);
    CHECK(r.n_docs == 10 && r.n_skipped_long == 1 && r.block_len == 100);
    CHECK(r.n_blocks == (int)(r.n_tokens / 100) && blocks[0] == 1);
    free(blocks);
    p.seqlen = 5000; /* clamped to the model's context 512 */
    p.n_samples = 128;
    CHECK(ls_calib_blocks(lines, tok, m, &p, &blocks, &r, &e) == 0);
    CHECK(r.block_len == 512 && r.n_skipped_long == 1 && r.n_docs == 40);
    CHECK(strcmp(r.dataset, "lines") == 0);
    free(blocks);
    ls_tokenizer_free(tok);
    const char *vocab = t_shared("models/ggml-vocab-llama-spm/ggml-vocab-llama-spm.gguf");
    if (vocab && ls_tokenizer_open(vocab, 0, &tok, &e) == 0) {
        CHECK(ls_calib_blocks(lines, tok, m, &p, &blocks, &r, &e) == -1);
        CHECK(strstr(e.msg, "does not match") != NULL);
        ls_tokenizer_free(tok);
    }
    ls_model_free(m);
}

int main(void)
{
    RUN(test_parts_direct);
    RUN(test_gqa_csv);
    RUN(test_cancel);
    RUN(test_calibration_input);
    RUN(test_stories_no_shuffle);
    RUN(test_stories_shuffle);
    RUN(test_stories_hf_no_shuffle);
    return t_summary();
}
