/* ls_model_open: format detection, the HF directory loader, and the common step that binds
 * named tensors to layers and checks every shape against the config. The GGUF, llama2.c
 * and safetensors parsers live in their own files. */
#include "formats/model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/gguf.h"
#include "base/half.h"
#include "base/half_convert.h"
#include "formats/hfconfig.h"
#include "formats/llama2c.h"
#include "formats/safetensors.h"

/* ---- small helpers ---- */

static const char *const module_names[LS_N_MODULES] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj",
};
static const char *const module_short[LS_N_MODULES] = {"q", "k", "v", "o", "gate", "up", "down"};
static const char *const gguf_module_names[LS_N_MODULES] = {
    "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
};

const char *ls_module_name(int module)
{
    return module >= 0 && module < LS_N_MODULES ? module_names[module] : "?";
}

const char *ls_module_short_name(int module)
{
    return module >= 0 && module < LS_N_MODULES ? module_short[module] : "?";
}

int ls_module_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < LS_N_MODULES; i++) {
        const char *bare = strchr(module_names[i], '.') + 1; /* "q_proj" */
        if (strcmp(name, module_names[i]) == 0 || strcmp(name, module_short[i]) == 0 ||
            strcmp(name, bare) == 0 || strcmp(name, gguf_module_names[i]) == 0)
            return i;
    }
    return -1;
}

size_t ls_dtype_size(ls_dtype dt)
{
    return dt == LS_DT_F32 ? 4 : 2;
}

const char *ls_dtype_name(ls_dtype dt)
{
    switch (dt) {
    case LS_DT_F32: return "F32";
    case LS_DT_F16: return "F16";
    case LS_DT_BF16: return "BF16";
    }
    return "?";
}

