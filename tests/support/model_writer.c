#include "model_writer.h"

#include "formats/hfconfig.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_write.h"
#include "base/half.h"
#include "formats/st_writer.h"

#define GOLDEN 0x9e3779b97f4a7c15ull

/* ---- the generator ---- */

static uint64_t mix64(uint64_t z)
{
    z += GOLDEN; /* SplitMix64 finaliser */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t tensor_key(const ls_synth_spec *s, ls_synth_role role, int layer, int module)
{
    uint64_t k = mix64(s->seed);
    k = mix64(k ^ ((uint64_t)role + 1));
    k = mix64(k ^ ((uint64_t)(uint32_t)(layer + 1) << 8));
    return mix64(k ^ ((uint64_t)(uint32_t)(module + 1) << 40));
}

static double unit(uint64_t h) /* [0, 1) from the top 53 bits */
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal from one 64-bit hash (Box-Muller on two 26-bit uniforms); the low 12
 * bits are left for the caller's mixture selector. */
static double normal(uint64_t h)
{
    double u1 = (double)((h >> 38) + 1) / 67108864.0;           /* (0, 1] */
    double u2 = (double)((h >> 12) & 0x3ffffffu) / 67108864.0;  /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int ls_synth_shape(const ls_config *c, ls_synth_role role, int module, int64_t shape[2])
{
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    shape[1] = 0;
    switch (role) {
    case LS_SYN_EMBED: case LS_SYN_LM_HEAD: shape[0] = c->vocab_size, shape[1] = c->dim; return 2;
    case LS_SYN_ATTN_NORM: case LS_SYN_FFN_NORM: case LS_SYN_FINAL_NORM:
        shape[0] = c->dim;
        return 1;
    case LS_SYN_BIAS_Q: shape[0] = q; return 1;
    case LS_SYN_BIAS_K: case LS_SYN_BIAS_V: shape[0] = kv; return 1;
    case LS_SYN_LINEAR: break;
    }
    ls_module_shape(c, module, &shape[0], &shape[1]);
    return 2;
}

/* Heavy-tailed rows/columns: about 1 in 32, chosen by hash, plus the middle one. */
static bool outlier_channel(uint64_t key, int64_t ch, int64_t n)
{
    return ch == n / 2 || (mix64(key ^ ((uint64_t)ch * GOLDEN)) & 31) == 0;
}

static double outlier_factor(const ls_synth_spec *s, int layer, int module, uint64_t key,
                             int64_t row, int64_t col, int64_t rows, int64_t cols, double z)
{
    double f = 1.0;
    for (int i = 0; i < s->n_outliers; i++) {
        const ls_outlier *o = &s->outliers[i];
        if (o->layer != layer || o->module != module)
            continue;
        bool hit = o->kind == LS_OUTLIER_ROWS ? outlier_channel(key, row, rows)
                                              : outlier_channel(key ^ 1, col, cols);
        if (hit)
            f *= o->strength * (1.0 + 0.5 * z * z); /* heavier tails, larger scale */
    }
    return f;
}

static double linear_value(const ls_synth_spec *s, int layer, int module, int64_t row,
                           int64_t col)
{
    int64_t shape[2];
    ls_synth_shape(&s->cfg, LS_SYN_LINEAR, module, shape);
    uint64_t key = tensor_key(s, LS_SYN_LINEAR, layer, module);
    uint64_t h = mix64(key + (uint64_t)(row * shape[1] + col) * GOLDEN);
    double z = normal(h);
    /* per-(layer, module) contamination 0.2% .. 3.2% scaled by 3: excess kurtosis ~0.3 .. 3.7 */
    double p = 0.002 + 0.03 * unit(mix64(key ^ 0x5eed));
    double scale = 0.7 + 0.6 * unit(mix64(key ^ 0x5ca1e));
    if ((double)(h & 0xfff) < p * 4096.0)
        z *= 3.0;
    double v = scale * z / sqrt((double)shape[1]);
    return v * outlier_factor(s, layer, module, key, row, col, shape[0], shape[1], z);
}

float ls_synth_value(const ls_synth_spec *s, ls_synth_role role, int layer, int module,
                     int64_t row, int64_t col)
{
    if (role == LS_SYN_LINEAR)
        return (float)linear_value(s, layer, module, row, col);
    bool per_layer = role == LS_SYN_ATTN_NORM || role == LS_SYN_FFN_NORM ||
                     role == LS_SYN_BIAS_Q || role == LS_SYN_BIAS_K || role == LS_SYN_BIAS_V;
    uint64_t key = tensor_key(s, role, per_layer ? layer : -1, -1);
    int64_t cols = role == LS_SYN_EMBED || role == LS_SYN_LM_HEAD ? s->cfg.dim : 1;
    double z = normal(mix64(key + (uint64_t)(row * cols + col) * GOLDEN));
    switch (role) {
    case LS_SYN_EMBED: return (float)(0.5 * z);
    case LS_SYN_LM_HEAD: return (float)(z / sqrt((double)s->cfg.dim));
    case LS_SYN_BIAS_Q: case LS_SYN_BIAS_K: case LS_SYN_BIAS_V: return (float)(0.1 * z);
    default: return (float)(1.0 + 0.1 * z); /* norms */
    }
}

float ls_synth_round(float v, ls_dtype dt)
{
    switch (dt) {
    case LS_DT_F16: return ls_f16_to_f32(ls_f32_to_f16(v));
    case LS_DT_BF16: return ls_bf16_to_f32(ls_f32_to_bf16(v));
    default: return v;
    }
}

/* ---- presets and validation ---- */

static void base_config(ls_config *c)
{
    memset(c, 0, sizeof *c);
    c->arch = LS_ARCH_LLAMA;
    c->norm_eps = 1e-5;
    c->rope_theta = 10000.0;
    c->rope_factor = 1.0;
    c->rope_layout = LS_ROPE_PAIRS;
}

int ls_synth_preset(const char *name, ls_synth_spec *s, ls_error *err)
{
    memset(s, 0, sizeof *s);
    ls_config *c = &s->cfg;
    base_config(c);
    s->seed = 1;
    s->n_shards = 1;
    if (strcmp(name, "tiny") == 0) {
        c->dim = 64, c->hidden_dim = 172, c->n_layers = 16, c->n_heads = 8, c->n_kv_heads = 4;
        c->vocab_size = 512, c->context = 512;
        s->dtype = LS_DT_F32;
    } else if (strcmp(name, "1b") == 0) {
        c->dim = 2048, c->hidden_dim = 5632, c->n_layers = 22, c->n_heads = 32;
        c->n_kv_heads = 4, c->vocab_size = 32000, c->context = 2048;
        s->dtype = LS_DT_BF16;
    } else if (strcmp(name, "llama2-7b") == 0) {
        c->dim = 4096, c->hidden_dim = 11008, c->n_layers = 32, c->n_heads = 32;
        c->n_kv_heads = 32, c->vocab_size = 32000, c->context = 4096;
        s->dtype = LS_DT_F16;
        s->n_shards = 2;
    } else {
        return ls_fail(err, "preset: unknown preset \"%s\" (tiny, 1b, llama2-7b)", name);
    }
    c->head_dim = c->dim / c->n_heads;
    return 0;
}

int ls_synth_validate(const ls_synth_spec *s, ls_error *err)
{
    const ls_config *c = &s->cfg;
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->head_dim <= 0 || c->vocab_size <= 0)
        return ls_fail(err, "spec: config: dimensions must be positive");
    if (c->n_heads % c->n_kv_heads != 0)
        return ls_fail(err, "spec: n_kv_heads: %d does not divide n_heads %d", c->n_kv_heads,
                       c->n_heads);
    if (c->head_dim % 2 != 0)
        return ls_fail(err, "spec: head_dim: %d is odd", c->head_dim);
    if (c->qkv_bias && c->arch != LS_ARCH_QWEN2)
        return ls_fail(err, "spec: qkv_bias: only qwen2 has q/k/v biases");
    if (s->dtype != LS_DT_F32 && s->dtype != LS_DT_F16 && s->dtype != LS_DT_BF16)
        return ls_fail(err, "spec: dtype: unknown dtype %d", (int)s->dtype);
    if (s->n_outliers < 0 || s->n_outliers > LS_SYNTH_MAX_OUTLIERS)
        return ls_fail(err, "spec: outliers: count %d out of range", s->n_outliers);
    for (int i = 0; i < s->n_outliers; i++) {
        const ls_outlier *o = &s->outliers[i];
        if (o->layer < 0 || o->layer >= c->n_layers || o->module < 0 ||
            o->module >= LS_N_MODULES || !(o->strength > 0))
            return ls_fail(err, "spec: outliers[%d]: layer, module or strength out of range",
                           i);
    }
    return 0;
}

/* ---- tensor lists ---- */

typedef struct wtensor {
    char name[96];
    ls_synth_role role;
    int layer, module;
    int n_dims;
    int64_t shape[2];
    ls_dtype dtype;
    bool to_halves; /* HF llama/mistral q/k: write pairs rows in halves order */
    uint64_t offset, nbytes;
    const ls_synth_spec *spec; /* for the safetensors writer's fill callback */
} wtensor;

typedef struct wlist {
    wtensor *t;
    int n, cap;
} wlist;

static int wl_add(wlist *l, const ls_synth_spec *s, const char *name, ls_synth_role role,
                  int layer, int module, ls_dtype dt)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        wtensor *nt = realloc(l->t, (size_t)cap * sizeof *nt);
        if (!nt)
            return -1;
        l->t = nt;
        l->cap = cap;
    }
    wtensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->role = role;
    t->layer = layer;
    t->module = module;
    t->n_dims = ls_synth_shape(&s->cfg, role, module, t->shape);
    t->dtype = dt;
    t->spec = s;
    int64_t n = t->shape[0] * (t->n_dims == 2 ? t->shape[1] : 1);
    t->nbytes = (uint64_t)n * ls_dtype_size(dt);
    return 0;
}

