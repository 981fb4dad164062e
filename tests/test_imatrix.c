/* Importance matrices: the legacy reader on llama.cpp's own file, the GGUF writer/reader
 * round trip, recognition by content, bad input (truncation, wrong general.type, unknown
 * and expert names, NaN/negative values, shapes), the show-statistics numbers, the
 * imatrix-weighted error, the calibration-pass capture, and the agreement statistics
 * (Spearman against scipy when installed, and by hand). */
#include "test.h"

#include "batch_run.h"

#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/mapfile.h"
#include "cli/batch.h"
#include "cli/options.h"
#include "eval/sensitivity.h"
#include "formats/imatrix.h"
#include "io/imatrix_profile.h"
#include "io/source.h"
#include "method/agreement.h"
#include "nn/forward.h"
#include "quant/imatrix_error.h"
#include "tokenizer/tokenizer.h"

/* ---- byte builders for hand-made files ---- */

typedef struct buf {
    uint8_t d[1 << 16];
    size_t n;
} buf;

static void put_i32(buf *b, int32_t v)
{
    memcpy(b->d + b->n, &v, 4);
    b->n += 4;
}

static void put_f32(buf *b, float v)
{
    memcpy(b->d + b->n, &v, 4);
    b->n += 4;
}

static void put_entry(buf *b, const char *name, int32_t ncall, int32_t n, const float *v)
{
    put_i32(b, (int32_t)strlen(name));
    memcpy(b->d + b->n, name, strlen(name));
    b->n += strlen(name);
    put_i32(b, ncall);
    put_i32(b, n);
    for (int i = 0; i < n; i++)
        put_f32(b, v[i]);
}

static void write_bytes(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

/* A legacy file of 2 layers x 7 modules, 4 channels each, value(l, m, j) = ncall *
 * (1 + l + m + j/4). */
static void legacy_small(buf *b, bool tail)
{
    static const char *const g[7] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                     "ffn_gate", "ffn_up", "ffn_down"};
    b->n = 0;
    put_i32(b, 14);
    for (int l = 0; l < 2; l++)
        for (int m = 0; m < 7; m++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, g[m]);
            float v[4];
            for (int j = 0; j < 4; j++)
                v[j] = 10.0f * (1 + l + m + j / 4.0f);
            put_entry(b, name, 10, 4, v);
        }
    if (tail) {
        put_i32(b, 7);
        put_i32(b, 5);
        memcpy(b->d + b->n, "wiki2", 5);
        b->n += 5;
    }
}

/* ---- the real legacy file ---- */

