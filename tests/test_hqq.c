/* HQQ for one matrix: docs/hqq.md §10 vectors A-G on the exact path, packing, metadata
 * quantization, storage accounting, fast vs exact spread, and bad input. */
#include <float.h>
#include <stdint.h>

#include "quant/bitpack.h"
#include "method/budget.h"
#include "quant/hqq.h"
#include "test.h"

/* ---- helpers ---- */

static const int A_INT[4][8] = {
    {-32, -19, -7, 0, 6, 17, 27, 45},
    {8, -5, 21, -26, 3, 18, -11, 14},
    {64, 57, -13, 10, -38, 29, 3, -22},
    {-3, 5, 1, -2, 7, -6, 4, 1},
};

static void small_w(float *w)
{
    for (int i = 0; i < 32; i++)
        w[i] = (float)A_INT[i / 8][i % 8] / 64.0f;
}

static ls_hqq_cfg plain_cfg(int nbits, int g, int axis, bool optimize)
{
    ls_hqq_cfg c;
    ls_hqq_cfg_default(&c, nbits, g);
    c.axis = axis;
    c.optimize = optimize;
    c.round_zero = false;
    c.quant_scale = false;
    c.quant_zero = false;
    c.exact = true;
    return c;
}

static int quantize_small(const ls_hqq_cfg *c, ls_hqq_result *r)
{
    float w[32];
    small_w(w);
    ls_error err = {{0}};
    int rc = ls_hqq_quantize("test", w, 4, 8, c, 1, r, &err);
    if (rc < 0)
        fprintf(stderr, "  quantize: %s\n", err.msg);
    return rc;
}

static void check_floats_exact(const float *got, const float *want, int n)
{
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "  [%d] %.9g != %.9g\n", i, got[i], want[i]);
            CHECK(got[i] == want[i]);
        }
}

static void check_bytes(const void *got, const uint8_t *want, int n)
{
    CHECK(memcmp(got, want, (size_t)n) == 0);
}

/* Codes of the result as the flat (row-major) array. */
static void codes(const ls_hqq_result *r, uint8_t *q)
{
    CHECK(ls_bitunpack(r->nbits, r->wq, r->view_rows, r->view_cols, q) == 0);
}

static double fro_of(const float *w, const ls_hqq_result *r)
{
    double f;
    ls_hqq_error(w, r, &f, NULL);
    return f;
}

/* ---- §10 A-F ---- */

static void test_vector_a(void)
{
    ls_hqq_cfg c = plain_cfg(2, 8, 1, false);
    ls_hqq_result r;
    if (quantize_small(&c, &r) < 0) {
        CHECK(0);
        return;
    }
    const float s_inv[4] = {2.49350643f, 4.08510637f, 1.88235307f, 14.7692318f};
    const float zero[4] = {1.24675322f, 1.65957451f, 1.11764717f, 1.38461542f};
    const float scale[4] = {0.401041687f, 0.244791672f, 0.53124994f, 0.0677083284f};
    check_floats_exact(r.s_inv, s_inv, 4);
    check_floats_exact(r.zero, zero, 4);
    check_floats_exact(r.scale, scale, 4);
    const uint8_t wq[32] = {0, 1, 1, 1, 1, 2, 2, 3, 2, 1, 3, 0, 2, 3, 1, 3,
                            3, 3, 1, 1, 0, 2, 1, 0, 1, 3, 2, 1, 3, 0, 2, 2};
    uint8_t q[32];
    codes(&r, q);
    check_bytes(q, wq, 32);
    const uint8_t packed[8] = {45, 95, 118, 69, 99, 184, 150, 242};
    CHECK(r.wq_bytes == 8 && r.pack_rows == 1 && r.pack_cols == 8);
    check_bytes(r.wq, packed, 8);
    float wh[32];
    ls_hqq_dequantize(&r, wh);
    const float row0[8] = {-0.5f, -0.098958f, -0.098958f, -0.098958f, -0.098958f,
                           0.302083f, 0.302083f, 0.703125f};
    const float row2[8] = {1, 1, -0.0625f, -0.0625f, -0.59375f, 0.46875f, -0.0625f, -0.59375f};
    for (int i = 0; i < 8; i++) {
        CHECK_NEAR(wh[i], row0[i], 1e-6);
        CHECK_NEAR(wh[16 + i], row2[i], 1e-6);
    }
    float w[32];
    small_w(w);
    double fro, mean;
    ls_hqq_error(w, &r, &fro, &mean);
    CHECK_REL(fro, 0.5326269, 2e-7);
    CHECK_REL(mean, 0.0611979, 2e-6);
    CHECK(r.iterations == 0 && r.n_nonfinite == 0);
    ls_hqq_free(&r);
}

