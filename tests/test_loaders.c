/* Model loaders (HF safetensors, sharded HF, GGUF, llama2.c) and the synthetic model writer:
 * round trips against the generator, the shared stories260K files, and bad inputs. */
#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#include "test.h"
#include "base/csv.h"

#include "formats/gguf.h"
#include "formats/hfconfig.h"
#include "formats/llama2c.h"
#include "formats/model.h"
#include "model_writer.h"
#include "formats/safetensors.h"
#include "io/source.h"
#include "method/import.h"
#include "method/manual.h"

/* ---------------------------------------------------------------- helpers */

static char *tpath(const char *dir, const char *name)
{
    static char buf[4][1024];
    static int which;
    which = (which + 1) % 4;
    snprintf(buf[which], sizeof buf[which], "%.800s/%.200s", dir, name);
    return buf[which];
}

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    CHECK(write_bytes(path, text, strlen(text)) == 0);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(sz > 0 ? (size_t)sz : 1);
    if (p && fread(p, 1, (size_t)sz, f) != (size_t)sz) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return p;
}

/* The message is one line and contains every given fragment. */
static void check_msg(const ls_error *e, const char *a, const char *b)
{
    bool ok = strchr(e->msg, '\n') == NULL && strstr(e->msg, a) && (!b || strstr(e->msg, b));
    if (!ok)
        fprintf(stderr, "  message \"%s\" lacks \"%s\"%s%s%s\n", e->msg, a, b ? " / \"" : "",
                b ? b : "", b ? "\"" : "");
    CHECK(ok);
}

static ls_synth_spec tiny(int layers, ls_dtype dt)
{
    ls_synth_spec s;
    ls_error e;
    CHECK(ls_synth_preset("tiny", &s, &e) == 0);
    s.cfg.n_layers = layers;
    s.dtype = dt;
    s.seed = 1234;
    return s;
}

static ls_synth_spec qwen2_spec(ls_dtype dt)
{
    ls_synth_spec s = tiny(2, dt);
    s.cfg.arch = LS_ARCH_QWEN2;
    s.cfg.qkv_bias = true;
    s.cfg.norm_eps = 1e-6;
    s.cfg.rope_theta = 1000000.0;
    s.cfg.tied = true;
    s.cfg.rope_layout = LS_ROPE_HALVES;
    return s;
}

static ls_model *open_ok(const char *path, const char *tok)
{
    ls_open_options o = {tok};
    ls_model *m = NULL;
    ls_error e;
    e.msg[0] = '\0';
    if (ls_model_open(path, &o, &m, &e) != 0)
        fprintf(stderr, "  open %s failed: %s\n", path, e.msg);
    CHECK(m != NULL);
    return m;
}

static int open_err(const char *path, ls_error *e)
{
    ls_model *m = NULL;
    e->msg[0] = '\0';
    int rc = ls_model_open(path, NULL, &m, e);
    CHECK(rc == -1 && m == NULL);
    if (m)
        ls_model_free(m);
    return rc;
}

/* Compares every element of t with the generator; `to_pairs` maps q/k rows of a halves file. */
static int64_t mismatches(const ls_tensor *t, const ls_synth_spec *s, ls_synth_role role,
                          int layer, int module, bool to_pairs)
{
    if (!t)
        return -1;
    int64_t rows = t->shape[0], cols = t->n_dims == 2 ? t->shape[1] : 1, bad = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t src = to_pairs ? ls_rope_row_halves_to_pairs(r, s->cfg.head_dim) : r;
        for (int64_t c = 0; c < cols; c++) {
            float want = ls_synth_round(ls_synth_value(s, role, layer, module, src, c), t->dtype);
            float got = ls_tensor_get(t, r * cols + c);
            if (memcmp(&want, &got, 4) != 0 && bad++ == 0)
                fprintf(stderr, "  %s[%lld][%lld]: %.9g != %.9g\n", t->name, (long long)r,
                        (long long)c, got, want);
        }
    }
    return bad;
}

static void check_values(const ls_model *m, const ls_synth_spec *s)
{
    bool halves_file = (m->format == LS_FORMAT_HF || m->format == LS_FORMAT_HF_SHARDED) &&
                       s->cfg.arch != LS_ARCH_QWEN2;
    CHECK(mismatches(m->tok_emb, s, LS_SYN_EMBED, -1, -1, false) == 0);
    CHECK(mismatches(m->final_norm, s, LS_SYN_FINAL_NORM, -1, -1, false) == 0);
    if (m->cfg.tied)
        CHECK(m->lm_head == m->tok_emb);
    else
        CHECK(mismatches(m->lm_head, s, LS_SYN_LM_HEAD, -1, -1, false) == 0);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const ls_layer *L = &m->layers[l];
        CHECK(mismatches(L->attn_norm, s, LS_SYN_ATTN_NORM, l, -1, false) == 0);
        CHECK(mismatches(L->ffn_norm, s, LS_SYN_FFN_NORM, l, -1, false) == 0);
        for (int k = 0; k < LS_N_MODULES; k++) {
            bool qk = k == LS_MOD_Q || k == LS_MOD_K;
            CHECK(mismatches(ls_model_linear(m, l, k), s, LS_SYN_LINEAR, l, k,
                             qk && halves_file) == 0);
        }
        if (s->cfg.qkv_bias) {
            CHECK(mismatches(L->bq, s, LS_SYN_BIAS_Q, l, -1, false) == 0);
            CHECK(mismatches(L->bk, s, LS_SYN_BIAS_K, l, -1, false) == 0);
            CHECK(mismatches(L->bv, s, LS_SYN_BIAS_V, l, -1, false) == 0);
        } else {
            CHECK(L->bq == NULL && L->bk == NULL && L->bv == NULL);
        }
    }
}

static void check_config(const ls_model *m, const ls_synth_spec *s)
{
    const ls_config *a = &m->cfg, *b = &s->cfg;
    CHECK(a->dim == b->dim);
    CHECK(a->hidden_dim == b->hidden_dim);
    CHECK(a->n_layers == b->n_layers);
    CHECK(a->n_heads == b->n_heads);
    CHECK(a->n_kv_heads == b->n_kv_heads);
    CHECK(a->head_dim == b->head_dim);
    CHECK(a->vocab_size == b->vocab_size);
    CHECK(a->tied == b->tied);
    CHECK(a->qkv_bias == b->qkv_bias);
    CHECK_REL(a->norm_eps, b->norm_eps, 1e-6);
    CHECK_REL(a->rope_theta, b->rope_theta, 1e-6);
    CHECK(m->has_weights);
}

/* Linear parameters and totals from the config alone. */
static void check_counts(const ls_model *m)
{
    const ls_config *c = &m->cfg;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t per = q * c->dim * 2 + kv * c->dim * 2 + (int64_t)c->hidden_dim * c->dim * 3;
    CHECK(m->params_linear == per * c->n_layers);
    int64_t total = m->params_linear + (int64_t)c->vocab_size * c->dim * (c->tied ? 1 : 2) +
                    (int64_t)c->dim * (2 * c->n_layers + 1) +
                    (c->qkv_bias ? (q + 2 * kv) * c->n_layers : 0);
    CHECK(m->params_total == total);
    int64_t bytes = 0;
    bytes += ls_tensor_bytes(m->tok_emb) + ls_tensor_bytes(m->final_norm);
    if (!c->tied)
        bytes += ls_tensor_bytes(m->lm_head);
    for (int l = 0; l < c->n_layers; l++) {
        const ls_layer *L = &m->layers[l];
        bytes += ls_tensor_bytes(L->attn_norm) + ls_tensor_bytes(L->ffn_norm);
        for (int k = 0; k < LS_N_MODULES; k++)
            bytes += ls_tensor_bytes(L->linear[k]);
        if (L->bq)
            bytes += ls_tensor_bytes(L->bq) + ls_tensor_bytes(L->bk) + ls_tensor_bytes(L->bv);
    }
    CHECK(m->bytes_total == bytes);
}

static bool dir_has_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp."))
            found = true;
    closedir(d);
    return found;
}

/* ---------------------------------------------------------------- small helpers of core */

static void test_names_and_helpers(void)
{
    CHECK_STR(ls_module_name(LS_MOD_Q), "self_attn.q_proj");
    CHECK_STR(ls_module_name(LS_MOD_DOWN), "mlp.down_proj");
    CHECK_STR(ls_module_short_name(LS_MOD_GATE), "gate");
    CHECK(ls_module_from_name("mlp.up_proj") == LS_MOD_UP);
    CHECK(ls_module_from_name("up") == LS_MOD_UP);
    CHECK(ls_module_from_name("o_proj") == LS_MOD_O);
    CHECK(ls_module_from_name("w9") == -1);
    CHECK(ls_dtype_size(LS_DT_F32) == 4 && ls_dtype_size(LS_DT_BF16) == 2);
    CHECK_STR(ls_dtype_name(LS_DT_F16), "F16");
    CHECK_STR(ls_arch_name(LS_ARCH_QWEN2), "qwen2");
    CHECK_STR(ls_model_format_name(LS_FORMAT_HF_SHARDED), "hf-sharded");
    CHECK_STR(ls_model_format_name(LS_FORMAT_LLAMA2C), "llama2c");
    /* §3.4: HF row h*hd + j*hd/2 + i = pairs row h*hd + 2i + j */
    CHECK(ls_rope_row_halves_to_pairs(1, 8) == 2);
    CHECK(ls_rope_row_halves_to_pairs(4, 8) == 1);
    CHECK(ls_rope_row_halves_to_pairs(8 + 5, 8) == 8 + 3);
    for (int64_t r = 0; r < 64; r++)
        CHECK(ls_rope_row_pairs_to_halves(ls_rope_row_halves_to_pairs(r, 16), 16) == r);
    uint16_t h[3] = {0x3c00, 0xc000, 0x0001}; /* 1, -2, smallest subnormal */
    ls_tensor t = {.dtype = LS_DT_F16, .n_dims = 1, .shape = {3}, .n_elems = 3, .data = h};
    CHECK(ls_tensor_get(&t, 0) == 1.0f && ls_tensor_get(&t, 1) == -2.0f);
    CHECK(ls_tensor_get(&t, 2) == ldexpf(1.0f, -24));
    uint16_t b = 0x3fc0; /* bf16 1.5 */
    ls_tensor tb = {.dtype = LS_DT_BF16, .n_dims = 1, .shape = {1}, .n_elems = 1, .data = &b};
    CHECK(ls_tensor_get(&tb, 0) == 1.5f);
    CHECK(ls_tensor_bytes(&tb) == 2);
}