static void test_legacy_tinyllama(void)
{
    NEED_SHARED(path, "data/imatrix/tinyllama-1.1b.imatrix.dat");
    CHECK(ls_imatrix_sniff(path) == LS_IMATRIX_IS_LEGACY);
    ls_imatrix *im;
    ls_error e;
    int rc = ls_imatrix_read(path, &im, &e);
    CHECK(rc == 0);
    if (rc != 0) {
        fprintf(stderr, "  %s\n", e.msg);
        return;
    }
    CHECK(im->format == LS_IMATRIX_LEGACY);
    CHECK(im->n_entries == 154);
    CHECK(im->n_layers == 22);
    CHECK(im->chunks == 365);
    CHECK_STR(im->dataset, "imatrix-training-full-3");
    CHECK(im->n_warnings == 0);
    for (int i = 0; i < im->n_entries; i++) {
        CHECK(im->entries[i].count == 365); /* every entry's ncall */
        CHECK(!im->entries[i].bad);
        CHECK(im->entries[i].n_cols == (im->entries[i].module == LS_MOD_DOWN ? 5632 : 2048));
    }
    /* Spot values read independently (Python struct) from the file. */
    int q0 = ls_imatrix_find(im, 0, LS_MOD_Q), d21 = ls_imatrix_find(im, 21, LS_MOD_DOWN);
    int o10 = ls_imatrix_find(im, 10, LS_MOD_O);
    CHECK(q0 >= 0 && d21 >= 0 && o10 >= 0);
    if (q0 >= 0 && d21 >= 0 && o10 >= 0) {
        CHECK_STR(im->entries[d21].name, "blk.21.ffn_down.weight");
        CHECK(im->entries[q0].sum2[0] == 1319.2769775390625f);
        CHECK(im->entries[q0].sum2[100] == 165.04734802246094f);
        CHECK(im->entries[q0].sum2[2047] == 175.8236846923828f);
        CHECK(im->entries[d21].sum2[100] == 15911.0322265625f);
        CHECK_NEAR(ls_imatrix_mean(&im->entries[q0], 0), 1319.2769775390625 / 365, 1e-15);
        CHECK_REL(ls_imatrix_energy(&im->entries[q0]), 2042.919316874466, 1e-12);
        CHECK_REL(ls_imatrix_energy(&im->entries[d21]), 116135.83321081725, 1e-12);
        CHECK_REL(ls_imatrix_energy(&im->entries[o10]), 463.99145600305866, 1e-12);
        ls_act_stats st;
        ls_imatrix_stats(im, q0, &st);
        CHECK(st.known && st.n == 2048);
        CHECK_REL(st.sum, 2042.919316874466, 1e-12);
        CHECK_REL(st.mean, 2042.919316874466 / 2048, 1e-12);
        CHECK(isnan(st.cossim)); /* layer 0 has no previous layer */
        ls_imatrix_stats(im, d21, &st);
        CHECK(st.cossim > 0 && st.cossim <= 1.0 + 1e-12);
        CHECK(st.entropy > 0 && st.entropy <= log2(5632.0) + 1e-9);
        CHECK(st.active > 0 && st.active <= 1);
    }
    /* As a profile: act_energy fills the sensitivity column. */
    ls_profile *p;
    CHECK(ls_imatrix_to_profile(im, &p, &e) == 0);
    if (p) {
        CHECK(p->n_layers == 22);
        CHECK_STR(p->sensitivity_label, "imatrix energy");
        CHECK_REL(p->sensitivity[LS_IDX(21, LS_MOD_DOWN)], 116135.83321081725, 1e-12);
        CHECK_REL(p->act_energy[LS_IDX(0, LS_MOD_Q)], 2042.919316874466, 1e-12);
        CHECK(p->imatrix.entries == 154 && p->imatrix.chunks == 365);
        CHECK_STR(p->imatrix.format, "legacy");
        ls_profile_free(p);
    }
    ls_imatrix_free(im);
}

/* ---- GGUF round trip ---- */

static void test_gguf_round_trip(void)
{
    buf b;
    legacy_small(&b, true);
    ls_imatrix *im;
    ls_error e;
    CHECK(ls_imatrix_parse("small.dat", b.d, b.n, &im, &e) == 0);
    if (!im)
        return;
    CHECK(im->n_entries == 14 && im->chunks == 7);
    CHECK_STR(im->dataset, "wiki2");
    im->chunk_size = 512;
    im->entries[3].sum2[2] = 123.456f; /* something not on a pattern */
    const char *dir = t_tmpdir("imatrix_rt");
    char path[600];
    snprintf(path, sizeof path, "%s/rt.gguf", dir);
    CHECK(ls_imatrix_write_gguf(path, im, &e) == 0);
    CHECK(ls_imatrix_sniff(path) == LS_IMATRIX_IS_GGUF);
    ls_imatrix *back;
    int rc = ls_imatrix_read(path, &back, &e);
    CHECK(rc == 0);
    if (rc == 0) {
        CHECK(back->format == LS_IMATRIX_GGUF);
        CHECK(back->n_entries == 14);
        CHECK(back->chunks == 7 && back->chunk_size == 512);
        CHECK_STR(back->dataset, "wiki2");
        for (int i = 0; i < im->n_entries; i++) {
            const ls_imatrix_entry *a = &im->entries[i];
            int j = ls_imatrix_find(back, a->layer, a->module);
            CHECK(j >= 0);
            if (j < 0)
                continue;
            const ls_imatrix_entry *c = &back->entries[j];
            CHECK_STR(c->name, a->name);
            CHECK(c->n_cols == a->n_cols && c->count == a->count);
            CHECK(memcmp(c->sum2, a->sum2, (size_t)a->n_cols * 4) == 0);
            CHECK(ls_imatrix_energy(c) == ls_imatrix_energy(a));
        }
        ls_imatrix_free(back);
    }
    ls_imatrix_free(im);
}