static const char *const hf_mod[LS_N_MODULES] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"};
static const char *const gguf_mod[LS_N_MODULES] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

static int hf_list(const ls_synth_spec *s, wlist *l)
{
    const ls_config *c = &s->cfg;
    ls_dtype dt = s->dtype;
    char n[96];
    int rc = wl_add(l, s, "model.embed_tokens.weight", LS_SYN_EMBED, -1, -1, dt);
    for (int L = 0; L < c->n_layers && rc == 0; L++) {
        snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", L);
        rc |= wl_add(l, s, n, LS_SYN_ATTN_NORM, L, -1, dt);
        for (int m = 0; m < LS_N_MODULES && rc == 0; m++) {
            snprintf(n, sizeof n, "model.layers.%d.%s.weight", L, hf_mod[m]);
            rc |= wl_add(l, s, n, LS_SYN_LINEAR, L, m, dt);
            if (rc == 0 && (m == LS_MOD_Q || m == LS_MOD_K) && c->arch != LS_ARCH_QWEN2)
                l->t[l->n - 1].to_halves = true;
            if (rc == 0 && c->qkv_bias && m <= LS_MOD_V) {
                snprintf(n, sizeof n, "model.layers.%d.%s.bias", L, hf_mod[m]);
                rc |= wl_add(l, s, n, (ls_synth_role)(LS_SYN_BIAS_Q + m), L, -1, dt);
            }
        }
        snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", L);
        rc |= wl_add(l, s, n, LS_SYN_FFN_NORM, L, -1, dt);
    }
    rc |= wl_add(l, s, "model.norm.weight", LS_SYN_FINAL_NORM, -1, -1, dt);
    if (!c->tied)
        rc |= wl_add(l, s, "lm_head.weight", LS_SYN_LM_HEAD, -1, -1, dt);
    return rc;
}

