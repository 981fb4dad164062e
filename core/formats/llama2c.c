#include "formats/llama2c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int32_t rd_i32(const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    int32_t s;
    memcpy(&s, &v, 4);
    return s;
}

/* acc += a * b * c, all non-negative; false on overflow. */
static bool add_prod(int64_t *acc, int64_t a, int64_t b, int64_t c)
{
    int64_t ab, abc;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc) ||
        __builtin_add_overflow(*acc, abc, acc))
        return false;
    return true;
}

static int check_dims(const char *path, ls_l2c_header *h, ls_error *err)
{
    const struct {
        const char *name;
        int v;
    } f[] = {{"dim", h->dim},         {"hidden_dim", h->hidden_dim}, {"n_layers", h->n_layers},
             {"n_heads", h->n_heads}, {"n_kv_heads", h->n_kv_heads}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0)
            return ls_fail(err, "%s: header: %s = %d must be positive", path, f[i].name,
                           f[i].v);
    if (h->seq_len < 0)
        return ls_fail(err, "%s: header: seq_len = %d is negative", path, h->seq_len);
    if (h->vocab_size <= 0)
        return ls_fail(err, "%s: header: vocab_size = %d must be non-zero", path,
                       h->vocab_size);
    if (h->dim % h->n_heads != 0)
        return ls_fail(err, "%s: header: n_heads = %d does not divide dim = %d", path,
                       h->n_heads, h->dim);
    if (h->n_heads % h->n_kv_heads != 0)
        return ls_fail(err, "%s: header: n_kv_heads = %d does not divide n_heads = %d", path,
                       h->n_kv_heads, h->n_heads);
    if ((h->dim / h->n_heads) % 2 != 0)
        return ls_fail(err, "%s: header: head size %d is odd", path, h->dim / h->n_heads);
    return 0;
}

/* Weights (float count) of the layout; freq_cis counted separately for version 0. */
static int count_weights(const char *path, ls_l2c_header *h, ls_error *err)
{
    int64_t dim = h->dim, hid = h->hidden_dim, L = h->n_layers, V = h->vocab_size;
    int64_t hd = dim / h->n_heads, kv_dim = (int64_t)h->n_kv_heads * hd;
    int64_t w = 0;
    bool ok = add_prod(&w, V, dim, 1) &&               /* token_embedding */
              add_prod(&w, L, dim, 2) &&               /* rms_att, rms_ffn */
              add_prod(&w, L, dim, dim) &&             /* wq */
              add_prod(&w, L, kv_dim, dim * 2) &&      /* wk, wv */
              add_prod(&w, L, dim, dim) &&             /* wo */
              add_prod(&w, L, hid, dim * 3) &&         /* w1, w2, w3 */
              add_prod(&w, dim, 1, 1) &&               /* rms_final */
              (h->shared_classifier || add_prod(&w, V, dim, 1));
    int64_t total = w, bytes;
    if (ok && h->version == 0)
        ok = add_prod(&total, h->seq_len, hd, 1); /* freq_cis_real + imag: seq_len x hd/2 x 2 */
    ok = ok && !__builtin_mul_overflow(total, (int64_t)4, &bytes) &&
         !__builtin_add_overflow(bytes, (int64_t)h->header_bytes, &bytes);
    if (!ok)
        return ls_fail(err, "%s: header: the dimensions overflow a 64-bit size", path);
    h->n_weights = w;
    h->expected_size = bytes;
    return 0;
}

int ls_l2c_parse_header(const char *path, const uint8_t *data, size_t size, ls_l2c_header *h,
                        ls_error *err)
{
    memset(h, 0, sizeof *h);
    if (size < 28)
        return ls_fail(err, "%s: header: %zu bytes, too short for a llama2.c checkpoint", path,
                       size);
    int32_t v[7];
    if ((uint32_t)rd_i32(data) == LS_L2C_MAGIC) {
        if (size < LS_L2C_V1_HEADER)
            return ls_fail(err, "%s: header: %zu bytes, too short for the 256-byte versioned "
                           "header", path, size);
        int32_t version = rd_i32(data + 4);
        if (version == 2)
            return ls_fail(err, "%s: version: 2 (Q8_0) is not supported; export version 0 or "
                           "1", path);
        if (version != 1)
            return ls_fail(err, "%s: version: %d is not a llama2.c version (0, 1)", path,
                           version);
        h->version = 1;
        h->header_bytes = LS_L2C_V1_HEADER;
        for (int i = 0; i < 7; i++)
            v[i] = rd_i32(data + 8 + 4 * i);
        h->shared_classifier = data[36] != 0;
        if (v[5] <= 0)
            return ls_fail(err, "%s: header: vocab_size = %d must be positive in version 1",
                           path, v[5]);
    } else {
        h->version = 0;
        h->header_bytes = 28;
        for (int i = 0; i < 7; i++)
            v[i] = rd_i32(data + 4 * i);
        /* positive vocab_size = shared classifier; negative = separate wcls follows */
        h->shared_classifier = v[5] > 0;
        if (v[5] < 0 && v[5] != INT32_MIN)
            v[5] = -v[5];
    }
    h->dim = v[0], h->hidden_dim = v[1], h->n_layers = v[2], h->n_heads = v[3];
    h->n_kv_heads = v[4], h->vocab_size = v[5], h->seq_len = v[6];
    if (check_dims(path, h, err) != 0 || count_weights(path, h, err) != 0)
        return -1;
    if ((uint64_t)h->expected_size != (uint64_t)size)
        return ls_fail(err, "%s: size: file has %zu bytes but the header (version %d, dim %d, "
                       "%d layers, vocab %d%s) implies %lld", path, size, h->version, h->dim,
                       h->n_layers, h->vocab_size,
                       h->shared_classifier ? ", shared classifier" : ", separate classifier",
                       (long long)h->expected_size);
    return 0;
}

