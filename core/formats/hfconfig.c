#include "formats/hfconfig.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HF_CONFIG_MAX_BYTES (16u << 20)
#define HF_MAX_INT 1000000000 /* sanity bound for any count or size in config.json */

/* Per-architecture defaults (transformers' configuration_*.py class defaults). */
static const struct {
    const char *model_type, *class_name;
    ls_arch arch;
    int default_kv_heads; /* 0 = num_attention_heads */
    int default_context;
    int default_sliding_window;
} hf_archs[] = {
    {"llama", "LlamaForCausalLM", LS_ARCH_LLAMA, 0, 2048, 0},
    {"mistral", "MistralForCausalLM", LS_ARCH_MISTRAL, 8, 131072, 4096},
    {"qwen2", "Qwen2ForCausalLM", LS_ARCH_QWEN2, 32, 32768, 0},
};
#define N_HF_ARCHS ((int)(sizeof hf_archs / sizeof hf_archs[0]))

static void add_warning(char *warn, size_t warn_size, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add_warning(char *warn, size_t warn_size, const char *path, const char *fmt, ...)
{
    if (!warn || warn_size == 0)
        return;
    size_t used = strnlen(warn, warn_size);
    if (used + 1 >= warn_size)
        return;
    int k = snprintf(warn + used, warn_size - used, "%s: ", path);
    if (k < 0 || (size_t)k >= warn_size - used)
        return;
    used += (size_t)k;
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(warn + used, warn_size - used, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= warn_size - used)
        return;
    used += (size_t)k;
    if (used + 1 < warn_size) {
        warn[used] = '\n';
        warn[used + 1] = '\0';
    }
}

static const cJSON *field(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* Reads an integer field. Returns 1 when present, 0 when absent or null, -1 on error. */
static int get_int(const char *path, const cJSON *o, const char *name, int min, int *out,
                   ls_error *err)
{
    const cJSON *v = field(o, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return ls_fail(err, "%s: %s: not an integer", path, name);
    if (v->valuedouble < min || v->valuedouble > HF_MAX_INT)
        return ls_fail(err, "%s: %s: %.17g is out of range", path, name, v->valuedouble);
    *out = (int)v->valuedouble;
    return 1;
}

static int require_int(const char *path, const cJSON *o, const char *name, int *out,
                       ls_error *err)
{
    int rc = get_int(path, o, name, 1, out, err);
    if (rc == 0)
        return ls_fail(err, "%s: %s: required field is missing", path, name);
    return rc < 0 ? -1 : 0;
}

/* Reads a positive finite number. Returns 1 present, 0 absent/null, -1 error. */
static int get_pos_double(const char *path, const cJSON *o, const char *prefix, const char *name,
                          double *out, ls_error *err)
{
    const cJSON *v = field(o, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0)
        return ls_fail(err, "%s: %s%s: not a positive number", path, prefix, name);
    *out = v->valuedouble;
    return 1;
}

static int get_bool(const char *path, const cJSON *o, const char *name, bool def, bool *out,
                    ls_error *err)
{
    const cJSON *v = field(o, name);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v))
        return ls_fail(err, "%s: %s: not a boolean", path, name);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int detect_arch(const char *path, const cJSON *root, int *arch_idx, ls_error *err)
{
    const cJSON *mt = field(root, "model_type");
    if (mt && !cJSON_IsString(mt))
        return ls_fail(err, "%s: model_type: not a string", path);
    const cJSON *ar = field(root, "architectures");
    const char *cls = NULL;
    if (cJSON_IsArray(ar) && cJSON_IsString(ar->child))
        cls = ar->child->valuestring;
    if (!mt && !cls)
        return ls_fail(err, "%s: model_type: required field is missing (and no architectures)",
                       path);
    for (int i = 0; i < N_HF_ARCHS; i++) {
        if ((mt && strcmp(mt->valuestring, hf_archs[i].model_type) == 0) ||
            (!mt && strcmp(cls, hf_archs[i].class_name) == 0)) {
            *arch_idx = i;
            return 0;
        }
    }
    if (mt)
        return ls_fail(err, "%s: model_type: unsupported architecture \"%.60s\" (llama, "
                       "mistral and qwen2 are supported)", path, mt->valuestring);
    return ls_fail(err, "%s: architectures: unsupported class \"%.60s\"", path, cls);
}

/* Fields that change the computation in ways the in-memory model cannot express. */
static int reject_unsupported(const char *path, const cJSON *root, ls_error *err)
{
    static const char *const moe[] = {"num_local_experts", "num_experts", "n_routed_experts",
                                      "num_experts_per_tok", "moe_intermediate_size"};
    for (size_t i = 0; i < sizeof moe / sizeof moe[0]; i++) {
        const cJSON *v = field(root, moe[i]);
        if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble == 0))
            return ls_fail(err, "%s: %s: mixture-of-experts models are not supported", path,
                           moe[i]);
    }
    const cJSON *v = field(root, "partial_rotary_factor");
    if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble == 1.0))
        return ls_fail(err, "%s: partial_rotary_factor: partial rotary embeddings are not "
                       "supported", path);
    static const char *const softcap[] = {"final_logit_softcapping", "attn_logit_softcapping"};
    for (size_t i = 0; i < 2; i++) {
        v = field(root, softcap[i]);
        if (v && !cJSON_IsNull(v))
            return ls_fail(err, "%s: %s: logit soft-capping is not supported", path,
                           softcap[i]);
    }
    static const char *const qknorm[] = {"qk_norm", "use_qk_norm", "qk_layernorm"};
    for (size_t i = 0; i < 3; i++) {
        v = field(root, qknorm[i]);
        if (v && cJSON_IsTrue(v))
            return ls_fail(err, "%s: %s: QK normalisation is not supported", path, qknorm[i]);
    }
    v = field(root, "hidden_act");
    if (v && !cJSON_IsNull(v) && !(cJSON_IsString(v) && strcmp(v->valuestring, "silu") == 0))
        return ls_fail(err, "%s: hidden_act: only \"silu\" is supported, got %.40s", path,
                       cJSON_IsString(v) ? v->valuestring : "a non-string value");
    return 0;
}