static void test_presets(void)
{
    ls_synth_spec s;
    ls_error e;
    CHECK(ls_synth_preset("tiny", &s, &e) == 0);
    CHECK(s.cfg.n_layers == 16 && s.cfg.dim == 64 && s.cfg.hidden_dim == 172);
    CHECK(s.cfg.n_heads == 8 && s.cfg.n_kv_heads == 4 && s.cfg.vocab_size == 512);
    CHECK(ls_synth_validate(&s, &e) == 0);
    CHECK(ls_synth_preset("1b", &s, &e) == 0);
    CHECK(s.cfg.dim == 2048 && s.cfg.n_layers == 22 && s.cfg.n_kv_heads == 4);
    CHECK(ls_synth_validate(&s, &e) == 0);
    CHECK(ls_synth_preset("llama2-7b", &s, &e) == 0);
    CHECK(s.cfg.dim == 4096 && s.cfg.hidden_dim == 11008 && s.cfg.n_layers == 32);
    CHECK(s.cfg.n_kv_heads == 32 && s.cfg.vocab_size == 32000 && s.dtype == LS_DT_F16);
    CHECK(ls_synth_validate(&s, &e) == 0);
    /* random access into a 7B spec costs nothing: the writer streams */
    float v = ls_synth_value(&s, LS_SYN_LINEAR, 31, LS_MOD_DOWN, 4095, 11007);
    CHECK(isfinite(v) && fabsf(v) < 1.0f);
    CHECK(ls_synth_preset("70b", &s, &e) == -1);
    check_msg(&e, "preset", "70b");
    s = tiny(2, LS_DT_F32);
    s.cfg.n_kv_heads = 3;
    CHECK(ls_synth_validate(&s, &e) == -1);
    check_msg(&e, "n_kv_heads", NULL);
}

static void test_generator_determinism(void)
{
    ls_synth_spec a = tiny(4, LS_DT_F32), b = a;
    CHECK(ls_synth_value(&a, LS_SYN_LINEAR, 1, LS_MOD_V, 3, 7) ==
          ls_synth_value(&b, LS_SYN_LINEAR, 1, LS_MOD_V, 3, 7));
    b.seed = 99;
    CHECK(ls_synth_value(&a, LS_SYN_LINEAR, 1, LS_MOD_V, 3, 7) !=
          ls_synth_value(&b, LS_SYN_LINEAR, 1, LS_MOD_V, 3, 7));
    CHECK(ls_synth_value(&a, LS_SYN_LINEAR, 1, LS_MOD_V, 3, 7) !=
          ls_synth_value(&a, LS_SYN_LINEAR, 2, LS_MOD_V, 3, 7));
}

/* Excess kurtosis of the generator over one weight. */
static double gen_kurtosis(const ls_synth_spec *s, int layer, int module)
{
    int64_t sh[2];
    ls_synth_shape(&s->cfg, LS_SYN_LINEAR, module, sh);
    double m1 = 0, m2 = 0, m4 = 0, n = (double)(sh[0] * sh[1]);
    for (int64_t r = 0; r < sh[0]; r++)
        for (int64_t c = 0; c < sh[1]; c++)
            m1 += ls_synth_value(s, LS_SYN_LINEAR, layer, module, r, c);
    m1 /= n;
    for (int64_t r = 0; r < sh[0]; r++)
        for (int64_t c = 0; c < sh[1]; c++) {
            double d = ls_synth_value(s, LS_SYN_LINEAR, layer, module, r, c) - m1;
            m2 += d * d;
            m4 += d * d * d * d;
        }
    m2 /= n;
    m4 /= n;
    return m4 / (m2 * m2) - 3.0;
}

static void test_generator_distributions(void)
{
    ls_synth_spec s = tiny(16, LS_DT_F32);
    double lo = 1e9, hi = -1e9;
    for (int l = 0; l < 16; l++) {
        double k = gen_kurtosis(&s, l, LS_MOD_GATE);
        lo = fmin(lo, k);
        hi = fmax(hi, k);
    }
    CHECK(lo > -0.5 && hi < 8.0);
    CHECK(hi - lo > 0.5); /* layers differ mildly */
    s.n_outliers = 2;
    s.outliers[0] = (ls_outlier){3, LS_MOD_DOWN, LS_OUTLIER_ROWS, 20.0};
    s.outliers[1] = (ls_outlier){5, LS_MOD_Q, LS_OUTLIER_COLS, 20.0};
    ls_synth_spec plain = tiny(16, LS_DT_F32);
    CHECK(gen_kurtosis(&s, 3, LS_MOD_DOWN) > gen_kurtosis(&plain, 3, LS_MOD_DOWN) + 5);
    CHECK(gen_kurtosis(&s, 5, LS_MOD_Q) > gen_kurtosis(&plain, 5, LS_MOD_Q) + 5);
    CHECK(gen_kurtosis(&s, 4, LS_MOD_DOWN) == gen_kurtosis(&plain, 4, LS_MOD_DOWN));
    /* a row outlier scales whole rows: the middle row of down (dim/2) is one of them */
    double row = 0, other = 0;
    for (int c = 0; c < 172; c++) {
        row += fabs(ls_synth_value(&s, LS_SYN_LINEAR, 3, LS_MOD_DOWN, 32, c));
        other += fabs(ls_synth_value(&plain, LS_SYN_LINEAR, 3, LS_MOD_DOWN, 32, c));
    }
    CHECK(row > 10 * other);
}

/* ---------------------------------------------------------------- round trips */

static void roundtrip_hf(const char *name, ls_synth_spec s, int shards)
{
    const char *dir = t_tmpdir(name);
    ls_error e;
    if (ls_write_hf_dir(dir, &s, shards, &e) != 0) {
        fprintf(stderr, "  write: %s\n", e.msg);
        CHECK(0);
        return;
    }
    CHECK(!dir_has_tmp(dir));
    ls_model *m = open_ok(dir, NULL);
    if (!m)
        return;
    CHECK(m->format == (shards > 1 ? LS_FORMAT_HF_SHARDED : LS_FORMAT_HF));
    CHECK(m->n_files == shards);
    CHECK(m->cfg.arch == s.cfg.arch);
    CHECK(m->cfg.rope_layout == LS_ROPE_HALVES);
    CHECK(m->gguf == NULL && m->tokenizer_path == NULL);
    check_config(m, &s);
    check_counts(m);
    check_values(m, &s);
    CHECK(m->tok_emb->dtype == s.dtype && m->final_norm->dtype == s.dtype);
    ls_model_free(m);
}

static void test_hf_f32(void)
{
    roundtrip_hf("hf_f32", tiny(16, LS_DT_F32), 1);
}

static void test_hf_f16_tied(void)
{
    ls_synth_spec s = tiny(3, LS_DT_F16);
    s.cfg.tied = true;
    roundtrip_hf("hf_f16", s, 1);
}

static void test_hf_bf16(void)
{
    roundtrip_hf("hf_bf16", tiny(3, LS_DT_BF16), 1);
}

static void test_hf_sharded(void)
{
    ls_synth_spec s = tiny(4, LS_DT_BF16);
    roundtrip_hf("hf_sharded", s, 3);
    s.cfg.tied = true;
    roundtrip_hf("hf_sharded_tied", s, 5);
    /* rewriting a sharded directory as a single file removes the stale index */
    const char *dir = t_tmpdir("hf_reshard");
    ls_error e;
    CHECK(ls_write_hf_dir(dir, &s, 2, &e) == 0);
    CHECK(ls_write_hf_dir(dir, &s, 1, &e) == 0);
    CHECK(access(tpath(dir, "model.safetensors.index.json"), F_OK) != 0);
    CHECK(ls_write_hf_dir(dir, &s, 2, &e) == 0);
    CHECK(access(tpath(dir, "model.safetensors"), F_OK) != 0);
    ls_model *m = open_ok(dir, NULL);
    CHECK(m && m->format == LS_FORMAT_HF_SHARDED);
    ls_model_free(m);
}

static void test_hf_qwen2_bias(void)
{
    roundtrip_hf("hf_qwen2", qwen2_spec(LS_DT_BF16), 1);
}

static void test_hf_mistral_head_dim(void)
{
    ls_synth_spec s = tiny(2, LS_DT_F32);
    s.cfg.arch = LS_ARCH_MISTRAL;
    s.cfg.head_dim = 16; /* != dim / n_heads, like Mistral-Nemo */
    s.cfg.sliding_window = 4096;
    roundtrip_hf("hf_mistral", s, 1);
    ls_error e;
    open_err(t_tmpdir("hf_mistral2"), &e); /* empty dir */
    check_msg(&e, "hf_mistral2", "config.json");
    ls_model *m;
    const char *dir = t_tmpdir("hf_mistral3");
    CHECK(ls_write_hf_dir(dir, &s, 1, &e) == 0);
    m = open_ok(dir, NULL);
    if (m) {
        CHECK(m->cfg.sliding_window == 4096);
        CHECK(m->layers[0].linear[LS_MOD_Q]->shape[0] == 8 * 16);
        CHECK(m->layers[0].linear[LS_MOD_O]->shape[1] == 8 * 16);
    }
    ls_model_free(m);
}

static void roundtrip_gguf(const char *name, ls_synth_spec s)
{
    const char *dir = t_tmpdir(name);
    const char *path = tpath(dir, "model.gguf");
    ls_error e;
    if (ls_write_gguf(path, &s, &e) != 0) {
        fprintf(stderr, "  write: %s\n", e.msg);
        CHECK(0);
        return;
    }
    CHECK(!dir_has_tmp(dir));
    ls_model *m = open_ok(path, NULL);
    if (!m)
        return;
    CHECK(m->format == LS_FORMAT_GGUF);
    CHECK(m->gguf != NULL && m->gguf->version == 3 && m->gguf->alignment == 32);
    CHECK(m->cfg.rope_layout == (s.cfg.arch == LS_ARCH_QWEN2 ? LS_ROPE_HALVES : LS_ROPE_PAIRS));
    check_config(m, &s);
    check_counts(m);
    check_values(m, &s);
    CHECK(m->final_norm->dtype == LS_DT_F32); /* 1-D tensors stay F32 in GGUF */
    CHECK(m->tok_emb->dtype == s.dtype);
    ls_model_free(m);
}

static void test_gguf_f32(void)
{
    roundtrip_gguf("gguf_f32", tiny(16, LS_DT_F32));
}

static void test_gguf_f16_tied(void)
{
    ls_synth_spec s = tiny(3, LS_DT_F16);
    s.cfg.tied = true;
    roundtrip_gguf("gguf_f16", s);
}