float ls_tensor_get(const ls_tensor *t, int64_t i)
{
    const uint8_t *p = (const uint8_t *)t->data;
    if (t->dtype == LS_DT_F32) {
        float f;
        memcpy(&f, p + i * 4, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p + i * 2, 2);
    return t->dtype == LS_DT_F16 ? ls_f16_to_f32(h) : ls_bf16_to_f32(h);
}

int64_t ls_tensor_bytes(const ls_tensor *t)
{
    return t->n_elems * (int64_t)ls_dtype_size(t->dtype);
}

const char *ls_arch_name(ls_arch a)
{
    switch (a) {
    case LS_ARCH_LLAMA: return "llama";
    case LS_ARCH_MISTRAL: return "mistral";
    case LS_ARCH_QWEN2: return "qwen2";
    }
    return "?";
}

const char *ls_model_format_name(ls_model_format f)
{
    switch (f) {
    case LS_FORMAT_HF: return "hf";
    case LS_FORMAT_HF_SHARDED: return "hf-sharded";
    case LS_FORMAT_GGUF: return "gguf";
    case LS_FORMAT_LLAMA2C: return "llama2c";
    }
    return "?";
}

const ls_tensor *ls_model_linear(const ls_model *m, int layer, int module)
{
    if (!m || !m->layers || layer < 0 || layer >= m->cfg.n_layers || module < 0 ||
        module >= LS_N_MODULES)
        return NULL;
    return m->layers[layer].linear[module];
}

int64_t ls_rope_row_halves_to_pairs(int64_t r, int head_dim)
{
    int64_t half = head_dim / 2, h = r / head_dim, k = r % head_dim;
    int64_t j = k / half, i = k % half;
    return h * head_dim + 2 * i + j;
}

int64_t ls_rope_row_pairs_to_halves(int64_t r, int head_dim)
{
    int64_t half = head_dim / 2, h = r / head_dim, k = r % head_dim;
    int64_t i = k / 2, j = k % 2;
    return h * head_dim + j * half + i;
}

static void add_warning(ls_model *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_warning(ls_model *m, const char *fmt, ...)
{
    size_t used = strlen(m->warnings), cap = sizeof m->warnings;
    if (used + 2 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(m->warnings + used, cap - used - 1, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    used = strlen(m->warnings);
    m->warnings[used] = '\n';
    m->warnings[used + 1] = '\0';
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Present at all, whatever its kind: a FIFO or a directory named config.json is then
 * refused by the reader as "not a regular file" instead of reported as missing. */
static bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static char *base_name(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    char *s = malloc(n - b + 1);
    if (s) {
        memcpy(s, path + b, n - b);
        s[n - b] = '\0';
    }
    return s;
}

/* ---- loading context: which file each tensor came from, for messages ---- */

typedef struct load_ctx {
    ls_model *m;
    int *tensor_file; /* [n_tensors]: index into m->file_paths */
    int cap_tensors;
    ls_error *err;
} load_ctx;

static const char *tensor_src(const load_ctx *c, const ls_tensor *t)
{
    int i = (int)(t - c->m->tensors);
    if (c->tensor_file && i >= 0 && i < c->m->n_tensors)
        return c->m->file_paths[c->tensor_file[i]];
    return c->m->path;
}

static int reserve_files(ls_model *m, int n, ls_error *err)
{
    m->files = calloc((size_t)n, sizeof *m->files);
    m->file_paths = calloc((size_t)n, sizeof *m->file_paths);
    if (!m->files || !m->file_paths)
        return ls_fail(err, "%s: out of memory", m->path);
    return 0;
}

/* Maps path as the next file of the model (files reserved beforehand). */
static int map_next(ls_model *m, const char *path, ls_error *err)
{
    int i = m->n_files;
    m->file_paths[i] = strdup(path);
    if (!m->file_paths[i])
        return ls_fail(err, "%s: out of memory", path);
    m->n_files++;
    return ls_map_file(path, &m->files[i], err);
}

static int reserve_tensors(load_ctx *c, int n)
{
    c->m->tensors = calloc(n > 0 ? (size_t)n : 1, sizeof *c->m->tensors);
    c->tensor_file = calloc(n > 0 ? (size_t)n : 1, sizeof *c->tensor_file);
    c->cap_tensors = n;
    if (!c->m->tensors || !c->tensor_file)
        return ls_fail(c->err, "%s: out of memory", c->m->path);
    return 0;
}

/* ---- binding: name -> role, shape checks ---- */

typedef enum role {
    R_UNKNOWN, R_IGNORE, R_EMB, R_FINAL_NORM, R_LM_HEAD, R_ROPE_FREQS, R_ATTN_NORM,
    R_FFN_NORM, R_LINEAR, R_BQ, R_BK, R_BV
} role;

typedef struct name_rule {
    const char *suffix;
    role r;
    int module;
} name_rule;

static const name_rule hf_layer_rules[] = {
    {"input_layernorm.weight", R_ATTN_NORM, -1},
    {"post_attention_layernorm.weight", R_FFN_NORM, -1},
    {"self_attn.q_proj.weight", R_LINEAR, LS_MOD_Q},
    {"self_attn.k_proj.weight", R_LINEAR, LS_MOD_K},
    {"self_attn.v_proj.weight", R_LINEAR, LS_MOD_V},
    {"self_attn.o_proj.weight", R_LINEAR, LS_MOD_O},
    {"mlp.gate_proj.weight", R_LINEAR, LS_MOD_GATE},
    {"mlp.up_proj.weight", R_LINEAR, LS_MOD_UP},
    {"mlp.down_proj.weight", R_LINEAR, LS_MOD_DOWN},
    {"self_attn.q_proj.bias", R_BQ, -1},
    {"self_attn.k_proj.bias", R_BK, -1},
    {"self_attn.v_proj.bias", R_BV, -1},
    {"self_attn.rotary_emb.inv_freq", R_IGNORE, -1},
};
static const name_rule hf_top_rules[] = {
    {"model.embed_tokens.weight", R_EMB, -1},
    {"model.norm.weight", R_FINAL_NORM, -1},
    {"lm_head.weight", R_LM_HEAD, -1},
};
static const name_rule gguf_layer_rules[] = {
    {"attn_norm.weight", R_ATTN_NORM, -1},
    {"ffn_norm.weight", R_FFN_NORM, -1},
    {"attn_q.weight", R_LINEAR, LS_MOD_Q},
    {"attn_k.weight", R_LINEAR, LS_MOD_K},
    {"attn_v.weight", R_LINEAR, LS_MOD_V},
    {"attn_output.weight", R_LINEAR, LS_MOD_O},
    {"ffn_gate.weight", R_LINEAR, LS_MOD_GATE},
    {"ffn_up.weight", R_LINEAR, LS_MOD_UP},
    {"ffn_down.weight", R_LINEAR, LS_MOD_DOWN},
    {"attn_q.bias", R_BQ, -1},
    {"attn_k.bias", R_BK, -1},
    {"attn_v.bias", R_BV, -1},
};
static const name_rule gguf_top_rules[] = {
    {"token_embd.weight", R_EMB, -1},
    {"output_norm.weight", R_FINAL_NORM, -1},
    {"output.weight", R_LM_HEAD, -1},
    {"rope_freqs.weight", R_ROPE_FREQS, -1},
};
#define N_RULES(a) ((int)(sizeof a / sizeof a[0]))

static bool is_gguf(const ls_model *m)
{
    return m->format == LS_FORMAT_GGUF;
}

/* Parses "<prefix><digits>." and returns the rest, or NULL. */
static const char *layer_prefix(const char *name, const char *prefix, long *layer)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0)
        return NULL;
    const char *p = name + n;
    if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
        return NULL;
    long v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > 100000000)
            return NULL;
        v = v * 10 + (*p++ - '0');
    }
    if (*p != '.')
        return NULL;
    *layer = v;
    return p + 1;
}

static role classify(const ls_model *m, const char *name, long *layer, int *module)
{
    const name_rule *top = is_gguf(m) ? gguf_top_rules : hf_top_rules;
    int n_top = is_gguf(m) ? N_RULES(gguf_top_rules) : N_RULES(hf_top_rules);
    const name_rule *lr = is_gguf(m) ? gguf_layer_rules : hf_layer_rules;
    int n_lr = is_gguf(m) ? N_RULES(gguf_layer_rules) : N_RULES(hf_layer_rules);
    *layer = -1;
    *module = -1;
    for (int i = 0; i < n_top; i++)
        if (strcmp(name, top[i].suffix) == 0)
            return top[i].r;
    const char *rest = layer_prefix(name, is_gguf(m) ? "blk." : "model.layers.", layer);
    if (!rest)
        return R_UNKNOWN;
    for (int i = 0; i < n_lr; i++) {
        if (strcmp(rest, lr[i].suffix) == 0) {
            *module = lr[i].module;
            return lr[i].r;
        }
    }
    return R_UNKNOWN;
}

void ls_module_shape(const ls_config *c, int module, int64_t *rows, int64_t *cols)
{
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    switch (module) {
    case LS_MOD_Q: *rows = q, *cols = c->dim; break;
    case LS_MOD_K: case LS_MOD_V: *rows = kv, *cols = c->dim; break;
    case LS_MOD_O: *rows = c->dim, *cols = q; break;
    case LS_MOD_GATE: case LS_MOD_UP: *rows = c->hidden_dim, *cols = c->dim; break;
    default: *rows = c->dim, *cols = c->hidden_dim; break;
    }
}

/* Expected row-major shape of a role; returns the rank (1 or 2). */
static int expected_shape(const ls_config *c, role r, int module, int64_t shape[2])
{
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    shape[1] = 0;
    switch (r) {
    case R_EMB: case R_LM_HEAD: shape[0] = c->vocab_size, shape[1] = c->dim; return 2;
    case R_FINAL_NORM: case R_ATTN_NORM: case R_FFN_NORM: shape[0] = c->dim; return 1;
    case R_ROPE_FREQS: shape[0] = c->head_dim / 2; return 1;
    case R_BQ: shape[0] = q; return 1;
    case R_BK: case R_BV: shape[0] = kv; return 1;
    case R_LINEAR: break;
    default: return 0;
    }
    ls_module_shape(c, module, &shape[0], &shape[1]);
    return 2;
}

static void shape_str(char *buf, size_t n, int n_dims, const int64_t *shape)
{
    size_t used = 0;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < n_dims && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "",
                                 (long long)shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

static int check_shape(load_ctx *c, const ls_tensor *t, role r, int module)
{
    int64_t want[2] = {0, 0};
    int rank = expected_shape(&c->m->cfg, r, module, want);
    if (t->n_dims == rank && t->shape[0] == want[0] && (rank == 1 || t->shape[1] == want[1]))
        return 0;
    char got[96], exp[96];
    shape_str(got, sizeof got, t->n_dims, t->shape);
    shape_str(exp, sizeof exp, rank, want);
    return ls_fail(c->err, "%s: tensor '%s': shape %s, expected %s from the config",
                   tensor_src(c, t), t->name, got, exp);
}

/* Pointer to the slot of the layer/top-level field a role fills. */
static const ls_tensor **role_slot(ls_model *m, role r, long layer, int module)
{
    switch (r) {
    case R_EMB: return &m->tok_emb;
    case R_FINAL_NORM: return &m->final_norm;
    case R_LM_HEAD: return &m->lm_head;
    case R_ROPE_FREQS: return &m->rope_freqs;
    case R_ATTN_NORM: return &m->layers[layer].attn_norm;
    case R_FFN_NORM: return &m->layers[layer].ffn_norm;
    case R_LINEAR: return &m->layers[layer].linear[module];
    case R_BQ: return &m->layers[layer].bq;
    case R_BK: return &m->layers[layer].bk;
    case R_BV: return &m->layers[layer].bv;
    default: return NULL;
    }
}

/* Checks a tensor's name and shape; *r_out = R_IGNORE for tensors the model does not use. */
static int check_tensor(load_ctx *c, const ls_tensor *t, role *r_out, long *layer, int *module)
{
    ls_model *m = c->m;
    role r = classify(m, t->name, layer, module);
    *r_out = r;
    if (r == R_IGNORE)
        return 0;
    if (r == R_UNKNOWN)
        return ls_fail(c->err, "%s: tensor '%s': unexpected tensor (not part of a %s model)",
                       tensor_src(c, t), t->name, ls_arch_name(m->cfg.arch));
    if (*layer >= m->cfg.n_layers)
        return ls_fail(c->err, "%s: tensor '%s': layer %ld is out of range (%d layers)",
                       tensor_src(c, t), t->name, *layer, m->cfg.n_layers);
    if ((r == R_BQ || r == R_BK || r == R_BV) && !m->cfg.qkv_bias)
        return ls_fail(c->err, "%s: tensor '%s': q/k/v biases are only expected for qwen2",
                       tensor_src(c, t), t->name);
    return check_shape(c, t, r, *module);
}

/* Puts a checked tensor into its slot; layers at or past n_alloc are not stored. */
static int bind_tensor(load_ctx *c, const ls_tensor *t, int n_alloc)
{
    role r;
    long layer;
    int module;
    if (check_tensor(c, t, &r, &layer, &module) != 0)
        return -1;
    if (r == R_IGNORE || layer >= n_alloc)
        return 0;
    const ls_tensor **slot = role_slot(c->m, r, layer, module);
    if (*slot)
        return ls_fail(c->err, "%s: tensor '%s': appears twice", tensor_src(c, t), t->name);
    *slot = t;
    return 0;
}

static void missing_name(const ls_model *m, char *buf, size_t n, int layer, const char *hf,
                         const char *gguf)
{
    if (layer < 0)
        snprintf(buf, n, "%s", is_gguf(m) ? gguf : hf);
    else if (is_gguf(m))
        snprintf(buf, n, "blk.%d.%s", layer, gguf);
    else
        snprintf(buf, n, "model.layers.%d.%s", layer, hf);
}

static int require(load_ctx *c, const ls_tensor *t, int layer, const char *hf, const char *gguf)
{
    if (t)
        return 0;
    char name[160];
    missing_name(c->m, name, sizeof name, layer, hf, gguf);
    return ls_fail(c->err, "%s: tensor '%s': missing", c->m->path, name);
}

static int check_complete(load_ctx *c, int n_alloc)
{
    ls_model *m = c->m;
    if (require(c, m->tok_emb, -1, "model.embed_tokens.weight", "token_embd.weight") ||
        require(c, m->final_norm, -1, "model.norm.weight", "output_norm.weight"))
        return -1;
    for (int l = 0; l < n_alloc; l++) {
        const ls_layer *L = &m->layers[l];
        if (require(c, L->attn_norm, l, "input_layernorm.weight", "attn_norm.weight") ||
            require(c, L->ffn_norm, l, "post_attention_layernorm.weight", "ffn_norm.weight"))
            return -1;
        for (int k = 0; k < LS_N_MODULES; k++) {
            char hf[64], gg[64];
            snprintf(hf, sizeof hf, "%s.weight", module_names[k]);
            snprintf(gg, sizeof gg, "%s.weight", gguf_module_names[k]);
            if (require(c, L->linear[k], l, hf, gg))
                return -1;
        }
        if (m->cfg.qkv_bias &&
            (require(c, L->bq, l, "self_attn.q_proj.bias", "attn_q.bias") ||
             require(c, L->bk, l, "self_attn.k_proj.bias", "attn_k.bias") ||
             require(c, L->bv, l, "self_attn.v_proj.bias", "attn_v.bias")))
            return -1;
    }
    if (n_alloc < m->cfg.n_layers) /* unreachable: some allocated layer was incomplete */
        return ls_fail(c->err, "%s: n_layers: %d layers but only %d tensors", m->path,
                       m->cfg.n_layers, m->n_tensors);
    return 0;
}

static int resolve_classifier(ls_model *m, ls_error *err)
{
    bool hf = m->format == LS_FORMAT_HF || m->format == LS_FORMAT_HF_SHARDED;
    if (hf && !m->cfg.tied && !m->lm_head)
        /* transformers would start such a model with a random head: refuse, do not guess */
        return ls_fail(err, "%s: lm_head.weight: missing, and the config's "
                       "tie_word_embeddings is false (set it to true if the head is the "
                       "embedding)", m->path);
    if (m->format == LS_FORMAT_GGUF) {
        m->cfg.tied = m->lm_head == NULL;
    } else if (m->cfg.tied && m->lm_head) {
        add_warning(m, "%s: lm_head.weight: present but tie_word_embeddings is true; using the "
                    "embedding", m->path);
    } else if (!m->cfg.tied && !m->lm_head) {
        add_warning(m, "%s: lm_head.weight: absent although the config is untied; using the "
                    "embedding", m->path);
        m->cfg.tied = true;
    }
    if (m->cfg.tied)
        m->lm_head = m->tok_emb;
    return 0;
}

static void add_count(ls_model *m, const ls_tensor *t)
{
    if (!t)
        return;
    m->params_total += t->n_elems;
    m->bytes_total += ls_tensor_bytes(t);
}

static void count_params(ls_model *m)
{
    add_count(m, m->tok_emb);
    add_count(m, m->final_norm);
    if (m->lm_head != m->tok_emb)
        add_count(m, m->lm_head);
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const ls_layer *L = &m->layers[l];
        add_count(m, L->attn_norm);
        add_count(m, L->ffn_norm);
        add_count(m, L->bq);
        add_count(m, L->bk);
        add_count(m, L->bv);
        for (int k = 0; k < LS_N_MODULES; k++) {
            add_count(m, L->linear[k]);
            m->params_linear += L->linear[k]->n_elems;
        }
    }
}

static int bind_model(load_ctx *c)
{
    ls_model *m = c->m;
    /* A complete layer has 9 tensors, so one of the first n_tensors/9 + 1 layers is incomplete
     * when there are more layers than that: allocating only those bounds the memory a
     * hostile config can ask for, and the first missing tensor is still reported. */
    int n_alloc = m->cfg.n_layers;
    if (n_alloc > m->n_tensors / 9 + 1)
        n_alloc = m->n_tensors / 9 + 1;
    m->layers = calloc(n_alloc > 0 ? (size_t)n_alloc : 1, sizeof *m->layers);
    if (!m->layers)
        return ls_fail(c->err, "%s: out of memory", m->path);
    for (int i = 0; i < m->n_tensors; i++)
        if (bind_tensor(c, &m->tensors[i], n_alloc) != 0)
            return -1;
    if (check_complete(c, n_alloc) != 0)
        return -1;
    if (resolve_classifier(m, c->err) != 0)
        return -1;
    count_params(m);
    return 0;
}

/* ---- Hugging Face directories ---- */

static int st_to_tensor(load_ctx *c, const ls_st_tensor *s, int file)
{
    ls_model *m = c->m;
    if (m->n_tensors >= c->cap_tensors)
        return ls_fail(c->err, "%s: internal: tensor table full", m->path);
    ls_tensor *t = &m->tensors[m->n_tensors];
    const char *src = m->file_paths[file];
    if (strlen(s->name) >= sizeof t->name)
        return ls_fail(c->err, "%s: tensor '%.60s...': name longer than %zu bytes", src,
                       s->name, sizeof t->name - 1);
    snprintf(t->name, sizeof t->name, "%s", s->name);
    if (s->n_dims > 4)
        return ls_fail(c->err, "%s: tensor '%s': %d dimensions, at most 4 supported", src,
                       s->name, s->n_dims);
    if (s->dtype != LS_ST_F32 && s->dtype != LS_ST_F16 && s->dtype != LS_ST_BF16) {
        long layer;
        int module;
        if (classify(m, s->name, &layer, &module) == R_IGNORE)
            return 0; /* e.g. rotary_emb.inv_freq buffers: never read */
        return ls_fail(c->err, "%s: tensor '%s': dtype %s is not supported (F32, F16 and BF16 "
                       "are)", src, s->name, ls_st_dtype_name(s->dtype));
    }
    t->dtype = s->dtype == LS_ST_F32 ? LS_DT_F32 : s->dtype == LS_ST_F16 ? LS_DT_F16
                                                                         : LS_DT_BF16;
    t->n_dims = s->n_dims;
    for (int i = 0; i < s->n_dims; i++)
        t->shape[i] = s->shape[i];
    t->n_elems = s->n_elems;
    t->data = s->data;
    c->tensor_file[m->n_tensors] = file;
    m->n_tensors++;
    return 0;
}

/* Parses the safetensors file m->files[file]; with an index, checks each tensor against it. */
static int load_shard(load_ctx *c, int file, const ls_st_index *ix, int shard)
{
    ls_model *m = c->m;
    ls_st_file st;
    const char *src = m->file_paths[file];
    if (ls_st_parse(src, m->files[file].data, m->files[file].size, &st, c->err) != 0)
        return -1;
    int rc = 0;
    if (m->n_tensors + st.n_tensors > c->cap_tensors) {
        int cap = (m->n_tensors + st.n_tensors) * 2 + 16;
        ls_tensor *nt = realloc(m->tensors, (size_t)cap * sizeof *nt);
        int *nf = nt ? realloc(c->tensor_file, (size_t)cap * sizeof *nf) : NULL;
        if (nt)
            m->tensors = nt;
        if (nf)
            c->tensor_file = nf;
        if (!nt || !nf)
            rc = ls_fail(c->err, "%s: out of memory", src);
        else
            c->cap_tensors = cap;
    }
    for (int i = 0; i < st.n_tensors && rc == 0; i++) {
        if (ix) {
            int e = 0;
            while (e < ix->n_entries && strcmp(ix->tensor_names[e], st.tensors[i].name) != 0)
                e++;
            if (e == ix->n_entries)
                rc = ls_fail(c->err, "%s: tensor '%s': not listed in the index", src,
                             st.tensors[i].name);
            else if (ix->shard_of[e] != shard)
                rc = ls_fail(c->err, "%s: tensor '%s': the index places it in %s", src,
                             st.tensors[i].name, ix->shard_files[ix->shard_of[e]]);
        }
        if (rc == 0)
            rc = st_to_tensor(c, &st.tensors[i], file);
    }
    /* every tensor the index maps to this shard must be in it */
    for (int e = 0; ix && rc == 0 && e < ix->n_entries; e++)
        if (ix->shard_of[e] == shard && ls_st_find(&st, ix->tensor_names[e]) < 0)
            rc = ls_fail(c->err, "%s: tensor '%s': listed in the index but missing from the "
                         "shard", src, ix->tensor_names[e]);
    ls_st_free(&st);
    return rc;
}

static int load_hf_single(load_ctx *c, const char *st_path)
{
    c->m->format = LS_FORMAT_HF;
    if (reserve_files(c->m, 1, c->err) || map_next(c->m, st_path, c->err) ||
        reserve_tensors(c, 64))
        return -1;
    return load_shard(c, 0, NULL, 0);
}

static int load_hf_sharded(load_ctx *c, const char *ix_path)
{
    ls_model *m = c->m;
    m->format = LS_FORMAT_HF_SHARDED;
    size_t len;
    char *text = ls_read_text_file(ix_path, 64u << 20, &len, c->err);
    if (!text)
        return -1;
    ls_st_index ix;
    int rc = ls_st_index_parse(ix_path, text, len, &ix, c->err);
    free(text);
    if (rc != 0)
        return -1;
    rc = reserve_files(m, ix.n_shards, c->err) || reserve_tensors(c, ix.n_entries + 16);
    for (int s = 0; s < ix.n_shards && rc == 0; s++) {
        char *p = path_join(m->path, ix.shard_files[s]);
        if (!p)
            rc = ls_fail(c->err, "%s: out of memory", ix_path);
        else
            rc = map_next(m, p, c->err) || load_shard(c, m->n_files - 1, &ix, s);
        free(p);
    }
    ls_st_index_free(&ix);
    return rc ? -1 : 0;
}

static int load_hf(load_ctx *c)
{
    ls_model *m = c->m;
    char *cfg_path = path_join(m->path, "config.json");
    char *st_path = path_join(m->path, "model.safetensors");
    char *ix_path = path_join(m->path, "model.safetensors.index.json");
    char *tok_path = path_join(m->path, "tokenizer.json");
    int rc = 0;
    if (!cfg_path || !st_path || !ix_path || !tok_path)
        rc = ls_fail(c->err, "%s: out of memory", m->path);
    else if (!path_exists(cfg_path))
        rc = ls_fail(c->err, "%s: config.json: not found (not a Hugging Face model directory)",
                     m->path);
    if (rc == 0)
        rc = ls_hf_config_load(cfg_path, &m->cfg, m->warnings, sizeof m->warnings, c->err);
    if (rc == 0) {
        if (path_exists(st_path))
            rc = load_hf_single(c, st_path);
        else if (path_exists(ix_path))
            rc = load_hf_sharded(c, ix_path);
        else
            rc = ls_fail(c->err, "%s: model.safetensors: not found (nor "
                         "model.safetensors.index.json)", m->path);
    }
    if (rc == 0 && file_exists(tok_path)) {
        m->tokenizer_path = tok_path;
        tok_path = NULL;
    }
    free(cfg_path);
    free(st_path);
    free(ix_path);
    free(tok_path);
    return rc;
}

/* ---- GGUF ---- */

static int gguf_to_tensors(load_ctx *c)
{
    ls_model *m = c->m;
    const ls_gguf *g = m->gguf;
    if (g->n_tensors > 1000000)
        return ls_fail(c->err, "%s: n_tensors: %lld is implausibly large", m->path,
                       (long long)g->n_tensors);
    if (reserve_tensors(c, (int)g->n_tensors))
        return -1;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const ls_gguf_tensor *s = &g->tensors[i];
        ls_tensor *t = &m->tensors[m->n_tensors++];
        snprintf(t->name, sizeof t->name, "%s", s->name);
        t->dtype = s->type == LS_GGML_F32 ? LS_DT_F32 : s->type == LS_GGML_F16 ? LS_DT_F16
                                                                                : LS_DT_BF16;
        /* ne[0] is contiguous: our row-major shape is ne reversed */
        t->n_dims = (int)s->n_dims;
        t->n_elems = 1;
        for (uint32_t d = 0; d < s->n_dims; d++) {
            t->shape[d] = s->ne[s->n_dims - 1 - d];
            t->n_elems *= s->ne[d];
        }
        t->data = s->data;
    }
    return 0;
}