static int gguf_list(const ls_synth_spec *s, wlist *l)
{
    const ls_config *c = &s->cfg;
    ls_dtype dt = s->dtype, f32 = LS_DT_F32;
    char n[96];
    int rc = wl_add(l, s, "token_embd.weight", LS_SYN_EMBED, -1, -1, dt);
    rc |= wl_add(l, s, "output_norm.weight", LS_SYN_FINAL_NORM, -1, -1, f32);
    if (!c->tied)
        rc |= wl_add(l, s, "output.weight", LS_SYN_LM_HEAD, -1, -1, dt);
    for (int L = 0; L < c->n_layers && rc == 0; L++) {
        snprintf(n, sizeof n, "blk.%d.attn_norm.weight", L);
        rc |= wl_add(l, s, n, LS_SYN_ATTN_NORM, L, -1, f32);
        for (int m = 0; m < LS_N_MODULES && rc == 0; m++) {
            snprintf(n, sizeof n, "blk.%d.%s.weight", L, gguf_mod[m]);
            rc |= wl_add(l, s, n, LS_SYN_LINEAR, L, m, dt);
            if (rc == 0 && c->qkv_bias && m <= LS_MOD_V) {
                snprintf(n, sizeof n, "blk.%d.%s.bias", L, gguf_mod[m]);
                rc |= wl_add(l, s, n, (ls_synth_role)(LS_SYN_BIAS_Q + m), L, -1, f32);
            }
        }
        snprintf(n, sizeof n, "blk.%d.ffn_norm.weight", L);
        rc |= wl_add(l, s, n, LS_SYN_FFN_NORM, L, -1, f32);
    }
    return rc;
}