/* ---- tensor table ---- */

typedef struct builder {
    ls_tensor *t;
    int n;
    const uint8_t *base;
} builder;

/* Adds a float32 tensor at byte offset *off (advanced past it). */
static void add(builder *b, int64_t *off, const char *name, int64_t rows, int64_t cols)
{
    ls_tensor *t = &b->t[b->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = LS_DT_F32;
    t->n_dims = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->n_elems = cols ? rows * cols : rows;
    t->data = b->base + *off;
    *off += t->n_elems * 4;
}

static void layer_name(char *buf, size_t n, int l, const char *suffix)
{
    snprintf(buf, n, "model.layers.%d.%s", l, suffix);
}

/* One per-layer array [n_layers][rows][cols] starting at *off. */
static void add_layers(builder *b, int64_t *off, int L, const char *suffix, int64_t rows,
                       int64_t cols)
{
    char name[128];
    for (int l = 0; l < L; l++) {
        layer_name(name, sizeof name, l, suffix);
        add(b, off, name, rows, cols);
    }
}

static void layout_v0(builder *b, const ls_l2c_header *h)
{
    int64_t dim = h->dim, hid = h->hidden_dim, V = h->vocab_size, hd = dim / h->n_heads;
    int64_t kv = (int64_t)h->n_kv_heads * hd;
    int L = h->n_layers;
    int64_t off = (int64_t)h->header_bytes;
    add(b, &off, "model.embed_tokens.weight", V, dim);
    add_layers(b, &off, L, "input_layernorm.weight", dim, 0);
    add_layers(b, &off, L, "self_attn.q_proj.weight", dim, dim);
    add_layers(b, &off, L, "self_attn.k_proj.weight", kv, dim);
    add_layers(b, &off, L, "self_attn.v_proj.weight", kv, dim);
    add_layers(b, &off, L, "self_attn.o_proj.weight", dim, dim);
    add_layers(b, &off, L, "post_attention_layernorm.weight", dim, 0);
    add_layers(b, &off, L, "mlp.gate_proj.weight", hid, dim);
    add_layers(b, &off, L, "mlp.down_proj.weight", dim, hid);
    add_layers(b, &off, L, "mlp.up_proj.weight", hid, dim);
    add(b, &off, "model.norm.weight", dim, 0);
    off += (int64_t)h->seq_len * hd * 4; /* freq_cis_real and freq_cis_imag: unused */
    if (!h->shared_classifier)
        add(b, &off, "lm_head.weight", V, dim);
}

static void layout_v1(builder *b, const ls_l2c_header *h)
{
    int64_t dim = h->dim, hid = h->hidden_dim, V = h->vocab_size, hd = dim / h->n_heads;
    int64_t kv = (int64_t)h->n_kv_heads * hd;
    int L = h->n_layers;
    int64_t off = (int64_t)h->header_bytes;
    add_layers(b, &off, L, "input_layernorm.weight", dim, 0);
    add_layers(b, &off, L, "post_attention_layernorm.weight", dim, 0);
    add(b, &off, "model.norm.weight", dim, 0);
    add(b, &off, "model.embed_tokens.weight", V, dim);
    add_layers(b, &off, L, "self_attn.q_proj.weight", dim, dim);
    add_layers(b, &off, L, "self_attn.k_proj.weight", kv, dim);
    add_layers(b, &off, L, "self_attn.v_proj.weight", kv, dim);
    add_layers(b, &off, L, "self_attn.o_proj.weight", dim, dim);
    add_layers(b, &off, L, "mlp.gate_proj.weight", hid, dim);
    add_layers(b, &off, L, "mlp.down_proj.weight", dim, hid);
    add_layers(b, &off, L, "mlp.up_proj.weight", hid, dim);
    if (!h->shared_classifier)
        add(b, &off, "lm_head.weight", V, dim);
}

int ls_l2c_tensors(const char *path, const ls_l2c_header *h, const uint8_t *data,
                   ls_tensor **out, int *n_out, ls_config *cfg, ls_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (h->n_layers > (1 << 20))
        return ls_fail(err, "%s: header: n_layers = %d is implausibly large", path,
                       h->n_layers);
    int cap = 3 + 9 * h->n_layers;
    builder b = {calloc((size_t)cap, sizeof(ls_tensor)), 0, data};
    if (!b.t)
        return ls_fail(err, "%s: out of memory", path);
    if (h->version == 0)
        layout_v0(&b, h);
    else
        layout_v1(&b, h);
    memset(cfg, 0, sizeof *cfg);
    cfg->arch = LS_ARCH_LLAMA;
    cfg->dim = h->dim;
    cfg->hidden_dim = h->hidden_dim;
    cfg->n_layers = h->n_layers;
    cfg->n_heads = h->n_heads;
    cfg->n_kv_heads = h->n_kv_heads;
    cfg->head_dim = h->dim / h->n_heads;
    cfg->vocab_size = h->vocab_size;
    cfg->context = h->seq_len;
    cfg->norm_eps = 1e-5;
    cfg->rope_theta = 10000.0;
    cfg->rope_factor = 1.0;
    cfg->rope_layout = LS_ROPE_PAIRS;
    cfg->tied = h->shared_classifier;
    *out = b.t;
    *n_out = b.n;
    return 0;
}
