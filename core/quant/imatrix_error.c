#include "quant/imatrix_error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/budget.h"
#include "quant/hqq.h"
#include "quant/qmodel.h"

double ls_imatrix_weighted_error(const float *W, const float *Wq, int64_t rows, int64_t cols,
                                 const ls_imatrix_entry *e)
{
    /* Column sums of squared differences first, then weighted once per column. */
    double *col = calloc((size_t)cols, sizeof *col);
    if (!col)
        return NAN;
    for (int64_t i = 0; i < rows; i++) {
        const float *w = W + i * cols, *q = Wq + i * cols;
        for (int64_t j = 0; j < cols; j++) {
            double d = (double)w[j] - (double)q[j];
            col[j] += d * d;
        }
    }
    double s = 0.0;
    for (int64_t j = 0; j < cols; j++)
        s += ls_imatrix_mean(e, j) * col[j];
    free(col);
    return s / (double)rows;
}

int ls_imatrix_error_model(const ls_model *m, const ls_imatrix *im, int stop, bool quant_meta,
                           int threads, ls_progress *progress, ls_profile *p, ls_error *err)
{
    if (!m->has_weights)
        return ls_fail(err, "%s: no weights: the imatrix error needs a model with tensors",
                       m->path);
    int L = m->cfg.n_layers;
    if (p->n_layers != L)
        return ls_fail(err, "%s: %d layers, the profile has %d", m->path, L, p->n_layers);
    size_t n = (size_t)L * LS_N_MODULES;
    double *out = malloc(n * sizeof *out);
    if (!out)
        return ls_fail(err, "imatrix error: out of memory");
    for (size_t i = 0; i < n; i++)
        out[i] = NAN;
    int64_t biggest = 0;
    for (int mod = 0; mod < LS_N_MODULES; mod++) {
        int64_t r, c;
        ls_module_shape(&m->cfg, mod, &r, &c);
        biggest = r * c > biggest ? r * c : biggest;
    }
    float *W = malloc((size_t)biggest * sizeof *W), *Wq = malloc((size_t)biggest * sizeof *Wq);
    int rc = 0;
    if (!W || !Wq)
        rc = ls_fail(err, "imatrix error: out of memory for one matrix in f32");
    ls_hqq_cfg cfg;
    ls_qmodel_hqq_cfg(stop, quant_meta, &cfg);
    for (int l = 0; l < L && rc == 0; l++)
        for (int mod = 0; mod < LS_N_MODULES && rc == 0; mod++) {
            char name[96];
            snprintf(name, sizeof name, "imatrix error %d.%s", l, ls_module_name(mod));
            if (ls_progress_tick(progress, LS_IDX(l, mod), (int64_t)n, name)) {
                rc = ls_fail(err, "imatrix error: cancelled");
                break;
            }
            int ei = ls_imatrix_find(im, l, mod);
            const ls_tensor *t = ls_model_linear(m, l, mod);
            if (ei < 0 || im->entries[ei].bad || !t || t->n_dims != 2)
                continue;
            int64_t rows = t->shape[0], cols = t->shape[1];
            if (cols != im->entries[ei].n_cols) {
                rc = ls_fail(err, "%s: %s: %lld input channels, the model's matrix has %lld",
                             im->path, im->entries[ei].name,
                             (long long)im->entries[ei].n_cols, (long long)cols);
                break;
            }
            if (ls_hqq_check(name, rows, cols, &cfg, err) < 0) {
                rc = -1;
                break;
            }
            ls_tensor_range_f32(t, 0, t->n_elems, W);
            ls_hqq_result res;
            if (ls_hqq_quantize(name, W, rows, cols, &cfg, threads, &res, err) < 0) {
                rc = -1;
                break;
            }
            ls_hqq_dequantize(&res, Wq);
            ls_hqq_free(&res);
            out[LS_IDX(l, mod)] = ls_imatrix_weighted_error(W, Wq, rows, cols, &im->entries[ei]);
        }
    free(W);
    free(Wq);
    if (rc < 0) {
        free(out);
        return -1;
    }
    free(p->imatrix_error);
    p->imatrix_error = out;
    if (!ls_profile_has_sensitivity(p)) {
        memcpy(p->sensitivity, out, n * sizeof *out);
        snprintf(p->sensitivity_label, sizeof p->sensitivity_label, "imatrix error");
        snprintf(p->sensitivity_source, sizeof p->sensitivity_source,
                 "imatrix error (imatrix-weighted HQQ error at %s, no forward pass)",
                 ls_stop_get(stop)->name);
    }
    ls_progress_tick(progress, (int64_t)n, (int64_t)n, "imatrix error done");
    return 0;
}