/* ---- files: the product's atomic writes, with a sticky error for long runs of puts ---- */

typedef struct afile {
    ls_atomic_file af;
    FILE *f;
    const char *path;
    ls_error *err;
    int failed; /* errno of the first failed write */
} afile;

static int af_open(afile *a, const char *path, ls_error *err)
{
    memset(a, 0, sizeof *a);
    a->path = path;
    a->err = err;
    if (ls_atomic_open(path, &a->af, err) < 0)
        return -1;
    a->f = a->af.f;
    fchmod(fileno(a->f), 0644); /* model files are for everyone to read, like a cp'd model */
    setvbuf(a->f, NULL, _IOFBF, 1 << 20);
    return 0;
}

static void af_write(afile *a, const void *p, size_t n)
{
    if (!a->failed && n && fwrite(p, 1, n, a->f) != n)
        a->failed = errno ? errno : EIO;
}

static void af_abort(afile *a)
{
    ls_atomic_abort(&a->af);
    a->f = NULL;
}

static int af_commit(afile *a)
{
    if (a->failed) {
        int e = a->failed;
        af_abort(a);
        return ls_fail(a->err, "%s: write failed: %s", a->path, strerror(e));
    }
    a->f = NULL;
    return ls_atomic_commit(&a->af, a->err);
}

static void put_u32(afile *a, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    af_write(a, b, 4);
}

static void put_u64(afile *a, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    af_write(a, b, 8);
}

static void put_f32(afile *a, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(a, u);
}

static void put_zeros(afile *a, size_t n)
{
    static const uint8_t z[64];
    while (n > 0) {
        size_t k = n < sizeof z ? n : sizeof z;
        af_write(a, z, k);
        n -= k;
    }
}

/* Streams one tensor's data row by row in its storage dtype. */
static int write_tensor_rows(FILE *f, const ls_synth_spec *s, const wtensor *t, ls_error *err)
{
    int64_t rows = t->shape[0], cols = t->n_dims == 2 ? t->shape[1] : 1;
    size_t es = ls_dtype_size(t->dtype);
    uint8_t *buf = malloc((size_t)cols * es);
    if (!buf)
        return ls_fail(err, "%s: out of memory", t->name);
    for (int64_t r = 0; r < rows; r++) {
        int64_t src = t->to_halves ? ls_rope_row_halves_to_pairs(r, s->cfg.head_dim) : r;
        for (int64_t c = 0; c < cols; c++) {
            float v = ls_synth_value(s, t->role, t->layer, t->module, src, c);
            uint8_t *p = buf + (size_t)c * es;
            if (t->dtype == LS_DT_F32) {
                uint32_t u;
                memcpy(&u, &v, 4);
                for (int i = 0; i < 4; i++)
                    p[i] = (uint8_t)(u >> (8 * i));
            } else {
                uint16_t h = t->dtype == LS_DT_F16 ? ls_f32_to_f16(v) : ls_f32_to_bf16(v);
                p[0] = (uint8_t)h;
                p[1] = (uint8_t)(h >> 8);
            }
        }
        if (fwrite(buf, 1, (size_t)cols * es, f) != (size_t)cols * es) {
            int e = errno ? errno : EIO;
            free(buf);
            return ls_fail(err, "%s: write failed: %s", t->name, strerror(e));
        }
    }
    free(buf);
    return 0;
}

static int write_tensor_data(afile *a, const ls_synth_spec *s, const wtensor *t)
{
    if (a->failed)
        return 0; /* af_commit reports it */
    if (write_tensor_rows(a->f, s, t, a->err) < 0) {
        ls_error_prefix(a->err, a->path);
        return -1;
    }
    return 0;
}

/* The safetensors writer's fill callback: ctx is the wtensor. */
static int fill_tensor(FILE *f, void *ctx, ls_error *err)
{
    const wtensor *t = ctx;
    return write_tensor_rows(f, t->spec, t, err);
}

/* ---- Hugging Face ---- */

static const char *st_dtype(ls_dtype dt)
{
    return dt == LS_DT_F32 ? "F32" : dt == LS_DT_F16 ? "F16" : "BF16";
}

static const char *torch_dtype(ls_dtype dt)
{
    return dt == LS_DT_F32 ? "float32" : dt == LS_DT_F16 ? "float16" : "bfloat16";
}