static int parse_shapes(const char *path, const cJSON *root, int ai, ls_config *cfg,
                        char *warn, size_t warn_size, ls_error *err)
{
    if (require_int(path, root, "hidden_size", &cfg->dim, err) ||
        require_int(path, root, "intermediate_size", &cfg->hidden_dim, err) ||
        require_int(path, root, "num_hidden_layers", &cfg->n_layers, err) ||
        require_int(path, root, "num_attention_heads", &cfg->n_heads, err) ||
        require_int(path, root, "vocab_size", &cfg->vocab_size, err))
        return -1;
    const cJSON *kv = field(root, "num_key_value_heads");
    if (!kv) {
        cfg->n_kv_heads = hf_archs[ai].default_kv_heads ? hf_archs[ai].default_kv_heads
                                                        : cfg->n_heads;
        if (hf_archs[ai].default_kv_heads)
            add_warning(warn, warn_size, path, "num_key_value_heads: absent, using the %s "
                        "default %d", hf_archs[ai].model_type, cfg->n_kv_heads);
    } else {
        int rc = get_int(path, root, "num_key_value_heads", 1, &cfg->n_kv_heads, err);
        if (rc < 0)
            return -1;
        if (rc == 0) /* explicit null */
            cfg->n_kv_heads = cfg->n_heads;
    }
    if (cfg->n_heads % cfg->n_kv_heads != 0)
        return ls_fail(err, "%s: num_key_value_heads: %d does not divide num_attention_heads "
                       "%d", path, cfg->n_kv_heads, cfg->n_heads);
    int rc = get_int(path, root, "head_dim", 1, &cfg->head_dim, err);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (cfg->dim % cfg->n_heads != 0)
            return ls_fail(err, "%s: num_attention_heads: %d does not divide hidden_size %d",
                           path, cfg->n_heads, cfg->dim);
        cfg->head_dim = cfg->dim / cfg->n_heads;
    }
    if (cfg->head_dim % 2 != 0)
        return ls_fail(err, "%s: head_dim: %d is odd; RoPE needs an even head size", path,
                       cfg->head_dim);
    if ((int64_t)cfg->head_dim * cfg->n_heads > HF_MAX_INT)
        return ls_fail(err, "%s: head_dim: head_dim x num_attention_heads is too large", path);
    cfg->context = hf_archs[ai].default_context;
    if (get_int(path, root, "max_position_embeddings", 1, &cfg->context, err) < 0)
        return -1;
    return 0;
}