static void test_vector_b(void)
{
    ls_hqq_cfg c = plain_cfg(2, 8, 0, false);
    ls_hqq_result r;
    if (quantize_small(&c, &r) < 0) {
        CHECK(0);
        return;
    }
    const float s_inv[4] = {1.88235307f, 2.52631569f, 4.80000019f, 2.7042253f};
    const float zero[4] = {1.11764717f, 0.75f, 0.975000024f, 1.09859157f};
    const float scale[4] = {0.53124994f, 0.395833343f, 0.208333328f, 0.369791687f};
    check_floats_exact(r.s_inv, s_inv, 4);
    check_floats_exact(r.zero, zero, 4);
    check_floats_exact(r.scale, scale, 4);
    const uint8_t wq[32] = {0, 0, 0, 1, 1, 1, 3, 3, 1, 1, 3, 0, 1, 1, 0, 2,
                            3, 3, 0, 2, 0, 2, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    uint8_t q[32];
    codes(&r, q);
    check_bytes(q, wq, 32);
    const uint8_t packed[8] = {29, 29, 49, 73, 81, 89, 197, 225};
    CHECK(r.pack_rows == 2 && r.pack_cols == 4);
    check_bytes(r.wq, packed, 8);
    float wh[32], w[32];
    ls_hqq_dequantize(&r, wh);
    const float row0[8] = {-0.59375f, -0.296875f, -0.203125f, -0.036458f, -0.0625f,
                           0.098958f, 0.421875f, 0.703125f};
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(wh[i], row0[i], 1e-6);
    small_w(w);
    CHECK_REL(fro_of(w, &r), 0.5638488, 2e-7);
    ls_hqq_free(&r);
}

static void test_vector_c(void)
{
    ls_hqq_cfg c = plain_cfg(2, 8, 1, true);
    ls_hqq_result r;
    if (quantize_small(&c, &r) < 0) {
        CHECK(0);
        return;
    }
    CHECK(r.iterations == 2);
    CHECK_NEAR(r.err_trace[0], 0.061198, 1e-6);
    CHECK_NEAR(r.err_trace[1], 0.062231, 1e-6);
    const float zero[4] = {1.07577884f, 1.69946814f, 1.07146454f, 1.54807687f};
    const float scale[4] = {0.401041687f, 0.244791672f, 0.53124994f, 0.0677083284f};
    check_floats_exact(r.zero, zero, 4);
    check_floats_exact(r.scale, scale, 4);
    const uint8_t wq[32] = {0, 0, 1, 1, 1, 2, 2, 3, 2, 1, 3, 0, 2, 3, 1, 3,
                            3, 3, 1, 1, 0, 2, 1, 0, 1, 3, 2, 1, 3, 0, 2, 2};
    uint8_t q[32];
    codes(&r, q);
    check_bytes(q, wq, 32);
    const uint8_t packed[8] = {45, 31, 118, 69, 99, 184, 150, 242};
    check_bytes(r.wq, packed, 8);
    float wh[32], w[32];
    ls_hqq_dequantize(&r, wh);
    const float row0[8] = {-0.431432f, -0.431432f, -0.030390f, -0.030390f, -0.030390f,
                           0.370651f, 0.370651f, 0.771693f};
    for (int i = 0; i < 8; i++)
        CHECK_NEAR(wh[i], row0[i], 1e-6);
    small_w(w);
    double fro, mean;
    ls_hqq_error(w, &r, &fro, &mean);
    CHECK_REL(fro, 0.4829886, 2e-7);
    CHECK_REL(mean, 0.0625686, 2e-6);
    CHECK(mean > 0.0611979); /* the last zero, not the best */
    ls_hqq_free(&r);
}

static void test_vector_d(void)
{
    ls_hqq_cfg c = plain_cfg(2, 8, 0, true);
    ls_hqq_result r;
    if (quantize_small(&c, &r) < 0) {
        CHECK(0);
        return;
    }
    CHECK(r.iterations == 4);
    const double trace[4] = {0.071615, 0.065969, 0.065186, 0.065186};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(r.err_trace[i], trace[i], 1e-6);
    /* no improvement stops (strict <); the reference's fp32 sum made them equal, our
     * correctly rounded one is 1 fp32 ulp apart */
    CHECK(r.err_trace[3] >= r.err_trace[2]);
    const float zero[4] = {0.944852948f, 0.789533913f, 0.765625f, 1.14436626f};
    check_floats_exact(r.zero, zero, 4);
    const uint8_t by_group[4][8] = {{0, 1, 1, 1, 3, 0, 1, 1}, {0, 1, 1, 2, 3, 2, 1, 1},
                                    {0, 3, 2, 0, 0, 1, 1, 1}, {1, 3, 0, 2, 2, 0, 1, 1}};
    uint8_t q[32];
    codes(&r, q);
    for (int j = 0; j < 4; j++)
        for (int k = 0; k < 8; k++)
            CHECK(q[j + k * 4] == by_group[j][k]);
    const uint8_t packed[8] = {29, 29, 33, 73, 81, 105, 197, 225};
    check_bytes(r.wq, packed, 8);
    float w[32];
    small_w(w);
    CHECK_REL(fro_of(w, &r), 0.4864881, 2e-7);
    ls_hqq_free(&r);
}

static void test_vector_e(void)
{
    ls_hqq_cfg c = plain_cfg(2, 8, 1, false);
    c.quant_zero = true;
    c.quant_scale = true;
    c.scale_group = 4;
    ls_hqq_result r;
    if (quantize_small(&c, &r) < 0) {
        CHECK(0);
        return;
    }
    CHECK(r.zero_quantized && r.scale_quantized && !r.scale_meta_skipped);
    const uint8_t zq[4] = {61, 255, 0, 126}, sq[4] = {183, 97, 255, 0};
    check_bytes(r.zero_q, zq, 4);
    check_bytes(r.scale_q, sq, 4);
    CHECK(r.meta_zero_scale == 0.00212520524f);
    CHECK(r.meta_zero_zero == -525.900818f);
    CHECK(r.n_scale_groups == 1);
    CHECK(r.meta_scale_scale[0] == 0.00181781023f);
    CHECK(r.meta_scale_zero[0] == -37.2471924f);
    const double zdq[4] = {1.247285, 1.659575, 1.117647, 1.385423};
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(r.zero_dq[i], zdq[i], 1e-6);
    float w[32];
    small_w(w);
    CHECK_REL(fro_of(w, &r), 0.5323830, 2e-7);
    ls_hqq_free(&r);

    c.optimize = true; /* case C, then metadata */
    if (quantize_small(&c, &r) < 0) {
        CHECK(0);
        return;
    }
    const uint8_t zq2[4] = {2, 255, 0, 194};
    check_bytes(r.zero_q, zq2, 4);
    CHECK_REL(fro_of(w, &r), 0.4822734, 2e-7);
    ls_hqq_free(&r);
}

static void test_vector_f(void)
{
    struct {
        int nbits, axis;
        int n;
        uint32_t want[16];
    } cases[] = {
        {3, 1, 8, {99090432, 200802304, 391118848, 409468928, 471597056, 664797184,
                   712245248, 1043333120}},
        {3, 0, 4, {57640128, 53462080, 264254656, 521274560}},
        {4, 1, 16, {15, 62, 84, 103, 112, 170, 182, 242, 179, 125, 248, 5, 159, 224, 92, 216}},
        {4, 0, 16, {31, 15, 32, 88, 96, 121, 246, 241, 117, 53, 213, 5, 103, 115, 22, 134}},
    };
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        ls_hqq_cfg c = plain_cfg(cases[t].nbits, 8, cases[t].axis, false);
        ls_hqq_result r;
        if (quantize_small(&c, &r) < 0) {
            CHECK(0);
            continue;
        }
        for (int i = 0; i < cases[t].n; i++) {
            uint32_t got = cases[t].nbits == 3 ? (uint32_t)((int32_t *)r.wq)[i]
                                               : ((uint8_t *)r.wq)[i];
            if (got != cases[t].want[i])
                fprintf(stderr, "  case %zu [%d]: %u != %u\n", t, i, got, cases[t].want[i]);
            CHECK(got == cases[t].want[i]);
        }
        CHECK(r.wq_bytes == (size_t)cases[t].n * (cases[t].nbits == 3 ? 4 : 1));
        ls_hqq_free(&r);
    }
}