static cJSON *config_json(const ls_synth_spec *s)
{
    return ls_hf_config_to_json(&s->cfg, torch_dtype(s->dtype));
}

static int write_json_file(const char *path, cJSON *root, ls_error *err)
{
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return ls_fail(err, "%s: out of memory", path);
    afile a;
    int rc = af_open(&a, path, err);
    if (rc == 0) {
        af_write(&a, text, strlen(text));
        af_write(&a, "\n", 1);
        rc = af_commit(&a);
    }
    free(text);
    return rc;
}

/* One safetensors file holding tensors [first, last), through the product's writer
 * (core/formats/st_writer) with the data streamed row by row. */
static int write_safetensors(const char *path, wtensor *t, int first, int last, ls_error *err)
{
    ls_st_writer w;
    ls_st_writer_init(&w);
    w.file_mode = 0644;
    int rc = ls_st_writer_meta(&w, "format", "pt", err);
    for (int i = first; i < last && rc == 0; i++)
        rc = ls_st_writer_add_stream(&w, t[i].name, st_dtype(t[i].dtype), t[i].n_dims,
                                     t[i].shape, (size_t)t[i].nbytes, fill_tensor, &t[i], err);
    if (rc == 0)
        rc = ls_st_writer_write(&w, path, err);
    ls_st_writer_free(&w);
    return rc;
}