/* ---- recognition ---- */

static void test_sniff(void)
{
    const char *dir = t_tmpdir("imatrix_sniff");
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/a.bin", dir);
    snprintf(p2, sizeof p2, "%s/b.csv", dir);
    buf b;
    legacy_small(&b, false);
    write_bytes(p1, b.d, b.n);
    CHECK(ls_imatrix_sniff(p1) == LS_IMATRIX_IS_LEGACY); /* by content, not by name */
    write_bytes(p2, "layer,module\n0,q\n", 17);
    CHECK(ls_imatrix_sniff(p2) == LS_IMATRIX_NOT);
    const char *bin = t_shared("models/stories260K/stories260K.bin");
    if (bin)
        CHECK(ls_imatrix_sniff(bin) == LS_IMATRIX_NOT);
    const char *gg = t_shared("models/stories260K/stories260K.gguf");
    if (gg)
        CHECK(ls_imatrix_sniff(gg) == LS_IMATRIX_NOT);
    /* ls_source_open takes it as a profile. */
    ls_source_options so;
    memset(&so, 0, sizeof so);
    ls_model *m;
    ls_profile *p;
    ls_error e;
    CHECK(ls_source_open(p1, &so, &m, &p, &e) == 0);
    CHECK(m == NULL);
    if (p) {
        CHECK(p->n_layers == 2);
        CHECK_STR(p->source, "imatrix-legacy");
        /* layer 1, ffn_down (m = 6): sum_j (1 + 1 + 6 + j/4) = 4 * 8 + 1.5 */
        CHECK_NEAR(p->sensitivity[LS_IDX(1, LS_MOD_DOWN)], 33.5, 1e-6);
        ls_profile_free(p);
    }
}

/* ---- bad input ---- */