/* ---- §10 G ---- */

static float *g_matrix(void)
{
    float *w = malloc(131072 * sizeof *w);
    uint32_t s = 12345;
    for (int i = 0; i < 131072; i++) {
        s = s * 1664525u + 1013904223u;
        int v = (int)((s >> 9) % 4097) - 2048;
        if (i % 251 == 0)
            v *= 8;
        w[i] = (float)v / 4096.0f;
    }
    return w;
}

static const struct g_row {
    int b, g, axis;
    double rtn, hqq, meta;
    int iters;
} G_TABLE[] = {
    {2, 32, 0, 46.196404, 40.034760, 40.050831, 20}, {2, 32, 1, 46.269024, 40.311287, 40.318581, 20},
    {2, 64, 0, 58.700504, 49.296032, 49.297600, 20}, {2, 128, 0, 76.821495, 63.022652, 63.031231, 20},
    {3, 32, 0, 19.150951, 17.696993, 17.715425, 20}, {3, 64, 0, 24.219269, 22.512465, 22.525335, 20},
    {3, 128, 0, 31.572754, 29.249842, 29.262260, 20}, {4, 32, 0, 9.256298, 8.631974, 8.668708, 20},
    {4, 32, 1, 9.300755, 8.676216, 8.698895, 13}, {4, 64, 0, 11.441976, 10.890941, 10.913034, 16},
    {4, 64, 1, 11.485291, 10.878445, 10.899046, 19}, {4, 128, 0, 14.771338, 14.216303, 14.238631, 20},
    {8, 32, 0, 0.522900, 0.493861, 0.930986, 13}, {8, 64, 0, 0.655203, 0.630436, 0.932647, 17},
    {8, 128, 0, 0.853901, 0.829228, 1.133252, 20},
};

static void test_vector_g_generator(void)
{
    float *w = g_matrix();
    double s1 = 0, s2 = 0;
    for (int i = 0; i < 131072; i++) {
        s1 += w[i];
        s2 += (double)w[i] * w[i];
    }
    CHECK(w[0] == 2.197265625f && w[1] == 0.3818359375f);
    CHECK(s1 == 182.350341796875);
    CHECK_REL(s2, 13741.32875519991, 1e-12);
    free(w);
}