static int load_gguf(load_ctx *c)
{
    ls_model *m = c->m;
    m->format = LS_FORMAT_GGUF;
    if (ls_gguf_parse(m->path, m->files[0].data, m->files[0].size, &m->gguf, c->err) != 0)
        return -1;
    if (gguf_to_tensors(c) != 0)
        return -1;
    m->has_weights = m->n_tensors > 0;
    ls_error cerr;
    if (ls_gguf_config(m->gguf, &m->cfg, &cerr) != 0) {
        if (m->has_weights) {
            *c->err = cerr;
            return -1;
        }
        /* a vocabulary-only file needs no hyper-parameters */
        add_warning(m, "%s", cerr.msg);
        memset(&m->cfg, 0, sizeof m->cfg);
    }
    return 0;
}

/* ---- llama2.c ---- */

static int load_llama2c(load_ctx *c, const ls_open_options *opt)
{
    ls_model *m = c->m;
    m->format = LS_FORMAT_LLAMA2C;
    ls_l2c_header h;
    if (ls_l2c_parse_header(m->path, m->files[0].data, m->files[0].size, &h, c->err) != 0)
        return -1;
    ls_tensor *t;
    int n;
    if (ls_l2c_tensors(m->path, &h, m->files[0].data, &t, &n, &m->cfg, c->err) != 0)
        return -1;
    m->tensors = t;
    m->n_tensors = n;
    c->tensor_file = calloc((size_t)n, sizeof *c->tensor_file);
    if (!c->tensor_file)
        return ls_fail(c->err, "%s: out of memory", m->path);
    if (opt && opt->tokenizer_path) {
        m->tokenizer_path = strdup(opt->tokenizer_path);
        if (!m->tokenizer_path)
            return ls_fail(c->err, "%s: out of memory", m->path);
    }
    return 0;
}