static void test_bad_input(void)
{
    buf b;
    ls_imatrix *im;
    ls_error e;
    /* every truncation fails with one line or parses the entries before the tail */
    legacy_small(&b, true);
    size_t full = b.n;
    for (size_t n = 0; n < full; n++) {
        int rc = ls_imatrix_parse("t.dat", b.d, n, &im, &e);
        if (rc == 0) {
            CHECK(n >= full - 13); /* only the optional tail may be cut */
            ls_imatrix_free(im);
        } else {
            CHECK(strncmp(e.msg, "t.dat: ", 7) == 0 && !strchr(e.msg, '\n'));
        }
    }
    CHECK(ls_imatrix_parse("t.dat", b.d, full - 200, &im, &e) == -1 && strstr(e.msg, "truncated"));

    /* a NaN and a negative entry: warnings naming them; the rest is used */
    legacy_small(&b, false);
    float nanv = NAN, neg = -1.0f;
    size_t first_val = 4 + 4 + strlen("blk.0.attn_q.weight") + 8;
    memcpy(b.d + first_val, &nanv, 4);
    size_t second = first_val + 16 + 4 + strlen("blk.0.attn_k.weight") + 8;
    memcpy(b.d + second + 4, &neg, 4);
    CHECK(ls_imatrix_parse("v.dat", b.d, b.n, &im, &e) == 0);
    if (im) {
        CHECK(im->n_warnings == 2);
        CHECK(strstr(im->warnings[0], "blk.0.attn_q.weight") != NULL);
        CHECK(strstr(im->warnings[1], "blk.0.attn_k.weight") && strstr(im->warnings[1], "-1"));
        CHECK(im->entries[0].bad && im->entries[1].bad && !im->entries[2].bad);
        CHECK(isnan(ls_imatrix_energy(&im->entries[0])));
        ls_imatrix_free(im);
    }

    /* unknown names: warned and skipped; expert tensors: refused */
    b.n = 0;
    put_i32(&b, 2);
    float v[2] = {1, 2};
    put_entry(&b, "output.weight", 1, 2, v);
    put_entry(&b, "blk.0.ffn_up.weight", 1, 2, v);
    CHECK(ls_imatrix_parse("u.dat", b.d, b.n, &im, &e) == 0);
    if (im) {
        CHECK(im->n_entries == 1 && im->n_warnings == 1);
        CHECK(strstr(im->warnings[0], "output.weight") != NULL);
        ls_imatrix_free(im);
    }
    b.n = 0;
    put_i32(&b, 1);
    put_entry(&b, "output.weight", 1, 2, v);
    CHECK(ls_imatrix_parse("u.dat", b.d, b.n, &im, &e) == -1 && strstr(e.msg, "no entry"));
    b.n = 0;
    put_i32(&b, 1);
    put_entry(&b, "blk.3.ffn_down_exps.weight", 1, 2, v);
    CHECK(ls_imatrix_parse("x.dat", b.d, b.n, &im, &e) == -1 &&
          strstr(e.msg, "blk.3.ffn_down_exps.weight") && strstr(e.msg, "expert (MoE)"));
    b.n = 0;
    put_i32(&b, 2);
    put_entry(&b, "blk.0.ffn_up.weight", 1, 2, v);
    put_entry(&b, "blk.0.ffn_up.weight", 1, 2, v);
    CHECK(ls_imatrix_parse("d.dat", b.d, b.n, &im, &e) == -1 && strstr(e.msg, "twice"));
    b.n = 0;
    put_i32(&b, 1);
    put_entry(&b, "blk.0.ffn_up.weight", 0, 2, v);
    CHECK(ls_imatrix_parse("z.dat", b.d, b.n, &im, &e) == -1 && strstr(e.msg, "count 0"));

    /* GGUF: a model is not an imatrix; a patched general.type is named */
    const char *gg = t_shared("models/stories260K/stories260K.gguf");
    if (gg) {
        CHECK(ls_imatrix_read(gg, &im, &e) == -1 && strstr(e.msg, "general.type"));
    }
    legacy_small(&b, false);
    CHECK(ls_imatrix_parse("s.dat", b.d, b.n, &im, &e) == 0);
    const char *dir = t_tmpdir("imatrix_bad");
    char path[600];
    snprintf(path, sizeof path, "%s/t.gguf", dir);
    CHECK(ls_imatrix_write_gguf(path, im, &e) == 0);
    ls_imatrix_free(im);
    ls_mapped_file mf;
    CHECK(ls_map_file(path, &mf, &e) == 0);
    uint8_t *copy = malloc(mf.size);
    memcpy(copy, mf.data, mf.size);
    size_t sz = mf.size;
    ls_unmap_file(&mf);
    uint8_t *at = memmem(copy, sz, "imatrix", 7);
    CHECK(at != NULL);
    if (at) {
        memcpy(at, "imatrox", 7);
        CHECK(ls_imatrix_parse("p.gguf", copy, sz, &im, &e) == -1 &&
              strstr(e.msg, "general.type") && strstr(e.msg, "imatrox"));
        memcpy(at, "imatrix", 7);
    }
    for (size_t n = 0; n < sz; n += 7) { /* truncated GGUF: one line, never a crash */
        if (ls_imatrix_parse("g.gguf", copy, n, &im, &e) == 0)
            ls_imatrix_free(im);
        else
            CHECK(!strchr(e.msg, '\n'));
    }
    free(copy);
}