static double g_run(const float *w, int b, int g, int axis, bool opt, bool meta, int *iters,
                    bool exact, int threads)
{
    ls_hqq_cfg c;
    ls_hqq_cfg_default(&c, b, g);
    c.axis = axis;
    c.optimize = opt;
    c.quant_scale = c.quant_zero = meta;
    c.exact = exact;
    ls_hqq_result r;
    ls_error err;
    if (ls_hqq_quantize("G", w, 256, 512, &c, threads, &r, &err) < 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return -1;
    }
    double f = fro_of(w, &r);
    if (iters)
        *iters = r.iterations;
    ls_hqq_free(&r);
    return f;
}

static void test_vector_g_table(void)
{
    float *w = g_matrix();
    for (size_t t = 0; t < sizeof G_TABLE / sizeof G_TABLE[0]; t++) {
        const struct g_row *row = &G_TABLE[t];
        int it = -1;
        double rtn = g_run(w, row->b, row->g, row->axis, false, false, NULL, true, 1);
        double hqq = g_run(w, row->b, row->g, row->axis, true, false, &it, true, 1);
        double meta = g_run(w, row->b, row->g, row->axis, true, true, NULL, true, 1);
        CHECK_REL(rtn, row->rtn, 1e-4);
        CHECK_REL(hqq, row->hqq, 1e-4);
        CHECK_REL(meta, row->meta, 1e-4);
        if (it != row->iters)
            fprintf(stderr, "  b%d g%d axis %d: %d iterations, want %d\n", row->b, row->g,
                    row->axis, it, row->iters);
        CHECK(it == row->iters);
    }
    free(w);
}

/* ---- packing ---- */

static void test_pack_roundtrip(void)
{
    const int bits[4] = {2, 3, 4, 8};
    const int64_t shapes[][2] = {{8, 4}, {32, 7}, {64, 33}, {128, 5}, {12, 3}, {40, 1},
                                 {4, 100}, {36, 9}};
    uint32_t s = 7;
    for (int b = 0; b < 4; b++)
        for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
            int64_t R = shapes[t][0], C = shapes[t][1], n = R * C;
            if (!ls_bitpack_ok(bits[b], R))
                continue;
            uint8_t *q = malloc((size_t)n), *back = malloc((size_t)n);
            void *p = malloc(ls_bitpack_bytes(bits[b], R, C));
            for (int64_t i = 0; i < n; i++) {
                s = s * 1664525u + 1013904223u;
                q[i] = (uint8_t)((s >> 16) & ((1u << bits[b]) - 1));
            }
            CHECK(ls_bitpack(bits[b], q, R, C, p) == 0);
            CHECK(ls_bitunpack(bits[b], p, R, C, back) == 0);
            CHECK(memcmp(q, back, (size_t)n) == 0);
            if (bits[b] == 3) /* bits 31-30 are unused */
                for (int64_t x = 0; x < ls_bitpack_rows(3, R) * C; x++)
                    CHECK((((uint32_t *)p)[x] >> 30) == 0);
            free(q);
            free(back);
            free(p);
        }
    CHECK(ls_bitpack_rows(3, 32) == 4 && ls_bitpack_rows(3, 64) == 7);
    CHECK(ls_bitpack_rows(3, 128) == 13 && ls_bitpack_rows(4, 64) == 32);
    CHECK(!ls_bitpack_ok(4, 7) && !ls_bitpack_ok(2, 6) && !ls_bitpack_ok(5, 8));
    CHECK_STR(ls_bitpack_name(3), "3bit_32");
    CHECK_STR(ls_bitpack_name(4), "4bit_u8");
}

/* ---- storage and metadata ---- */

static void test_storage_bpp(void)
{
    CHECK_NEAR(ls_nominal_bpp(4, 128, 8, 128), 4.126953125, 1e-12);
    CHECK_NEAR(ls_nominal_bpp(4, 64, 8, 128), 4.25390625, 1e-12);
    CHECK_NEAR(ls_nominal_bpp(3, 128, 8, 128), 3.126953125, 1e-12);
    ls_hqq_cfg c;
    int64_t R = 4096, C = 4096;
    double eps = 32.0 / (double)(R * C);
    /* stored = b_packed + 16/g + 1/(4g) + 32/N (docs/hqq.md §7) */
    const struct { int b, g; double bp; } rows[] = {
        {4, 64, 4.0}, {4, 128, 4.0}, {2, 32, 2.0}, {8, 128, 8.0},
        {3, 32, 4.0}, {3, 64, 3.5}, {3, 128, 3.25},
    };
    for (size_t t = 0; t < sizeof rows / sizeof rows[0]; t++) {
        ls_hqq_cfg_default(&c, rows[t].b, rows[t].g);
        double want = rows[t].bp + 16.0 / rows[t].g + 1.0 / (4.0 * rows[t].g) + eps;
        CHECK_NEAR(ls_hqq_stored_bpp(&c, R, C), want, 1e-12);
    }
    ls_hqq_cfg_default(&c, 3, 64);
    printf("  b3g64: stored %.4f bpp, nominal %.4f bpp\n", ls_hqq_stored_bpp(&c, R, C),
           ls_nominal_bpp(3, 64, 8, 128));
    c.quant_scale = c.quant_zero = false; /* fp16 scale and zero */
    CHECK_NEAR(ls_hqq_stored_bpp(&c, R, C), 3.5 + 32.0 / 64, 1e-12);
}