static int parse_rope_scaling(const char *path, const cJSON *obj, const char *prefix,
                              ls_config *cfg, ls_error *err)
{
    cfg->rope_scaling = LS_ROPE_SCALING_NONE;
    if (!obj || cJSON_IsNull(obj))
        return 0;
    if (!cJSON_IsObject(obj))
        return ls_fail(err, "%s: %s: not an object", path, prefix);
    const cJSON *t = field(obj, "rope_type");
    const char *tkey = "rope_type";
    if (!t) {
        t = field(obj, "type");
        tkey = "type";
    }
    if (t && !cJSON_IsString(t))
        return ls_fail(err, "%s: %s.%s: not a string", path, prefix, tkey);
    const char *type = t ? t->valuestring : "default";
    char pfx[64];
    snprintf(pfx, sizeof pfx, "%s.", prefix);
    if (strcmp(type, "default") == 0)
        return 0;
    if (strcmp(type, "linear") == 0) {
        int rc = get_pos_double(path, obj, pfx, "factor", &cfg->rope_factor, err);
        if (rc <= 0)
            return rc < 0 ? -1 : ls_fail(err, "%s: %sfactor: required for linear scaling",
                                          path, pfx);
        cfg->rope_scaling = LS_ROPE_SCALING_LINEAR;
        return 0;
    }
    if (strcmp(type, "llama3") == 0) {
        static const char *const keys[] = {"factor", "low_freq_factor", "high_freq_factor",
                                           "original_max_position_embeddings"};
        double vals[4];
        for (int i = 0; i < 4; i++) {
            int rc = get_pos_double(path, obj, pfx, keys[i], &vals[i], err);
            if (rc <= 0)
                return rc < 0 ? -1 : ls_fail(err, "%s: %s%s: required for llama3 scaling",
                                              path, pfx, keys[i]);
        }
        if (vals[3] != floor(vals[3]) || vals[3] > HF_MAX_INT)
            return ls_fail(err, "%s: %soriginal_max_position_embeddings: not an integer", path,
                           pfx);
        if (!(vals[2] > vals[1]))
            return ls_fail(err, "%s: %shigh_freq_factor: must exceed low_freq_factor", path,
                           pfx);
        cfg->rope_scaling = LS_ROPE_SCALING_LLAMA3;
        cfg->rope_factor = vals[0];
        cfg->rope_low_freq_factor = vals[1];
        cfg->rope_high_freq_factor = vals[2];
        cfg->rope_original_context = (int)vals[3];
        return 0;
    }
    return ls_fail(err, "%s: %s.%s: RoPE scaling type \"%.40s\" is not supported (default, "
                   "linear and llama3 are)", path, prefix, tkey, type);
}

static int parse_rope(const char *path, const cJSON *root, ls_config *cfg, ls_error *err)
{
    cfg->rope_theta = 10000.0;
    cfg->rope_factor = 1.0;
    const cJSON *rp = field(root, "rope_parameters");
    if (rp && !cJSON_IsNull(rp)) {
        if (!cJSON_IsObject(rp))
            return ls_fail(err, "%s: rope_parameters: not an object", path);
        int rc = get_pos_double(path, rp, "rope_parameters.", "rope_theta", &cfg->rope_theta,
                                err);
        if (rc < 0)
            return -1;
        if (rc == 0 && get_pos_double(path, root, "", "rope_theta", &cfg->rope_theta, err) < 0)
            return -1;
        return parse_rope_scaling(path, rp, "rope_parameters", cfg, err);
    }
    if (get_pos_double(path, root, "", "rope_theta", &cfg->rope_theta, err) < 0)
        return -1;
    return parse_rope_scaling(path, field(root, "rope_scaling"), "rope_scaling", cfg, err);
}

static int parse_attention_kind(const char *path, const cJSON *root, int ai, ls_config *cfg,
                                ls_error *err)
{
    bool b;
    if (get_bool(path, root, "attention_bias", false, &b, err) < 0)
        return -1;
    if (b && cfg->arch != LS_ARCH_QWEN2)
        return ls_fail(err, "%s: attention_bias: true is not supported (o_proj would need a "
                       "bias)", path);
    if (get_bool(path, root, "mlp_bias", false, &b, err) < 0)
        return -1;
    if (b)
        return ls_fail(err, "%s: mlp_bias: true is not supported", path);
    cfg->qkv_bias = cfg->arch == LS_ARCH_QWEN2;

    cfg->sliding_window = 0;
    if (cfg->arch == LS_ARCH_MISTRAL) {
        const cJSON *sw = field(root, "sliding_window");
        if (!sw)
            cfg->sliding_window = hf_archs[ai].default_sliding_window;
        else if (get_int(path, root, "sliding_window", 1, &cfg->sliding_window, err) < 0)
            return -1;
    } else if (cfg->arch == LS_ARCH_QWEN2) {
        if (get_bool(path, root, "use_sliding_window", false, &b, err) < 0)
            return -1;
        if (b)
            return ls_fail(err, "%s: use_sliding_window: sliding-window layers are not "
                           "supported", path);
    }
    const cJSON *lt = field(root, "layer_types");
    if (lt && !cJSON_IsNull(lt)) {
        if (!cJSON_IsArray(lt))
            return ls_fail(err, "%s: layer_types: not an array", path);
        int i = 0;
        for (const cJSON *e = lt->child; e; e = e->next, i++)
            if (!cJSON_IsString(e) || strcmp(e->valuestring, "full_attention") != 0)
                return ls_fail(err, "%s: layer_types[%d]: only \"full_attention\" layers are "
                               "supported", path, i);
    }
    return 0;
}