/* Shapes against a model, and exit status 2 in batch mode. */
static void test_with_model(void)
{
    NEED_SHARED(mpath, "models/stories260K/stories260K.gguf");
    const char *dir = t_tmpdir("imatrix_model");
    ls_model *m;
    ls_error e;
    CHECK(ls_model_open(mpath, NULL, &m, &e) == 0);
    if (!m)
        return;
    /* An imatrix shaped like the model, with E[x_j^2] = 1 + j % 3 */
    ls_imatrix *im = ls_imatrix_for_model(m, &e);
    CHECK(im != NULL);
    if (!im) {
        ls_model_free(m);
        return;
    }
    for (int i = 0; i < im->n_entries; i++) {
        for (int64_t j = 0; j < im->entries[i].n_cols; j++)
            im->entries[i].sum2[j] = (float)(4 * (1 + j % 3));
        im->entries[i].count = 4;
    }
    char good[600], bad[600], errbuf[2048];
    snprintf(good, sizeof good, "%s/good.gguf", dir);
    snprintf(bad, sizeof bad, "%s/bad.gguf", dir);
    CHECK(ls_imatrix_write_gguf(good, im, &e) == 0);
    im->entries[LS_IDX(2, LS_MOD_UP)].n_cols -= 1; /* a shape that disagrees */
    CHECK(ls_imatrix_write_gguf(bad, im, &e) == 0);
    ls_imatrix_free(im);

    char json[600];
    snprintf(json, sizeof json, "%s/r.json", dir);
    char *argv1[] = {"layerscope", "--batch", "--imatrix", good, "--json", json,
                     (char *)mpath};
    int rc = ls_test_run_batch(7, argv1, errbuf, sizeof errbuf);
    CHECK(rc == 0);
    if (rc != 0)
        fprintf(stderr, "  %s\n", errbuf);
    char *text = ls_read_text_file(json, 1 << 24, NULL, &e);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(doc != NULL);
    if (doc) {
        const cJSON *imx = cJSON_GetObjectItem(doc, "imatrix");
        CHECK(cJSON_IsObject(imx));
        CHECK(cJSON_GetObjectItem(imx, "entries")->valueint == 35);
        CHECK_STR(cJSON_GetObjectItem(imx, "format")->valuestring, "gguf");
        /* stories260K has no sensitivity: the imatrix error stands in for it */
        CHECK_STR(cJSON_GetObjectItem(doc, "sensitivity_label")->valuestring, "imatrix error");
        const cJSON *mods = cJSON_GetObjectItem(doc, "modules");
        CHECK(cJSON_GetArraySize(mods) == 35);
        const cJSON *m0 = cJSON_GetArrayItem(mods, LS_IDX(1, LS_MOD_DOWN));
        /* ffn_down has 172 inputs: act_energy = sum_j (1 + j % 3) */
        double want = 0;
        for (int j = 0; j < 172; j++)
            want += 1 + j % 3;
        CHECK_NEAR(cJSON_GetObjectItem(m0, "act_energy")->valuedouble, want, 1e-9);
        double ie = cJSON_GetObjectItem(m0, "imatrix_error")->valuedouble;
        CHECK(ie > 0);
        CHECK(cJSON_GetObjectItem(m0, "sensitivity")->valuedouble == ie);
        const cJSON *ag = cJSON_GetObjectItem(doc, "agreement");
        CHECK(cJSON_IsObject(ag) && cJSON_GetArraySize(cJSON_GetObjectItem(ag, "pairs")) >= 1);
        cJSON_Delete(doc);
    }
    char *argv2[] = {"layerscope", "--batch", "--imatrix", bad, (char *)mpath};
    CHECK(ls_test_run_batch(5, argv2, errbuf, sizeof errbuf) == 2);
    CHECK(strstr(errbuf, "blk.2.ffn_up.weight") && strstr(errbuf, "input channels"));
    CHECK(strchr(errbuf, '\n') == strrchr(errbuf, '\n')); /* one line */
    const char *tl = t_shared("data/imatrix/tinyllama-1.1b.imatrix.dat");
    if (tl) {
        char *argv3[] = {"layerscope", "--batch", "--imatrix", (char *)tl, (char *)mpath};
        CHECK(ls_test_run_batch(5, argv3, errbuf, sizeof errbuf) == 2);
        CHECK(strstr(errbuf, "22 layers") != NULL);
    }
    char trunc[600];
    snprintf(trunc, sizeof trunc, "%s/trunc.dat", dir);
    buf b;
    legacy_small(&b, false);
    write_bytes(trunc, b.d, b.n - 30);
    char *argv4[] = {"layerscope", "--batch", trunc};
    CHECK(ls_test_run_batch(3, argv4, errbuf, sizeof errbuf) == 2);
    CHECK(strstr(errbuf, "truncated") != NULL);
    ls_model_free(m);
}