static void test_meta_scale_skipped(void)
{
    /* 64 x 64 at g64: 64 scales, 128 does not divide them: the scale stays unquantized */
    float w[64 * 64];
    for (int i = 0; i < 64 * 64; i++)
        w[i] = (float)((i * 37) % 101 - 50) / 128.0f;
    ls_hqq_cfg c;
    ls_hqq_cfg_default(&c, 4, 64);
    c.exact = true;
    ls_hqq_result r;
    ls_error err;
    CHECK(ls_hqq_quantize("stories.0.q", w, 64, 64, &c, 1, &r, &err) == 0);
    CHECK(r.scale_meta_skipped && !r.scale_quantized && r.zero_quantized);
    CHECK(memcmp(r.scale_dq, r.scale, 64 * sizeof(float)) == 0);
    CHECK(r.stored_bytes == 64 * 64 / 2 + 64 * 2 + 64 + 4);
    ls_hqq_free(&r);
}

static void test_8bit_clamp(void)
{
    /* range 0.001 < 255/2e4: s_inv clamps to 2e4, the step is 5e-5, < 256 levels used */
    float w[256];
    for (int i = 0; i < 256; i++)
        w[i] = 1.0f + 0.001f * (float)i / 255.0f;
    ls_hqq_cfg c = plain_cfg(8, 128, 1, false);
    ls_hqq_result r;
    ls_error err;
    CHECK(ls_hqq_quantize("clamp", w, 2, 128, &c, 1, &r, &err) == 0);
    CHECK(r.s_inv[0] == 2e4f && r.s_inv[1] == 2e4f);
    uint8_t q[256];
    codes(&r, q);
    int maxq = 0;
    for (int i = 0; i < 256; i++)
        maxq = q[i] > maxq ? q[i] : maxq;
    CHECK(maxq >= 9 && maxq <= 10); /* range 0.000498 / step 5e-5 */
    ls_hqq_free(&r);
}

/* ---- fast path vs exact path ---- */

/* Weights like a trained layer's: roughly Gaussian with a few large outliers. */
static float *test_matrix(int64_t rows, int64_t cols, uint32_t seed)
{
    float *w = malloc((size_t)(rows * cols) * sizeof *w);
    uint32_t s = seed;
    for (int64_t i = 0; i < rows * cols; i++) {
        float a = 0;
        for (int k = 0; k < 4; k++) {
            s = s * 1664525u + 1013904223u;
            a += (float)(s >> 8) / 16777216.0f - 0.5f;
        }
        s = s * 1664525u + 1013904223u;
        w[i] = a * 0.05f * ((s >> 24) == 0 ? 12.0f : 1.0f);
    }
    return w;
}

static void test_fast_vs_exact(void)
{
    const struct { int64_t rows, cols; } shapes[] = {{256, 512}, {128, 384}, {96, 160},
                                                     {512, 256}};
    const int bits[4] = {2, 3, 4, 8}, groups[3] = {32, 64, 128};
    double worst = 0, sum = 0;
    int n = 0, iter_diff = 0;
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        int64_t R = shapes[sh].rows, C = shapes[sh].cols;
        float *w = test_matrix(R, C, 1000u + (uint32_t)sh);
        for (int b = 0; b < 4; b++)
            for (int gi = 0; gi < 3; gi++)
                for (int axis = 0; axis < 2; axis++)
                    for (int meta = 0; meta < (sh == 0 ? 2 : 1); meta++) {
                        ls_hqq_cfg c;
                        ls_hqq_cfg_default(&c, bits[b], groups[gi]);
                        c.axis = axis;
                        c.quant_scale = c.quant_zero = meta;
                        if (ls_hqq_check("m", R, C, &c, NULL) < 0)
                            continue;
                        ls_hqq_result re, rf, rf2;
                        ls_error err;
                        c.exact = true;
                        CHECK(ls_hqq_quantize("m", w, R, C, &c, 1, &re, &err) == 0);
                        c.exact = false;
                        CHECK(ls_hqq_quantize("m", w, R, C, &c, 1, &rf, &err) == 0);
                        CHECK(ls_hqq_quantize("m", w, R, C, &c, 2, &rf2, &err) == 0);
                        double fe = fro_of(w, &re), ff = fro_of(w, &rf);
                        double rel = fabs(ff - fe) / fe;
                        if (rel > 2e-3)
                            fprintf(stderr, "  %lldx%lld b%d g%d axis %d meta %d: exact %.7g "
                                    "fast %.7g (rel %.3g) iters %d/%d\n", (long long)R,
                                    (long long)C, bits[b], groups[gi], axis, meta, fe, ff,
                                    rel, re.iterations, rf.iterations);
                        CHECK(rel <= 2e-3);
                        worst = rel > worst ? rel : worst;
                        sum += rel;
                        n++;
                        iter_diff += re.iterations != rf.iterations;
                        /* fast path: independent of the thread count */
                        CHECK(rf.iterations == rf2.iterations);
                        CHECK(memcmp(rf.wq, rf2.wq, rf.wq_bytes) == 0);
                        CHECK(memcmp(rf.zero, rf2.zero, (size_t)rf.n_groups * 4) == 0);
                        ls_hqq_free(&re);
                        ls_hqq_free(&rf);
                        ls_hqq_free(&rf2);
                    }
        free(w);
    }
    printf("  fast vs exact: %d configs, relative Frobenius spread max %.3g, mean %.3g, "
           "%d with a different iteration count\n", n, worst, sum / n, iter_diff);
}