static int write_index(const char *path, wtensor *t, int n, const int *shard_of,
                       int n_shards, ls_error *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += t[i].nbytes;
    cJSON_AddNumberToObject(meta, "total_size", (double)total);
    cJSON *wm = cJSON_AddObjectToObject(o, "weight_map");
    for (int i = 0; i < n; i++) {
        char f[64];
        snprintf(f, sizeof f, "model-%05d-of-%05d.safetensors", shard_of[i] + 1, n_shards);
        cJSON_AddStringToObject(wm, t[i].name, f);
    }
    return write_json_file(path, o, err);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Contiguous groups of roughly equal bytes; every shard gets at least one tensor. */
static void split_shards(const wtensor *t, int n, int n_shards, int *shard_of)
{
    uint64_t total = 0, acc = 0;
    for (int i = 0; i < n; i++)
        total += t[i].nbytes;
    int s = 0;
    for (int i = 0; i < n; i++) {
        int left_t = n - i, left_s = n_shards - s;
        if (s < n_shards - 1 && i > 0 && shard_of[i - 1] == s &&
            (left_t <= left_s - 1 || acc >= total / (uint64_t)n_shards * (uint64_t)(s + 1)))
            s++;
        shard_of[i] = s;
        acc += t[i].nbytes;
    }
}

static int write_hf_shards(const char *dir, wlist *l, int n_shards, ls_error *err)
{
    int *shard_of = calloc((size_t)l->n, sizeof *shard_of);
    if (!shard_of)
        return ls_fail(err, "%s: out of memory", dir);
    split_shards(l->t, l->n, n_shards, shard_of);
    int rc = 0, first = 0;
    for (int sh = 0; sh < n_shards && rc == 0; sh++) {
        int last = first;
        while (last < l->n && shard_of[last] == sh)
            last++;
        char f[64];
        snprintf(f, sizeof f, "model-%05d-of-%05d.safetensors", sh + 1, n_shards);
        char *p = join(dir, f);
        rc = p ? write_safetensors(p, l->t, first, last, err)
               : ls_fail(err, "%s: out of memory", dir);
        free(p);
        first = last;
    }
    char *ix = join(dir, "model.safetensors.index.json");
    char *single = join(dir, "model.safetensors");
    if (!ix || !single)
        rc = ls_fail(err, "%s: out of memory", dir);
    if (rc == 0)
        rc = write_index(ix, l->t, l->n, shard_of, n_shards, err);
    if (rc == 0)
        unlink(single); /* else the loader would prefer a stale single file */
    free(ix);
    free(single);
    free(shard_of);
    return rc;
}

int ls_write_hf_dir(const char *dir, const ls_synth_spec *s, int n_shards, ls_error *err)
{
    if (ls_synth_validate(s, err) != 0)
        return -1;
    if (n_shards <= 0)
        n_shards = s->n_shards > 0 ? s->n_shards : 1;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return ls_fail(err, "%s: cannot create directory: %s", dir, strerror(errno));
    wlist l = {0};
    if (hf_list(s, &l) != 0) {
        free(l.t);
        return ls_fail(err, "%s: out of memory", dir);
    }
    if (n_shards > l.n) {
        free(l.t);
        return ls_fail(err, "%s: n_shards: %d shards for %d tensors", dir, n_shards, l.n);
    }
    char *cfg = join(dir, "config.json");
    int rc = cfg ? write_json_file(cfg, config_json(s), err)
                 : ls_fail(err, "%s: out of memory", dir);
    free(cfg);
    if (rc == 0 && n_shards == 1) {
        char *p = join(dir, "model.safetensors");
        char *ix = join(dir, "model.safetensors.index.json");
        rc = p && ix ? write_safetensors(p, l.t, 0, l.n, err)
                     : ls_fail(err, "%s: out of memory", dir);
        if (rc == 0)
            unlink(ix);
        free(p);
        free(ix);
    } else if (rc == 0) {
        rc = write_hf_shards(dir, &l, n_shards, err);
    }
    free(l.t);
    return rc;
}

/* ---- GGUF ---- */

enum { G_U32 = 4, G_I32 = 5, G_F32 = 6, G_STR = 8, G_ARR = 9 };

static void g_str(afile *a, const char *s)
{
    size_t n = strlen(s);
    put_u64(a, n);
    af_write(a, s, n);
}

static void g_key(afile *a, const char *prefix, const char *key, uint32_t type)
{
    char k[128];
    snprintf(k, sizeof k, "%s%s%s", prefix, *prefix ? "." : "", key);
    g_str(a, k);
    put_u32(a, type);
}

static void kv_u32(afile *a, const char *arch, const char *key, uint32_t v)
{
    g_key(a, arch, key, G_U32);
    put_u32(a, v);
}

static void kv_f32(afile *a, const char *arch, const char *key, float v)
{
    g_key(a, arch, key, G_F32);
    put_f32(a, v);
}

static void kv_str(afile *a, const char *arch, const char *key, const char *v)
{
    g_key(a, arch, key, G_STR);
    g_str(a, v);
}

static void token_piece(char *buf, size_t n, int id)
{
    if (id == 0)
        snprintf(buf, n, "<unk>");
    else if (id == 1)
        snprintf(buf, n, "<s>");
    else if (id == 2)
        snprintf(buf, n, "</s>");
    else if (id < 259)
        snprintf(buf, n, "<0x%02X>", id - 3);
    else
        snprintf(buf, n, "\xe2\x96\x81t%d", id); /* "▁t<id>": unique filler pieces */
}

static int token_type(int id)
{
    return id == 0 ? 2 : id < 3 ? 3 : id < 259 ? 6 : 1;
}

static int write_gguf_tokenizer(afile *a, const ls_synth_spec *s)
{
    int V = s->cfg.vocab_size;
    kv_str(a, "", "tokenizer.ggml.model", "llama");
    g_key(a, "", "tokenizer.ggml.tokens", G_ARR);
    put_u32(a, G_STR);
    put_u64(a, (uint64_t)V);
    char piece[32];
    for (int i = 0; i < V; i++) {
        token_piece(piece, sizeof piece, i);
        g_str(a, piece);
    }
    g_key(a, "", "tokenizer.ggml.scores", G_ARR);
    put_u32(a, G_F32);
    put_u64(a, (uint64_t)V);
    for (int i = 0; i < V; i++)
        put_f32(a, i < 259 ? 0.0f : (float)-(i - 259));
    g_key(a, "", "tokenizer.ggml.token_type", G_ARR);
    put_u32(a, G_I32);
    put_u64(a, (uint64_t)V);
    for (int i = 0; i < V; i++)
        put_u32(a, (uint32_t)token_type(i));
    kv_u32(a, "", "tokenizer.ggml.bos_token_id", 1);
    kv_u32(a, "", "tokenizer.ggml.eos_token_id", 2);
    kv_u32(a, "", "tokenizer.ggml.unknown_token_id", 0);
    return 7;
}

static int write_gguf_kvs(afile *a, const ls_synth_spec *s)
{
    const ls_config *c = &s->cfg;
    const char *arch = c->arch == LS_ARCH_QWEN2 ? "qwen2" : "llama";
    int n = 0;
    kv_str(a, "", "general.architecture", arch), n++;
    kv_str(a, "", "general.name", "layerscope-synthetic"), n++;
    kv_u32(a, "", "general.alignment", 32), n++;
    kv_u32(a, arch, "block_count", (uint32_t)c->n_layers), n++;
    kv_u32(a, arch, "context_length", (uint32_t)(c->context > 0 ? c->context : 2048)), n++;
    kv_u32(a, arch, "embedding_length", (uint32_t)c->dim), n++;
    kv_u32(a, arch, "feed_forward_length", (uint32_t)c->hidden_dim), n++;
    kv_u32(a, arch, "attention.head_count", (uint32_t)c->n_heads), n++;
    kv_u32(a, arch, "attention.head_count_kv", (uint32_t)c->n_kv_heads), n++;
    kv_f32(a, arch, "attention.layer_norm_rms_epsilon", (float)c->norm_eps), n++;
    kv_f32(a, arch, "rope.freq_base", (float)c->rope_theta), n++;
    kv_u32(a, arch, "rope.dimension_count", (uint32_t)c->head_dim), n++;
    kv_u32(a, arch, "vocab_size", (uint32_t)c->vocab_size), n++;
    if (c->head_dim * c->n_heads != c->dim) {
        kv_u32(a, arch, "attention.key_length", (uint32_t)c->head_dim), n++;
        kv_u32(a, arch, "attention.value_length", (uint32_t)c->head_dim), n++;
    }
    if (c->rope_scaling == LS_ROPE_SCALING_LINEAR) {
        kv_str(a, arch, "rope.scaling.type", "linear"), n++;
        kv_f32(a, arch, "rope.scaling.factor", (float)c->rope_factor), n++;
    }
    if (s->gguf_tokenizer)
        n += write_gguf_tokenizer(a, s);
    return n;
}

/* Writes the KVs once to count them: the count precedes them in the file. */
static int count_gguf_kvs(const ls_synth_spec *s)
{
    int n = 13;
    if (s->cfg.head_dim * s->cfg.n_heads != s->cfg.dim)
        n += 2;
    if (s->cfg.rope_scaling == LS_ROPE_SCALING_LINEAR)
        n += 2;
    return n + (s->gguf_tokenizer ? 7 : 0);
}

static void write_gguf_infos(afile *a, wlist *l)
{
    uint64_t off = 0;
    for (int i = 0; i < l->n; i++) {
        wtensor *t = &l->t[i];
        t->offset = off;
        g_str(a, t->name);
        put_u32(a, (uint32_t)t->n_dims);
        for (int d = t->n_dims - 1; d >= 0; d--) /* ne[0] = contiguous = last row-major dim */
            put_u64(a, (uint64_t)t->shape[d]);
        put_u32(a, t->dtype == LS_DT_F32 ? 0 : t->dtype == LS_DT_F16 ? 1 : 30);
        put_u64(a, off);
        off += (t->nbytes + 31) / 32 * 32;
    }
}

int ls_write_gguf(const char *path, const ls_synth_spec *s, ls_error *err)
{
    if (ls_synth_validate(s, err) != 0)
        return -1;
    if (s->cfg.arch == LS_ARCH_MISTRAL && s->cfg.sliding_window > 0)
        return ls_fail(err, "%s: sliding_window: not representable in a llama GGUF", path);
    if (s->cfg.rope_scaling == LS_ROPE_SCALING_LLAMA3)
        return ls_fail(err, "%s: rope_scaling: llama3 scaling is not written to GGUF", path);
    wlist l = {0};
    if (gguf_list(s, &l) != 0) {
        free(l.t);
        return ls_fail(err, "%s: out of memory", path);
    }
    afile a;
    int rc = af_open(&a, path, err);
    if (rc == 0) {
        af_write(&a, "GGUF", 4);
        put_u32(&a, 3);
        put_u64(&a, (uint64_t)l.n);
        put_u64(&a, (uint64_t)count_gguf_kvs(s));
        write_gguf_kvs(&a, s);
        write_gguf_infos(&a, &l);
        long pos = ftell(a.f);
        put_zeros(&a, pos < 0 ? 0 : (size_t)((32 - pos % 32) % 32));
        for (int i = 0; i < l.n && rc == 0; i++) {
            rc = write_tensor_data(&a, s, &l.t[i]);
            put_zeros(&a, (size_t)((32 - l.t[i].nbytes % 32) % 32));
        }
        rc = rc == 0 ? af_commit(&a) : (af_abort(&a), -1);
    }
    free(l.t);
    return rc;
}

/* ---- llama2.c legacy v0 ---- */

static int check_llama2c(const char *path, const ls_synth_spec *s, ls_error *err)
{
    const ls_config *c = &s->cfg;
    if (c->qkv_bias || c->arch == LS_ARCH_QWEN2)
        return ls_fail(err, "%s: arch: llama2.c cannot store %s biases", path,
                       ls_arch_name(c->arch));
    if (c->head_dim * c->n_heads != c->dim)
        return ls_fail(err, "%s: head_dim: llama2.c needs head_dim = dim / n_heads", path);
    if (c->rope_theta != 10000.0 || c->rope_scaling != LS_ROPE_SCALING_NONE)
        return ls_fail(err, "%s: rope: llama2.c fixes theta 10000 without scaling", path);
    if (fabs(c->norm_eps - 1e-5) > 1e-12)
        return ls_fail(err, "%s: norm_eps: llama2.c fixes 1e-5", path);
    if (c->context < 0)
        return ls_fail(err, "%s: context: negative", path);
    return 0;
}

/* One role over all layers ([n_layers][rows][cols]) or a single tensor (layer -1). */
static int l2c_block(afile *a, const ls_synth_spec *s, ls_synth_role role, int module,
                     bool per_layer)
{
    int n = per_layer ? s->cfg.n_layers : 1;
    for (int L = 0; L < n; L++) {
        wtensor t;
        memset(&t, 0, sizeof t);
        t.role = role;
        t.layer = per_layer ? L : -1;
        t.module = module;
        t.n_dims = ls_synth_shape(&s->cfg, role, module, t.shape);
        t.dtype = LS_DT_F32;
        if (write_tensor_data(a, s, &t) != 0)
            return -1;
    }
    return 0;
}

static void l2c_freq_cis(afile *a, const ls_synth_spec *s)
{
    int hd = s->cfg.head_dim, T = s->cfg.context;
    for (int part = 0; part < 2; part++)
        for (int p = 0; p < T; p++)
            for (int i = 0; i < hd / 2; i++) {
                double ang = p * pow(10000.0, -2.0 * i / hd);
                put_f32(a, (float)(part == 0 ? cos(ang) : sin(ang)));
            }
}

int ls_write_llama2c(const char *path, const ls_synth_spec *s, ls_error *err)
{
    if (ls_synth_validate(s, err) != 0 || check_llama2c(path, s, err) != 0)
        return -1;
    const ls_config *c = &s->cfg;
    afile a;
    if (af_open(&a, path, err) != 0)
        return -1;
    int32_t hdr[7] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads,
                      c->tied ? c->vocab_size : -c->vocab_size, c->context};
    for (int i = 0; i < 7; i++)
        put_u32(&a, (uint32_t)hdr[i]);
    static const int order[] = {LS_MOD_Q, LS_MOD_K, LS_MOD_V, LS_MOD_O};
    int rc = l2c_block(&a, s, LS_SYN_EMBED, -1, false) ||
             l2c_block(&a, s, LS_SYN_ATTN_NORM, -1, true);
    for (int i = 0; i < 4 && rc == 0; i++)
        rc = l2c_block(&a, s, LS_SYN_LINEAR, order[i], true);
    rc = rc || l2c_block(&a, s, LS_SYN_FFN_NORM, -1, true) ||
         l2c_block(&a, s, LS_SYN_LINEAR, LS_MOD_GATE, true) || /* w1 */
         l2c_block(&a, s, LS_SYN_LINEAR, LS_MOD_DOWN, true) || /* w2 */
         l2c_block(&a, s, LS_SYN_LINEAR, LS_MOD_UP, true) ||   /* w3 */
         l2c_block(&a, s, LS_SYN_FINAL_NORM, -1, false);
    if (rc == 0) {
        l2c_freq_cis(&a, s);
        if (!c->tied)
            rc = l2c_block(&a, s, LS_SYN_LM_HEAD, -1, false);
    }
    if (rc != 0) {
        af_abort(&a);
        return -1;
    }
    return af_commit(&a);
}

int ls_write_model(const char *path, ls_model_format format, const ls_synth_spec *s,
                   ls_error *err)
{
    switch (format) {
    case LS_FORMAT_HF: return ls_write_hf_dir(path, s, 1, err);
    case LS_FORMAT_HF_SHARDED:
        return ls_write_hf_dir(path, s, s->n_shards > 1 ? s->n_shards : 3, err);
    case LS_FORMAT_GGUF: return ls_write_gguf(path, s, err);
    case LS_FORMAT_LLAMA2C: return ls_write_llama2c(path, s, err);
    }
    return ls_fail(err, "%s: format: unknown format %d", path, (int)format);
}