/* ---- the imatrix-weighted error by hand ---- */

static void test_weighted_error(void)
{
    /* W 2x3, W^ differs in (0,0) by 1, (1,2) by 2; E[x^2] = {2, 5, 3} */
    float W[6] = {1, 2, 3, 4, 5, 6}, Wq[6] = {0, 2, 3, 4, 5, 4};
    float s2[3] = {4, 10, 6};
    ls_imatrix_entry e;
    memset(&e, 0, sizeof e);
    e.n_cols = 3;
    e.sum2 = s2;
    e.count = 2;
    /* (2 * 1 + 3 * 4) / 2 rows = 7 */
    CHECK_NEAR(ls_imatrix_weighted_error(W, Wq, 2, 3, &e), 7.0, 1e-12);
}

/* ---- the calibration pass capture ---- */

typedef struct sums {
    double *s[LS_N_MODULES];
    int64_t rows;
    int layer;
} sums;

static int on_rec(void *ctx, const ls_fwd_record *r, ls_error *err)
{
    (void)err;
    sums *s = ctx;
    if (r->layer != s->layer)
        return 0;
    const float *in[LS_N_MODULES] = {r->attn_in, r->attn_in, r->attn_in, r->attn_ctx,
                                     r->mlp_in, r->mlp_in, r->mlp_act};
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        int64_t rows_, cols;
        (void)rows_;
        cols = mod == LS_MOD_DOWN ? 172 : 64;
        for (int64_t t = 0; t < r->n_rows; t++)
            for (int64_t j = 0; j < cols; j++)
                s->s[mod][j] += (double)in[mod][t * cols + j] * in[mod][t * cols + j];
    }
    s->rows += r->n_rows;
    return 0;
}