static void test_fast_vs_exact_g(void)
{
    float *w = g_matrix();
    double worst = 0;
    for (size_t t = 0; t < sizeof G_TABLE / sizeof G_TABLE[0]; t++) {
        const struct g_row *row = &G_TABLE[t];
        int it;
        double ff = g_run(w, row->b, row->g, row->axis, true, false, &it, false, 2);
        double rel = fabs(ff - row->hqq) / row->hqq;
        worst = rel > worst ? rel : worst;
        CHECK(rel <= 2e-3);
    }
    printf("  fast vs table G (HQQ column): max relative difference %.3g\n", worst);
    free(w);
}

/* Without the optimizer both paths do the same fp32 operations: byte-identical packed
 * codes and metadata (checks the fast path's direct packing for every width). */
static void test_fast_rtn_identical(void)
{
    const int64_t shapes[][2] = {{96, 160}, {64, 128}, {40, 96}};
    for (size_t sh = 0; sh < 3; sh++)
        for (int b = 2; b <= 8; b++) {
            if (b > 4 && b < 8)
                continue;
            for (int g = 32; g <= 128; g *= 2)
                for (int axis = 0; axis < 2; axis++) {
                    int64_t R = shapes[sh][0], C = shapes[sh][1];
                    ls_hqq_cfg c;
                    ls_hqq_cfg_default(&c, b, g);
                    c.axis = axis;
                    c.optimize = false;
                    if (ls_hqq_check("m", R, C, &c, NULL) < 0)
                        continue;
                    float *w = test_matrix(R, C, 31u * (uint32_t)sh + (uint32_t)b);
                    ls_hqq_result re, rf;
                    ls_error err;
                    c.exact = true;
                    CHECK(ls_hqq_quantize("m", w, R, C, &c, 1, &re, &err) == 0);
                    c.exact = false;
                    CHECK(ls_hqq_quantize("m", w, R, C, &c, 2, &rf, &err) == 0);
                    CHECK(re.wq_bytes == rf.wq_bytes);
                    CHECK(memcmp(re.wq, rf.wq, re.wq_bytes) == 0);
                    CHECK(memcmp(re.zero_dq, rf.zero_dq, (size_t)re.n_groups * 4) == 0);
                    CHECK(memcmp(re.scale_dq, rf.scale_dq, (size_t)re.n_groups * 4) == 0);
                    ls_hqq_free(&re);
                    ls_hqq_free(&rf);
                    free(w);
                }
        }
}

/* The portable kernels (used without AVX-512) through the internal solve interface:
 * same zero/s_inv/codes as the exact solve up to rounding. */
static void test_portable_kernels(void)
{
    int64_t R = 96, C = 160, n = R * C;
    float *w = test_matrix(R, C, 77);
    const int cases[][3] = {{4, 32, 0}, {3, 32, 1}, {2, 32, 0}, {8, 32, 1}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int b = cases[t][0], g = cases[t][1], axis = cases[t][2];
        int64_t m = n / g;
        size_t pb = ls_bitpack_bytes(b, axis == 0 ? g : m, axis == 0 ? m : g);
        float si[2][480], z[2][480];
        uint8_t *wq[2] = {malloc(pb), malloc(pb)};
        int iters[2];
        for (int path = 0; path < 2; path++) {
            ls_hqq_solve s = {.W = w, .n = n, .m = m, .nbits = b, .group_size = g,
                              .axis = axis, .optimize = true, .round_zero = b == 4,
                              .portable = true, .s_inv = si[path], .zero = z[path],
                              .wq = wq[path]};
            CHECK((path ? ls_hqq_solve_fast(&s, 2) : ls_hqq_solve_exact(&s)) == 0);
            iters[path] = s.iterations;
        }
        CHECK(iters[0] == iters[1]);
        CHECK(memcmp(si[0], si[1], (size_t)m * sizeof(float)) == 0);
        int zdiff = 0;
        for (int64_t j = 0; j < m; j++)
            zdiff += fabsf(z[0][j] - z[1][j]) > 1e-4f * (1.0f + fabsf(z[0][j]));
        CHECK(zdiff == 0);
        free(wq[0]);
        free(wq[1]);
    }
    free(w);
}