static void test_gguf_bf16_tokenizer(void)
{
    ls_synth_spec s = tiny(2, LS_DT_BF16);
    s.gguf_tokenizer = true;
    roundtrip_gguf("gguf_bf16", s);
    ls_error e;
    open_err(tpath(t_tmpdir("gguf_bf16b"), "m.gguf"), &e); /* absent */
    check_msg(&e, "m.gguf", "not found");
    const char *path = tpath(t_tmpdir("gguf_bf16c"), "m.gguf");
    ls_model *m;
    CHECK(ls_write_gguf(path, &s, &e) == 0);
    m = open_ok(path, NULL);
    if (!m)
        return;
    ls_gguf_str str;
    CHECK(ls_gguf_get_str(m->gguf, "tokenizer.ggml.model", &str, &e) == 1);
    CHECK(ls_gguf_str_eq(str, "llama"));
    ls_gguf_array a;
    CHECK(ls_gguf_get_array(m->gguf, "tokenizer.ggml.tokens", &a, &e) == 1);
    CHECK(a.type == LS_GGUF_STRING && a.count == 512);
    const uint8_t *p = a.data;
    for (int i = 0; i < 4; i++)
        p = ls_gguf_str_next(p, &str);
    CHECK(ls_gguf_str_eq(str, "<0x00>"));
    CHECK(ls_gguf_get_array(m->gguf, "tokenizer.ggml.token_type", &a, &e) == 1);
    CHECK(a.type == LS_GGUF_INT32 && ls_gguf_array_int(&a, 1) == 3 &&
          ls_gguf_array_int(&a, 300) == 1);
    CHECK(ls_gguf_get_array(m->gguf, "tokenizer.ggml.scores", &a, &e) == 1);
    CHECK(ls_gguf_array_float(&a, 260) == -1.0);
    int64_t v;
    CHECK(ls_gguf_get_int(m->gguf, "tokenizer.ggml.bos_token_id", &v, &e) == 1 && v == 1);
    CHECK(ls_gguf_get_int(m->gguf, "no.such.key", &v, &e) == 0);
    CHECK(ls_gguf_get_int(m->gguf, "general.architecture", &v, &e) == -1);
    check_msg(&e, path, "general.architecture");
    double f;
    CHECK(ls_gguf_get_float(m->gguf, "llama.rope.freq_base", &f, &e) == 1 && f == 10000.0);
    bool bl;
    CHECK(ls_gguf_get_bool(m->gguf, "llama.block_count", &bl, &e) == -1);
    ls_model_free(m);
}

static void test_gguf_qwen2(void)
{
    roundtrip_gguf("gguf_qwen2", qwen2_spec(LS_DT_F16));
}

static void test_gguf_head_dim_and_linear_rope(void)
{
    ls_synth_spec s = tiny(2, LS_DT_F32);
    s.cfg.head_dim = 16;
    s.cfg.rope_scaling = LS_ROPE_SCALING_LINEAR;
    s.cfg.rope_factor = 4.0;
    roundtrip_gguf("gguf_hd", s);
    const char *path = tpath(t_tmpdir("gguf_hd2"), "m.gguf");
    ls_error e;
    CHECK(ls_write_gguf(path, &s, &e) == 0);
    ls_model *m = open_ok(path, NULL);
    if (m) {
        CHECK(m->cfg.head_dim == 16);
        CHECK(m->cfg.rope_scaling == LS_ROPE_SCALING_LINEAR && m->cfg.rope_factor == 4.0);
    }
    ls_model_free(m);
}

static void roundtrip_llama2c(const char *name, ls_synth_spec s)
{
    const char *dir = t_tmpdir(name);
    const char *path = tpath(dir, "model.bin");
    ls_error e;
    if (ls_write_llama2c(path, &s, &e) != 0) {
        fprintf(stderr, "  write: %s\n", e.msg);
        CHECK(0);
        return;
    }
    CHECK(!dir_has_tmp(dir));
    ls_model *m = open_ok(path, "tok.bin");
    if (!m)
        return;
    CHECK(m->format == LS_FORMAT_LLAMA2C);
    CHECK(m->cfg.rope_layout == LS_ROPE_PAIRS && m->cfg.context == s.cfg.context);
    CHECK_STR(m->tokenizer_path, "tok.bin");
    CHECK_STR(m->name, "model.bin");
    check_config(m, &s);
    check_counts(m);
    check_values(m, &s);
    ls_model_free(m);
}

static void test_llama2c_tied_and_untied(void)
{
    ls_synth_spec s = tiny(3, LS_DT_F32);
    roundtrip_llama2c("l2c_untied", s);
    s.cfg.tied = true;
    roundtrip_llama2c("l2c_tied", s);
    s.dtype = LS_DT_BF16; /* llama2.c is always fp32: exact generator values */
    roundtrip_llama2c("l2c_bf16", s);
    ls_error e;
    ls_synth_spec q = qwen2_spec(LS_DT_F32);
    CHECK(ls_write_llama2c(tpath(t_tmpdir("l2c_bad"), "m.bin"), &q, &e) == -1);
    check_msg(&e, "m.bin", "arch");
}

/* Builds a version-1 file from a legacy model (same tensors, versioned order). */
static void test_llama2c_v1(void)
{
    const char *dir = t_tmpdir("l2c_v1");
    ls_synth_spec s = tiny(2, LS_DT_F32);
    ls_error e;
    CHECK(ls_write_llama2c(tpath(dir, "v0.bin"), &s, &e) == 0);
    ls_model *m0 = open_ok(tpath(dir, "v0.bin"), NULL);
    if (!m0)
        return;
    FILE *f = fopen(tpath(dir, "v1.bin"), "wb");
    uint8_t hdr[256] = {0};
    uint32_t magic = 0x616b3432u, version = 1;
    int32_t dims[7] = {64, 172, 2, 8, 4, 512, 512};
    memcpy(hdr, &magic, 4);
    memcpy(hdr + 4, &version, 4);
    memcpy(hdr + 8, dims, sizeof dims);
    hdr[36] = 0; /* separate classifier */
    fwrite(hdr, 1, sizeof hdr, f);
#define PUT(t) fwrite((t)->data, 4, (size_t)(t)->n_elems, f)
    for (int l = 0; l < 2; l++)
        PUT(m0->layers[l].attn_norm);
    for (int l = 0; l < 2; l++)
        PUT(m0->layers[l].ffn_norm);
    PUT(m0->final_norm);
    PUT(m0->tok_emb);
    static const int order[] = {LS_MOD_Q, LS_MOD_K, LS_MOD_V, LS_MOD_O, LS_MOD_GATE,
                                LS_MOD_DOWN, LS_MOD_UP};
    for (int k = 0; k < 7; k++)
        for (int l = 0; l < 2; l++)
            PUT(m0->layers[l].linear[order[k]]);
    PUT(m0->lm_head);
#undef PUT
    fclose(f);
    ls_model *m1 = open_ok(tpath(dir, "v1.bin"), NULL);
    if (m1) {
        CHECK(m1->format == LS_FORMAT_LLAMA2C && !m1->cfg.tied);
        check_values(m1, &s);
        check_counts(m1);
    }
    ls_model_free(m1);
    ls_model_free(m0);
    /* version 2 and unknown versions are named */
    uint8_t buf[256] = {0};
    memcpy(buf, &magic, 4);
    version = 2;
    memcpy(buf + 4, &version, 4);
    write_bytes(tpath(dir, "v2.bin"), buf, sizeof buf);
    open_err(tpath(dir, "v2.bin"), &e);
    check_msg(&e, "v2.bin", "version: 2");
    version = 7;
    memcpy(buf + 4, &version, 4);
    write_bytes(tpath(dir, "v7.bin"), buf, sizeof buf);
    open_err(tpath(dir, "v7.bin"), &e);
    check_msg(&e, "v7.bin", "version: 7");
}

/* ---------------------------------------------------------------- shared files (§8) */

