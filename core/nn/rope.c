#include "nn/rope.h"

#include <math.h>
#include <stdlib.h>

int ls_rope_inv_freq(const ls_model *m, double *inv_freq, ls_error *err)
{
    const ls_config *c = &m->cfg;
    int hd = c->head_dim, half = hd / 2;
    if (hd <= 0 || hd % 2)
        return ls_fail(err, "%s: head_dim: %d is not a positive even number", m->path, hd);
    for (int i = 0; i < half; i++) {
        double f = pow(c->rope_theta, -2.0 * i / hd);
        if (c->rope_scaling == LS_ROPE_SCALING_LINEAR) {
            f /= c->rope_factor;
        } else if (c->rope_scaling == LS_ROPE_SCALING_LLAMA3) {
            /* transformers' _compute_llama3_parameters: keep short wavelengths, divide
             * long ones by the factor, blend linearly in between. */
            double C = c->rope_original_context, lo = c->rope_low_freq_factor;
            double hi = c->rope_high_freq_factor, fac = c->rope_factor;
            double wavelen = 2.0 * M_PI / f;
            if (wavelen < C / hi) {
                /* unchanged */
            } else if (wavelen > C / lo) {
                f /= fac;
            } else {
                double s = (C / wavelen - lo) / (hi - lo);
                f = (1.0 - s) * f / fac + s * f;
            }
        }
        if (m->rope_freqs) /* GGUF per-frequency divisors (Llama-3.1 conversions) */
            f /= (double)ls_tensor_get(m->rope_freqs, i);
        if (!(f > 0) || !isfinite(f))
            return ls_fail(err, "%s: rope: frequency %d is %g", m->path, i, f);
        inv_freq[i] = f;
    }
    return 0;
}

int ls_rope_init(ls_rope *r, const ls_model *m, int n_pos, ls_error *err)
{
    r->head_dim = m->cfg.head_dim;
    r->half = r->head_dim / 2;
    r->n_pos = n_pos;
    r->layout = m->cfg.rope_layout;
    r->cos = r->sin = NULL;
    double *inv = malloc((size_t)(r->half > 0 ? r->half : 1) * sizeof *inv);
    if (!inv)
        return ls_fail(err, "rope: out of memory");
    if (ls_rope_inv_freq(m, inv, err) < 0) {
        free(inv);
        return -1;
    }
    size_t n = (size_t)n_pos * (size_t)r->half;
    r->cos = malloc((n ? n : 1) * sizeof *r->cos);
    r->sin = malloc((n ? n : 1) * sizeof *r->sin);
    if (!r->cos || !r->sin) {
        free(inv);
        ls_rope_free(r);
        return ls_fail(err, "rope: out of memory for %d positions", n_pos);
    }
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < r->half; i++) {
            double a = (double)p * inv[i];
            r->cos[(size_t)p * r->half + i] = (float)cos(a);
            r->sin[(size_t)p * r->half + i] = (float)sin(a);
        }
    free(inv);
    return 0;
}

void ls_rope_free(ls_rope *r)
{
    free(r->cos);
    free(r->sin);
    r->cos = r->sin = NULL;
}

void ls_rope_apply(const ls_rope *r, float *x, int64_t n_rows, int64_t ld, int n_heads)
{
    int half = r->half, hd = r->head_dim;
    /* Index distance between the two elements of a rotated pair, and the step between
     * pairs: pairs (2i, 2i+1) or halves (i, i + hd/2). */
    int other = r->layout == LS_ROPE_PAIRS ? 1 : half;
    int step = r->layout == LS_ROPE_PAIRS ? 2 : 1;
    for (int64_t t = 0; t < n_rows; t++) {
        const float *c = r->cos + t * half, *s = r->sin + t * half;
        float *row = x + t * ld;
        for (int h = 0; h < n_heads; h++) {
            float *v = row + (int64_t)h * hd;
            for (int i = 0; i < half; i++) {
                float a = v[i * step], b = v[i * step + other];
                v[i * step] = a * c[i] - b * s[i];
                v[i * step + other] = a * s[i] + b * c[i];
            }
        }
    }
}