/* Fast vs exact on every linear module of the real stories260K checkpoint (llama2.c legacy
 * fp32, docs/formats.md §5.1), all 12 configs, with and without metadata quantization. */
static void test_fast_vs_exact_stories(void)
{
    NEED_SHARED(path, "models/stories260K/stories260K.bin");
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    int32_t h[7];
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *all = malloc((size_t)size);
    CHECK(fread(h, 4, 7, f) == 7 && fread(all, 1, (size_t)size - 28, f) == (size_t)size - 28);
    fclose(f);
    int64_t dim = h[0], hid = h[1], L = h[2], kv = h[4] * (h[0] / h[3]);
    int64_t vocab = h[5] < 0 ? -h[5] : h[5];
    /* offsets of the seven stacks (module order q k v o gate down up in the file) */
    int64_t rows[7] = {dim, kv, kv, dim, hid, dim, hid}, cols[7] = {dim, dim, dim, dim, dim, hid, dim};
    int64_t off[7], o = vocab * dim + L * dim;
    for (int t = 0; t < 7; t++) {
        if (t == 4)
            o += L * dim; /* rms_ffn */
        off[t] = o;
        o += L * rows[t] * cols[t];
    }
    double worst = 0;
    int n = 0, n_meta = 0, iter_diff = 0, skipped_meta = 0;
    const int bits[4] = {2, 3, 4, 8}, groups[3] = {32, 64, 128};
    for (int t = 0; t < 7; t++)
        for (int64_t l = 0; l < L; l++) {
            const float *w = all + off[t] + l * rows[t] * cols[t];
            for (int b = 0; b < 4; b++)
                for (int gi = 0; gi < 3; gi++)
                    for (int meta = 0; meta < 2; meta++) {
                        ls_hqq_cfg c;
                        ls_hqq_cfg_default(&c, bits[b], groups[gi]);
                        if (!meta) /* the paper's sensitivity / FNorm setting */
                            c.quant_scale = c.quant_zero = c.round_zero = false;
                        ls_hqq_result re, rf;
                        ls_error err;
                        c.exact = true;
                        CHECK(ls_hqq_quantize("s", w, rows[t], cols[t], &c, 1, &re, &err) == 0);
                        c.exact = false;
                        CHECK(ls_hqq_quantize("s", w, rows[t], cols[t], &c, 2, &rf, &err) == 0);
                        double fe = fro_of(w, &re), ff = fro_of(w, &rf);
                        double rel = fabs(ff - fe) / fe;
                        CHECK(rel <= 2e-3);
                        worst = rel > worst ? rel : worst;
                        iter_diff += re.iterations != rf.iterations;
                        skipped_meta += meta && re.scale_meta_skipped;
                        n_meta += meta;
                        n++;
                        ls_hqq_free(&re);
                        ls_hqq_free(&rf);
                    }
        }
    printf("  stories260K: %d module quantizations, fast vs exact relative Frobenius spread "
           "max %.3g, %d with a different iteration count; scale kept unquantized (128 does "
           "not divide the scales) in %d of %d\n", n, worst, iter_diff, skipped_meta, n_meta);
    free(all);
}

/* ---- bad input ---- */

static void expect_error(int64_t rows, int64_t cols, const ls_hqq_cfg *c, const char *part)
{
    float *w = calloc((size_t)(rows > 0 && cols > 0 ? rows * cols : 1), sizeof *w);
    ls_hqq_result r;
    ls_error err = {{0}};
    CHECK(ls_hqq_quantize("5.mlp.up_proj", w, rows, cols, c, 1, &r, &err) == -1);
    CHECK(strncmp(err.msg, "5.mlp.up_proj: ", 15) == 0);
    if (!strstr(err.msg, part))
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.msg, part);
    CHECK(strstr(err.msg, part) != NULL);
    CHECK(r.wq == NULL && r.scale == NULL);
    free(w);
}

static void test_bad_input(void)
{
    ls_hqq_cfg c;
    ls_hqq_cfg_default(&c, 5, 64);
    expect_error(64, 64, &c, "nbits: 5");
    ls_hqq_cfg_default(&c, 4, 48);
    expect_error(64, 96, &c, "group_size: 48");
    ls_hqq_cfg_default(&c, 4, 0);
    expect_error(64, 64, &c, "group_size: 0");
    ls_hqq_cfg_default(&c, 4, 64);
    expect_error(10, 10, &c, "group_size: 64 does not divide");
    c.axis = 2;
    expect_error(64, 64, &c, "axis: 2");
    ls_hqq_cfg_default(&c, 4, 32);
    expect_error(0, 64, &c, "shape");
    c.axis = 1; /* 3 groups: 4-bit packing needs an even count */
    expect_error(3, 32, &c, "shape: 4-bit packing");
    ls_error err;
    CHECK(ls_hqq_check(NULL, 64, 64, &c, &err) == 0);
}