static bool same_tensor(const ls_tensor *a, const ls_tensor *b)
{
    if (!a || !b || a->n_elems != b->n_elems || a->n_dims != b->n_dims)
        return false;
    for (int d = 0; d < a->n_dims; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return memcmp(a->data, b->data, (size_t)ls_tensor_bytes(a)) == 0 && a->dtype == b->dtype;
}

/* q/k of a halves file against the pairs file, row by row (§3.4). */
static bool same_permuted(const ls_tensor *hf, const ls_tensor *pairs, int hd)
{
    if (!hf || !pairs || hf->n_elems != pairs->n_elems || hf->shape[0] != pairs->shape[0])
        return false;
    int64_t cols = hf->shape[1];
    for (int64_t r = 0; r < hf->shape[0]; r++) {
        int64_t pr = ls_rope_row_halves_to_pairs(r, hd);
        if (memcmp((const float *)hf->data + r * cols, (const float *)pairs->data + pr * cols,
                   (size_t)cols * 4) != 0)
            return false;
    }
    return true;
}

static void check_stories_config(const ls_model *m)
{
    const ls_config *c = &m->cfg;
    CHECK(c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5);
    CHECK(c->n_heads == 8 && c->n_kv_heads == 4 && c->head_dim == 8);
    CHECK(c->vocab_size == 512);
    CHECK_REL(c->norm_eps, 1e-5, 1e-6);
    CHECK(c->rope_theta == 10000.0 && c->rope_scaling == LS_ROPE_SCALING_NONE);
    CHECK(c->arch == LS_ARCH_LLAMA && !c->qkv_bias && c->sliding_window == 0);
    CHECK(m->params_linear == 5 * (64 * 64 * 2 + 32 * 64 * 2 + 172 * 64 * 3));
}

static void test_shared_bin(void)
{
    NEED_SHARED(bin, "models/stories260K/stories260K.bin");
    char tok[1024];
    NEED_SHARED(tokp, "models/stories260K/tok512.bin");
    snprintf(tok, sizeof tok, "%s", tokp);
    ls_model *m = open_ok(bin, tok);
    if (!m)
        return;
    CHECK(m->format == LS_FORMAT_LLAMA2C);
    check_stories_config(m);
    CHECK(m->cfg.tied && m->lm_head == m->tok_emb && m->cfg.context == 512);
    CHECK(m->cfg.rope_layout == LS_ROPE_PAIRS);
    CHECK(m->params_total == 260032);
    CHECK(m->bytes_total == 260032 * 4);
    CHECK_STR(m->tokenizer_path, tok);
    CHECK(m->files[0].size == 1056540);
    ls_model_free(m);
}

static void test_shared_gguf(void)
{
    char bin[1024];
    NEED_SHARED(binp, "models/stories260K/stories260K.bin");
    snprintf(bin, sizeof bin, "%s", binp);
    NEED_SHARED(path, "models/stories260K/stories260K.gguf");
    ls_model *g = open_ok(path, NULL), *b = open_ok(bin, NULL);
    if (!g || !b) {
        ls_model_free(g);
        ls_model_free(b);
        return;
    }
    CHECK(g->format == LS_FORMAT_GGUF && g->gguf->version == 3);
    CHECK(g->n_tensors == 48 && g->gguf->n_kv == 19 && g->gguf->alignment == 32);
    CHECK(g->gguf->data_start == 14176);
    check_stories_config(g);
    CHECK(g->cfg.context == 2048 && g->cfg.rope_layout == LS_ROPE_PAIRS);
    CHECK(!g->cfg.tied && g->lm_head != g->tok_emb);
    CHECK_STR(g->lm_head->name, "output.weight");
    CHECK(g->params_total == 292800);
    /* all 48 tensors bit-identical to the .bin; output.weight is a copy of the embedding */
    CHECK(same_tensor(g->tok_emb, b->tok_emb));
    CHECK(same_tensor(g->lm_head, b->tok_emb));
    CHECK(same_tensor(g->final_norm, b->final_norm));
    for (int l = 0; l < 5; l++) {
        CHECK(same_tensor(g->layers[l].attn_norm, b->layers[l].attn_norm));
        CHECK(same_tensor(g->layers[l].ffn_norm, b->layers[l].ffn_norm));
        for (int k = 0; k < LS_N_MODULES; k++)
            CHECK(same_tensor(g->layers[l].linear[k], b->layers[l].linear[k]));
    }
    int64_t v;
    ls_error e;
    CHECK(ls_gguf_get_int(g->gguf, "tokenizer.ggml.seperator_token_id", &v, &e) == 1);
    CHECK(v == 4294967295LL);
    CHECK(ls_gguf_find(g->gguf, "llama.rope.freq_base") == NULL);
    ls_model_free(g);
    ls_model_free(b);
}

static void test_shared_hf(void)
{
    char bin[1024];
    NEED_SHARED(binp, "models/stories260K/stories260K.bin");
    snprintf(bin, sizeof bin, "%s", binp);
    NEED_SHARED(dir, "models/stories260K-hf");
    char d[1024];
    snprintf(d, sizeof d, "%s", dir);
    ls_model *h = open_ok(d, NULL), *b = open_ok(bin, NULL);
    if (!h || !b) {
        ls_model_free(h);
        ls_model_free(b);
        return;
    }
    CHECK(h->format == LS_FORMAT_HF && h->n_tensors == 47);
    check_stories_config(h);
    CHECK(h->cfg.tied && h->lm_head == h->tok_emb && h->cfg.context == 512);
    CHECK(h->cfg.rope_layout == LS_ROPE_HALVES);
    CHECK(h->params_total == 260032);
    CHECK(h->tokenizer_path && strstr(h->tokenizer_path, "tokenizer.json"));
    CHECK(h->warnings[0] == '\0');
    CHECK(same_tensor(h->tok_emb, b->tok_emb) && same_tensor(h->final_norm, b->final_norm));
    for (int l = 0; l < 5; l++) {
        CHECK(same_tensor(h->layers[l].attn_norm, b->layers[l].attn_norm));
        CHECK(same_tensor(h->layers[l].ffn_norm, b->layers[l].ffn_norm));
        for (int k = 0; k < LS_N_MODULES; k++) {
            const ls_tensor *x = h->layers[l].linear[k], *y = b->layers[l].linear[k];
            if (k == LS_MOD_Q || k == LS_MOD_K) {
                CHECK(same_permuted(x, y, 8));
                CHECK(!same_tensor(x, y));
            } else {
                CHECK(same_tensor(x, y));
            }
        }
    }
    /* the raw header: 4,848 bytes, space-padded, __metadata__ {"format": "pt"} */
    ls_st_file st;
    ls_error e;
    CHECK(ls_st_parse("x", h->files[0].data, h->files[0].size, &st, &e) == 0);
    CHECK(st.header_len == 4848 && st.n_meta == 1 && st.n_tensors == 47);
    CHECK(h->files[0].data[8 + 4848 - 1] == ' ');
    ls_st_free(&st);
    ls_model_free(h);
    ls_model_free(b);
}

static void test_shared_hf_sharded(void)
{
    char one[1024];
    NEED_SHARED(onep, "models/stories260K-hf");
    snprintf(one, sizeof one, "%s", onep);
    NEED_SHARED(dir, "models/stories260K-hf-sharded");
    char d[1024];
    snprintf(d, sizeof d, "%s", dir);
    ls_model *s = open_ok(d, NULL), *h = open_ok(one, NULL);
    if (!s || !h) {
        ls_model_free(s);
        ls_model_free(h);
        return;
    }
    CHECK(s->format == LS_FORMAT_HF_SHARDED && s->n_files == 3 && s->n_tensors == 47);
    check_stories_config(s);
    CHECK(s->cfg.tied && s->params_total == 260032);
    CHECK(same_tensor(s->tok_emb, h->tok_emb) && same_tensor(s->final_norm, h->final_norm));
    for (int l = 0; l < 5; l++)
        for (int k = 0; k < LS_N_MODULES; k++)
            CHECK(same_tensor(s->layers[l].linear[k], h->layers[l].linear[k]));
    size_t n;
    ls_error e;
    char *text = ls_read_text_file(tpath(d, "model.safetensors.index.json"), 1 << 20, &n, &e);
    ls_st_index ix;
    CHECK(text && ls_st_index_parse("ix", text, n, &ix, &e) == 0);
    CHECK(ix.has_total_size && ix.total_size == 1040128);
    CHECK(ix.n_shards == 3 && ix.n_entries == 47);
    int64_t sum = 0;
    for (int i = 0; i < s->n_tensors; i++)
        sum += ls_tensor_bytes(&s->tensors[i]);
    CHECK(sum == ix.total_size);
    ls_st_index_free(&ix);
    free(text);
    ls_model_free(s);
    ls_model_free(h);
}

static void test_shared_vocab_gguf(void)
{
    NEED_SHARED(path, "models/ggml-vocab-llama-spm/ggml-vocab-llama-spm.gguf");
    ls_model *m = open_ok(path, NULL);
    if (!m)
        return;
    CHECK(m->format == LS_FORMAT_GGUF && !m->has_weights && m->n_tensors == 0);
    CHECK(m->layers == NULL && m->tok_emb == NULL && m->params_total == 0);
    CHECK(m->gguf->n_kv == 22 && m->gguf->n_tensors == 0);
    CHECK(m->gguf->data_start > m->files[0].size);
    CHECK(m->cfg.n_layers == 32 && m->cfg.dim == 4096 && m->cfg.vocab_size == 32000);
    ls_gguf_array a;
    ls_error e;
    CHECK(ls_gguf_get_array(m->gguf, "tokenizer.ggml.tokens", &a, &e) == 1 && a.count == 32000);
    bool add_bos = false;
    CHECK(ls_gguf_get_bool(m->gguf, "tokenizer.ggml.add_bos_token", &add_bos, &e) == 1 &&
          add_bos);
    ls_gguf_str s;
    CHECK(ls_gguf_get_str(m->gguf, "tokenizer.ggml.pre", &s, &e) == 1 &&
          ls_gguf_str_eq(s, "default"));
    ls_model_free(m);
}

/* ---------------------------------------------------------------- bad safetensors */

/* A safetensors image: 8-byte length, header text, `data` zero bytes. */
static uint8_t *st_image(const char *header, size_t data, size_t *n)
{
    size_t h = strlen(header);
    *n = 8 + h + data;
    uint8_t *p = calloc(1, *n);
    uint64_t len = h;
    memcpy(p, &len, 8);
    memcpy(p + 8, header, h);
    return p;
}

static void st_expect(const char *header, size_t data, const char *frag1, const char *frag2)
{
    size_t n;
    uint8_t *img = st_image(header, data, &n);
    ls_st_file f;
    ls_error e;
    CHECK(ls_st_parse("bad.safetensors", img, n, &f, &e) == -1);
    check_msg(&e, "bad.safetensors", frag1);
    if (frag2)
        check_msg(&e, frag2, NULL);
    free(img);
}

static void test_st_good_edge_cases(void)
{
    size_t n;
    /* any order, a scalar, an empty tensor, trailing spaces, unknown fields ignored */
    uint8_t *img = st_image("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                            "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                            "\"e\":{\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[12,12],"
                            "\"x\":1},\"__metadata__\":{\"k\":\"v\"}}   ", 12, &n);
    ls_st_file f;
    ls_error e;
    CHECK(ls_st_parse("ok", img, n, &f, &e) == 0);
    CHECK(f.n_tensors == 3 && f.n_meta == 1);
    int a = ls_st_find(&f, "a"), b = ls_st_find(&f, "b"), z = ls_st_find(&f, "e");
    CHECK(a >= 0 && f.tensors[a].n_dims == 0 && f.tensors[a].n_elems == 1);
    CHECK(b >= 0 && f.tensors[b].data == img + f.data_start + 4);
    CHECK(z >= 0 && f.tensors[z].n_elems == 0);
    ls_st_free(&f);
    free(img);
    /* sub-byte types count bits */
    img = st_image("{\"q\":{\"dtype\":\"F4\",\"shape\":[6],\"data_offsets\":[0,3]}}", 3, &n);
    CHECK(ls_st_parse("ok", img, n, &f, &e) == 0);
    ls_st_free(&f);
    free(img);
    st_expect("{\"q\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2,
              "whole number of bytes", "'q'");
    img = st_image("{}", 0, &n);
    CHECK(ls_st_parse("ok", img, n, &f, &e) == 0 && f.n_tensors == 0);
    ls_st_free(&f);
    free(img);
}

static void test_st_bad_headers(void)
{
    ls_st_file f;
    ls_error e;
    uint8_t small[5] = {1, 2, 3, 4, 5};
    CHECK(ls_st_parse("short.safetensors", small, 5, &f, &e) == -1);
    check_msg(&e, "short.safetensors", "header length");
    uint8_t img[16] = {0};
    uint64_t big = 100;
    memcpy(img, &big, 8);
    CHECK(ls_st_parse("past.safetensors", img, 16, &f, &e) == -1);
    check_msg(&e, "past.safetensors", "runs past the end");
    big = 100000001;
    memcpy(img, &big, 8);
    CHECK(ls_st_parse("huge.safetensors", img, 16, &f, &e) == -1);
    check_msg(&e, "huge.safetensors", "exceeds the limit");
    big = UINT64_MAX;
    memcpy(img, &big, 8);
    CHECK(ls_st_parse("max.safetensors", img, 16, &f, &e) == -1);
    check_msg(&e, "max.safetensors", "header length");

    const char *T = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},";
    char h[512];
    snprintf(h, sizeof h, "%s\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
             T);
    st_expect(h, 12, "overlaps", "'b'");
    snprintf(h, sizeof h, "%s\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
             T);
    st_expect(h, 20, "hole", "'b'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 9,
              "data buffer has 9", NULL);
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
              "past the data buffer", "'a'");
    st_expect("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
              "dtype", "F33");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
              "data_offsets", "needs 12");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
              "\"data_offsets\":[0,8]}}", 8, "shape", "overflow");
    st_expect("{\"a\":{\"dtype\":\"F64\",\"shape\":[4503599627370496,1024],"
              "\"data_offsets\":[0,8]}}", 8, "shape", "byte size overflows");
    st_expect("{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],"
              "\"data_offsets\":[0,8]}}", 8, "shape", "dimension 0");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape",
              "'a'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8,
              "data_offsets", "end 0 < begin 8");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8,
              "data_offsets", "'a'");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16,
              "duplicate name", "'a'");
    st_expect("{\"__metadata__\":{\"n\":1}}", 0, "__metadata__.n", "not a string");
    st_expect("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]", 0, "invalid JSON", NULL);
    st_expect("[1,2]", 0, "start with", NULL);
    st_expect("{} x", 0, "garbage", NULL);
    st_expect("{\"\xff\":1}", 0, "UTF-8", NULL);
    {
        const char *hdr = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} ";
        size_t n;
        uint8_t *nul_img = st_image(hdr, 8, &n);
        nul_img[8 + strlen(hdr) - 1] = 0; /* a NUL inside the header */
        CHECK(ls_st_parse("nul.safetensors", nul_img, n, &f, &e) == -1);
        check_msg(&e, "nul.safetensors", "UTF-8 or NUL");
        free(nul_img);
    }
    st_expect("{\"a\":5}", 0, "'a'", "not an object");
}