static void test_capture(void)
{
    NEED_SHARED(mpath, "models/stories260K/stories260K.bin");
    NEED_SHARED(tpath, "models/stories260K/tok512.bin");
    NEED_SHARED(cpath, "text/tinystories/tinystories_valid_head.txt");
    ls_error e;
    ls_model *m = NULL;
    ls_tokenizer *tok = NULL;
    CHECK(ls_model_open(mpath, NULL, &m, &e) == 0);
    if (!m || ls_tokenizer_open(tpath, 512, &tok, &e) != 0) {
        ls_model_free(m);
        SKIP("model or tokenizer: %.200s", e.msg);
    }
    ls_sensi_params p = ls_sensi_params_default();
    p.n_samples = 24;
    p.seqlen = 256;
    ls_sensi_result plain, cap;
    memset(&plain, 0, sizeof plain);
    memset(&cap, 0, sizeof cap);
    CHECK(ls_sensitivity_run(m, tok, cpath, &p, NULL, &plain, &e) == 0);
    p.capture = ls_imatrix_for_model(m, &e);
    CHECK(p.capture != NULL);
    CHECK(ls_sensitivity_run(m, tok, cpath, &p, NULL, &cap, &e) == 0);
    /* the hook leaves the measurement untouched */
    for (int i = 0; plain.module && cap.module && i < 5 * LS_N_MODULES; i++)
        CHECK(plain.module[i] == cap.module[i]);
    ls_imatrix *im = p.capture;
    CHECK(im->chunks == cap.n_blocks && im->chunk_size == cap.block_len);
    int64_t tokens = (int64_t)cap.n_blocks * cap.block_len;
    for (int i = 0; i < im->n_entries; i++)
        CHECK(im->entries[i].count == (double)tokens);
    ls_imatrix_entry *q = &im->entries[LS_IDX(3, LS_MOD_Q)];
    CHECK(memcmp(q->sum2, im->entries[LS_IDX(3, LS_MOD_V)].sum2, 64 * 4) == 0);
    /* the sums against our own pass over the same blocks in double precision */
    int32_t *blocks = NULL;
    ls_sensi_result info;
    memset(&info, 0, sizeof info);
    CHECK(ls_calib_blocks(cpath, tok, m, &p, &blocks, &info, &e) == 0);
    sums s;
    memset(&s, 0, sizeof s);
    s.layer = 3;
    for (int mod = 0; mod < LS_N_MODULES; mod++)
        s.s[mod] = calloc(172, sizeof(double));
    ls_fwd *f = NULL;
    int64_t *off = malloc((size_t)(info.n_blocks + 1) * sizeof *off);
    for (int k = 0; k <= info.n_blocks; k++)
        off[k] = (int64_t)k * info.block_len;
    float *hidden = malloc((size_t)tokens * 64 * sizeof *hidden);
    CHECK(ls_fwd_new(m, NULL, info.block_len, 0, &f, &e) == 0);
    ls_fwd_observer obs = {&s, NULL, on_rec, NULL};
    ls_fwd_seqs seqs = {info.n_blocks, blocks, off};
    CHECK(f && ls_fwd_run(f, &seqs, hidden, &obs, &e) == 0);
    CHECK(s.rows == tokens);
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        const ls_imatrix_entry *c = &im->entries[LS_IDX(3, mod)];
        for (int64_t j = 0; j < c->n_cols; j++)
            CHECK_REL(c->sum2[j], s.s[mod][j], 1e-4);
    }
    ls_fwd_free(f);
    free(hidden);
    free(off);
    free(blocks);
    for (int mod = 0; mod < LS_N_MODULES; mod++)
        free(s.s[mod]);
    ls_imatrix_free(im);
    ls_sensi_result_free(&plain);
    ls_sensi_result_free(&cap);
    ls_sensi_result_free(&info);
    ls_tokenizer_free(tok);
    ls_model_free(m);
}

/* ---- agreement ---- */

static void test_spearman_by_hand(void)
{
    double r[6];
    double x[6] = {3, 1, 4, 1, 5, 9};
    ls_average_ranks(x, 6, r);
    /* sorted: 1,1,3,4,5,9 -> ranks of the 1s share (1+2)/2 */
    double want[6] = {3, 1.5, 4, 1.5, 5, 6};
    for (int i = 0; i < 6; i++)
        CHECK(r[i] == want[i]);
    double y[6] = {2, 7, 1, 8, 2, 8};
    /* ranks y: 2->2.5, 7->4, 1->1, 8->5.5, 2->2.5, 8->5.5; Pearson of the ranks by hand:
     * rx-3.5 = {-.5,-2,.5,-2,1.5,2.5}, ry-3.5 = {-1,.5,-2.5,2,-1,2}
     * sxy = .5-1-1.25-4-1.5+5 = -2.25; sxx = .25+4+.25+4+2.25+6.25 = 17;
     * syy = 1+.25+6.25+4+1+4 = 16.5 */
    int n;
    CHECK_NEAR(ls_spearman(x, y, 6, &n), -2.25 / sqrt(17 * 16.5), 1e-12);
    CHECK(n == 6);
    double z[6] = {1, NAN, 2, 3, INFINITY, 4};
    CHECK_NEAR(ls_spearman(z, z, 6, &n), 1.0, 1e-12);
    CHECK(n == 4);
    double c[4] = {1, 1, 1, 1};
    CHECK(isnan(ls_spearman(c, x, 4, &n)));
    int t;
    double a[5] = {5, 4, 3, 2, 1}, b[5] = {1, 4, 3, 2, 5};
    CHECK(ls_top_overlap(a, b, 5, 2, &t) == 1 && t == 2); /* {0,1} vs {4,1} */
}