/* ---- entry points ---- */

static int load_file(load_ctx *c, const ls_open_options *opt)
{
    ls_model *m = c->m;
    if (reserve_files(m, 1, c->err) || map_next(m, m->path, c->err))
        return -1;
    const ls_mapped_file *f = &m->files[0];
    if (f->size >= 4 && memcmp(f->data, "GGUF", 4) == 0)
        return load_gguf(c);
    if (f->size == 0)
        return ls_fail(c->err, "%s: header: empty file", m->path);
    return load_llama2c(c, opt);
}

int ls_model_open(const char *path, const ls_open_options *opt, ls_model **out, ls_error *err)
{
    *out = NULL;
    ls_model *m = calloc(1, sizeof *m);
    if (!m)
        return ls_fail(err, "%s: out of memory", path);
    load_ctx c = {m, NULL, 0, err};
    m->path = strdup(path);
    m->name = base_name(path);
    m->has_weights = true;
    struct stat st;
    int rc;
    if (!m->path || !m->name)
        rc = ls_fail(err, "%s: out of memory", path);
    else if (stat(path, &st) != 0)
        rc = errno == ENOENT ? ls_fail(err, "%s: not found", path)
                             : ls_fail(err, "%s: cannot open: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        rc = load_hf(&c);
    else
        rc = load_file(&c, opt);
    if (rc == 0 && m->has_weights)
        rc = bind_model(&c);
    free(c.tensor_file);
    if (rc != 0) {
        ls_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

void ls_model_free(ls_model *m)
{
    if (!m)
        return;
    ls_gguf_free(m->gguf);
    for (int i = 0; i < m->n_files; i++) {
        ls_unmap_file(&m->files[i]);
        free(m->file_paths[i]);
    }
    free(m->files);
    free(m->file_paths);
    free(m->tensors);
    free(m->layers);
    free(m->tokenizer_path);
    free(m->path);
    free(m->name);
    free(m);
}

void ls_tensor_range_f32(const ls_tensor *t, int64_t first, int64_t n, float *out)
{
    const unsigned char *src = (const unsigned char *)t->data + first * (int64_t)ls_dtype_size(t->dtype);
    if (t->dtype == LS_DT_F32)
        memcpy(out, src, (size_t)n * sizeof *out);
    else
        ls_half_to_f32(src, n, t->dtype == LS_DT_BF16, out);
}