/* Replaces model.safetensors of a written tiny model with a header + zero data. */
static void test_st_through_model(void)
{
    const char *dir = t_tmpdir("st_model");
    ls_synth_spec s = tiny(1, LS_DT_F32);
    ls_error e;
    CHECK(ls_write_hf_dir(dir, &s, 1, &e) == 0);
    char path[1024];
    snprintf(path, sizeof path, "%s", tpath(dir, "model.safetensors"));
    /* truncate the real file by one byte */
    size_t n;
    uint8_t *img = read_all(path, &n);
    CHECK(img && write_bytes(path, img, n - 1) == 0);
    open_err(dir, &e);
    check_msg(&e, path, "data_offsets");
    /* an I64 embedding: dtype named */
    free(img);
    img = st_image("{\"model.embed_tokens.weight\":{\"dtype\":\"I64\",\"shape\":[512,64],"
                   "\"data_offsets\":[0,262144]}}", 262144, &n);
    write_bytes(path, img, n);
    open_err(dir, &e);
    check_msg(&e, path, "dtype I64");
    free(img);
    /* a wrong shape names the tensor, shape and expectation */
    img = st_image("{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[512,32],"
                   "\"data_offsets\":[0,65536]}}", 65536, &n);
    write_bytes(path, img, n);
    open_err(dir, &e);
    check_msg(&e, path, "'model.embed_tokens.weight': shape [512, 32], expected [512, 64]");
    free(img);
    /* an unexpected tensor */
    img = st_image("{\"model.layers.0.self_attn.q_norm.weight\":{\"dtype\":\"F32\","
                   "\"shape\":[8],\"data_offsets\":[0,32]}}", 32, &n);
    write_bytes(path, img, n);
    open_err(dir, &e);
    check_msg(&e, "q_norm", "unexpected tensor");
    free(img);
    /* missing tensors */
    img = st_image("{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[512,64],"
                   "\"data_offsets\":[0,131072]}}", 131072, &n);
    write_bytes(path, img, n);
    open_err(dir, &e);
    check_msg(&e, "model.norm.weight", "missing");
    free(img);
    /* layer index out of range */
    img = st_image("{\"model.layers.7.input_layernorm.weight\":{\"dtype\":\"F32\","
                   "\"shape\":[64],\"data_offsets\":[0,256]}}", 256, &n);
    write_bytes(path, img, n);
    open_err(dir, &e);
    check_msg(&e, "model.layers.7", "out of range");
    free(img);
}

static void test_hf_missing_and_mismatch(void)
{
    const char *dir = t_tmpdir("hf_missing");
    ls_synth_spec s = tiny(2, LS_DT_F32);
    ls_error e;
    CHECK(ls_write_hf_dir(dir, &s, 1, &e) == 0);
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s", tpath(dir, "config.json"));
    /* the config claims 3 layers: layer 2 is missing */
    write_text(cfg, "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,"
                    "\"num_hidden_layers\":3,\"num_attention_heads\":8,\"num_key_value_heads\":4,"
                    "\"vocab_size\":512}");
    open_err(dir, &e);
    check_msg(&e, "model.layers.2.input_layernorm.weight", "missing");
    /* untied config (explicitly, or by transformers' default) but no lm_head: refused */
    ls_synth_spec t = s;
    t.cfg.tied = true;
    CHECK(ls_write_hf_dir(dir, &t, 1, &e) == 0);
    write_text(cfg, "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,"
                    "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"num_key_value_heads\":4,"
                    "\"vocab_size\":512,\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":false}");
    open_err(dir, &e);
    check_msg(&e, "lm_head.weight", "tie_word_embeddings is false");
    write_text(cfg, "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,"
                    "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"num_key_value_heads\":4,"
                    "\"vocab_size\":512,\"rms_norm_eps\":1e-5}");
    open_err(dir, &e);
    check_msg(&e, "lm_head.weight", "missing");
    /* the same with tie_word_embeddings true opens, the head being the embedding */
    write_text(cfg, "{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,"
                    "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"num_key_value_heads\":4,"
                    "\"vocab_size\":512,\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":true}");
    ls_model *m = open_ok(dir, NULL);
    if (m)
        CHECK(m->cfg.tied && m->lm_head == m->tok_emb);
    ls_model_free(m);
    /* qwen2 config over llama tensors: biases missing */
    write_text(cfg, "{\"model_type\":\"qwen2\",\"hidden_size\":64,\"intermediate_size\":172,"
                    "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"num_key_value_heads\":4,"
                    "\"vocab_size\":512,\"tie_word_embeddings\":true}");
    open_err(dir, &e);
    check_msg(&e, "self_attn.q_proj.bias", "missing");
    /* no config */
    unlink(cfg);
    open_err(dir, &e);
    check_msg(&e, "config.json", "not found");
    open_err(tpath(dir, "nope"), &e);
    check_msg(&e, "nope", "not found");
}

static void test_hf_sharded_bad(void)
{
    const char *dir = t_tmpdir("hf_shard_bad");
    ls_synth_spec s = tiny(2, LS_DT_F32);
    ls_error e;
    CHECK(ls_write_hf_dir(dir, &s, 2, &e) == 0);
    char ix[1024];
    snprintf(ix, sizeof ix, "%s", tpath(dir, "model.safetensors.index.json"));
    size_t n;
    char *orig = ls_read_text_file(ix, 1 << 20, &n, &e);
    CHECK(orig != NULL);
    if (!orig)
        return;
    /* the index puts the embedding into shard 2, but it lives in shard 1 */
    char *moved = strdup(orig);
    char *p = strstr(moved, "\"model.embed_tokens.weight\":\t\"model-00001");
    if (!p)
        p = strstr(moved, "\"model.embed_tokens.weight\": \"model-00001");
    CHECK(p != NULL);
    if (p) {
        p = strstr(p, "00001-of");
        p[4] = '2';
        write_text(ix, moved);
        open_err(dir, &e);
        check_msg(&e, "'model.embed_tokens.weight'", "index");
    }
    free(moved);
    write_text(ix, "{\"weight_map\":{\"a\":\"../x\"}}");
    open_err(dir, &e);
    check_msg(&e, "weight_map.a", "plain file name");
    write_text(ix, "{\"weight_map\":{}}");
    open_err(dir, &e);
    check_msg(&e, ix, "weight_map");
    write_text(ix, "{\"weight_map\":{\"model.extra\":\"model-00001-of-00002.safetensors\"}}");
    open_err(dir, &e);
    check_msg(&e, "model-00001-of-00002.safetensors", "not listed in the index");
    write_text(ix, "{\"weight_map\":[1]}");
    open_err(dir, &e);
    check_msg(&e, ix, "weight_map");
    write_text(ix, orig);
    ls_model *m = open_ok(dir, NULL);
    ls_model_free(m);
    free(orig);
}

/* ---------------------------------------------------------------- config.json */

static int cfg_parse(const char *json, ls_config *c, ls_error *e, char *warn, size_t wn)
{
    if (warn)
        warn[0] = '\0';
    return ls_hf_config_parse("config.json", json, strlen(json), c, warn, wn, e);
}

#define BASE "\"hidden_size\":64,\"intermediate_size\":172,\"num_hidden_layers\":2," \
             "\"num_attention_heads\":8,\"vocab_size\":512"

static void cfg_bad(const char *json, const char *f1, const char *f2)
{
    ls_config c;
    ls_error e;
    CHECK(cfg_parse(json, &c, &e, NULL, 0) == -1);
    check_msg(&e, "config.json", f1);
    if (f2)
        check_msg(&e, f2, NULL);
}

static void test_config_defaults(void)
{
    ls_config c;
    ls_error e;
    char warn[512];
    CHECK(cfg_parse("{\"model_type\":\"llama\"," BASE "}", &c, &e, warn, sizeof warn) == 0);
    CHECK(c.arch == LS_ARCH_LLAMA && c.n_kv_heads == 8 && c.head_dim == 8);
    CHECK(c.context == 2048 && c.norm_eps == 1e-6 && c.rope_theta == 10000.0);
    CHECK(!c.tied && !c.qkv_bias && c.sliding_window == 0 && c.rope_layout == LS_ROPE_HALVES);
    CHECK(warn[0] == '\0');
    CHECK(cfg_parse("{\"model_type\":\"mistral\"," BASE "}", &c, &e, warn, sizeof warn) == 0);
    CHECK(c.arch == LS_ARCH_MISTRAL && c.n_kv_heads == 8 && c.context == 131072);
    CHECK(c.sliding_window == 4096);
    CHECK(strstr(warn, "num_key_value_heads") != NULL);
    CHECK(cfg_parse("{\"model_type\":\"mistral\",\"sliding_window\":null,"
                    "\"num_key_value_heads\":null," BASE "}", &c, &e, NULL, 0) == 0);
    CHECK(c.sliding_window == 0 && c.n_kv_heads == 8);
    /* qwen2 defaults to 32 KV heads: with 8 query heads that cannot divide */
    cfg_bad("{\"model_type\":\"qwen2\"," BASE "}", "num_key_value_heads", "32");
    CHECK(cfg_parse("{\"model_type\":\"qwen2\",\"num_key_value_heads\":2,"
                    "\"tie_word_embeddings\":true," BASE "}", &c, &e, NULL, 0) == 0);
    CHECK(c.arch == LS_ARCH_QWEN2 && c.qkv_bias && c.tied && c.context == 32768);
    CHECK(cfg_parse("{\"architectures\":[\"LlamaForCausalLM\"],\"head_dim\":16," BASE "}", &c,
                    &e, NULL, 0) == 0);
    CHECK(c.arch == LS_ARCH_LLAMA && c.head_dim == 16);
    CHECK(cfg_parse("{\"model_type\":\"qwen2\",\"num_key_value_heads\":2,\"layer_types\":"
                    "[\"full_attention\",\"full_attention\"]," BASE "}", &c, &e, NULL, 0) == 0);
}