static void test_spearman_scipy(void)
{
    const char *py = NULL;
    if (system("/usr/bin/python3 -c 'import scipy.stats, numpy' >/dev/null 2>&1") == 0)
        py = "/usr/bin/python3";
    else if (system("python3 -c 'import scipy.stats, numpy' >/dev/null 2>&1") == 0)
        py = "python3";
    else
        SKIP("python3-scipy not installed");
    const char *dir = t_tmpdir("spearman_scipy");
    char path[600], cmd[1600];
    snprintf(path, sizeof path, "%s/xy.f64", dir);
    enum { N = 500 };
    double xy[2 * N];
    uint64_t st = 12345;
    for (int i = 0; i < 2 * N; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        int v = (int)((st >> 33) % 60); /* many ties */
        xy[i] = i < N ? v : v + 0.5 * (xy[i - N]);
    }
    FILE *f = fopen(path, "wb");
    fwrite(xy, sizeof(double), 2 * N, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy as np, scipy.stats as s; a=np.fromfile('%s'); "
             "print(repr(float(s.spearmanr(a[:%d], a[%d:]).correlation)))\"",
             py, path, N, N);
    FILE *p = popen(cmd, "r");
    double want = NAN;
    CHECK(p && fscanf(p, "%lf", &want) == 1);
    if (p)
        pclose(p);
    int n;
    CHECK_NEAR(ls_spearman(xy, xy + N, N, &n), want, 1e-12);
}

static void test_agreement_profile(void)
{
    ls_error e;
    ls_profile *p = ls_profile_new(4, "t", "t", "test", &e);
    int n = 4 * LS_N_MODULES;
    p->act_energy = malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
        p->kurtosis[i] = i;
        p->sensitivity[i] = 2.0 * i + 1;
        p->act_energy[i] = n - i;
    }
    ls_agreement ag;
    CHECK(ls_agreement_compute(p, 0, 5, &ag) == 0);
    CHECK(ag.n_metrics == 3 && ag.n_pairs == 3);
    CHECK(ag.pairs[0].a == LS_METRIC_SENSITIVITY && ag.pairs[0].b == LS_METRIC_KURTOSIS);
    CHECK_NEAR(ag.pairs[0].rho, 1.0, 1e-12);
    CHECK(ag.pairs[0].overlap == 5 && ag.pairs[0].top_n == 5);
    CHECK_NEAR(ag.pairs[1].rho, -1.0, 1e-12); /* sensitivity vs act_energy */
    CHECK(ag.pairs[1].overlap == 0);
    CHECK_NEAR(ag.pairs[1].rho_module[LS_MOD_Q], -1.0, 1e-12);
    CHECK(ag.pairs[1].n_module[LS_MOD_Q] == 4);
    /* a stand-in sensitivity column is not compared with what it stands in for */
    snprintf(p->sensitivity_label, sizeof p->sensitivity_label, "imatrix energy");
    CHECK(ls_agreement_compute(p, 0, 5, &ag) == 0);
    CHECK(ag.n_metrics == 2 && ag.n_pairs == 1);
    ls_profile_free(p);
}

int main(void)
{
    RUN(test_legacy_tinyllama);
    RUN(test_gguf_round_trip);
    RUN(test_sniff);
    RUN(test_bad_input);
    RUN(test_with_model);
    RUN(test_weighted_error);
    RUN(test_capture);
    RUN(test_spearman_by_hand);
    RUN(test_spearman_scipy);
    RUN(test_agreement_profile);
    return t_summary();
}