static int parse_root(const char *path, const cJSON *root, ls_config *cfg, char *warn,
                      size_t warn_size, ls_error *err)
{
    if (!cJSON_IsObject(root))
        return ls_fail(err, "%s: config: not a JSON object", path);
    int ai = 0;
    if (detect_arch(path, root, &ai, err) != 0)
        return -1;
    cfg->arch = hf_archs[ai].arch;
    cfg->rope_layout = LS_ROPE_HALVES;
    if (reject_unsupported(path, root, err) != 0 ||
        parse_shapes(path, root, ai, cfg, warn, warn_size, err) != 0)
        return -1;
    cfg->norm_eps = 1e-6;
    if (get_pos_double(path, root, "", "rms_norm_eps", &cfg->norm_eps, err) < 0 ||
        parse_rope(path, root, cfg, err) != 0)
        return -1;
    if (get_bool(path, root, "tie_word_embeddings", false, &cfg->tied, err) < 0)
        return -1;
    return parse_attention_kind(path, root, ai, cfg, err);
}

int ls_hf_config_parse(const char *path, const char *json, size_t len, ls_config *cfg,
                       char *warn, size_t warn_size, ls_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    /* a NUL-terminated copy, so the JSON parser can never read past len */
    char *text = malloc(len + 1);
    if (!text)
        return ls_fail(err, "%s: out of memory", path);
    memcpy(text, json, len);
    text[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    int rc;
    if (!root)
        rc = ls_fail(err, "%s: config: invalid JSON near byte %ld", path,
                     end ? (long)(end - text) : 0L);
    else
        rc = parse_root(path, root, cfg, warn, warn_size, err);
    cJSON_Delete(root);
    free(text);
    return rc;
}

int ls_hf_config_load(const char *path, ls_config *cfg, char *warn, size_t warn_size,
                      ls_error *err)
{
    size_t len = 0;
    char *text = ls_read_text_file(path, HF_CONFIG_MAX_BYTES, &len, err);
    if (!text)
        return -1;
    int rc = ls_hf_config_parse(path, text, len, cfg, warn, warn_size, err);
    free(text);
    return rc;
}

cJSON *ls_hf_config_to_json(const ls_config *c, const char *torch_dtype)
{
    static const char *const cls[] = {"LlamaForCausalLM", "MistralForCausalLM",
                                      "Qwen2ForCausalLM"};
    cJSON *o = cJSON_CreateObject();
    cJSON *ar = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(ar, cJSON_CreateString(cls[c->arch]));
    cJSON_AddStringToObject(o, "model_type", ls_arch_name(c->arch));
    cJSON_AddNumberToObject(o, "hidden_size", c->dim);
    cJSON_AddNumberToObject(o, "intermediate_size", c->hidden_dim);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->context > 0 ? c->context : 2048);
    cJSON_AddNumberToObject(o, "rms_norm_eps", c->norm_eps);
    cJSON_AddNumberToObject(o, "rope_theta", c->rope_theta);
    if (c->rope_scaling == LS_ROPE_SCALING_NONE) {
        cJSON_AddNullToObject(o, "rope_scaling");
    } else {
        cJSON *rs = cJSON_AddObjectToObject(o, "rope_scaling");
        cJSON_AddNumberToObject(rs, "factor", c->rope_factor);
        if (c->rope_scaling == LS_ROPE_SCALING_LINEAR) {
            cJSON_AddStringToObject(rs, "rope_type", "linear");
        } else {
            cJSON_AddStringToObject(rs, "rope_type", "llama3");
            cJSON_AddNumberToObject(rs, "low_freq_factor", c->rope_low_freq_factor);
            cJSON_AddNumberToObject(rs, "high_freq_factor", c->rope_high_freq_factor);
            cJSON_AddNumberToObject(rs, "original_max_position_embeddings",
                                    c->rope_original_context);
        }
    }
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    if (c->arch == LS_ARCH_LLAMA) {
        cJSON_AddFalseToObject(o, "attention_bias");
        cJSON_AddFalseToObject(o, "mlp_bias");
    }
    if (c->arch == LS_ARCH_MISTRAL) {
        if (c->sliding_window > 0)
            cJSON_AddNumberToObject(o, "sliding_window", c->sliding_window);
        else
            cJSON_AddNullToObject(o, "sliding_window");
    }
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tied);
    cJSON_AddNumberToObject(o, "bos_token_id", 1);
    cJSON_AddNumberToObject(o, "eos_token_id", 2);
    cJSON_AddStringToObject(o, "torch_dtype", torch_dtype);
    return o;
}