static void test_config_rope(void)
{
    ls_config c;
    ls_error e;
    CHECK(cfg_parse("{\"model_type\":\"llama\",\"rope_theta\":500000.0,\"rope_scaling\":"
                    "{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,"
                    "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192},"
                    BASE "}", &c, &e, NULL, 0) == 0);
    CHECK(c.rope_theta == 500000.0 && c.rope_scaling == LS_ROPE_SCALING_LLAMA3);
    CHECK(c.rope_factor == 8.0 && c.rope_low_freq_factor == 1.0);
    CHECK(c.rope_high_freq_factor == 4.0 && c.rope_original_context == 8192);
    CHECK(cfg_parse("{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"linear\","
                    "\"factor\":2}," BASE "}", &c, &e, NULL, 0) == 0);
    CHECK(c.rope_scaling == LS_ROPE_SCALING_LINEAR && c.rope_factor == 2.0);
    /* transformers 5: rope_parameters wins over top-level rope_theta */
    CHECK(cfg_parse("{\"model_type\":\"llama\",\"rope_theta\":1.0,\"rope_parameters\":"
                    "{\"rope_type\":\"default\",\"rope_theta\":1000000.0}," BASE "}", &c, &e,
                    NULL, 0) == 0);
    CHECK(c.rope_theta == 1000000.0 && c.rope_scaling == LS_ROPE_SCALING_NONE);
    CHECK(cfg_parse("{\"model_type\":\"llama\",\"rope_parameters\":{\"rope_type\":\"linear\","
                    "\"factor\":4}," BASE "}", &c, &e, NULL, 0) == 0);
    CHECK(c.rope_theta == 10000.0 && c.rope_scaling == LS_ROPE_SCALING_LINEAR);
    cfg_bad("{\"model_type\":\"llama\",\"rope_scaling\":{\"type\":\"dynamic\",\"factor\":2},"
            BASE "}", "rope_scaling.type", "dynamic");
    cfg_bad("{\"model_type\":\"llama\",\"rope_parameters\":{\"rope_type\":\"yarn\","
            "\"factor\":2}," BASE "}", "rope_parameters.rope_type", "yarn");
    cfg_bad("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,"
            "\"low_freq_factor\":1,\"high_freq_factor\":4}," BASE "}",
            "rope_scaling.original_max_position_embeddings", "required");
    cfg_bad("{\"model_type\":\"llama\",\"rope_scaling\":{\"rope_type\":\"linear\"}," BASE "}",
            "rope_scaling.factor", NULL);
}

static void test_config_rejects(void)
{
    cfg_bad("{\"model_type\":\"llama\",\"intermediate_size\":172,\"num_hidden_layers\":2,"
            "\"num_attention_heads\":8,\"vocab_size\":512}", "hidden_size", "missing");
    cfg_bad("{\"model_type\":\"llama\",\"hidden_size\":64,\"intermediate_size\":172,"
            "\"num_hidden_layers\":2,\"num_attention_heads\":8}", "vocab_size", "missing");
    cfg_bad("{\"model_type\":\"gemma\"," BASE "}", "model_type", "gemma");
    cfg_bad("{" BASE "}", "model_type", "missing");
    cfg_bad("{\"model_type\":\"llama\",\"num_local_experts\":8," BASE "}", "num_local_experts",
            "mixture-of-experts");
    cfg_bad("{\"model_type\":\"llama\",\"hidden_act\":\"gelu\"," BASE "}", "hidden_act", "gelu");
    cfg_bad("{\"model_type\":\"llama\",\"attention_bias\":true," BASE "}", "attention_bias",
            NULL);
    cfg_bad("{\"model_type\":\"llama\",\"mlp_bias\":true," BASE "}", "mlp_bias", NULL);
    cfg_bad("{\"model_type\":\"llama\",\"partial_rotary_factor\":0.5," BASE "}",
            "partial_rotary_factor", NULL);
    cfg_bad("{\"model_type\":\"llama\",\"final_logit_softcapping\":30.0," BASE "}",
            "final_logit_softcapping", NULL);
    cfg_bad("{\"model_type\":\"qwen2\",\"num_key_value_heads\":2,\"use_sliding_window\":true,"
            BASE "}", "use_sliding_window", NULL);
    cfg_bad("{\"model_type\":\"qwen2\",\"num_key_value_heads\":2,\"layer_types\":"
            "[\"full_attention\",\"sliding_attention\"]," BASE "}", "layer_types[1]", NULL);
    cfg_bad("{\"model_type\":\"llama\",\"hidden_size\":64.5,\"intermediate_size\":172,"
            "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"vocab_size\":512}",
            "hidden_size", "integer");
    cfg_bad("{\"model_type\":\"llama\",\"hidden_size\":-64,\"intermediate_size\":172,"
            "\"num_hidden_layers\":2,\"num_attention_heads\":8,\"vocab_size\":512}",
            "hidden_size", "range");
    cfg_bad("{\"model_type\":\"llama\",\"num_key_value_heads\":3," BASE "}",
            "num_key_value_heads", NULL);
    cfg_bad("{\"model_type\":\"llama\",\"head_dim\":7," BASE "}", "head_dim", "odd");
    cfg_bad("{\"model_type\":\"llama\",\"rms_norm_eps\":\"x\"," BASE "}", "rms_norm_eps", NULL);
    cfg_bad("{\"model_type\":\"llama\",\"tie_word_embeddings\":1," BASE "}",
            "tie_word_embeddings", "boolean");
    cfg_bad("{\"model_type\":\"llama\"," BASE, "invalid JSON", NULL);
    cfg_bad("[]", "not a JSON object", NULL);
}

/* ---------------------------------------------------------------- GGUF by hand */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_u32(buf *b, uint32_t v) { b_put(b, &v, 4); }
static void b_u64(buf *b, uint64_t v) { b_put(b, &v, 8); }
static void b_str(buf *b, const char *s)
{
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}
static void b_kv_u32(buf *b, const char *k, uint32_t v)
{
    b_str(b, k);
    b_u32(b, LS_GGUF_UINT32);
    b_u32(b, v);
}
static void b_kv_str(buf *b, const char *k, const char *v)
{
    b_str(b, k);
    b_u32(b, LS_GGUF_STRING);
    b_str(b, v);
}
static void b_head(buf *b, uint32_t version, uint64_t nt, uint64_t nkv)
{
    b_put(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, nt);
    b_u64(b, nkv);
}
static void b_tensor(buf *b, const char *name, int nd, const uint64_t *ne, uint32_t type,
                     uint64_t off)
{
    b_str(b, name);
    b_u32(b, (uint32_t)nd);
    for (int i = 0; i < nd; i++)
        b_u64(b, ne[i]);
    b_u32(b, type);
    b_u64(b, off);
}
static void b_align(buf *b, size_t a)
{
    while (b->n % a)
        b_put(b, "", 1);
}