/* ---- degenerate groups and non-finite weights ---- */

static bool all_finite(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

static void test_constant_groups(void)
{
    /* 64 x 64, axis 1 g32: rows 0-7 all zero, rows 8-15 all 0.37, rows 16-23 all -3 */
    enum { R = 64, C = 64 };
    float *w = test_matrix(R, C, 5);
    for (int i = 0; i < 24 * C; i++)
        w[i] = i < 8 * C ? 0.0f : (i < 16 * C ? 0.37f : -3.0f);
    for (int exact = 0; exact < 2; exact++)
        for (int opt = 0; opt < 2; opt++)
            for (int b = 2; b <= 8; b *= 2) {
                ls_hqq_cfg c;
                ls_hqq_cfg_default(&c, b, 32);
                c.axis = 1;
                c.optimize = opt;
                c.quant_scale = c.quant_zero = false;
                c.exact = exact;
                ls_hqq_result r;
                ls_error err;
                CHECK(ls_hqq_quantize("const", w, R, C, &c, 2, &r, &err) == 0);
                float out[R * C];
                ls_hqq_dequantize(&r, out);
                CHECK(all_finite(out, R * C));
                CHECK(all_finite(r.scale, r.n_groups) && all_finite(r.zero, r.n_groups));
                for (int i = 0; i < 8 * C; i++)
                    CHECK(out[i] == 0.0f);
                for (int i = 8 * C; i < 24 * C; i++)
                    CHECK(fabsf(out[i] - w[i]) <= 2.0f * fabsf(w[i]) * FLT_EPSILON);
                ls_hqq_free(&r);
            }
    /* the paper's config (axis 0, metadata quantized) on an all-zero matrix */
    memset(w, 0, sizeof(float) * R * C);
    ls_hqq_cfg c;
    ls_hqq_cfg_default(&c, 4, 64);
    ls_hqq_result r;
    ls_error err;
    CHECK(ls_hqq_quantize("zeros", w, R, C, &c, 1, &r, &err) == 0);
    float out[R * C];
    ls_hqq_dequantize(&r, out);
    CHECK(all_finite(out, R * C));
    double fro;
    ls_hqq_error(w, &r, &fro, NULL);
    CHECK(fro == 0.0);
    ls_hqq_free(&r);
    free(w);
}

static void test_nonfinite(void)
{
    enum { R = 128, C = 256 };
    float *w = test_matrix(R, C, 9);
    w[5] = NAN;
    w[300] = INFINITY;
    w[C * 100 + 7] = -INFINITY;
    w[C * 127 + 255] = NAN;
    for (int exact = 0; exact < 2; exact++)
        for (int axis = 0; axis < 2; axis++) {
            ls_hqq_cfg c;
            ls_hqq_cfg_default(&c, 3, 64);
            c.axis = axis;
            c.exact = exact;
            ls_hqq_result r;
            ls_error err;
            CHECK(ls_hqq_quantize("nan", w, R, C, &c, 2, &r, &err) == 0);
            CHECK(r.n_nonfinite == 4);
            float *out = malloc(sizeof(float) * R * C);
            ls_hqq_dequantize(&r, out);
            CHECK(all_finite(out, R * C));
            CHECK(all_finite(r.scale_dq, r.n_groups) && all_finite(r.zero_dq, r.n_groups));
            double fro, mean;
            ls_hqq_error(w, &r, &fro, &mean);
            CHECK(isfinite(fro) && isfinite(mean) && fro > 0);
            free(out);
            ls_hqq_free(&r);
        }
    /* finite but huge: max - min overflows to inf */
    w[0] = 3e38f;
    w[1] = -3e38f;
    for (int exact = 0; exact < 2; exact++) {
        ls_hqq_cfg c;
        ls_hqq_cfg_default(&c, 4, 64);
        c.axis = 1;
        c.exact = exact;
        ls_hqq_result r;
        ls_error err;
        CHECK(ls_hqq_quantize("huge", w, R, C, &c, 1, &r, &err) == 0);
        CHECK(r.n_nonfinite == 6);
        float *out = malloc(sizeof(float) * R * C);
        ls_hqq_dequantize(&r, out);
        CHECK(all_finite(out, R * C));
        free(out);
        ls_hqq_free(&r);
    }
    free(w);
}

int main(void)
{
    RUN(test_vector_a);
    RUN(test_vector_b);
    RUN(test_vector_c);
    RUN(test_vector_d);
    RUN(test_vector_e);
    RUN(test_vector_f);
    RUN(test_vector_g_generator);
    RUN(test_vector_g_table);
    RUN(test_pack_roundtrip);
    RUN(test_storage_bpp);
    RUN(test_meta_scale_skipped);
    RUN(test_8bit_clamp);
    RUN(test_fast_vs_exact);
    RUN(test_fast_vs_exact_g);
    RUN(test_fast_vs_exact_stories);
    RUN(test_fast_rtn_identical);
    RUN(test_portable_kernels);
    RUN(test_bad_input);
    RUN(test_constant_groups);
    RUN(test_nonfinite);
    return t_summary();
}