static void gguf_expect(buf *b, const char *f1, const char *f2)
{
    ls_gguf *g = NULL;
    ls_error e;
    CHECK(ls_gguf_parse("bad.gguf", b->p, b->n, &g, &e) == -1 && g == NULL);
    check_msg(&e, "bad.gguf", f1);
    if (f2)
        check_msg(&e, f2, NULL);
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void test_gguf_bad_header(void)
{
    buf b = {0};
    b_put(&b, "GGUX", 4);
    b_u32(&b, 3);
    gguf_expect(&b, "magic", NULL);
    b_head(&b, 1, 0, 0);
    gguf_expect(&b, "version", "1");
    b_head(&b, 4, 0, 0);
    gguf_expect(&b, "version", "4");
    b_head(&b, 0x03000000u, 0, 0);
    gguf_expect(&b, "version", "byte-swapped");
    b_put(&b, "GGUF\x03\x00", 6);
    gguf_expect(&b, "version", "truncated");
    b_head(&b, 3, 0, 0);
    b.n -= 3;
    gguf_expect(&b, "n_kv", "truncated");
    b_head(&b, 3, 0, UINT64_MAX);
    gguf_expect(&b, "n_kv", "negative");
    b_head(&b, 3, 0, 1000000);
    gguf_expect(&b, "n_kv", "cannot fit");
    b_head(&b, 3, (uint64_t)1 << 40, 0);
    gguf_expect(&b, "n_tensors", "cannot fit");
    /* the smallest valid file */
    b_head(&b, 2, 0, 0);
    ls_gguf *g = NULL;
    ls_error e;
    CHECK(ls_gguf_parse("ok.gguf", b.p, b.n, &g, &e) == 0 && g && g->version == 2);
    ls_gguf_free(g);
    free(b.p);
}

static void test_gguf_bad_kv(void)
{
    buf b = {0};
    b_head(&b, 3, 0, 2);
    b_kv_u32(&b, "a.b", 1);
    b_kv_u32(&b, "a.b", 2);
    gguf_expect(&b, "a.b", "duplicate key");
    b_head(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, LS_GGUF_ARRAY);
    b_u32(&b, LS_GGUF_ARRAY);
    b_u64(&b, 1);
    b_u32(&b, LS_GGUF_UINT8);
    b_u64(&b, 0);
    gguf_expect(&b, "arr", "nested");
    b_head(&b, 3, 0, 1);
    b_str(&b, "weird");
    b_u32(&b, 13);
    b_u32(&b, 0);
    gguf_expect(&b, "weird", "unknown value type 13");
    b_head(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, LS_GGUF_ARRAY);
    b_u32(&b, 99);
    b_u64(&b, 0);
    gguf_expect(&b, "arr", "unknown array element type 99");
    b_head(&b, 3, 0, 1);
    b_str(&b, "s");
    b_u32(&b, LS_GGUF_STRING);
    b_u64(&b, 1000);
    b_put(&b, "abc", 3);
    gguf_expect(&b, "s", "truncated");
    b_head(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, LS_GGUF_ARRAY);
    b_u32(&b, LS_GGUF_UINT64);
    b_u64(&b, 1000);
    gguf_expect(&b, "arr", "truncated");
    b_head(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, LS_GGUF_ARRAY);
    b_u32(&b, LS_GGUF_UINT8);
    b_u64(&b, ((uint64_t)1 << 30) + 1);
    gguf_expect(&b, "arr", "2^30");
    b_head(&b, 3, 0, 1);
    b_str(&b, "");
    b_u32(&b, LS_GGUF_UINT16);
    b_put(&b, "\x01\x00", 2);
    gguf_expect(&b, "key", "empty");
    b_head(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, LS_GGUF_UINT32);
    b_u32(&b, 24);
    gguf_expect(&b, "general.alignment", "power of two");
    b_head(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, LS_GGUF_UINT64);
    b_u64(&b, 32);
    gguf_expect(&b, "general.alignment", "UINT32");
    /* every scalar type, a BOOL of 2 read as true, signed values sign-extended */
    b_head(&b, 3, 0, 4);
    b_str(&b, "i8");
    b_u32(&b, LS_GGUF_INT8);
    b_put(&b, "\xfe", 1);
    b_str(&b, "b");
    b_u32(&b, LS_GGUF_BOOL);
    b_put(&b, "\x02", 1);
    b_str(&b, "f64");
    b_u32(&b, LS_GGUF_FLOAT64);
    double d = 2.5;
    b_put(&b, &d, 8);
    b_str(&b, "u16");
    b_u32(&b, LS_GGUF_UINT16);
    b_put(&b, "\xff\xff", 2);
    ls_gguf *g = NULL;
    ls_error e;
    CHECK(ls_gguf_parse("ok.gguf", b.p, b.n, &g, &e) == 0);
    if (g) {
        int64_t v;
        bool bl;
        double f;
        CHECK(ls_gguf_get_int(g, "i8", &v, &e) == 1 && v == -2);
        CHECK(ls_gguf_get_int(g, "u16", &v, &e) == 1 && v == 65535);
        CHECK(ls_gguf_get_bool(g, "b", &bl, &e) == 1 && bl);
        CHECK(ls_gguf_get_float(g, "f64", &f, &e) == 1 && f == 2.5);
        CHECK(ls_gguf_get_float(g, "i8", &f, &e) == 1 && f == -2.0);
    }
    ls_gguf_free(g);
    free(b.p);
}

static void test_gguf_bad_tensors(void)
{
    buf b = {0};
    uint64_t ne[2] = {32, 4};
    b_head(&b, 3, 1, 0);
    b_tensor(&b, "blk.0.attn_q.weight", 2, ne, 12, 0);
    b_align(&b, 32);
    for (int i = 0; i < 144; i++)
        b_put(&b, "", 1);
    gguf_expect(&b, "'blk.0.attn_q.weight'", "Q4_K");
    b_head(&b, 3, 1, 0);
    b_tensor(&b, "t", 2, ne, 8, 0);
    gguf_expect(&b, "'t'", "Q8_0");
    b_head(&b, 3, 1, 0);
    b_tensor(&b, "t", 2, ne, 77, 0);
    gguf_expect(&b, "'t'", "unknown (77)");
    b_head(&b, 3, 1, 0);
    b_tensor(&b, "t", 2, ne, 0, 0);
    b_align(&b, 32);
    b_put(&b, "abcd", 4); /* 512 bytes needed */
    gguf_expect(&b, "'t'", "past the end");
    b_head(&b, 3, 1, 0);
    b_tensor(&b, "t", 2, ne, 0, 8);
    gguf_expect(&b, "'t'", "alignment");
    b_head(&b, 3, 1, 0);
    uint64_t ne5[5] = {1, 1, 1, 1, 1};
    b_tensor(&b, "t", 5, ne5, 0, 0);
    gguf_expect(&b, "'t'", "n_dims 5");
    uint64_t big[3] = {(uint64_t)1 << 40, (uint64_t)1 << 40, 1 << 20};
    b_head(&b, 3, 1, 0);
    b_tensor(&b, "t", 3, big, 0, 0);
    gguf_expect(&b, "'t'", "overflow");
    uint64_t neg[1] = {UINT64_MAX};
    b_head(&b, 3, 1, 0);
    b_tensor(&b, "t", 1, neg, 0, 0);
    gguf_expect(&b, "'t'", "negative");
    uint64_t one[1] = {8};
    b_head(&b, 3, 2, 0);
    b_tensor(&b, "t", 1, one, 0, 0);
    b_tensor(&b, "t", 1, one, 0, 32);
    b_align(&b, 32);
    for (int i = 0; i < 64; i++)
        b_put(&b, "", 1);
    gguf_expect(&b, "'t'", "duplicate name");
    b_head(&b, 3, 2, 0);
    b_tensor(&b, "a", 1, ne, 0, 0);
    b_tensor(&b, "b", 1, one, 0, 96);
    b_align(&b, 32);
    for (int i = 0; i < 160; i++)
        b_put(&b, "", 1);
    gguf_expect(&b, "'b'", "overlaps");
    b_head(&b, 3, 1, 0);
    b_tensor(&b, "t", 1, one, 0, 0);
    gguf_expect(&b, "data", "past the end");
    b_head(&b, 3, 1, 0);
    char longname[80];
    memset(longname, 'x', 79);
    longname[79] = '\0';
    b_tensor(&b, longname, 1, one, 0, 0);
    gguf_expect(&b, "tensor name", NULL);
    /* a 0-tensor file ending before the aligned data start is fine */
    b_head(&b, 3, 0, 1);
    b_kv_str(&b, "general.architecture", "llama");
    CHECK(b.n % 32 != 0);
    ls_gguf *g = NULL;
    ls_error e;
    CHECK(ls_gguf_parse("ok.gguf", b.p, b.n, &g, &e) == 0);
    CHECK(g && g->data_start > b.n);
    ls_gguf_free(g);
    free(b.p);
}

/* GGUF metadata -> config. */
static void gguf_cfg_expect(buf *b, const char *f1, const char *f2)
{
    ls_gguf *g = NULL;
    ls_error e;
    ls_config c;
    CHECK(ls_gguf_parse("cfg.gguf", b->p, b->n, &g, &e) == 0);
    if (g) {
        CHECK(ls_gguf_config(g, &c, &e) == -1);
        check_msg(&e, "cfg.gguf", f1);
        if (f2)
            check_msg(&e, f2, NULL);
    }
    ls_gguf_free(g);
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void b_llama_keys(buf *b, const char *arch, int skip)
{
    const char *keys[] = {"block_count", "embedding_length", "feed_forward_length",
                          "attention.head_count", "context_length"};
    uint32_t vals[] = {2, 64, 172, 8, 512};
    char k[128];
    b_kv_str(b, "general.architecture", arch);
    for (int i = 0; i < 5; i++) {
        if (i == skip)
            continue;
        snprintf(k, sizeof k, "%s.%s", arch, keys[i]);
        b_kv_u32(b, k, vals[i]);
    }
    snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
    b_str(b, k);
    b_u32(b, LS_GGUF_FLOAT32);
    float eps = 1e-5f;
    b_put(b, &eps, 4);
    snprintf(k, sizeof k, "%s.vocab_size", arch);
    b_kv_u32(b, k, 512);
}

static void test_gguf_config_keys(void)
{
    buf b = {0};
    b_head(&b, 3, 0, 8);
    b_llama_keys(&b, "llama", -1);
    ls_gguf *g = NULL;
    ls_error e;
    ls_config c;
    CHECK(ls_gguf_parse("cfg.gguf", b.p, b.n, &g, &e) == 0);
    CHECK(g && ls_gguf_config(g, &c, &e) == 0);
    CHECK(c.n_layers == 2 && c.dim == 64 && c.n_kv_heads == 8 && c.head_dim == 8);
    CHECK(c.rope_theta == 10000.0 && c.rope_layout == LS_ROPE_PAIRS && c.context == 512);
    ls_gguf_free(g);
    free(b.p);
    memset(&b, 0, sizeof b);
    b_head(&b, 3, 0, 7);
    b_llama_keys(&b, "llama", 0);
    gguf_cfg_expect(&b, "llama.block_count", "missing");
    b_head(&b, 3, 0, 8);
    b_llama_keys(&b, "gemma", -1);
    gguf_cfg_expect(&b, "general.architecture", "gemma");
    b_head(&b, 3, 0, 9);
    b_llama_keys(&b, "llama", -1);
    b_kv_u32(&b, "llama.rope.dimension_count", 4);
    gguf_cfg_expect(&b, "llama.rope.dimension_count", "partial");
    b_head(&b, 3, 0, 9);
    b_llama_keys(&b, "llama", -1);
    b_kv_str(&b, "llama.rope.scaling.type", "yarn");
    gguf_cfg_expect(&b, "llama.rope.scaling.type", "yarn");
    b_head(&b, 3, 0, 9);
    b_llama_keys(&b, "llama", -1);
    b_kv_u32(&b, "llama.expert_count", 8);
    gguf_cfg_expect(&b, "llama.expert_count", "mixture");
    b_head(&b, 3, 0, 9);
    b_llama_keys(&b, "llama", -1);
    b_kv_str(&b, "llama.attention.head_count_kv", "x");
    gguf_cfg_expect(&b, "llama.attention.head_count_kv", "STRING");
    b_head(&b, 3, 0, 9);
    b_llama_keys(&b, "llama", -1);
    b_kv_u32(&b, "llama.attention.head_count_kv", 3);
    gguf_cfg_expect(&b, "head_count_kv", "does not divide");
}

/* A GGUF whose weights are fine but whose tensor is an unsupported type, through the model. */
static void test_gguf_through_model(void)
{
    const char *dir = t_tmpdir("gguf_model_bad");
    char path[1024];
    snprintf(path, sizeof path, "%s", tpath(dir, "m.gguf"));
    ls_synth_spec s = tiny(1, LS_DT_F32);
    ls_error e;
    CHECK(ls_write_gguf(path, &s, &e) == 0);
    size_t n;
    uint8_t *img = read_all(path, &n);
    if (!img)
        return;
    /* patch the type field of blk.0.attn_q.weight to Q4_K */
    const char *name = "blk.0.attn_q.weight";
    uint8_t *p = memmem(img, n, name, strlen(name));
    CHECK(p != NULL);
    if (p) {
        uint8_t *type = p + strlen(name) + 4 + 2 * 8;
        uint32_t q4k = 12;
        memcpy(type, &q4k, 4);
        write_bytes(path, img, n);
        open_err(path, &e);
        check_msg(&e, path, "'blk.0.attn_q.weight': type Q4_K");
    }
    /* truncated: tensors past the end */
    CHECK(ls_write_gguf(path, &s, &e) == 0);
    free(img);
    img = read_all(path, &n);
    write_bytes(path, img, n - 100);
    open_err(path, &e);
    check_msg(&e, path, "past the end");
    /* a required key missing: the model needs the config */
    uint8_t *k = memmem(img, n, "llama.block_count", 17);
    if (k) {
        memcpy(k, "llama.block_counx", 17);
        write_bytes(path, img, n);
        open_err(path, &e);
        check_msg(&e, path, "llama.block_count: required key is missing");
    }
    free(img);
}

/* ---------------------------------------------------------------- llama2.c bad inputs */

static void test_llama2c_bad(void)
{
    const char *dir = t_tmpdir("l2c_bad_sizes");
    char path[1024];
    snprintf(path, sizeof path, "%s", tpath(dir, "m.bin"));
    ls_synth_spec s = tiny(2, LS_DT_F32);
    ls_error e;
    CHECK(ls_write_llama2c(path, &s, &e) == 0);
    size_t n;
    uint8_t *img = read_all(path, &n);
    if (!img)
        return;
    write_bytes(path, img, n - 4);
    open_err(path, &e);
    check_msg(&e, path, "size: file has");
    uint8_t *big = calloc(1, n + 4);
    memcpy(big, img, n);
    write_bytes(path, big, n + 4);
    open_err(path, &e);
    check_msg(&e, path, "size: file has");
    free(big);
    int32_t h[7];
    memcpy(h, img, sizeof h);
    int32_t bad[7];
    memcpy(bad, h, sizeof h);
    bad[0] = 0;
    memcpy(img, bad, sizeof bad);
    write_bytes(path, img, n);
    open_err(path, &e);
    check_msg(&e, path, "dim = 0");
    memcpy(bad, h, sizeof h);
    bad[4] = 3;
    memcpy(img, bad, sizeof bad);
    write_bytes(path, img, n);
    open_err(path, &e);
    check_msg(&e, path, "n_kv_heads = 3");
    memcpy(bad, h, sizeof h);
    bad[0] = bad[1] = bad[2] = 0x7fffffff;
    bad[3] = bad[4] = 1;
    memcpy(img, bad, sizeof bad);
    write_bytes(path, img, n);
    open_err(path, &e);
    check_msg(&e, path, "header");
    memcpy(bad, h, sizeof h);
    bad[5] = INT32_MIN;
    memcpy(img, bad, sizeof bad);
    write_bytes(path, img, n);
    open_err(path, &e);
    check_msg(&e, path, "vocab_size");
    write_bytes(path, img, 10);
    open_err(path, &e);
    check_msg(&e, path, "too short");
    write_bytes(path, img, 0);
    open_err(path, &e);
    check_msg(&e, path, "empty");
    free(img);
    /* the header parser alone */
    ls_l2c_header hd;
    uint8_t hb[28] = {0};
    CHECK(ls_l2c_parse_header("h.bin", hb, sizeof hb, &hd, &e) == -1);
    check_msg(&e, "h.bin", "dim = 0");
}

/* ---------------------------------------------------------------- fuzz regressions */

/* Same entry points as tests/fuzz/fuzz_*.c: must return without crashing. */
static void walk_gguf_arrays(const ls_gguf *g)
{
    volatile double sink = 0;
    for (int64_t i = 0; i < g->n_kv; i++) {
        const ls_gguf_array *a = &g->kv[i].v.a;
        if (g->kv[i].type != LS_GGUF_ARRAY)
            continue;
        const uint8_t *p = a->data;
        for (uint64_t k = 0; k < a->count; k++) {
            if (a->type == LS_GGUF_STRING) {
                ls_gguf_str str;
                p = ls_gguf_str_next(p, &str);
                sink += (double)str.len;
            } else {
                sink += (double)ls_gguf_array_int(a, k) + ls_gguf_array_float(a, k);
            }
        }
    }
    (void)sink;
}

static void replay_model(const char *path)
{
    ls_model *m = NULL;
    ls_error e;
    if (ls_model_open(path, NULL, &m, &e) == 0)
        ls_model_free(m);
}

static void replay_one(const char *target, const char *path, const uint8_t *d, size_t n)
{
    ls_error e;
    if (strcmp(target, "safetensors") == 0) {
        ls_st_file f;
        if (ls_st_parse("fuzz", d, n, &f, &e) == 0)
            ls_st_free(&f);
        const char *dir = t_tmpdir("fuzz_replay_st");
        write_text(tpath(dir, "config.json"),
                   "{\"model_type\":\"llama\",\"hidden_size\":16,\"intermediate_size\":24,"
                   "\"num_hidden_layers\":2,\"num_attention_heads\":4,"
                   "\"num_key_value_heads\":2,\"vocab_size\":32,\"rms_norm_eps\":1e-5}");
        write_bytes(tpath(dir, "model.safetensors"), d, n);
        replay_model(dir);
    } else if (strcmp(target, "gguf") == 0) {
        ls_gguf *g = NULL;
        if (ls_gguf_parse("fuzz", d, n, &g, &e) == 0) {
            walk_gguf_arrays(g);
            ls_config c;
            ls_gguf_config(g, &c, &e);
            ls_gguf_free(g);
        }
        replay_model(path);
    } else if (strcmp(target, "llama2c") == 0) {
        ls_l2c_header h;
        if (ls_l2c_parse_header("fuzz", d, n, &h, &e) == 0) {
            ls_tensor *t;
            int nt;
            ls_config c;
            if (ls_l2c_tensors("fuzz", &h, d, &t, &nt, &c, &e) == 0)
                free(t);
        }
        replay_model(path);
    } else if (strcmp(target, "csv") == 0) {
        char *text = malloc(n + 1);
        if (text) {
            memcpy(text, d, n);
            text[n] = '\0';
            ls_csv c;
            if (ls_csv_parse("fuzz.csv", text, n, &c, &e) == 0) {
                volatile size_t sink = 0; /* touch every cell */
                for (size_t r = 0; r < c.n_rows; r++)
                    for (int k = 0; k < c.n_cols; k++)
                        sink += strlen(ls_csv_cell(&c, r, k));
                (void)sink;
            }
            ls_csv_free(&c); /* the parser owns text, even on failure */
        }
        ls_profile *p = NULL;
        if (ls_import_metrics(path, &p, &e) == 0)
            ls_profile_free(p);
        if (ls_import_kurtosis(path, &p, &e) == 0)
            ls_profile_free(p);
        if (ls_import_sensitivity(path, NULL, &p, &e) == 0)
            ls_profile_free(p);
        unsigned char flags[8 * 7];
        ls_manual_read(path, 8, flags, &e);
    } else if (strcmp(target, "hfconfig") == 0) {
        ls_config c;
        char warn[256];
        warn[0] = '\0';
        ls_hf_config_parse("fuzz", (const char *)d, n, &c, warn, sizeof warn, &e);
        ls_st_index ix;
        if (ls_st_index_parse("fuzz", (const char *)d, n, &ix, &e) == 0)
            ls_st_index_free(&ix);
    }
}

/* Every input of tests/fuzz/regressions/NAME and tests/fuzz/seeds/NAME, through the entry
 * points of fuzz_NAME.c. Finding no input at all is a failure (a moved corpus would
 * otherwise pass in silence), and so is a CSV corpus that contributes none. */
static void test_fuzz_regressions(void)
{
    static const char *const targets[] = {"safetensors", "gguf", "llama2c", "hfconfig", "csv"};
    static const char *const corpora[] = {"tests/fuzz/regressions", "tests/fuzz/seeds"};
    int replayed = 0, csv = 0;
    for (size_t c = 0; c < sizeof corpora / sizeof corpora[0]; c++)
        for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
            char dir[256];
            snprintf(dir, sizeof dir, "%s/%s", corpora[c], targets[i]);
            DIR *d = opendir(dir);
            if (!d)
                continue;
            struct dirent *ent;
            while ((ent = readdir(d))) {
                if (ent->d_name[0] == '.')
                    continue;
                size_t n;
                char path[1024];
                snprintf(path, sizeof path, "%s", tpath(dir, ent->d_name));
                uint8_t *img = read_all(path, &n);
                CHECK(img != NULL);
                if (img) {
                    replay_one(targets[i], path, img, n);
                    replayed++;
                    csv += strcmp(targets[i], "csv") == 0;
                }
                free(img);
            }
            closedir(d);
        }
    printf("  (%d fuzz regression and seed inputs replayed, %d of them CSV)\n", replayed, csv);
    CHECK(replayed > 0);
    CHECK(csv > 0);
}

/* What a file is: each recogniser on a file of its kind, and a file of no known kind
 * refused with every check named (not a llama2.c header error). */
static void put_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void test_source_identify(void)
{
    char dir[] = "/tmp/ls_identify_XXXXXX", p[256];
    CHECK(mkdtemp(dir) != NULL);
    ls_error e;
    snprintf(p, sizeof p, "%s/README.md", dir);
    const char *text = "# layerscope\nA terminal program for people who quantize LLMs.\n";
    put_bytes(p, text, strlen(text));
    CHECK(ls_source_identify(p, &e) == LS_FILE_UNKNOWN);
    check_msg(&e, "README.md: not a model: no GGUF magic, not safetensors, not a llama2.c "
                  "header, not a toolkit CSV, not an imatrix", NULL);
    ls_model *m = NULL;
    ls_profile *pr = NULL;
    ls_source_options so = {0};
    CHECK(ls_source_open(p, &so, &m, &pr, &e) < 0 && !m && !pr);
    check_msg(&e, "not a model", NULL);
    snprintf(p, sizeof p, "%s/x.gguf", dir);
    put_bytes(p, "GGUF\3\0\0\0", 8);
    CHECK(ls_source_identify(p, &e) == LS_FILE_GGUF);
    snprintf(p, sizeof p, "%s/x.safetensors", dir);
    unsigned char st[16] = {6, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' '};
    put_bytes(p, st, 14);
    CHECK(ls_source_identify(p, &e) == LS_FILE_SAFETENSORS);
    CHECK(ls_source_open(p, &so, &m, &pr, &e) < 0);
    check_msg(&e, "safetensors file alone", "config.json");
    snprintf(p, sizeof p, "%s/x.bin", dir);
    int32_t hdr[7] = {64, 172, 2, 8, 4, 512, 256}; /* plausible, but the size is wrong */
    put_bytes(p, hdr, sizeof hdr);
    CHECK(ls_source_identify(p, &e) == LS_FILE_LLAMA2C);
    CHECK(ls_source_open(p, &so, &m, &pr, &e) < 0);
    check_msg(&e, "size", NULL); /* the loader's own, precise message */
    snprintf(p, sizeof p, "%s/missing", dir);
    CHECK(ls_source_open(p, &so, &m, &pr, &e) < 0);
    check_msg(&e, "missing: not found", NULL); /* the words of every reader (base/mapfile.h) */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    RUN(test_source_identify);
    RUN(test_names_and_helpers);
    RUN(test_presets);
    RUN(test_generator_determinism);
    RUN(test_generator_distributions);
    RUN(test_hf_f32);
    RUN(test_hf_f16_tied);
    RUN(test_hf_bf16);
    RUN(test_hf_sharded);
    RUN(test_hf_qwen2_bias);
    RUN(test_hf_mistral_head_dim);
    RUN(test_gguf_f32);
    RUN(test_gguf_f16_tied);
    RUN(test_gguf_bf16_tokenizer);
    RUN(test_gguf_qwen2);
    RUN(test_gguf_head_dim_and_linear_rope);
    RUN(test_llama2c_tied_and_untied);
    RUN(test_llama2c_v1);
    RUN(test_shared_bin);
    RUN(test_shared_gguf);
    RUN(test_shared_hf);
    RUN(test_shared_hf_sharded);
    RUN(test_shared_vocab_gguf);
    RUN(test_st_good_edge_cases);
    RUN(test_st_bad_headers);
    RUN(test_st_through_model);
    RUN(test_hf_missing_and_mismatch);
    RUN(test_hf_sharded_bad);
    RUN(test_config_defaults);
    RUN(test_config_rope);
    RUN(test_config_rejects);
    RUN(test_gguf_bad_header);
    RUN(test_gguf_bad_kv);
    RUN(test_gguf_bad_tensors);
    RUN(test_gguf_config_keys);
    RUN(test_gguf_through_model);
    RUN(test_llama2c_bad);
    RUN(test_fuzz_regressions);
    return t_summary();
}
